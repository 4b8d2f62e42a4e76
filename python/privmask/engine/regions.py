"""Regions: the per-frame areas of dynamic masking (people, faces, moving things).

A privacy mask (:class:`~privmask.Mask`) is configured once and fixed to the image; a
:class:`Region` comes from a detector for one frame and is gone in the next. Regions are therefore
rasterised per frame (no cache: a cache keyed by per-frame boxes would only ever miss), with
the same conservative coverage as masks: a pixel the region touches is masked whole.

Inverse masking (``invert=True``) masks everything *except* the regions, for "show only this
person". There a sample stays visible only when every luma pixel it co-sites is inside a region,
so the edge errs on the side of masking.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from privmask import _native
from privmask.engine.frame import FORMAT_INFO, Frame
from privmask.errors import InvalidGeometryError, MaskConfigError
from privmask.masks.geometry import Polygon
from privmask.masks.maskset import CompiledMasks, Mask, MaskSet
from privmask.masks.styles import Blur, Fill, Mosaic, Solid, Style

__all__ = ["Box", "Region", "apply_regions", "mask_whole_frame", "region_coverage"]

Box = tuple[float, float, float, float]
"""``(x0, y0, x1, y1)`` in normalised coordinates, ``x0 < x1`` and ``y0 < y1``."""

WHOLE_FRAME_LABEL = "whole-frame"


@dataclass(frozen=True, slots=True)
class Region:
    """One area to mask in one frame: a box ``(x0, y0, x1, y1)`` or a :class:`Polygon`, in
    normalised coordinates, with what is known about it.

    ``track_id`` ties regions of successive frames to one person or object (set by the tracker,
    used by redaction to choose who stays visible); ``label`` says what found it (``"face"``,
    ``"motion"``); ``score`` is the detector's confidence, if it has one.
    """

    shape: Polygon | Box
    track_id: int | None = None
    label: str | None = None
    score: float | None = None

    def __post_init__(self) -> None:
        if self.track_id is not None and (
            isinstance(self.track_id, bool) or not isinstance(self.track_id, int)
        ):
            raise MaskConfigError(f"track_id must be an integer or None, got {self.track_id!r}")
        if isinstance(self.shape, Polygon):
            return
        try:
            box = tuple(float(v) for v in self.shape)
        except (TypeError, ValueError):
            raise InvalidGeometryError(
                f"a region's shape must be a Polygon or a box (x0, y0, x1, y1), got {self.shape!r}"
            ) from None
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            raise InvalidGeometryError(f"a box needs four finite numbers, got {self.shape!r}")
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0:
            raise InvalidGeometryError(f"a box needs x0 < x1 and y0 < y1, got {self.shape!r}")
        object.__setattr__(self, "shape", (x0, y0, x1, y1))

    @classmethod
    def whole_frame(cls, label: str = WHOLE_FRAME_LABEL) -> Region:
        """A region covering the whole frame: what a detector returns when it cannot tell
        (a background still being learned), so the frame is masked whole."""
        return cls((0.0, 0.0, 1.0, 1.0), label=label)

    @property
    def is_whole_frame(self) -> bool:
        """True when the region is a box covering the whole frame."""
        if isinstance(self.shape, Polygon):
            return False
        x0, y0, x1, y1 = self.shape
        return x0 <= 0.0 and y0 <= 0.0 and x1 >= 1.0 and y1 >= 1.0

    @property
    def bounds(self) -> Box:
        """The bounding box ``(x0, y0, x1, y1)``."""
        if isinstance(self.shape, Polygon):
            xs = [p[0] for p in self.shape.points]
            ys = [p[1] for p in self.shape.points]
            return (min(xs), min(ys), max(xs), max(ys))
        return self.shape

    def polygon(self) -> Polygon:
        """The region as a polygon."""
        if isinstance(self.shape, Polygon):
            return self.shape
        x0, y0, x1, y1 = self.shape
        return Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def check_style(style: Style) -> Style:
    if not isinstance(style, (Solid, Mosaic, Blur, Fill)):
        raise MaskConfigError(f"region_style must be Solid, Mosaic, Blur or Fill, got {style!r}")
    return style


def check_regions(regions: Sequence[Region]) -> list[Region]:
    out = list(regions)
    for i, r in enumerate(out):
        if not isinstance(r, Region):
            raise MaskConfigError(f"regions[{i}] must be a privmask.Region, got {r!r}")
    return out


def _compile_regions(
    regions: Sequence[Region], style: Style, frame: Frame, fmt: str | None = None
) -> CompiledMasks:
    kind, params = style.native_spec()
    specs = [(list(r.polygon().points), kind, params, False) for r in regions]
    return _native.compile(
        specs,
        frame.width,
        frame.height,
        fmt or frame.format,
        frame.matrix,
        frame.full_range,
    )


@lru_cache(maxsize=32)
def _whole(style: Style) -> MaskSet:
    return MaskSet([Mask(Polygon.rect(0.0, 0.0, 1.0, 1.0), style, name="whole frame")])


def mask_whole_frame(frame: Frame, style: Style) -> None:
    """Masks every sample of ``frame`` with ``style``: the fail-closed answer when a detector
    cannot be trusted for this frame. The full-frame plan is compiled once per geometry."""
    compiled = _whole(check_style(style)).compile_for(frame)
    compiled.apply_planes(list(frame.planes))


def region_coverage(regions: Sequence[Region], width: int, height: int) -> npt.NDArray[np.bool_]:
    """The luma cover of ``regions`` on a ``width`` x ``height`` frame (bool ``(h, w)``)."""
    regions = check_regions(regions)
    if not regions:
        return np.zeros((height, width), dtype=bool)
    specs = [(list(r.polygon().points), "solid_yuv", [0.0, 128.0, 128.0], False) for r in regions]
    return _native.compile(specs, width, height, "gray").coverage()


def _plane_keep(keep: npt.NDArray[np.bool_], fmt: str, index: int) -> npt.NDArray[np.bool_]:
    """Which samples of plane ``index`` lie wholly inside the luma ``keep`` map."""
    info = FORMAT_INFO[fmt]
    interleave = info.interleave[index]
    if index == 0 or info.rgb:
        return np.repeat(keep, interleave, axis=1) if interleave > 1 else keep
    sx, sy = info.subsampling
    h, w = keep.shape
    ch, cw = -(-h // sy), -(-w // sx)
    # Luma pixels past the frame edge (odd sizes) count as outside: such chroma is masked.
    padded = np.zeros((ch * sy, cw * sx), dtype=bool)
    padded[:h, :w] = keep
    out = np.asarray(padded.reshape(ch, sy, cw, sx).all(axis=(1, 3)), dtype=bool)
    return np.repeat(out, interleave, axis=1) if interleave > 1 else out


@dataclass(frozen=True, slots=True)
class RegionPlan:
    """Regions checked and rasterised for one frame, ready to write: built completely before any
    sample changes, so a bad region never leaves a frame half-masked."""

    compiled: CompiledMasks | None
    """The regions' cover in their style (plain masking), or the whole frame (inverse masking)."""
    keep: tuple[npt.NDArray[np.bool_], ...] | None
    """Inverse masking: per plane, the samples wholly inside the regions, which stay untouched."""

    def apply(self, frame: Frame) -> None:
        """Writes the plan into ``frame`` (the frame it was made for)."""
        if self.keep is None:
            if self.compiled is not None:
                self.compiled.apply_planes(list(frame.planes))
            return
        saved = [p[k] for p, k in zip(frame.planes, self.keep, strict=True)]
        assert self.compiled is not None
        self.compiled.apply_planes(list(frame.planes))
        for p, k, s in zip(frame.planes, self.keep, saved, strict=True):
            p[k] = s


