"""The ``privmask`` command: mask video files, mask a raw-video pipe, validate mask files.

    privmask mask cam.mp4 masked.mp4 --masks timeline.json
    privmask mask day1/*.mp4 --out-dir masked/ --masks masks.json --jobs 2
    ffmpeg -i cam.mp4 -f rawvideo -pix_fmt yuv420p - \\
      | privmask pipe --size 1920x1080 --masks masks.json \\
      | ffmpeg -f rawvideo -pix_fmt yuv420p -s 1920x1080 -r 25 -i - out.mp4
    privmask mask ptz.mp4 masked.mp4 --masks scene.json --poses poses.json
    privmask validate timeline.json

argparse (the standard library) rather than a CLI framework: three subcommands need nothing
more, and the command keeps working in the smallest install. Failures a user can cause (a
missing file, a bad mask file, a corrupt video) print one line and exit with status 1; usage
errors exit with 2, as argparse does.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import json
import multiprocessing
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from fractions import Fraction
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

from privmask import __version__
from privmask.engine.frame import FORMATS
from privmask.errors import InvalidGeometryError, MaskConfigError, PrivmaskError
from privmask.masks.maskset import MaskSet
from privmask.masks.ptz import PoseTrack
from privmask.masks.timeline import MaskTimeline, load_masks

__all__ = ["main"]

PROG = "privmask"


# --- argument types ----------------------------------------------------------------------------


def _timestamp(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (like 2026-03-01T12:00:00+01:00)"
        ) from None
    if t.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset; add one (+01:00, or Z for UTC) so it names one instant"
        )
    return t


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame size like 1920x1080")
    return int(m.group(1)), int(m.group(2))


def _rate(text: str) -> Fraction:
    try:
        r = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a frame rate (25, 29.97 or 30000/1001)"
        ) from None
    if r <= 0:
        raise argparse.ArgumentTypeError(f"the frame rate must be positive, got {text}")
    return r


def nonnegative_int(text: str) -> int:
    """An argparse type: a whole number from 0 (CRF, hold counts)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer")
    return int(text)


def positive_int(text: str) -> int:
    """An argparse type: a whole number from 1 (process counts, repeats)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. preset=veryfast)")
    return key, value


# --- the parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``privmask`` argument parser (exposed so docs and tests see the same ``--help``)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Burn privacy masks into video: files, raw-video pipes, batches.",
        epilog="Mask files are JSON mask sets or timelines; see 'privmask validate'.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    mask = sub.add_parser(
        "mask",
        help="mask video files",
        description=(
            "Mask video files with the masks in force when each frame was recorded. Give IN OUT "
            "for one file, or any number of inputs with --out-dir. Each output is written "
            "atomically (no partial file on failure). Metadata, subtitles, data streams and "
            "attachments are dropped; audio too unless --keep-audio."
        ),
    )
    mask.add_argument("paths", nargs="+", metavar="PATH", help="IN OUT, or IN... with --out-dir")
    mask.add_argument(
        "--masks", required=True, type=Path, metavar="FILE", help="mask-set or timeline JSON file"
    )
    mask.add_argument(
        "--out-dir", type=Path, metavar="DIR", help="write each input to DIR under its own name"
    )
    mask.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help="files masked at once, in separate processes (default 1)",
    )
    mask.add_argument(
        "--start",
        type=_timestamp,
        metavar="ISO8601",
        help="recording start (default: the file's creation_time)",
    )
    mask.add_argument(
        "--lifted", action="store_true", help="skip liftable masks (permanent masks still apply)"
    )
    mask.add_argument(
        "--poses",
        type=Path,
        metavar="FILE",
        help="PTZ pose-track JSON placing scene-locked masks frame by frame (one input only); "
        "without it, frames with scene-locked masks are masked whole",
    )
    mask.add_argument("--keep-audio", action="store_true", help="copy the audio streams")
    mask.add_argument(
        "--codec",
        metavar="C",
        help="FFmpeg encoder (default: the input's codec, else the container's)",
    )
    mask.add_argument(
        "--crf", type=nonnegative_int, metavar="N", help="constant-quality setting (CRF)"
    )
    mask.add_argument(
        "--encoder-option",
        type=_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an encoder option, e.g. preset=veryfast (repeatable)",
    )
    mask.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")

    pipe = sub.add_parser(
        "pipe",
        help="mask raw video frames from stdin to stdout",
        description=(
            "Read raw frames (FFmpeg's rawvideo framing) on stdin, write them masked to stdout. "
            "A stream that ends inside a frame is an error, not a dropped frame."
        ),
        epilog=(
            "example: ffmpeg -i cam.mp4 -f rawvideo -pix_fmt yuv420p - | privmask pipe --size "
            "1920x1080 --masks m.json | ffmpeg -f rawvideo -pix_fmt yuv420p -s 1920x1080 -r 25 "
            "-i - out.mp4"
        ),
    )
    pipe.add_argument("--size", type=_size, required=True, metavar="WxH", help="frame size")
    pipe.add_argument(
        "--pix-fmt",
        default="yuv420p",
        choices=FORMATS,
        metavar="FMT",
        help=f"pixel format (default yuv420p; one of {', '.join(FORMATS)})",
    )
    pipe.add_argument(
        "--masks", required=True, type=Path, metavar="FILE", help="mask-set or timeline JSON file"
    )
    pipe.add_argument(
        "--fps",
        type=_rate,
        metavar="R",
        help="frame rate, to place frames on a timeline (25, 30000/1001)",
    )
    pipe.add_argument(
        "--start",
        type=_timestamp,
        metavar="T",
        help="recording time of the first frame (ISO 8601 with offset)",
    )
    pipe.add_argument("--lifted", action="store_true", help="skip liftable masks")
    pipe.add_argument(
        "--poses",
        type=Path,
        metavar="FILE",
        help="PTZ pose-track JSON for scene-locked masks (needs --fps; frame i is at i/fps s)",
    )
    pipe.add_argument(
        "--matrix",
        choices=("bt601", "bt709"),
        help="colour matrix for RGB mask colours (default: by frame height)",
    )
    pipe.add_argument(
        "--range",
        choices=("limited", "full"),
        dest="color_range",
        help="sample range (default: full for yuvj formats, else limited)",
    )

    validate = sub.add_parser(
        "validate",
        help="check a mask-set, timeline or pose-track file",
        description="Validate a mask-set, timeline or PTZ pose-track file and print what it "
        "contains.",
    )
    validate.add_argument("file", type=Path, metavar="FILE")
    for module in _extensions():
        module.add_cli(sub)
    return parser


_EXTENSIONS = ("privmask.redaction.export", "privmask.tools.bench", "privmask.redaction.redact")
"""Modules that add subcommands: each has ``COMMANDS``, ``add_cli(subparsers)`` and
``run_cli(args)``, so each feature owns its own options. Imported on use: they pull in
heavier dependencies (PyAV, OpenCV) that the other commands do not need."""


def _extensions() -> list[ModuleType]:
    return [importlib.import_module(name) for name in _EXTENSIONS]


# --- commands ----------------------------------------------------------------------------------


def _video() -> ModuleType | None:
    """:mod:`privmask.video.files`, or ``None`` without PyAV (an optional dependency: ``validate``
    works without it)."""
    if importlib.util.find_spec("av") is None:
        return None
    return importlib.import_module("privmask.video")


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def describe(error: BaseException) -> str:
    """One line for an error a user can cause: the message and any notes, no traceback."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    notes = getattr(error, "__notes__", None) or []
    return " ".join([text, *(f"({n})" for n in notes)])


