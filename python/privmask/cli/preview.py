"""``privmask preview``: one masked still, from an image or from a video at a given time, to check
a mask file against the picture it was drawn for."""

from __future__ import annotations

import argparse
import contextlib
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from privmask._outputs import write_atomic
from privmask.cli.checks import START_EXAMPLE, missing_av
from privmask.cli.common import (
    EXIT_FAILED_CLOSED,
    EXIT_OK,
    EXIT_STATUSES,
    HELP_FORMATTER,
    USER_ERRORS,
    Subparsers,
    add_masks_option,
    describe,
    fail,
    help_text,
    timestamp,
)
from privmask.errors import VideoError

if TYPE_CHECKING:
    from privmask.masks.maskset import MaskSet
    from privmask.masks.poses import PoseTrack
    from privmask.masks.timeline import MaskTimeline

__all__ = ["ENCODERS", "add_parser", "run"]

ENCODERS: dict[str, tuple[str, str]] = {
    ".png": ("png", "rgb24"),
    ".jpg": ("mjpeg", "yuvj420p"),
    ".jpeg": ("mjpeg", "yuvj420p"),
}
"""The output extensions and the FFmpeg encoder and pixel format each is written with."""


def _seconds(text: str) -> Fraction:
    """An argparse type: a time from the start of the video in seconds, from 0 (``2.5``)."""
    try:
        t = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a time in seconds (like 2.5)") from None
    if t < 0:
        raise argparse.ArgumentTypeError(f"the time must not be negative, got {text}")
    return t


def add_parser(subparsers: Subparsers) -> None:
    """Registers ``privmask preview``."""
    p = subparsers.add_parser(
        "preview",
        formatter_class=HELP_FORMATTER,
        description=help_text(
            "Write one masked still: IN is an image (PNG, JPEG, anything FFmpeg reads) or a "
            "video, of which the frame shown at --at seconds is taken (default: the first). "
            "The masks are applied exactly as 'privmask mask' applies them, in the picture's "
            "own pixel format, and the result is written to OUT as PNG or JPEG (by its "
            "extension), atomically.",
            "With a timeline, the masks are those in force when the frame was recorded: the "
            f"video's creation_time (or --start, e.g. {START_EXAMPLE}; for an image, the time "
            "it was taken) plus --at.",
        ),
        epilog=help_text(
            "examples:\n"
            "  privmask preview snapshot.png --masks masks.json -o preview.png\n"
            "  privmask preview cam.mp4 --masks frigate.yml --at 12.5 -o at-12s.png",
            EXIT_STATUSES,
        ),
    )
    p.add_argument("src", type=Path, metavar="IN", help="an image or a video")
    add_masks_option(p)
    p.add_argument(
        "-o", "--output", required=True, type=Path, metavar="OUT", help="the still: .png or .jpg"
    )
    p.add_argument(
        "--at",
        type=_seconds,
        default=Fraction(0),
        metavar="T",
        help="seconds from the start of the video (default 0: the first frame)",
    )
    p.add_argument(
        "--start",
        type=timestamp,
        metavar="ISO8601",
        help="recording start, to choose a timeline's version (default: creation_time)",
    )
    p.add_argument(
        "--poses", type=Path, metavar="FILE", help="PTZ pose-track JSON for scene-locked masks"
    )


def _frame_at(container: Any, src: Path, at: Fraction) -> tuple[Any, Fraction]:
    """The frame shown at ``at`` seconds after the first one, and its exact time on the stream
    clock (``pts * time_base``)."""
    import av

    from privmask.video.decode import main_video

    if not container.streams.video:
        raise VideoError(f"{src}: no picture in it (no video stream)")
    stream = main_video(container)
    tb = stream.time_base or Fraction(1, 1)
    origin = stream.start_time or 0
    if at > 0:
        # Not seekable (an image, a stream): decoding from the start finds the frame too.
        with contextlib.suppress(av.FFmpegError):
            container.seek(origin + int(at / tb), stream=stream, backward=True)
    chosen: tuple[Any, Fraction] | None = None
    try:
        for frame in container.decode(stream):
            t = Fraction((frame.pts if frame.pts is not None else origin) - origin) * tb
            if chosen is not None and t > at:
                break
            chosen = (frame, t)
        else:
            if chosen is not None and at > chosen[1]:
                rate = stream.average_rate or stream.guessed_rate
                step = Fraction(1, int(rate)) if rate and int(rate) > 0 else Fraction(1)
                if at >= chosen[1] + step:
                    raise VideoError(
                        f"{src}: its last frame is at {float(chosen[1]):.3f} s; --at "
                        f"{float(at):g} is after the end"
                    )
    except av.FFmpegError as e:
        raise VideoError(f"{src}: cannot decode it: {e}") from e
    if chosen is None:
        raise VideoError(f"{src}: no picture could be decoded")
    return chosen


