"""``privmask pipe``: mask raw video frames from stdin to stdout (:func:`privmask.video.mask_raw`),
in FFmpeg's ``rawvideo`` framing. stdout carries the video, so the summary goes to stderr."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from privmask.cli.checks import missing_av
from privmask.cli.common import (
    EXIT_FAILED_CLOSED,
    EXIT_OK,
    EXIT_STATUSES,
    HELP_FORMATTER,
    PROG,
    USER_ERRORS,
    Subparsers,
    add_masks_option,
    describe,
    fail,
    frame_ranges,
    frame_rate,
    frame_size,
    help_text,
    print_json,
    progress_wanted,
    timestamp,
)
from privmask.engine.frame import FORMATS
from privmask.masks.maskset import MaskSet
from privmask.masks.timeline import MaskTimeline

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> None:
    """Registers ``privmask pipe``."""
    p = subparsers.add_parser(
        "pipe",
        formatter_class=HELP_FORMATTER,
        description=help_text(
            "Read raw frames (FFmpeg's rawvideo framing) on stdin, write them masked to stdout. "
            "A stream that ends inside a frame is an error, not a dropped frame. A one-line "
            "summary (or --json) goes to stderr when the stream ends; a progress bar too, on a "
            "terminal.",
        ),
        epilog=help_text(
            "example:\n"
            "  ffmpeg -i cam.mp4 -f rawvideo -pix_fmt yuv420p - \\\n"
            "    | privmask pipe --size 1920x1080 --masks m.json \\\n"
            "    | ffmpeg -f rawvideo -pix_fmt yuv420p -s 1920x1080 -r 25 -i - out.mp4",
            EXIT_STATUSES,
        ),
    )
    p.add_argument("--size", type=frame_size, required=True, metavar="WxH", help="frame size")
    p.add_argument(
        "--pix-fmt",
        default="yuv420p",
        choices=FORMATS,
        metavar="FMT",
        help=f"pixel format (default yuv420p; one of {', '.join(FORMATS)})",
    )
    add_masks_option(p)
    p.add_argument(
        "--fps",
        type=frame_rate,
        metavar="R",
        help="frame rate, to place frames on a timeline (25, 30000/1001)",
    )
    p.add_argument(
        "--start",
        type=timestamp,
        metavar="T",
        help="recording time of the first frame (ISO 8601 with offset)",
    )
    p.add_argument(
        "--poses",
        type=Path,
        metavar="FILE",
        help="PTZ pose-track JSON for scene-locked masks (needs --fps; frame i is at i/fps s); "
        "frames it does not cover are masked whole (exit status 3)",
    )
    p.add_argument(
        "--matrix",
        choices=("bt601", "bt709"),
        help="colour matrix for RGB mask colours (default: by frame height)",
    )
    p.add_argument(
        "--range",
        choices=("limited", "full"),
        dest="color_range",
        help="sample range (default: full for yuvj formats, else limited)",
    )
    p.add_argument("--json", action="store_true", help="the summary as JSON (on stderr)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")


class _Counted:
    """``dst`` counting the whole frames written through it onto a progress bar."""

    def __init__(self, dst: BinaryIO, frame_bytes: int, bar: Any) -> None:
        self._dst = dst
        self._frame = frame_bytes
        self._bytes = 0
        self._bar = bar

    def write(self, data: Any) -> int:
        n = self._dst.write(data)
        before = self._bytes // self._frame
        self._bytes += memoryview(data).nbytes
        self._bar.update(self._bytes // self._frame - before)
        return n

    def flush(self) -> None:
        self._dst.flush()


def _masks_text(masks: MaskSet | MaskTimeline) -> str:
    if isinstance(masks, MaskSet):
        return f"masks {masks.content_hash[:12]}"
    return f"a timeline of {len(masks)} versions"


def run(args: argparse.Namespace) -> int:
    """Runs ``privmask pipe``; returns the exit status."""
    from tqdm import tqdm

    from privmask.masks.poses import PoseTrack
    from privmask.masks.sniff import load_mask_file

    try:
        masks = load_mask_file(args.masks).masks
        poses = None if args.poses is None else PoseTrack.load(args.poses)
    except USER_ERRORS as e:
        return fail(describe(e))
    if (message := missing_av("pipe")) is not None:
        return fail(message)
    from privmask.video import frame_bytes, mask_raw

    width, height = args.size
    full_range = None if args.color_range is None else args.color_range == "full"
    for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout)):
        if stream is None or getattr(stream, "buffer", None) is None:
            return fail(f"{name} is closed: 'privmask pipe' reads raw frames on stdin and "
                        "writes them masked on stdout")  # fmt: skip
    stdout = sys.stdout.buffer
    closed: list[int] = []
    t0 = time.perf_counter()
    try:
        with tqdm(
            unit="frame", disable=not progress_wanted(args.quiet), leave=False, desc="pipe"
        ) as bar:
            frames = mask_raw(
                sys.stdin.buffer,
                _Counted(stdout, frame_bytes(args.pix_fmt, width, height), bar),  # type: ignore[arg-type]
                masks,
                width=width,
                height=height,
                pix_fmt=args.pix_fmt,
                fps=args.fps,
                start=args.start,
                matrix=args.matrix,
                full_range=full_range,
                poses=poses,
                failed_closed=closed,
            )
    except BrokenPipeError:
        # The reader went away (e.g. ffmpeg stopped early): say so, and keep Python from
        # complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        return fail("stdout was closed before the stream ended")
    except USER_ERRORS as e:
        return fail(describe(e))
    except MemoryError:
        size = frame_bytes(args.pix_fmt, width, height)
        return fail(
            f"not enough memory for {width}x{height} {args.pix_fmt} frames ({size / 2**20:.0f} "
            "MiB each, a few held at once): give a smaller --size"
        )
    seconds = time.perf_counter() - t0
    status = EXIT_FAILED_CLOSED if closed else EXIT_OK
    if args.json:
        print_json(
            {
                "command": "pipe",
                "status": status,
                "frames": frames,
                "width": width,
                "height": height,
                "pix_fmt": args.pix_fmt,
                "seconds": seconds,
                "content_hash": masks.content_hash if isinstance(masks, MaskSet) else None,
                "versions": len(masks) if isinstance(masks, MaskTimeline) else 1,
                "failed_closed": len(closed),
                "failed_closed_ranges": frame_ranges(closed),
            },
            sys.stderr,
        )
    elif not args.quiet:
        rate = frames / seconds if seconds > 0 else 0.0
        print(
            f"{PROG} pipe: {frames} frames ({width}x{height} {args.pix_fmt}) in {seconds:.1f} s "
            f"({rate:.0f} fps); {_masks_text(masks)}"
            + (f"; {len(closed)} frames masked whole (no current PTZ pose)" if closed else ""),
            file=sys.stderr,
            flush=True,
        )
    return status