_USER_ERRORS: tuple[type[Exception], ...] = (PrivmaskError, OSError, ValueError)


def outputs(
    args: argparse.Namespace, parser: argparse.ArgumentParser, command: str
) -> list[tuple[Path, Path]]:
    """The ``(input, output)`` pairs of ``IN OUT`` or ``IN... --out-dir DIR`` (``args.paths``,
    ``args.out_dir``); usage errors exit with 2."""
    paths: list[Path] = [Path(p) for p in args.paths]
    if args.out_dir is None:
        if len(paths) != 2:
            parser.error(f"{command}: give IN OUT, or several inputs with --out-dir DIR")
        return [(paths[0], paths[1])]
    names = Counter(p.name for p in paths)
    clashes = sorted(n for n, k in names.items() if k > 1)
    if clashes:
        parser.error(
            f"{command}: several inputs are named {', '.join(clashes)}; --out-dir needs distinct "
            "names"
        )
    return [(p, args.out_dir / p.name) for p in paths]


def run_files(
    work: Callable[[Path, Path], Any], pairs: Sequence[tuple[Path, Path]], jobs: int, quiet: bool
) -> int:
    """Runs ``work(src, dst)`` for every pair, ``jobs`` files at once in separate processes
    (``work`` must pickle), and prints each result's ``summary()`` as it finishes; a failing file
    prints one line and the others go on. Returns the exit status."""
    failed = 0

    def done(result: Any) -> None:
        if not quiet:
            print(result.summary(), flush=True)

    if jobs == 1 or len(pairs) == 1:
        for src, dst in pairs:
            try:
                done(work(src, dst))
            except _USER_ERRORS as e:
                failed += 1
                _fail(describe(e))
        return 1 if failed else 0
    # One process per file at a time; each file's line is printed as it finishes.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(work, src, dst) for src, dst in pairs]
        for fut in as_completed(futures):
            try:
                done(fut.result())
            except _USER_ERRORS as e:
                failed += 1
                _fail(describe(e))
    return 1 if failed else 0


