"""Masking live streams: cameras (``rtsp://``), network streams (``udp://``, ``http://``,
``srt://``) and capture devices, into rolling segment files or an HLS playlist::

    report = mask_live("rtsp://10.0.0.7/main", "rec/", masks, segment_seconds=60)
    report = mask_live("rtsp://10.0.0.7/main", "www/", masks, segment_seconds=4, hls=True)

The frames run on the one threaded path (:class:`~privmask.video.transcode.Pipeline`: reader ->
masking -> writer) with the one per-frame rule (:class:`~privmask.engine.planner.FramePlanner`).

**Recording time.** A live frame is recorded when it is captured, so timelines are looked up on
the wall clock, not on the stream's clock. The wall clock is read once when the run starts and
then advanced by the monotonic clock, so an NTP step during the run cannot move frames. Within a
connection, the stream's clock ``(pts - first_pts) * time_base`` (exact) keeps frames evenly
spaced and the wall clock places them (:class:`~privmask.video.segments.StreamClock`): a frame's
recording time is ``anchor + stream offset``, with the anchor the latest that puts no frame after
its arrival (decoding) on this machine. So once frames flow in real time they are stamped one
network delay after capture, and the burst FFmpeg buffers while it probes a new connection
(about a second for RTSP) is stamped at its arrival, never in the future. When the two clocks
part by more than :data:`RESYNC_SECONDS` (a camera that reset its timestamps, a long stall) the
connection is re-anchored on the frame in hand. The planner's ``start`` is the instant
:func:`mask_live` was called (``LiveReport.origin``); frame offsets, including those a
:class:`~privmask.masks.ptz.PoseTrack` is looked up at, count from it. Output timestamps follow
the stream's clock (smooth playback).

**Segments.** A segment holds the frames whose times fall in one slot of ``segment_seconds``,
slots aligned on the Unix epoch (60 s segments start on the minute, as NVRs record), and is
named by its first frame's time in UTC: ``cam-20261204T101500Z.mp4``. Each one is a complete,
independently playable file: it has its own encoder, so it starts with a keyframe (forced as
well), and it is written under a ``.part`` name and renamed when complete (the durability policy
of :mod:`privmask._outputs`). A segment ends early at a drop, at a frame that cannot be masked,
or when the picture size changes. Names never overwrite a file: a second segment starting in the
same second gets ``-1``, ``-2``. With ``hls=True`` the segments are MPEG-TS with continuous
timestamps, listed in ``<prefix>.m3u8`` (rewritten atomically after each segment, with
``#EXT-X-PROGRAM-DATE-TIME`` per segment, ``#EXT-X-DISCONTINUITY`` after a gap and
``#EXT-X-ENDLIST`` when the run ends). Old segments are not deleted: retention is the caller's.

**Never unmasked.** A frame is encoded only after its masks were applied; a frame that cannot be
masked (no masks in force yet, an unsupported format, ...) is dropped, the segment it would
have joined is closed, and the frames lost are reported as a ``"masking"`` gap.

**Reconnecting.** When the source drops (end of stream, an error, no data for the read timeout)
the segment is closed and published, and the source is reopened with exponential back-off; the
lost interval is reported as a ``"source"`` gap. Failing to open the source the first time
raises, so a wrong address is not retried forever.
"""

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
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from types import FrameType
from typing import Any

import av

from privmask.engine.apply import geometry_of
from privmask.engine.frame import Frame
from privmask.engine.planner import FramePlanner, VersionUse
from privmask.errors import PrivmaskError, SettingsError, VideoError
from privmask.masks.maskset import MaskSet
from privmask.masks.poses import PoseTrack
from privmask.masks.timeline import MaskTimeline, load_masks
from privmask.video.decode import video_stream
from privmask.video.encode import close_quietly
from privmask.video.segments import (
    NS,
    RESYNC_SECONDS,
    Capture,
    Gap,
    Segment,
    SegmentRecorder,
    SourceBack,
    SourceLost,
    StreamClock,
    WallClock,
    utc,
)
from privmask.video.transcode import Pipeline

__all__ = [
    "DEFAULT_RECONNECT",
    "RESYNC_SECONDS",
    "Gap",
    "LiveReport",
    "Reconnect",
    "Segment",
    "add_live_options",
    "is_live_source",
    "mask_live",
    "run_live",
]

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often a reconnect wait looks at the stop flags


