"""``privmask redact``: detect, track and mask people in video files
(:func:`privmask.redaction.redact.redact_file`)."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from privmask.cli.checks import missing_av
from privmask.cli.common import (
    HELP_FORMATTER,
    USER_ERRORS,
    Subparsers,
    add_file_arguments,
    describe,
    fail,
    help_text,
    make_out_dir,
    nonnegative_int,
    outputs,
    positive_int,
    print_outcome,
    progress_wanted,
    report_files,
    run_files,
    usage_error,
)
from privmask.redaction.redact import PERSON_MARGIN, STYLES

__all__ = ["add_parser", "run"]


def _ids(text: str) -> list[int]:
    """An argparse type: track ids, ``3,7``."""
    try:
        ids = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of track ids like 3,7") from None
    if not ids or any(i < 1 for i in ids):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of track ids like 3,7")
    return ids


def _fraction(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction between 0 and 1")
    return v


def add_parser(subparsers: Subparsers) -> None:
    """Registers ``privmask redact``."""
    p = subparsers.add_parser(
        "redact",
        formatter_class=HELP_FORMATTER,
        description=help_text(
            "Detect and track people and mask them: all tracks, all but --keep-tracks, or only "
            "--only-tracks (ids that do not exist are an error). Writes OUT.tracks.json (track "
            "ids, frame ranges, boxes) and OUT.<digest>.tracks.png, an UNMASKED contact sheet "
            "with track ids for the reviewer only, into a private (0700) review folder, never "
            "beside OUT "
            "(--review-dir, default $PRIVMASK_REVIEW_DIR or ~/.cache/privmask/review). "
            "Frames a detector fails on are masked whole. --out-dir is created if missing.",
        ),
        epilog=help_text(
            "examples:\n"
            "  privmask redact cam.mp4 out.mp4 --faces --people\n"
            "  privmask redact cam.mp4 out.mp4 --faces --face-scale 1.5 --style fill\n"
            "  privmask redact cam.mp4 out.mp4 --faces --keep-tracks 3",
            "exit status: 0 done; 1 failed (one line on stderr says why; with several files, "
            "the others are still done); 2 usage error.",
        ),
    )
    add_file_arguments(p, "redacted")
    p.add_argument("--faces", action="store_true", help="detect faces (CenterFace)")
    p.add_argument("--people", action="store_true", help="detect whole persons (YOLO)")
    p.add_argument("--motion", action="store_true", help="detect anything that moves")
    p.add_argument(
        "--motion-shapes",
        action="store_true",
        help="mask moving areas by their outline instead of boxes (tighter, may miss edges)",
    )
    p.add_argument(
        "--motion-hold",
        choices=("all", "tracked"),
        default="all",
        help="with --motion-shapes and --people/--faces: hold the motion background where "
        "people stand (all, the default) or only where those detectors track someone (tracked: "
        "the places people left fade, but so does a person they miss who stands still)",
    )
    p.add_argument(
        "--face-model",
        choices=("auto", "centerface", "cascade"),
        default="auto",
        help="CenterFace (needs the detect extra) or, only when named, the weak LBP cascade",
    )
    p.add_argument(
        "--face-scale",
        type=_scale,
        default=1.0,
        metavar="F",
        help="face detection scale (1: full resolution; 1.5 finds faces from 24 px in 1080p)",
    )
    p.add_argument(
        "--person-scale", type=_scale, default=1.0, metavar="F", help="person detection scale"
    )
    p.add_argument(
        "--color",
        metavar="#RRGGBB",
        help="colour of --style solid (default black)",
    )
    p.add_argument(
        "--review-dir",
        type=Path,
        metavar="DIR",
        help="private folder for the unmasked review sheets (created 0700)",
    )
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--keep-tracks", type=_ids, metavar="IDS", help="leave these visible")
    sel.add_argument("--only-tracks", type=_ids, metavar="IDS", help="mask only these")
    p.add_argument("--style", choices=tuple(STYLES), default="solid", help="default solid")
    p.add_argument(
        "--masks",
        type=Path,
        metavar="FILE",
        help="static masks to apply too: a mask set or timeline (privmask JSON, Frigate YAML or "
        "ONVIF XML)",
    )
    p.add_argument(
        "--hold", type=nonnegative_int, default=5, metavar="N", help="detection misses held"
    )
    p.add_argument(
        "--margin",
        type=_fraction,
        default=0.15,
        metavar="F",
        help="box growth per side per frame since detection, as a fraction (default 0.15)",
    )
    p.add_argument(
        "--person-margin",
        type=_fraction,
        default=PERSON_MARGIN,
        metavar="F",
        help="--margin for person tracks, whose boxes are already grown to hold the head "
        f"(default {PERSON_MARGIN})",
    )
    p.add_argument(
        "--detect-every",
        type=positive_int,
        default=1,
        metavar="K",
        help="detect on every K-th frame",
    )
    p.add_argument(
        "--budget-ms",
        type=positive_int,
        metavar="MS",
        help="detection time per frame; slower frames are masked whole",
    )
    p.add_argument("--codec", metavar="C", help="FFmpeg encoder (default: the input's codec)")
    p.add_argument("--crf", type=nonnegative_int, metavar="N", help="constant-quality setting")
    p.add_argument("--no-preview", action="store_true", help="do not write the review sheet")
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON summary on stdout instead of the lines (for scripts)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (0.1 <= value <= 4.0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a scale between 0.1 and 4")
    return value


def _redact_one(options: dict[str, Any], src: Path, dst: Path) -> Any:
    """One file of ``privmask redact`` (module level, so a worker process can unpickle it)."""
    from privmask.redaction.redact import redact_file

    return redact_file(src, dst, **options)


def run(args: argparse.Namespace) -> int:
    """Runs ``privmask redact``; returns the exit status."""
    from privmask.masks.sniff import load_mask_file
    from privmask.masks.styles import Solid

    pairs = outputs(args, "redact")
    if len(pairs) > 1 and (args.keep_tracks is not None or args.only_tracks is not None):
        usage_error(args, "redact: track ids belong to one recording; give IN OUT with them")
    if not (args.faces or args.people or args.motion):
        return fail("redact: choose --faces, --people, --motion or several")
    masks = None
    if args.masks is not None:
        try:
            masks = load_mask_file(args.masks).masks
        except USER_ERRORS as e:
            return fail(describe(e))
    if (message := missing_av("redact")) is not None:
        return fail(message)
    try:
        make_out_dir(args.out_dir)
    except OSError as e:
        return fail(describe(e))
    try:
        style = STYLES[args.style]
        if args.color is not None:
            if args.style != "solid":
                return fail("redact: --color goes with --style solid")
            style = Solid(args.color)
    except USER_ERRORS as e:
        return fail(describe(e))
    progress = progress_wanted(args.quiet)
    options = {
        "faces": args.faces,
        "people": args.people,
        "motion": args.motion,
        "motion_shapes": args.motion_shapes,
        "motion_hold": args.motion_hold,
        "face_model": args.face_model,
        "face_scale": args.face_scale,
        "person_scale": args.person_scale,
        "style": style,
        "review_dir": args.review_dir,
        "keep_tracks": args.keep_tracks,
        "only_tracks": args.only_tracks,
        "masks": masks,
        "hold": args.hold,
        "margin": args.margin,
        "person_margin": args.person_margin,
        "detect_every": args.detect_every,
        "budget_s": None if args.budget_ms is None else args.budget_ms / 1000,
        "codec": args.codec,
        "quality": args.crf,
        "preview": not args.no_preview,
        "progress": progress and (args.jobs == 1 or len(pairs) == 1),
    }

    outcomes = run_files(
        partial(_redact_one, options),
        pairs,
        jobs=args.jobs,
        done=print_outcome(args),
        progress=progress,
    )
    return report_files(args, "redact", outcomes, verb="redacted")