def plan_regions(
    frame: Frame, regions: Sequence[Region], style: Style, *, invert: bool = False
) -> RegionPlan:
    """Checks and rasterises ``regions`` for ``frame``. Raises :class:`MaskConfigError` for a
    region or style of the wrong type, :class:`InvalidGeometryError` for a region the rasteriser
    cannot take (every :class:`Region` that constructs is accepted)."""
    style = check_style(style)
    regions = check_regions(regions)
    if not invert:
        return RegionPlan(_compile_regions(regions, style, frame) if regions else None, None)
    keep = region_coverage(regions, frame.width, frame.height)
    masks = tuple(_plane_keep(keep, frame.format, i) for i in range(len(frame.planes)))
    return RegionPlan(_whole(style).compile_for(frame), masks)


def apply_regions(
    frame: Frame, regions: Sequence[Region], style: Style, *, invert: bool = False
) -> None:
    """Masks ``regions`` of ``frame`` in place with ``style``; with ``invert=True`` masks
    everything but them (no regions then means the whole frame).

    Inverse masking copies out the samples inside the regions, masks the whole frame and puts
    them back: the result outside is exactly ``style`` over the whole frame, and the kept samples
    are untouched.
    """
    plan_regions(frame, regions, style, invert=invert).apply(frame)