@dataclass(frozen=True)
class Reconnect:
    """How a dropped source is reopened: after ``first_wait`` seconds, then waits doubling up to
    ``max_wait``; ``give_up_after`` seconds after the drop the run ends (``None``: never)."""

    first_wait: float = 0.5
    max_wait: float = 10.0
    give_up_after: float | None = None


DEFAULT_RECONNECT = Reconnect()


@dataclass(frozen=True)
class LiveReport:
    """What :func:`mask_live` did."""

    url: str
    out_dir: str
    frames: int
    """Frames written (every one masked)."""
    dropped: int
    """Frames that could not be masked and were not written."""
    segments: tuple[Segment, ...]
    gaps: tuple[Gap, ...]
    playlist: str | None
    versions: tuple[VersionUse, ...]
    failed_closed: tuple[int, ...]
    """Frames masked whole because scene-locked masks had no current pose."""
    origin: datetime
    """The instant frame offsets count from (the planner's start; pose-track times)."""
    stopped: str
    """Why the run ended: ``"stop"``, ``"max_frames"``, ``"max_seconds"``, ``"source ended"``
    (no reconnecting) or ``"gave up"`` (``Reconnect.give_up_after`` passed)."""
    damaged_packets: int
    """Packets the decoder rejected (their pictures were concealed or skipped, then masked)."""
    seconds: float

    def summary(self) -> str:
        """One line, as the command line prints it."""
        gaps = "; ".join(
            f"{g.kind} gap from {g.start:%H:%M:%S.%f}"[:-3]
            + (f" for {g.seconds:.1f} s" if g.seconds is not None else " to the end")
            + f" ({g.reason})"
            for g in self.gaps
        )
        return (
            f"{self.url} -> {self.out_dir}: {self.frames} frames in {len(self.segments)} "
            f"segments, {self.dropped} dropped unmasked, stopped by {self.stopped}"
            + (f"; {gaps}" if gaps else "")
        )


# --- reading ----------------------------------------------------------------------------------


def is_live_source(src: str) -> bool:
    """Whether ``src`` is read as a live stream: a URL other than ``file:``, or a device node."""
    if "://" in src:
        return not src.startswith("file:")
    with contextlib.suppress(OSError):
        return stat.S_ISCHR(os.stat(src).st_mode)
    return False


def _connect(
    url: str, input_format: str | None, options: Mapping[str, str], timeout: tuple[float, float]
) -> Any:
    try:
        return av.open(url, "r", format=input_format, options=dict(options), timeout=timeout)
    except (av.FFmpegError, OSError) as e:
        raise VideoError(f"{url}: cannot open the stream: {e}") from e


# --- the run ----------------------------------------------------------------------------------


