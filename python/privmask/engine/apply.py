"""Applying masks to frames, and the coverage they imply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from privmask.engine.frame import Frame
from privmask.engine.planner import Geometry, plan_masks
from privmask.engine.regions import Region, plan_regions
from privmask.errors import FrameFormatError, MaskConfigError
from privmask.masks.maskset import CompiledMasks, MaskSet
from privmask.masks.ptz import ApplyResult, PTZPose
from privmask.masks.styles import Solid, Style

__all__ = ["apply", "apply_report", "coverage", "geometry_of"]


def _as_frame(target: Any) -> Frame:
    if isinstance(target, Frame):
        return target
    if hasattr(target, "planes") and hasattr(getattr(target, "format", None), "name"):
        return Frame.from_av(target)
    raise FrameFormatError(
        f"apply() needs a privmask.Frame or an av.VideoFrame, got {type(target).__name__}"
    )


def geometry_of(frame: Frame) -> Geometry:
    """The compile geometry of ``frame``: size, pixel format and colour coding."""
    return Geometry(frame.width, frame.height, frame.format, frame.matrix, frame.full_range)


def _flag(value: object, name: str) -> bool:
    # A string such as "false" is truthy: accepting it would lift the liftable masks.
    if not isinstance(value, bool):
        raise MaskConfigError(f"{name} must be True or False, got {value!r}")
    return value


def apply_report(
    target: Any,
    masks: MaskSet | CompiledMasks,
    *,
    lifted: bool = False,
    regions: Sequence[Region] | None = None,
    region_style: Style | None = None,
    invert: bool = False,
    pose: PTZPose | None = None,
    allow_outside: bool = False,
) -> ApplyResult:
    """:func:`apply`, returning an :class:`~privmask.masks.ptz.ApplyResult` that says whether
    the frame failed closed (scene-locked masks without a current pose). ``apply`` itself returns
    None so that existing callers are unchanged; PTZ pipelines call this instead."""
    frame = _as_frame(target)
    lifted = _flag(lifted, "lifted")
    invert = _flag(invert, "invert")
    # Everything is checked and compiled before the first sample is written.
    compiled, result = plan_masks(
        masks, pose, geometry_of(frame), allow_outside=_flag(allow_outside, "allow_outside")
    )
    region_plan = None
    if regions is not None or invert:
        style = region_style if region_style is not None else Solid()
        region_plan = plan_regions(frame, regions or [], style, invert=invert)
    compiled.apply_planes(list(frame.planes), lifted=lifted)
    if region_plan is not None:
        region_plan.apply(frame)
    return result


def apply(
    target: Any,
    masks: MaskSet | CompiledMasks,
    *,
    lifted: bool = False,
    regions: Sequence[Region] | None = None,
    region_style: Style | None = None,
    invert: bool = False,
    pose: PTZPose | None = None,
    allow_outside: bool = False,
) -> None:
    """Masks ``target`` (a :class:`Frame` or an ``av.VideoFrame``) in place.

    The picture is masked as stored: an ``av.VideoFrame``'s display matrix (a phone video's
    rotation, a photo's EXIF orientation) is not applied here. For such pictures map the masks
    first with :func:`privmask.video.orient.displayed_masks` (``frame_orientation(frame)``
    gives the orientation), as :func:`~privmask.video.mask_file` does.

    Masks apply in list order. With ``lifted=True`` liftable masks are skipped and permanent ones
    still applied (``lifted`` and ``invert`` must be real booleans). ``masks`` is a
    :class:`MaskSet` (compiled for the frame's geometry and cached) or a ``CompiledMasks`` for
    exactly this geometry. Everything is checked and compiled before any sample is written; the
    kernel runs without the GIL.

    ``regions`` (:class:`~privmask.Region`, from a detector or tracker) are masked after the
    static masks with ``region_style`` (default solid black); they are rasterised for this frame
    only. ``invert=True`` masks everything except the regions instead ("show only this person");
    static masks still apply inside them.

    ``pose`` (:class:`~privmask.PTZPose`) places scene-locked masks for this frame; a set with
    scene-locked masks and no pose fails closed (the whole frame solid black). Use
    :func:`apply_report` to learn whether that happened. The per-frame rule is
    :mod:`privmask.engine.planner`'s.

    An image-locked mask that covers no pixel of the frame (coordinates written in pixels by
    mistake, say) raises :class:`InvalidGeometryError`, unless ``allow_outside=True`` says it is
    intended.

    Raises :class:`FrameFormatError` (not a frame, or planes that do not match the format),
    :class:`MaskConfigError` (a non-boolean flag, a region or style of the wrong type),
    :class:`InvalidGeometryError` (a bad pose), ``TypeError`` (``masks`` of another type).
    """
    apply_report(
        target,
        masks,
        lifted=lifted,
        regions=regions,
        region_style=region_style,
        invert=invert,
        pose=pose,
        allow_outside=allow_outside,
    )


def coverage(
    masks: MaskSet, width: int, height: int, *, lifted: bool = False
) -> npt.NDArray[np.bool_]:
    """The luma cover of ``masks`` on a ``width`` x ``height`` frame: a bool array
    ``(height, width)``, True where any applying mask covers the pixel."""
    return masks.compile(width, height, "gray").coverage(lifted=lifted)
