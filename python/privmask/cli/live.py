"""``privmask mask URL OUT_DIR``: a live source (rtsp://, udp://, http://, srt://, a device)
masked into clock-aligned segments or HLS (:func:`privmask.video.live.mask_live`)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import stat
import sys
import threading
from types import FrameType
from typing import Any

from privmask.errors import PrivmaskError
from privmask.masks.poses import PoseTrack
from privmask.masks.timeline import load_masks

__all__ = ["add_live_options", "is_live_source", "run_live"]


def is_live_source(src: str) -> bool:
    """Whether ``src`` is read as a live stream: a URL other than ``file:``, or a device node."""
    if "://" in src:
        return not src.startswith("file:")
    with contextlib.suppress(OSError):
        return stat.S_ISCHR(os.stat(src).st_mode)
    return False


def _seconds_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _count_arg(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. rtsp_transport=udp)")
    return key, value


def add_live_options(parser: argparse.ArgumentParser) -> None:
    """Adds the options of ``privmask mask URL OUT_DIR`` (a live source) to ``mask``'s parser;
    :func:`run_live` reads them together with ``mask``'s own."""
    g = parser.add_argument_group(
        "live sources",
        "when IN is a stream (rtsp://, udp://, http://, srt://...) or a device: "
        "privmask mask URL OUT_DIR --masks m.json [--segment 60] [--hls]. Frames are timed by "
        "the wall clock; SIGTERM/SIGINT finish the segment in progress and stop.",
    )
    g.add_argument(
        "--segment",
        type=_seconds_arg,
        default=60.0,
        metavar="SECONDS",
        help="segment length, aligned on the clock (default 60)",
    )
    g.add_argument("--hls", action="store_true", help="write .ts segments and PREFIX.m3u8")
    g.add_argument(
        "--hls-window", type=_count_arg, metavar="N", help="list only the last N segments"
    )
    g.add_argument("--prefix", default="cam", help="segment names: PREFIX-<UTC start> (cam)")
    g.add_argument("--no-reconnect", action="store_true", help="stop when the source ends or drops")
    g.add_argument(
        "--give-up-after",
        type=_seconds_arg,
        metavar="SECONDS",
        help="stop reconnecting after this long (default: never)",
    )
    g.add_argument("--max-seconds", type=_seconds_arg, metavar="SECONDS", help="stop after this")
    g.add_argument("--max-frames", type=_count_arg, metavar="N", help="stop after N frames")
    g.add_argument("--input-format", metavar="FMT", help="FFmpeg input format (v4l2 for devices)")
    g.add_argument(
        "--input-option",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="demuxer or protocol option, e.g. rtsp_transport=udp (repeatable)",
    )


def _fail(message: str, code: int = 1) -> int:
    print(f"privmask: error: {message}", file=sys.stderr)
    return code


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return str(error) or type(error).__name__


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def run_live(args: argparse.Namespace) -> int:
    """Runs ``privmask mask URL OUT_DIR`` for a live source; returns the exit status (0 ok, 1
    failed or gave up, 2 usage). Reads ``mask``'s options (``paths``, ``masks``, ``out_dir``,
    ``poses``, ``codec``, ``crf``, ``encoder_option``, ``quiet``; ``start``,
    ``keep_audio`` and ``jobs`` are refused) and :func:`add_live_options`'. SIGTERM, SIGINT and
    SIGHUP finish the segment in progress and end the run with status 0; a second one
    interrupts at once (the segment in progress is discarded)."""
    paths = [os.fspath(p) for p in args.paths]
    if getattr(args, "out_dir", None) is not None:
        paths.append(os.fspath(args.out_dir))
    if len(paths) != 2:
        return _fail("mask: a live source takes URL OUT_DIR (the segments go into OUT_DIR)", 2)
    for name, what in (("start", "--start"), ("keep_audio", "--keep-audio")):
        if getattr(args, name, None):
            return _fail(f"mask: {what} does not apply to a live source", 2)
    if getattr(args, "jobs", 1) != 1:
        return _fail("mask: a live source is one job; leave out --jobs", 2)
    try:
        masks = load_masks(args.masks)
        poses = None if args.poses is None else PoseTrack.load(args.poses)
    except (PrivmaskError, OSError, ValueError) as e:
        return _fail(_describe(e))
    from privmask.video.live import Reconnect, log, mask_live  # PyAV: only for this command

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in _STOP_SIGNALS:
            previous[sig] = signal.signal(sig, on_signal)
    handler: logging.Handler | None = None
    if not args.quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("privmask: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        report = mask_live(
            paths[0],
            paths[1],
            masks,
            segment_seconds=args.segment,
            hls=args.hls,
            hls_window=args.hls_window,
            prefix=args.prefix,
            reconnect=None if args.no_reconnect else Reconnect(give_up_after=args.give_up_after),
            max_frames=args.max_frames,
            max_seconds=args.max_seconds,
            stop=stop,
            poses=poses,
            codec=args.codec or "libx264",
            quality=args.crf,
            encoder_options=dict(args.encoder_option) or None,
            input_format=args.input_format,
            input_options=dict(args.input_option),
        )
    except (PrivmaskError, OSError, ValueError) as e:
        return _fail(_describe(e))
    except KeyboardInterrupt:
        return _fail("interrupted; the segment in progress was discarded", 130)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)
        if handler is not None:
            log.removeHandler(handler)
    if not args.quiet:
        print(report.summary(), flush=True)
    return 1 if report.stopped == "gave up" else 0
