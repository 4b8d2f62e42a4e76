"""Applying masks to frames, and the coverage they imply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from privmask.engine.frame import Frame
from privmask.engine.regions import Region, _check_regions, _check_style, apply_regions
from privmask.errors import FrameFormatError
from privmask.masks.maskset import CompiledMasks, MaskSet
from privmask.masks.ptz import ApplyResult, PTZPose, resolve_for_frame
from privmask.masks.styles import Solid, Style

__all__ = ["apply", "apply_report", "coverage"]


def _as_frame(target: Any) -> Frame:
    if isinstance(target, Frame):
        return target
    if hasattr(target, "planes") and hasattr(getattr(target, "format", None), "name"):
        return Frame.from_av(target)
    raise FrameFormatError(
        f"apply() needs a privmask.Frame or an av.VideoFrame, got {type(target).__name__}"
    )


def apply(
    target: Any,
    masks: MaskSet | CompiledMasks,
    *,
    lifted: bool = False,
    regions: Sequence[Region] | None = None,
    region_style: Style | None = None,
    invert: bool = False,
    pose: PTZPose | None = None,
) -> None:
    """Masks ``target`` (a :class:`Frame` or an ``av.VideoFrame``) in place.

    Masks apply in list order. With ``lifted=True`` liftable masks are skipped and permanent ones
    still applied. ``masks`` is a :class:`MaskSet` (compiled for the frame's geometry and cached)
    or a ``CompiledMasks`` for exactly this geometry. Everything is checked before any sample is
    written; the kernel runs without the GIL.

    ``regions`` (:class:`~privmask.Region`, from a detector or tracker) are masked after the
    static masks with ``region_style`` (default solid black); they are rasterised for this frame
    only. ``invert=True`` masks everything except the regions instead ("show only this person");
    static masks still apply inside them.

    ``pose`` (:class:`~privmask.PTZPose`) places scene-locked masks for this frame; a set with
    scene-locked masks and no pose fails closed (the whole frame solid black). Use
    :func:`apply_report` to learn whether that happened.
    """
    frame = _as_frame(target)
    masks, _ = resolve_for_frame(masks, pose, frame.width, frame.height)
    dynamic = regions is not None or invert
    if dynamic:
        region_list = _check_regions(regions or [])
        style = _check_style(region_style if region_style is not None else Solid())
    if isinstance(masks, MaskSet):
        compiled = masks.compile_for(frame)
    elif isinstance(masks, CompiledMasks):
        compiled = masks
    else:
        raise TypeError(f"masks must be a MaskSet or CompiledMasks, got {type(masks).__name__}")
    compiled.apply_planes(list(frame.planes), lifted=bool(lifted))
    if dynamic:
        apply_regions(frame, region_list, style, invert=bool(invert))


def apply_report(
    target: Any, masks: MaskSet | CompiledMasks, *, pose: PTZPose | None = None, **options: Any
) -> ApplyResult:
    """:func:`apply`, returning an :class:`~privmask.masks.ptz.ApplyResult` that says whether the
    frame
    failed closed (scene-locked masks without a current pose). ``apply`` itself returns None so
    that existing callers are unchanged; PTZ pipelines call this instead."""
    frame = _as_frame(target)
    resolved, result = resolve_for_frame(masks, pose, frame.width, frame.height)
    apply(frame, resolved, **options)
    return result


def coverage(
    masks: MaskSet, width: int, height: int, *, lifted: bool = False
) -> npt.NDArray[np.bool_]:
    """The luma cover of ``masks`` on a ``width`` x ``height`` frame: a bool array
    ``(height, width)``, True where any applying mask covers the pixel."""
    return masks.compile(width, height, "gray").coverage(lifted=lifted)
