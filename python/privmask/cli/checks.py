"""Checks the video commands make before decoding anything: PyAV is there, a timeline's recording
start is known, a pose track covers the video. Each returns the message to print (or ``None``),
so a mistake costs a second, not a transcode."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from privmask.cli.common import PROG
from privmask.masks.maskset import MaskSet
from privmask.masks.poses import PoseTrack
from privmask.masks.timeline import MaskTimeline

__all__ = [
    "START_EXAMPLE",
    "missing_av",
    "needs_start",
    "pose_gaps",
]

START_EXAMPLE = "--start 2026-03-01T12:00:00+01:00"


def missing_av(command: str) -> str | None:
    """The message when PyAV (the ``av`` package) is not installed, else ``None``."""
    if importlib.util.find_spec("av") is not None:
        return None
    return f"{PROG} {command} needs PyAV: pip install av"


def _open(src: Path) -> Any:
    import av

    try:
        return av.open(str(src))
    except (av.FFmpegError, OSError):
        return None  # the masking itself reports an unreadable input, with its own message


def _has_creation_time(container: Any) -> bool:
    metas = [container.metadata, *(s.metadata for s in container.streams.video[:1])]
    return any(m.get("creation_time") for m in metas)


def needs_start(
    sources: Sequence[Path], masks: MaskSet | MaskTimeline, masks_path: Path
) -> str | None:
    """The message when ``masks`` is a timeline of several versions and some of ``sources``
    carry no ``creation_time``, so their frames cannot be placed on it without ``--start``;
    ``None`` when every frame's masks can be chosen. Call it only when no ``--start`` was
    given. Unreadable sources are left to the masking, which says what is wrong with them."""
    if not isinstance(masks, MaskTimeline) or len(masks) < 2:
        return None
    lacking = []
    for src in sources:
        container = _open(src)
        if container is None:
            continue
        with container:
            if not _has_creation_time(container):
                lacking.append(str(src))
    if not lacking:
        return None
    shown = ", ".join(lacking[:3]) + (f" and {len(lacking) - 3} more" if len(lacking) > 3 else "")
    return (
        f"{masks_path} is a timeline of {len(masks)} versions, so each frame's masks depend on "
        f"when it was recorded, but {shown} {'has' if len(lacking) == 1 else 'have'} no "
        f"creation_time: give the recording start, e.g. {START_EXAMPLE} (nothing was written)"
    )


def pose_gaps(src: Path, poses: PoseTrack, poses_path: Path) -> str | None:
    """A warning when ``poses`` does not cover ``src``'s frames on the stream clock (seconds of
    ``pts * time_base``): before its first sample, after its last one plus ``max_age``, or in
    a gap longer than twice ``max_age``. Such frames will be masked whole (they fail closed)."""
    container = _open(src)
    if container is None:
        return None
    from privmask.video.decode import main_video

    with container:
        if not container.streams.video:
            return None
        video = main_video(container)
        tb = video.time_base
        start = Fraction(video.start_time or 0) * tb if tb else Fraction(0)
        if video.duration and tb:
            length = Fraction(video.duration) * tb
        elif container.duration:
            length = Fraction(container.duration, 1_000_000)
        else:
            return None
    end = start + length
    first, last, age = poses.times[0], poses.times[-1], poses.max_age
    gaps = [(a, b) for a, b in zip(poses.times, poses.times[1:], strict=False) if b - a > 2 * age]
    if first <= start and end <= last + age and not gaps:
        return None
    detail = f"; it has {len(gaps)} gaps longer than 2 x max_age" if gaps else ""
    return (
        f"{poses_path} covers {first:.2f}-{last + age:.2f} s of the stream clock but {src} runs "
        f"{float(start):.2f}-{float(end):.2f} s{detail}: frames without a current pose will be "
        "masked whole (exit status 3)"
    )