def _positive(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise SettingsError(f"{name} must be a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise SettingsError(f"{name} must be a positive number, got {value!r}")


def _count(value: object, name: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise SettingsError(f"{name} must be a positive integer or None, got {value!r}")


def _check_settings(
    url: object, masks: object, prefix: object, reconnect: object, flags: Mapping[str, object]
) -> None:
    if not isinstance(url, str) or not url:
        raise TypeError(f"url must be a non-empty string, got {url!r}")
    if not is_live_source(url) and Path(url).is_file():
        raise SettingsError(f"{url} is a file, not a live stream: use mask_file for recordings")
    if not isinstance(masks, (MaskSet, MaskTimeline)):
        raise TypeError(f"masks must be a MaskSet or MaskTimeline, got {type(masks).__name__}")
    if not isinstance(prefix, str) or not prefix or "/" in prefix or prefix.startswith("."):
        raise SettingsError(f"prefix must be a plain file-name part, got {prefix!r}")
    if reconnect is not None:
        if not isinstance(reconnect, Reconnect):
            raise TypeError(f"reconnect must be a Reconnect or None, got {reconnect!r}")
        _positive(reconnect.first_wait, "Reconnect.first_wait")
        _positive(reconnect.max_wait, "Reconnect.max_wait")
        if reconnect.give_up_after is not None:
            _positive(reconnect.give_up_after, "Reconnect.give_up_after")
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")


def mask_live(
    url: str,
    out_dir: str | os.PathLike[str],
    masks: MaskSet | MaskTimeline,
    *,
    segment_seconds: float | Fraction = 60,
    hls: bool = False,
    hls_window: int | None = None,
    prefix: str = "cam",
    reconnect: Reconnect | None = DEFAULT_RECONNECT,
    max_frames: int | None = None,
    max_seconds: float | None = None,
    stop: threading.Event | None = None,
    poses: PoseTrack | None = None,
    lifted: bool = False,
    codec: str = "libx264",
    quality: int | None = None,
    encoder_options: Mapping[str, str] | None = None,
    input_format: str | None = None,
    input_options: Mapping[str, str] | None = None,
    timeout: tuple[float, float] = (10.0, 5.0),
    on_segment: Callable[[Segment], None] | None = None,
) -> LiveReport:
    """Masks the live stream ``url`` into segment files in ``out_dir`` until told to stop.

    ``url`` is anything FFmpeg opens as input (``rtsp://``, ``udp://``, ``http://``,
    ``srt://``, or a device such as ``/dev/video0`` with ``input_format="v4l2"``);
    ``input_options`` go to the demuxer and protocol (``rtsp://`` defaults to
    ``rtsp_transport=tcp``); ``timeout`` is ``(open, read)`` in seconds. ``masks`` is a
    :class:`MaskSet` or a :class:`MaskTimeline` looked up at each frame's wall-clock recording
    time (see the module docstring); ``poses`` places scene-locked masks, at seconds after
    ``LiveReport.origin``; ``lifted=True`` skips liftable masks.

    Segments of ``segment_seconds`` (aligned on the epoch) are named ``<prefix>-<UTC start>.mp4``;
    ``hls=True`` writes ``.ts`` segments and ``<prefix>.m3u8`` (the last ``hls_window`` segments,
    or all). ``codec`` (default H.264, which browsers and NVRs play), ``quality`` (CRF) and
    ``encoder_options`` set the encoder; ``on_segment`` is called on the writer thread with each
    segment as it is published (an exception it raises ends the run).

    The run ends when ``stop`` is set, after ``max_frames`` frames or ``max_seconds`` seconds,
    when ``reconnect`` is ``None`` and the source ends, or when ``reconnect.give_up_after``
    passes; the segment in progress is then finished and published.

    Errors, raised before anything is written: ``TypeError``, :class:`SettingsError` (bad
    settings), ``FileNotFoundError``/``NotADirectoryError`` (``out_dir``), :class:`VideoError`
    (no such encoder; the source cannot be opened the first time, or has no decodable video),
    and :class:`FrameFormatError` (a pixel format privmask does not mask). Encoder options are
    checked when the first segment opens (``ValueError``, before that segment is published).
    During the run, an output that cannot be written raises :class:`VideoError`; published
    segments stay and no ``.part`` file remains.
    """
    t0 = time.monotonic()
    out = Path(out_dir)
    _check_settings(url, masks, prefix, reconnect, {"hls": hls, "lifted": lifted})
    _positive(segment_seconds, "segment_seconds")
    if max_seconds is not None:
        _positive(max_seconds, "max_seconds")
    _count(max_frames, "max_frames")
    _count(hls_window, "hls_window")
    if not (isinstance(timeout, tuple) and len(timeout) == 2):
        raise SettingsError(f"timeout must be (open seconds, read seconds), got {timeout!r}")
    for t in timeout:
        _positive(t, "timeout")
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int)):
        raise SettingsError(f"quality must be a CRF (an integer) or None, got {quality!r}")
    try:
        if av.codec.Codec(codec, "w").type != "video":
            raise SettingsError(f"{codec!r} is not a video encoder")
    except av.codec.codec.UnknownCodecError as e:
        raise VideoError(f"no encoder {codec!r} in this FFmpeg build") from e
    if not out.is_dir():
        raise (NotADirectoryError if out.exists() else FileNotFoundError)(
            20 if out.exists() else 2, "no output directory there", str(out)
        )
    stop = stop if stop is not None else threading.Event()
    options = dict(input_options or {})
    if url.startswith("rtsp://"):
        options.setdefault("rtsp_transport", "tcp")
    wall = WallClock()
    origin_ns = wall.now_ns()
    planner = FramePlanner(masks, start=utc(origin_ns), poses=poses, source=url)
    recorder = SegmentRecorder(
        out,
        prefix,
        round(Fraction(segment_seconds) * NS),
        hls=hls,
        hls_window=hls_window,
        codec=codec,
        quality=quality,
        encoder_options=encoder_options,
        on_segment=on_segment,
    )
    state: dict[str, Any] = {"stopped": "source ended", "damaged": 0}
    state["inp"] = _connect(url, input_format, options, timeout)
    try:
        video_stream(url, state["inp"])  # an undecodable or unmaskable source fails here
    except BaseException:
        close_quietly(state["inp"])
        raise

    def limit(frames: int) -> str | None:
        # The pipeline's abort (a failure in another stage) stops the reader like ``stop``.
        if stop.is_set() or pipeline.abort.is_set():
            return "stop"
        if max_frames is not None and frames >= max_frames:
            return "max_frames"
        if max_seconds is not None and time.monotonic() - t0 >= max_seconds:
            return "max_seconds"
        return None

    def connection(inp: Any, frames: int) -> Iterator[Any]:
        """The frames of one connection, with their times, until a limit (then
        ``state["stopped"]`` says which) or the end of the stream (raising what it raised)."""
        video, _ = video_stream(url, inp)
        found = video.average_rate or video.guessed_rate
        rate = Fraction(found) if found else None
        clock = StreamClock(wall, rate)
        for packet in inp.demux(video):
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                state["damaged"] += 1
                continue
            for frame in decoded:
                why = limit(frames)
                if why is not None:
                    state["stopped"] = why
                    return
                frame.make_writable()
                frames += 1
                t, at = clock.stamp(frame)
                yield Capture(frame, t, at, rate)

    def read() -> Generator[object, None, None]:
        frames, attempts, last_ns = 0, 0, origin_ns
        while True:
            reason = "the source ended the stream"
            try:
                for cap in connection(state["inp"], frames):
                    if attempts:
                        yield SourceBack(attempts)
                        attempts = 0
                    frames, last_ns = frames + 1, cap.time_ns
                    yield cap
            except (av.FFmpegError, OSError, VideoError) as e:
                reason = str(e)  # a source that comes back unreadable is one more drop
            finally:
                close_quietly(state.pop("inp"))
            if state["stopped"] != "source ended" or reconnect is None:
                return
            yield SourceLost(reason, last_ns)
            wait, lost = reconnect.first_wait, time.monotonic()
            while "inp" not in state:
                until = time.monotonic() + wait
                while limit(frames) is None and (left := until - time.monotonic()) > 0:
                    stop.wait(min(left, _POLL_S))
                why = limit(frames)
                give_up = reconnect.give_up_after
                if why is None and give_up is not None and time.monotonic() - lost >= give_up:
                    why = "gave up"
                if why is not None:
                    state["stopped"] = why
                    return
                attempts += 1
                try:
                    state["inp"] = _connect(url, input_format, options, timeout)
                except VideoError as e:
                    log.info("reconnect attempt %d failed: %s", attempts, e)
                    wait = min(wait * 2, reconnect.max_wait)

    def process(index: int, item: Any) -> None:
        cap: Capture = item
        try:
            frame = Frame.from_av(cap.frame)
            offset = Fraction(cap.time_ns - origin_ns, NS)
            compiled = planner.plan(index, offset, geometry_of(frame), pts=cap.frame.pts)
            if compiled is not None:
                compiled.apply_planes(list(frame.planes), lifted=lifted, parallel=False)
        except (PrivmaskError, ValueError) as e:
            # Never passed on: the writer closes the segment and reports the frame as dropped.
            cap.frame, cap.failure = None, f"frame {index}: {e}"
            return
        cap.masked = True

    source = read()
    pipeline = Pipeline(
        lambda: source,
        lambda item: isinstance(item, Capture),
        process,
        recorder.write,
        recorder.finish,
        lambda error, _index: error,
    )
    try:
        pipeline.run()
    finally:
        source.close()  # the reader thread has been joined: this closes the connection in hand
        if "inp" in state:
            close_quietly(state.pop("inp"))
        recorder.abandon()
    return LiveReport(
        url=url,
        out_dir=os.fspath(out),
        frames=recorder.frames,
        dropped=recorder.dropped,
        segments=tuple(recorder.segments),
        gaps=tuple(recorder.gaps),
        playlist=os.fspath(recorder.playlist) if hls and recorder.segments else None,
        versions=planner.versions_used(),
        failed_closed=tuple(planner.failed_closed),
        origin=utc(origin_ns),
        stopped=state["stopped"],
        damaged_packets=state["damaged"],
        seconds=time.monotonic() - t0,
    )


# --- command line -----------------------------------------------------------------------------


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
    ``lifted``, ``poses``, ``codec``, ``crf``, ``encoder_option``, ``quiet``; ``start``,
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
            lifted=args.lifted,
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
