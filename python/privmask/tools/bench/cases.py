"""The benchmark's cases: which styles, formats, resolutions and coverages are timed, the zones
that make up each coverage, and the frames they are timed on."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

import privmask as pm
from privmask.engine.frame import Plane, plane_shapes, sample_dtype

__all__ = [
    "BENCH_FORMATS",
    "COVERAGES",
    "FLOOR_OF",
    "MOSAIC_FOR_FILL",
    "PEER_FORMAT",
    "RESOLUTIONS",
    "STYLES",
    "SUBSAMPLING",
    "Case",
    "cases",
    "chroma_cover",
    "make_frame",
    "resolution_size",
    "touched_bytes",
    "zone_polygons",
]

Bool2D = npt.NDArray[np.bool_]

PEER_FORMAT = "yuv420p"  # the one format the numpy and OpenCV peers implement
SUBSAMPLING = 2  # yuv420p: chroma planes are halved in both directions

RESOLUTIONS: dict[str, tuple[int, int]] = {
    "cif": (352, 288),
    "360p": (640, 360),
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "4k": (3840, 2160),
}
COVERAGES: tuple[int, ...] = (5, 25, 100)
STYLES: dict[str, pm.Style] = {
    "solid": pm.Solid("#336699"),
    "mosaic16": pm.Mosaic(block_px=16),
    "blur8": pm.Blur(sigma_px=8),
    "blur24": pm.Blur(sigma_px=24),
    "fill": pm.Fill(),
}
BENCH_FORMATS: tuple[str, ...] = ("yuv420p", "nv12", "yuv420p10le", "p010le", "rgb24")
"""The formats ``benches/`` covers; ``--formats`` accepts any of :data:`privmask.FORMATS`."""

# The floor each style is held to, and how close it should come (docs/performance.md).
FLOOR_OF: dict[type, tuple[Literal["fill", "copy"], float | None]] = {
    pm.Solid: ("fill", 3.0),
    pm.Mosaic: ("copy", 6.0),
    pm.Blur: ("copy", 6.0),
    pm.Fill: ("copy", None),
}
MOSAIC_FOR_FILL = "mosaic16"  # the style fill's cost is reported against


# Convex shapes (centred on the origin, normalised units) used for the four zones below 100 %:
# a rectangle, a hexagon, a rotated rectangle and a trapezoid, so the rasteriser and the polygon
# masks of the peers see slanted edges, not just pixel-aligned boxes.
_ROT = math.radians(30)
_SHAPES: tuple[tuple[tuple[float, float], ...], ...] = (
    ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)),
    tuple((math.cos(k * math.pi / 3), math.sin(k * math.pi / 3)) for k in range(6)),
    tuple(
        (x * math.cos(_ROT) - y * math.sin(_ROT), x * math.sin(_ROT) + y * math.cos(_ROT))
        for x, y in ((-1.0, -0.5), (1.0, -0.5), (1.0, 0.5), (-1.0, 0.5))
    ),
    ((-1.0, -1.0), (1.0, -1.0), (0.6, 1.0), (-0.6, 1.0)),
)


def _area(points: Sequence[tuple[float, float]]) -> float:
    """Shoelace area, used to scale each shape to its share of the coverage."""
    n = len(points)
    s = sum(
        points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
        for i in range(n)
    )
    return abs(s) / 2


def zone_polygons(coverage_pct: int) -> list[pm.Polygon]:
    """Four non-overlapping convex zones, one per frame quadrant, together covering
    ``coverage_pct`` % of the frame (100 % tiles the frame with the four quadrants).

    Four zones rather than one because real configurations have several, and each zone costs
    its peers a separate pass; one per quadrant so they never overlap (order would not matter).
    """
    centres = ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))
    if coverage_pct >= 100:
        return [pm.Polygon.rect(cx - 0.25, cy - 0.25, 0.5, 0.5) for cx, cy in centres]
    target = coverage_pct / 100 / 4
    out = []
    for (cx, cy), shape in zip(centres, _SHAPES, strict=True):
        scale = math.sqrt(target / _area(shape))
        pts = [(cx + scale * x, cy + scale * y) for x, y in shape]
        if any(abs(x - cx) > 0.25 or abs(y - cy) > 0.25 for x, y in pts):
            raise ValueError(f"{coverage_pct} % does not fit four zones in the quadrants")
        out.append(pm.Polygon(pts))
    return out


def resolution_size(name: str) -> tuple[int, int]:
    """``(width, height)`` of a named resolution (``1080p``) or of ``WxH`` (``320x180``)."""
    if name in RESOLUTIONS:
        return RESOLUTIONS[name]
    m = re.fullmatch(r"(\d+)x(\d+)", name)
    if not m or int(m.group(1)) < 2 or int(m.group(2)) < 2:
        raise ValueError(
            f"{name!r} is not a resolution: one of {', '.join(RESOLUTIONS)} or WxH (320x180)"
        )
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class Case:
    """One benchmark configuration: style, resolution, covered percentage and pixel format."""

    style: str
    resolution: str
    coverage: int
    format: str = PEER_FORMAT

    @property
    def id(self) -> str:
        """A stable name (pytest ids, log lines, the JSON report)."""
        return f"{self.style}-{self.format}-{self.resolution}-{self.coverage}"

    @property
    def size(self) -> tuple[int, int]:
        return resolution_size(self.resolution)

    @cached_property
    def masks(self) -> pm.MaskSet:
        return pm.MaskSet(pm.Mask(p, STYLES[self.style]) for p in zone_polygons(self.coverage))


def cases(
    styles: Sequence[str] = tuple(STYLES),
    formats: Sequence[str] = (PEER_FORMAT,),
    resolutions: Sequence[str] = ("1080p", "4k"),
    coverages: Sequence[int] = COVERAGES,
) -> list[Case]:
    """The matrix, style-major (so a table reads style by style, as people compare them)."""
    return [
        Case(s, r, c, f) for s in styles for f in formats for r in resolutions for c in coverages
    ]


def make_frame(width: int, height: int, format: str = PEER_FORMAT) -> pm.Frame:
    """A frame of deterministic noise: the content does not change the work, and noise keeps
    a compressor-like shortcut (or a lucky constant plane) from flattering anyone."""
    rng = np.random.default_rng(0)
    wide = np.dtype(sample_dtype(format)).itemsize == 2
    planes: list[Plane] = []
    for shape in plane_shapes(format, width, height):
        if wide:
            words = rng.integers(0, 1024, shape, dtype=np.uint16)
            planes.append(words << np.uint16(6) if format == "p010le" else words)
        else:
            planes.append(rng.integers(0, 256, shape, dtype=np.uint8))
    return pm.Frame(format, planes)


def chroma_cover(luma: Bool2D, sx: int = 2, sy: int = 2) -> Bool2D:
    """The chroma cover implied by a luma cover: a chroma sample is covered iff any
    of the ``sx`` x ``sy`` luma pixels it co-sites is; odd sizes round up."""
    if sx == sy == 1:
        return luma
    h, w = luma.shape
    padded = np.zeros((-(-h // sy) * sy, -(-w // sx) * sx), dtype=bool)
    padded[:h, :w] = luma
    groups = padded.reshape(padded.shape[0] // sy, sy, padded.shape[1] // sx, sx)
    return np.asarray(groups.any(axis=(1, 3)), dtype=bool)


def touched_bytes(fmt: str, luma: Bool2D) -> int:
    """The bytes of a ``fmt`` frame that a cover of ``luma`` pixels makes privmask write: covered
    luma (or RGB) samples plus covered chroma samples, at the format's sample size. This is what
    the bandwidth floor is computed for, so a small cover is not held to a full-frame floor."""
    height, width = int(luma.shape[0]), int(luma.shape[1])
    shapes = plane_shapes(fmt, width, height)
    itemsize = np.dtype(sample_dtype(fmt)).itemsize
    n_luma = int(np.count_nonzero(luma))
    if len(shapes) == 1:  # gray, or packed RGB (3 samples per pixel)
        return n_luma * (shapes[0][1] // width) * int(itemsize)
    rows, row_len = shapes[1]
    cw = row_len // 2 if len(shapes) == 2 else row_len  # interleaved UV: two samples per site
    sx, sy = round(width / cw), round(height / rows)
    n_chroma = int(np.count_nonzero(chroma_cover(luma, sx, sy)))
    return (n_luma + 2 * n_chroma) * int(itemsize)
