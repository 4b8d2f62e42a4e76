"""``privmask mask``: mask video files, one or many, with the masks in force when each frame was
recorded (:func:`privmask.video.mask_file`)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from functools import partial
from pathlib import Path
from typing import Any

from privmask.cli.checks import START_EXAMPLE, missing_av, needs_start, pose_gaps
from privmask.cli.common import (
    EXIT_FAILED_CLOSED,
    EXIT_OK,
    EXIT_STATUSES,
    HELP_FORMATTER,
    USER_ERRORS,
    FileOutcome,
    Subparsers,
    add_file_arguments,
    add_masks_option,
    add_start_option,
    describe,
    fail,
    frame_ranges,
    help_text,
    key_value,
    make_out_dir,
    nonnegative_int,
    outcome_json,
    outputs,
    print_outcome,
    progress_wanted,
    report_files,
    run_files,
    usage_error,
    warn,
)
from privmask.cli.live import add_live_options, is_live_source, run_live

__all__ = ["add_parser", "report_json", "run"]


def add_parser(subparsers: Subparsers) -> None:
    """Registers ``privmask mask``."""
    p = subparsers.add_parser(
        "mask",
        formatter_class=HELP_FORMATTER,
        description=help_text(
            "Mask video files with the masks in force when each frame was recorded. Give IN OUT "
            "for one file, or any number of inputs with --out-dir (created if missing). Each "
            "output is written atomically (no partial file on failure). Metadata, subtitles, "
            "data streams and attachments are dropped; audio too unless --keep-audio.",
            "--masks takes privmask JSON (a mask set or a timeline), a Frigate config (YAML: "
            "the camera's motion.mask and zones) or ONVIF GetMasksResponse XML. A timeline of "
            "several versions needs each file's recording start: its creation_time, or "
            f"--start ({START_EXAMPLE}).",
            "An image works too (a still in, a still out: privmask mask snapshot.png "
            "masked.png); 'privmask preview' also takes a frame out of a video.",
        ),
        epilog=help_text(
            "examples:\n"
            "  privmask mask cam.mp4 masked.mp4 --masks masks.json\n"
            "  privmask mask day1/*.mp4 --out-dir masked/ --masks frigate.yml --jobs 2\n"
            f"  privmask mask cam.mp4 out.mp4 --masks timeline.json {START_EXAMPLE}",
            EXIT_STATUSES,
        ),
    )
    add_file_arguments(p, "masked")
    add_masks_option(p)
    add_start_option(p)
    p.add_argument(
        "--poses",
        type=Path,
        metavar="FILE",
        help="PTZ pose-track JSON placing scene-locked masks frame by frame (one input only); "
        "frames it does not cover are masked whole (exit status 3)",
    )
    p.add_argument("--keep-audio", action="store_true", help="copy the audio streams")
    p.add_argument(
        "--codec",
        metavar="C",
        help="FFmpeg encoder (default: the input's codec, else the container's)",
    )
    p.add_argument("--crf", type=nonnegative_int, metavar="N", help="constant-quality setting")
    p.add_argument(
        "--encoder-option",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an encoder option, e.g. preset=veryfast (repeatable)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON summary on stdout instead of the lines (for scripts)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument(
        "--accept-damage",
        action="store_true",
        help="write what decodes of a damaged input (the summary lists what was lost) instead "
        "of refusing it",
    )
    add_live_options(p)


def _mask_one(template: Any, progress: bool, src: Path, dst: Path) -> Any:
    """One file of ``privmask mask`` (module level, so a worker process can unpickle it)."""
    from privmask.video.files import run_job

    return run_job(dataclasses.replace(template, src=src, dst=dst), progress=progress)


def report_json(outcome: FileOutcome) -> dict[str, Any]:
    """One file of the ``--json`` summary: the :class:`~privmask.video.MaskReport` fields, with
    the frames that failed closed as ``[first, last]`` runs, or the error line."""

    def fields(doc: dict[str, Any]) -> dict[str, Any]:
        closed = doc.pop("failed_closed", [])
        return {**doc, "failed_closed": len(closed), "failed_closed_ranges": frame_ranges(closed)}

    return outcome_json(outcome, fields)


def run(args: argparse.Namespace) -> int:
    """Runs ``privmask mask``; returns the exit status."""
    from privmask.masks.poses import PoseTrack
    from privmask.masks.sniff import load_mask_file

    if args.paths and is_live_source(str(args.paths[0])):
        if (message := missing_av("mask")) is not None:
            return fail(message)
        return run_live(args)  # URL OUT_DIR: clock-aligned segments or HLS
    pairs = outputs(args, "mask")
    if args.poses is not None and len(pairs) > 1:
        usage_error(
            args, "mask: --poses belongs to one recording; give IN OUT (or use MaskJob.poses)"
        )
    try:
        masks = load_mask_file(args.masks).masks
        poses = None if args.poses is None else PoseTrack.load(args.poses)
    except USER_ERRORS as e:
        return fail(describe(e))
    if (message := missing_av("mask")) is not None:
        return fail(message)
    if args.start is None and (message := needs_start([s for s, _ in pairs], masks, args.masks)):
        return fail(message)
    if poses is not None and (message := pose_gaps(pairs[0][0], poses, args.poses)):
        warn(message)
    try:
        make_out_dir(args.out_dir)
    except OSError as e:
        return fail(describe(e))
    from privmask.video.files import MaskJob

    template = MaskJob(
        "",
        "",
        masks,
        start=args.start,
        codec=args.codec,
        quality=args.crf,
        keep_audio=args.keep_audio,
        accept_damage=args.accept_damage,
        encoder_options=dict(args.encoder_option) or None,
        poses=poses,
    )
    progress = progress_wanted(args.quiet)
    one_at_a_time = args.jobs == 1 or len(pairs) == 1

    outcomes = run_files(
        partial(_mask_one, template, progress and one_at_a_time),
        pairs,
        jobs=args.jobs,
        done=print_outcome(args),
        progress=progress,
    )
    closed = sum(len(o.result.failed_closed) for o in outcomes if o.result is not None)
    frames = sum(o.result.frames for o in outcomes if o.result is not None)
    status = report_files(
        args,
        "mask",
        outcomes,
        verb="masked",
        status=EXIT_FAILED_CLOSED if closed else EXIT_OK,
        to_json=report_json,
        detail=f" ({frames} frames)",
        note=f"; {closed} frames masked whole (no current PTZ pose)" if closed else "",
    )
    if closed and not (args.quiet or args.json):
        print(
            f"privmask: {closed} frames masked whole: the pose track does not cover them "
            "(exit status 3)",
            file=sys.stderr,
        )
    return status
