"""Applying masks to frames, and the coverage they imply."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from privmask.errors import FrameFormatError
from privmask.frame import Frame
from privmask.masks import CompiledMasks, MaskSet

__all__ = ["apply", "coverage"]


def _as_frame(target: Any) -> Frame:
    if isinstance(target, Frame):
        return target
    if hasattr(target, "planes") and hasattr(getattr(target, "format", None), "name"):
        return Frame.from_av(target)
    raise FrameFormatError(
        f"apply() needs a privmask.Frame or an av.VideoFrame, got {type(target).__name__}"
    )


def apply(target: Any, masks: MaskSet | CompiledMasks, *, lifted: bool = False) -> None:
    """Masks ``target`` (a :class:`Frame` or an ``av.VideoFrame``) in place.

    Masks apply in list order. With ``lifted=True`` liftable masks are skipped and permanent ones
    still applied. ``masks`` is a :class:`MaskSet` (compiled for the frame's geometry and cached)
    or a ``CompiledMasks`` for exactly this geometry. Everything is checked before any sample is
    written; the kernel runs without the GIL.
    """
    frame = _as_frame(target)
    if isinstance(masks, MaskSet):
        compiled = masks.compile(
            frame.width,
            frame.height,
            frame.format,
            matrix=frame.matrix,
            full_range=frame.full_range,
        )
    elif isinstance(masks, CompiledMasks):
        compiled = masks
    else:
        raise TypeError(f"masks must be a MaskSet or CompiledMasks, got {type(masks).__name__}")
    compiled.apply_planes(list(frame.planes), lifted=bool(lifted))


def coverage(
    masks: MaskSet, width: int, height: int, *, lifted: bool = False
) -> npt.NDArray[np.bool_]:
    """The luma cover of ``masks`` on a ``width`` x ``height`` frame: a bool array
    ``(height, width)``, True where any applying mask covers the pixel."""
    return masks.compile(width, height, "gray").coverage(lifted=lifted)