def _masks_for(
    masks: MaskSet | MaskTimeline, start: datetime | None, at: Fraction, masks_path: Path
) -> MaskSet:
    from privmask.masks.timeline import MaskTimeline

    if not isinstance(masks, MaskTimeline):
        return masks
    if start is None:
        if len(masks) == 1:
            return masks[0].masks
        raise ValueError(
            f"{masks_path} is a timeline of {len(masks)} versions, so the masks depend on when "
            "the picture was taken, and it has no creation_time: give the recording start, "
            f"e.g. {START_EXAMPLE}"
        )
    return masks.at(start + timedelta(microseconds=round(at * 1_000_000)))


def _encode(frame: Any, out: Path) -> bytes:
    import av
    from av.video.codeccontext import VideoCodecContext

    codec, pix_fmt = ENCODERS[out.suffix.lower()]
    picture = frame.reformat(format=pix_fmt)
    cc = av.CodecContext.create(codec, "w")
    assert isinstance(cc, VideoCodecContext)
    cc.width, cc.height, cc.pix_fmt = picture.width, picture.height, pix_fmt
    cc.time_base = Fraction(1, 25)
    picture.pts = 0
    packets = [*cc.encode(picture), *cc.encode(None)]
    return b"".join(bytes(p) for p in packets)


def run(args: argparse.Namespace) -> int:
    """Runs ``privmask preview``; returns the exit status."""
    from privmask.masks.poses import PoseTrack
    from privmask.masks.sniff import load_mask_file

    if args.output.suffix.lower() not in ENCODERS:
        return fail(f"{args.output}: write the preview as .png or .jpg")
    if (message := missing_av("preview")) is not None:
        return fail(message)
    try:
        masks = load_mask_file(args.masks).masks
        poses: PoseTrack | None = None if args.poses is None else PoseTrack.load(args.poses)
        return _preview(args, masks, poses)
    except USER_ERRORS as e:
        return fail(describe(e))


def _preview(
    args: argparse.Namespace, masks: MaskSet | MaskTimeline, poses: PoseTrack | None
) -> int:
    import av
    import numpy as np

    from privmask.engine.apply import apply_report
    from privmask.engine.frame import FORMATS, Frame
    from privmask.video.decode import creation_time, main_video
    from privmask.video.orient import displayed_masks, frame_orientation

    if not args.src.exists():
        raise FileNotFoundError(2, "no such file", str(args.src))
    try:
        container = av.open(str(args.src))
    except av.FFmpegError as e:
        raise VideoError(f"{args.src}: not an image or a video FFmpeg reads: {e}") from e
    with container:
        frame, t = _frame_at(container, args.src, args.at)
        video = main_video(container)
        start = args.start if args.start is not None else creation_time(container, video)
    chosen = _masks_for(masks, start, t, args.masks)
    if frame.format.name not in FORMATS:  # e.g. RGBA or palette PNGs
        frame = frame.reformat(format="rgb24")
    frame.make_writable()
    pose = None if poses is None else poses.at(t)
    # As 'privmask mask' does: the masks are drawn on the picture as displayed (a phone's
    # display matrix, a photo's EXIF orientation), so they are mapped onto the coded picture;
    # the still is then written as displayed, since PNG and JPEG keep no display matrix.
    o = frame_orientation(frame)
    coded = cast("MaskSet", displayed_masks(chosen, o, frame.width, frame.height, str(args.src)))
    result = apply_report(Frame.from_av(frame), coded, pose=pose)
    if not o.identity:
        shown = np.ascontiguousarray(o.show(frame.to_ndarray(format="rgb24")))
        frame = av.VideoFrame.from_ndarray(shown, format="rgb24")
    write_atomic(args.output, _encode(frame, args.output))
    whole = (
        "; masked whole (scene-locked masks, no current PTZ pose)" if result.failed_closed else ""
    )
    print(
        f"{args.src} -> {args.output}: frame at {float(t):.3f} s ({frame.width}x{frame.height} "
        f"{frame.format.name}), {len(chosen)} masks {chosen.content_hash[:12]}{whole}"
    )
    return EXIT_FAILED_CLOSED if result.failed_closed else EXIT_OK