def _cmd_mask(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    pairs = outputs(args, parser, "mask")
    if args.poses is not None and len(pairs) > 1:
        parser.error("mask: --poses belongs to one recording; give IN OUT (or use MaskJob.poses)")
    try:
        masks = load_masks(args.masks)
        poses = None if args.poses is None else PoseTrack.load(args.poses)
    except _USER_ERRORS as e:
        return _fail(describe(e))
    if args.out_dir is not None and not args.out_dir.is_dir():
        return _fail(f"{args.out_dir}: not a directory (create it first)")
    video = _video()
    if video is None:
        return _fail("privmask mask needs PyAV: pip install 'privmask[av]'")
    options = dict(args.encoder_option)
    template = video.MaskJob(
        "",
        "",
        masks,
        start=args.start,
        lifted=args.lifted,
        codec=args.codec,
        quality=args.crf,
        keep_audio=args.keep_audio,
        encoder_options=options or None,
        poses=poses,
    )
    bars = not args.quiet and (args.jobs == 1 or len(pairs) == 1)
    return run_files(partial(_mask_one, template, bars), pairs, args.jobs, args.quiet)


def _mask_one(template: Any, progress: bool, src: Path, dst: Path) -> Any:
    """One file of ``privmask mask`` (module level, so a worker process can unpickle it)."""
    from privmask.video import run_job

    return run_job(dataclasses.replace(template, src=src, dst=dst), progress=progress)


def _cmd_pipe(args: argparse.Namespace) -> int:
    try:
        masks = load_masks(args.masks)
        poses = None if args.poses is None else PoseTrack.load(args.poses)
    except _USER_ERRORS as e:
        return _fail(describe(e))
    video = _video()
    if video is None:
        return _fail("privmask pipe needs PyAV: pip install 'privmask[av]'")
    mask_raw = video.mask_raw

    width, height = args.size
    full_range = None if args.color_range is None else args.color_range == "full"
    stdout = sys.stdout.buffer
    closed: list[int] = []
    try:
        mask_raw(
            sys.stdin.buffer,
            stdout,
            masks,
            width=width,
            height=height,
            pix_fmt=args.pix_fmt,
            fps=args.fps,
            start=args.start,
            lifted=args.lifted,
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
        return _fail("stdout was closed before the stream ended")
    except _USER_ERRORS as e:
        return _fail(describe(e))
    if closed:
        print(f"{PROG}: {len(closed)} frames masked whole (no current PTZ pose)", file=sys.stderr)
    return 0


def _style_text(style: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in style.items() if k != "type")
    return f"{style['type']}({params})"


def _print_masks(masks: MaskSet, indent: str) -> None:
    for i, m in enumerate(masks):
        d = m.to_dict()
        kind = "liftable" if m.liftable else "permanent"
        name = f"  {m.name!r}" if m.name else ""
        print(
            f"{indent}masks[{i}]: {_style_text(d['style'])}, {m.style.grade.value}, {kind}, "
            f"{len(m.shape.points)}-point {'scene-locked ' if 'scene' in d else ''}polygon{name}"
        )


def _validate_poses(path: Path) -> int:
    try:
        track = PoseTrack.load(path)
    except (MaskConfigError, InvalidGeometryError) as e:
        return _fail(f"{path}: {e}")
    except _USER_ERRORS as e:
        return _fail(describe(e))
    print(
        f"{path}: valid pose track (schema version 1), {len(track.times)} poses from "
        f"{track.times[0]} s to {track.times[-1]} s, max_age {track.max_age} s, "
        f"latency {track.latency} s"
    )
    return 0


def _is_pose_file(path: Path) -> bool:
    """Whether ``path`` holds a pose track (a top-level ``poses``), told apart from mask files
    before validating either, so each gets its own error messages."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "poses" in doc and "masks" not in doc


def _cmd_validate(args: argparse.Namespace) -> int:
    if _is_pose_file(args.file):
        return _validate_poses(args.file)
    try:
        found = load_masks(args.file)
    except (MaskConfigError, InvalidGeometryError) as e:
        return _fail(f"{args.file}: {e}")
    except _USER_ERRORS as e:
        return _fail(describe(e))
    if isinstance(found, MaskTimeline):
        print(f"{args.file}: valid timeline (schema version 1), {len(found)} versions")
        for i, v in enumerate(found):
            print(
                f"  timeline[{i}]: since {v.since.isoformat()}, {len(v.masks)} masks, "
                f"content_hash {v.content_hash}"
            )
            _print_masks(v.masks, "    ")
    else:
        print(
            f"{args.file}: valid mask set (schema version 1), {len(found)} masks, "
            f"content_hash {found.content_hash}"
        )
        _print_masks(found, "  ")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (0 ok, 1 failed, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "mask":
        return _cmd_mask(args, parser)
    if args.command == "pipe":
        return _cmd_pipe(args)
    if args.command == "validate":
        return _cmd_validate(args)
    for module in _extensions():
        if args.command in module.COMMANDS:
            return int(module.run_cli(args))
    raise AssertionError(f"unhandled command {args.command!r}")


def run() -> NoReturn:
    """Console-script entry point."""
    try:
        code = main()
    except BrokenPipeError:
        # The reader of our output went away (``privmask validate f.json | head``): not an
        # error worth a traceback. Point stdout at /dev/null so the exit-time flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)
