"""``privmask bench``: how fast privmask masks frames on this machine, next to its peers.

    python -m privmask.tools.bench                     # 1080p and 4K, every style (under a minute)
    python -m privmask.tools.bench --quick             # 1080p only, fewer repeats (under 15 s)
    python -m privmask.tools.bench --json report.json  # also a machine-readable report
    python -m privmask.tools.bench --formats yuv420p,nv12,rgb24 --simd sse41 --threads 2

People paste this output when they compare hardware, so it says where it ran (CPU, cores, SIMD
level, threads, versions) and measures what does not depend on the neighbours: every timing is
the median of several repeats after a warm-up, with the garbage collector paused, and the peers
take turns round by round, so a burst of load from elsewhere slows all of them alike and the
ratios survive it. Absolute times on shared machines are noisy; the ratios are the point.

What is measured, in one run:

- per style x format x resolution x coverage: privmask's median time, its throughput in
  **covered** luma megapixels per second (the work scales with the cover, not the frame), and
  the ratios to the numpy reference and to OpenCV (``yuv420p`` only; OpenCV only when installed,
  it is the optional ``privmask[bench]`` extra);
- the bandwidth floor: numpy ``fill`` and ``copyto`` of a buffer too large for the caches, and
  per case the time those rates need for the bytes the case touches, and privmask's multiple of
  it (targets: solid within 3x of the fill floor, mosaic and blur within 6x of the copy floor);
- fill's cost relative to mosaic in the same cases;
- compiling (rasterising) 16 polygons of 64 vertices for a 4K frame, against ``cv2.fillPoly``;
- ``apply`` on 4K with two threads against one;
- the per-call overhead of the Python boundary on small frames (CIF and 640x360, one tiny mask).

The peers follow one contract: the constructor does whatever depends only on the geometry (what
``MaskSet.compile`` does for privmask, so it is not timed), and calling the peer with a frame
masks it in place (what is timed). ``NumpyPeer`` is a reference implementation of privmask's
semantics (same output for solid and mosaic, within one level for blur); ``OpenCVPeer`` is what a
competent OpenCV user would write. Fill has no numpy peer, and no OpenCV column: OpenCV's nearest
analogue, ``cv2.inpaint`` (``InpaintPeer``), is one to two orders of magnitude slower (about a
second per 4K frame at 25 % cover), which would eat the minute; ``benches/`` times it on small
cases.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict

import numpy as np
import numpy.typing as npt

import privmask as pm
from privmask import _native
from privmask.engine.frame import FORMATS, Plane, plane_shapes, sample_dtype

__all__ = [
    "COMMANDS",
    "COVERAGES",
    "DEFAULT",
    "QUICK",
    "RESOLUTIONS",
    "STYLES",
    "BenchReport",
    "Case",
    "CaseResult",
    "InpaintPeer",
    "NumpyPeer",
    "OpenCVPeer",
    "Peer",
    "PrivmaskPeer",
    "Settings",
    "add_cli",
    "cases",
    "chroma_cover",
    "format_report",
    "main",
    "make_frame",
    "peers_for",
    "run_bench",
    "run_cli",
    "zone_polygons",
]

U8 = npt.NDArray[np.uint8]
Bool2D = npt.NDArray[np.bool_]
F32 = npt.NDArray[np.float32]
Box = tuple[int, int, int, int]  # y0, y1, x0, x1 (half-open), in plane samples

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

# The floor each style is held to, and how close it should come (DESIGN §7, the targets).
_FLOOR_OF: dict[type, tuple[Literal["fill", "copy"], float | None]] = {
    pm.Solid: ("fill", 3.0),
    pm.Mosaic: ("copy", 6.0),
    pm.Blur: ("copy", 6.0),
    pm.Fill: ("copy", None),
}
_MOSAIC_FOR_FILL = "mosaic16"  # the style fill's cost is reported against


# --- the cases ---------------------------------------------------------------------------------

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
    """The chroma cover implied by a luma cover (DESIGN §3): a chroma sample is covered iff any
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


# --- the peers ---------------------------------------------------------------------------------


class Peer(Protocol):
    """Masks a frame in place; construction (geometry-only work) is not timed."""

    name: str

    def __call__(self, frame: pm.Frame) -> None: ...


class PrivmaskPeer:
    """privmask itself: compile once for the geometry, then ``pm.apply`` per frame."""

    name = "privmask"

    def __init__(self, case: Case) -> None:
        width, height = case.size
        self.compiled = case.masks.compile(width, height, case.format)

    def __call__(self, frame: pm.Frame) -> None:
        pm.apply(frame, self.compiled)


def _require_peer_format(case: Case, who: str) -> None:
    """The reference peers implement yuv420p only: other formats are reported for privmask
    alone rather than compared with a peer doing different work."""
    if case.format != PEER_FORMAT:
        raise ValueError(f"the {who} peer implements {PEER_FORMAT} only, not {case.format}")


def rgb_to_yuv(rgb: tuple[int, int, int], height: int) -> tuple[int, int, int]:
    """Limited-range Y'CbCr of an RGB colour, BT.709 from 720 rows up, else BT.601 (the
    conversion any YUV pipeline does by hand)."""
    kr, kb = (0.2126, 0.0722) if height >= 720 else (0.299, 0.114)
    r, g, b = (c / 255 for c in rgb)
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb = (b - y) / (2 * (1 - kb))
    cr = (r - y) / (2 * (1 - kr))

    def q(v: float) -> int:
        return min(255, max(0, math.floor(v + 0.5)))

    return q(16 + 219 * y), q(128 + 224 * cb), q(128 + 224 * cr)


def _solid_samples(style: pm.Solid, height: int) -> tuple[int, int, int]:
    if style.yuv is not None:
        return style.yuv
    assert style.color is not None
    return rgb_to_yuv(style.color, height)


def block_px(style: pm.Mosaic, height: int) -> int:
    """Mosaic block edge in luma pixels, rounded up to the chroma subsampling (DESIGN §3)."""
    if style.block_px is not None:
        px = math.ceil(style.block_px)
    else:
        assert style.block is not None
        px = max(2, math.ceil(style.block * height))
    return -(-px // SUBSAMPLING) * SUBSAMPLING


def sigma_px(style: pm.Blur, height: int) -> float:
    """Blur sigma in luma pixels."""
    if style.sigma_px is not None:
        return style.sigma_px
    assert style.sigma is not None
    return max(1.0, style.sigma * height)


def cell_px(sigma: float) -> int:
    """Blur cell edge in luma pixels: ``max(2, ceil(sigma))``, aligned like mosaic blocks."""
    g = max(2, math.ceil(sigma))
    return -(-g // SUBSAMPLING) * SUBSAMPLING


def bbox(cover: Bool2D) -> Box:
    """Tight bounding box of the True samples."""
    rows = np.flatnonzero(cover.any(axis=1))
    cols = np.flatnonzero(cover.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


# numpy reference

PlaneOp = Callable[[U8], None]


def _np_solid(cover: Bool2D, box: Box, value: int) -> PlaneOp:
    y0, y1, x0, x1 = box
    local = cover[y0:y1, x0:x1]

    def run(plane: U8) -> None:
        plane[y0:y1, x0:x1][local] = value

    return run


def _grid_ids(cover: Bool2D, box: Box, cell: int, grow: int) -> tuple[Any, ...]:
    """Cell ids of the covered samples (row-major, as boolean indexing returns them) on the
    frame-anchored grid of ``cell``-sample cells, within the covered cells' box grown by ``grow``
    cells. Returns the ids, the grid region (cy0, cy1, cx0, cx1) and the per-cell counts."""
    y0, y1, x0, x1 = box
    ys, xs = np.nonzero(cover[y0:y1, x0:x1])
    cy, cx = (ys + y0) // cell, (xs + x0) // cell
    rows, cols = -(-cover.shape[0] // cell), -(-cover.shape[1] // cell)
    ry0, ry1 = max(int(cy.min()) - grow, 0), min(int(cy.max()) + 1 + grow, rows)
    rx0, rx1 = max(int(cx.min()) - grow, 0), min(int(cx.max()) + 1 + grow, cols)
    ids = (cy - ry0) * (rx1 - rx0) + (cx - rx0)
    counts = np.bincount(ids, minlength=(ry1 - ry0) * (rx1 - rx0)).astype(np.float64)
    return ids, (ry0, ry1, rx0, rx1), counts


def _np_mosaic(cover: Bool2D, box: Box, block: int) -> PlaneOp:
    y0, y1, x0, x1 = box
    local = cover[y0:y1, x0:x1]
    ids, _, counts = _grid_ids(cover, box, block, grow=0)
    n = counts.size
    twice_n = np.maximum(2 * counts, 1)

    def run(plane: U8) -> None:
        roi = plane[y0:y1, x0:x1]
        sums = np.bincount(ids, weights=roi[local], minlength=n)
        means = np.floor_divide(2 * sums + counts, twice_n).astype(np.uint8)  # half up
        roi[local] = means[ids]

    return run


def _smooth(grid: F32, kernel: F32) -> F32:
    """Separable convolution with zero padding (cells outside carry no weight)."""
    r = kernel.size // 2
    h, w = grid.shape
    padded = np.pad(grid, ((0, 0), (r, r)))
    across = np.zeros_like(grid)
    for j, k in enumerate(kernel):
        across += k * padded[:, j : j + w]
    padded = np.pad(across, ((r, r), (0, 0)))
    out = np.zeros_like(grid)
    for j, k in enumerate(kernel):
        out += k * padded[j : j + h, :]
    return out


def _bilinear_taps(start: int, stop: int, cell: int, lo: int, hi: int) -> tuple[Any, Any, Any]:
    """For sample positions ``start..stop``: the two coarse indices (relative to ``lo``, clamped
    to ``[lo, hi)``) and the weight of the second, for interpolation at sample centres."""
    u = (np.arange(start, stop, dtype=np.float32) + 0.5) / cell - 0.5
    c = np.floor(u)
    t = (u - c).astype(np.float32)
    i0 = np.clip(c.astype(np.int64), lo, hi - 1) - lo
    i1 = np.clip(c.astype(np.int64) + 1, lo, hi - 1) - lo
    return i0, i1, t


def _np_blur(cover: Bool2D, box: Box, cell: int, sigma_cells: float) -> PlaneOp:
    y0, y1, x0, x1 = box
    local = cover[y0:y1, x0:x1]
    ids, (ry0, ry1, rx0, rx1), counts = _grid_ids(cover, box, cell, grow=1)
    shape = (ry1 - ry0, rx1 - rx0)
    radius = max(1, math.ceil(3 * sigma_cells))
    offsets = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-(offsets**2) / np.float32(2 * sigma_cells**2)).astype(np.float32)
    inv_count = np.where(counts > 0, 1 / np.maximum(counts, 1), 0.0)
    weight = _smooth((counts > 0).astype(np.float32).reshape(shape), kernel)
    inv_weight = np.where(weight > 0, 1 / np.maximum(weight, 1e-30), 0).astype(np.float32)
    xi0, xi1, tx = _bilinear_taps(x0, x1, cell, rx0, rx1)
    yi0, yi1, ty = _bilinear_taps(y0, y1, cell, ry0, ry1)
    ty = ty[:, None]

    def run(plane: U8) -> None:
        roi = plane[y0:y1, x0:x1]
        means = np.bincount(ids, weights=roi[local], minlength=counts.size) * inv_count
        field = _smooth(means.astype(np.float32).reshape(shape), kernel) * inv_weight
        across = field[:, xi0] * (1 - tx) + field[:, xi1] * tx
        out = across[yi0] * (1 - ty) + across[yi1] * ty
        roi[local] = np.clip(np.floor(out[local] + 0.5), 0, 255).astype(np.uint8)

    return run


class NumpyPeer:
    """A straightforward numpy implementation of privmask's semantics (the reference peer).

    The per-mask cover comes from ``pm.coverage`` and the block/cell ids of the covered samples
    are computed once (geometry only); each frame costs gathers, ``bincount`` and scatters.
    ``benches/bench_engine.py`` checks that it produces privmask's output, or the ratio would
    compare different work.
    """

    name = "numpy"

    def __init__(self, case: Case) -> None:
        _require_peer_format(case, self.name)
        width, height = case.size
        self.ops: list[tuple[int, PlaneOp]] = []
        for mask in case.masks:
            luma = pm.coverage(pm.MaskSet([mask]), width, height)
            chroma = chroma_cover(luma)
            style = mask.style
            for i, cover in enumerate((luma, chroma, chroma)):
                if not cover.any():
                    continue
                box = bbox(cover)
                div = 1 if i == 0 else SUBSAMPLING
                if isinstance(style, pm.Solid):
                    value = _solid_samples(style, height)[i]
                    self.ops.append((i, _np_solid(cover, box, value)))
                elif isinstance(style, pm.Mosaic):
                    self.ops.append((i, _np_mosaic(cover, box, block_px(style, height) // div)))
                elif isinstance(style, pm.Blur):
                    sigma = sigma_px(style, height)
                    g = cell_px(sigma)
                    self.ops.append((i, _np_blur(cover, box, g // div, sigma / g)))
                else:
                    raise NotImplementedError(f"no numpy peer for {style!r}")

    def __call__(self, frame: pm.Frame) -> None:
        planes = frame.planes
        for i, op in self.ops:
            op(planes[i])  # type: ignore[arg-type]  # yuv420p planes are uint8


# OpenCV

_SHIFT = 4  # fillPoly fixed-point fraction bits: sub-pixel vertices


def _cv_points(points: Sequence[tuple[float, float]], width: int, height: int) -> Any:
    """Polygon vertices in OpenCV's pixel-centre convention, fixed point for ``shift``."""
    pts = np.asarray(points, dtype=np.float64) * (width, height) - 0.5
    return np.rint(pts * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)


def _import_cv2() -> Any:
    """OpenCV, imported only when a peer needs it: it is an optional extra (``privmask[bench]``)
    and a large import that the ``privmask`` command should not pay for otherwise."""
    import cv2

    return cv2


def opencv_version() -> str | None:
    """OpenCV's version, or None when it is not installed (the OpenCV columns are then left out)."""
    try:
        cv2 = _import_cv2()
    except ImportError:
        return None
    return str(cv2.__version__)


class OpenCVPeer:
    """The same zones done the way a competent OpenCV user would do them on YUV planes.

    Solid: ``cv2.fillPoly`` straight into each plane (chroma with halved coordinates). Mosaic and
    blur: per zone and plane, on the zone's bounding box (for mosaic snapped to the block grid),
    ``resize`` down (INTER_AREA) and up (INTER_NEAREST), or ``GaussianBlur`` (chroma sigma
    halved; a true Gaussian, so not privmask's output, but the usual way to blur a zone), then
    ``cv2.copyTo`` back through the zone's polygon mask. The masks and boxes depend only on the
    geometry, so they are built here once, as a real pipeline would cache them. Fill is
    ``InpaintPeer``'s business.
    """

    name = "opencv"

    def __init__(self, case: Case) -> None:
        _require_peer_format(case, self.name)
        cv2 = self.cv2 = _import_cv2()
        width, height = case.size
        self.ops: list[tuple[int, PlaneOp]] = []
        for mask in case.masks:
            style = mask.style
            for i in range(3):
                div = 1 if i == 0 else SUBSAMPLING
                pw, ph = -(-width // div), -(-height // div)
                pts = _cv_points(mask.shape.points, pw, ph)
                if isinstance(style, pm.Solid):
                    self.ops.append((i, self._solid(pts, _solid_samples(style, height)[i])))
                    continue
                full = np.zeros((ph, pw), dtype=np.uint8)
                cv2.fillPoly(full, [pts], 255, cv2.LINE_8, _SHIFT)
                if not full.any():
                    continue
                y0, y1, x0, x1 = bbox(full > 0)
                if isinstance(style, pm.Mosaic):
                    b = block_px(style, height) // div
                    y0, x0 = y0 // b * b, x0 // b * b
                    y1, x1 = min(-(-y1 // b) * b, ph), min(-(-x1 // b) * b, pw)
                    op = self._mosaic((y0, y1, x0, x1), full[y0:y1, x0:x1].copy(), b)
                elif isinstance(style, pm.Blur):
                    sigma = sigma_px(style, height) / div
                    op = self._blur((y0, y1, x0, x1), full[y0:y1, x0:x1].copy(), sigma)
                else:
                    raise NotImplementedError(f"no OpenCV peer for {style!r}; see InpaintPeer")
                self.ops.append((i, op))

    def _solid(self, pts: Any, value: int) -> PlaneOp:
        cv2 = self.cv2

        def run(plane: U8) -> None:
            cv2.fillPoly(plane, [pts], int(value), cv2.LINE_8, _SHIFT)

        return run

    def _mosaic(self, box: Box, mask: U8, block: int) -> PlaneOp:
        cv2 = self.cv2
        y0, y1, x0, x1 = box
        size = (x1 - x0, y1 - y0)
        small = (-(-size[0] // block), -(-size[1] // block))

        def run(plane: U8) -> None:
            roi = plane[y0:y1, x0:x1]
            down = cv2.resize(roi, small, interpolation=cv2.INTER_AREA)
            up = cv2.resize(down, size, interpolation=cv2.INTER_NEAREST)
            cv2.copyTo(up, mask, roi)

        return run

    def _blur(self, box: Box, mask: U8, sigma: float) -> PlaneOp:
        cv2 = self.cv2
        y0, y1, x0, x1 = box

        def run(plane: U8) -> None:
            roi = plane[y0:y1, x0:x1]
            cv2.copyTo(cv2.GaussianBlur(roi, (0, 0), sigma), mask, roi)

        return run

    def __call__(self, frame: pm.Frame) -> None:
        planes = frame.planes
        for i, op in self.ops:
            op(planes[i])  # type: ignore[arg-type]  # yuv420p planes are uint8


class InpaintPeer:
    """OpenCV's nearest analogue of ``Fill``: ``cv2.inpaint`` (Telea) per zone and plane, on the
    zone's bounding box grown by the inpainting radius so the surroundings it reads are there,
    copied back through the zone's polygon mask. Not part of ``privmask bench``'s table (too
    slow for the minute, see the module docstring); ``benches/`` times it on small cases."""

    name = "opencv-inpaint"
    RADIUS = 3

    def __init__(self, case: Case) -> None:
        _require_peer_format(case, self.name)
        cv2 = self.cv2 = _import_cv2()
        width, height = case.size
        self.ops: list[tuple[int, PlaneOp]] = []
        grow = self.RADIUS + 1
        for mask in case.masks:
            if not isinstance(mask.style, pm.Fill):
                raise NotImplementedError(f"InpaintPeer does fill only, not {mask.style!r}")
            for i in range(3):
                div = 1 if i == 0 else SUBSAMPLING
                pw, ph = -(-width // div), -(-height // div)
                full = np.zeros((ph, pw), dtype=np.uint8)
                cv2.fillPoly(full, [_cv_points(mask.shape.points, pw, ph)], 255, 8, _SHIFT)
                if not full.any():
                    continue
                y0, y1, x0, x1 = bbox(full > 0)
                y0, x0 = max(y0 - grow, 0), max(x0 - grow, 0)
                y1, x1 = min(y1 + grow, ph), min(x1 + grow, pw)
                self.ops.append((i, self._inpaint((y0, y1, x0, x1), full[y0:y1, x0:x1].copy())))

    def _inpaint(self, box: Box, mask: U8) -> PlaneOp:
        cv2 = self.cv2
        y0, y1, x0, x1 = box
        radius = self.RADIUS

        def run(plane: U8) -> None:
            roi = plane[y0:y1, x0:x1]
            cv2.copyTo(cv2.inpaint(roi, mask, radius, cv2.INPAINT_TELEA), mask, roi)

        return run

    def __call__(self, frame: pm.Frame) -> None:
        planes = frame.planes
        for i, op in self.ops:
            op(planes[i])  # type: ignore[arg-type]  # yuv420p planes are uint8


def peers_for(case: Case, *, opencv: bool) -> dict[str, Callable[[Case], Peer]]:
    """The peers that do comparable work for ``case``: privmask always; the numpy reference and
    (when ``opencv``) OpenCV for yuv420p, except for fill, which has neither in the table."""
    out: dict[str, Callable[[Case], Peer]] = {"privmask": PrivmaskPeer}
    if case.format == PEER_FORMAT and not isinstance(STYLES[case.style], pm.Fill):
        out["numpy"] = NumpyPeer
        if opencv:
            out["opencv"] = OpenCVPeer
    return out


# --- timing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How hard to measure. Each contestant runs ``budget_s / (its warm-up time)`` times, clamped
    to ``[min_repeats, max_repeats]``: fast kernels get many samples (their medians are the
    noisiest), slow peers the minimum, so the whole run stays within its time."""

    warmup: int = 2
    min_repeats: int = 7
    max_repeats: int = 200
    budget_s: float = 0.25
    floor_mib: int = 128
    """The buffer for the bandwidth floor: larger than the caches, so it measures memory."""
    scaling_resolution: str = "4k"
    """The resolution of the threads comparison (the issue asks for 4K)."""
    compile_resolution: str = "4k"
    overhead_resolutions: tuple[str, ...] = ("cif", "360p")
    overhead_batch: int = 200
    """Calls per timed sample of the per-call overhead: one call is too short to time alone."""


DEFAULT = Settings()
QUICK = Settings(warmup=1, min_repeats=3, max_repeats=50, budget_s=0.05)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A collection in the middle of a timed call would land on whichever peer was running."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@dataclass(frozen=True)
class Timing:
    """A median and how many samples it came from."""

    median_s: float
    repeats: int

    @property
    def ms(self) -> float:
        return self.median_s * 1e3


def measure(runs: Mapping[str, Callable[[], object]], settings: Settings) -> dict[str, Timing]:
    """Median wall time of each contestant, taking turns round by round.

    Round-robin rather than one after the other: a burst of load from elsewhere on a shared
    machine then slows every contestant alike, and the ratios survive it. The warm-up runs fault
    in the pages and warm the caches and branch predictors, and size the repeats.
    """
    with _gc_paused():
        first = {name: _timed(fn) for name, fn in runs.items()}
        for _ in range(settings.warmup - 1):
            first = {name: _timed(fn) for name, fn in runs.items()}
        repeats = {
            name: min(
                max(math.ceil(settings.budget_s / max(t, 1e-9)), settings.min_repeats),
                settings.max_repeats,
            )
            for name, t in first.items()
        }
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for r in range(max(repeats.values(), default=0)):
            for name, fn in runs.items():
                if r < repeats[name]:
                    samples[name].append(_timed(fn))
    return {name: Timing(statistics.median(ts), len(ts)) for name, ts in samples.items()}


# --- the report --------------------------------------------------------------------------------


class Machine(TypedDict):
    cpu: str
    logical_cores: int | None
    platform: str
    python: str


class CaseResult(TypedDict):
    id: str
    style: str
    format: str
    resolution: str
    width: int
    height: int
    coverage_pct: int
    covered_pct: float
    """The luma pixels actually covered (conservative cover), in % of the frame."""
    privmask_ms: float
    covered_mpix_per_s: float
    """Covered luma pixels per second, in millions: the work scales with the cover."""
    numpy_ms: float | None
    opencv_ms: float | None
    vs_numpy: float | None
    """numpy time over privmask time: above 1, privmask is faster."""
    vs_opencv: float | None
    touched_bytes: int
    floor: Literal["fill", "copy"]
    floor_ms: float
    floor_multiple: float | None
    """privmask time over the floor time for the touched bytes (None if nothing is covered)."""
    floor_target: float | None
    repeats: dict[str, int]


class Floors(TypedDict):
    buffer_bytes: int
    fill_gb_per_s: float
    copy_gb_per_s: float
    """Bytes written per second (each is also read once)."""


class CompileResult(TypedDict):
    width: int
    height: int
    polygons: int
    vertices: int
    covered_pct: float
    privmask_gray_ms: float
    """``_native.compile`` for the luma plane alone: the same one plane fillPoly draws."""
    privmask_yuv420p_ms: float
    """The same polygons compiled for yuv420p (luma and chroma spans), what ``apply`` uses."""
    fillpoly_ms: float | None
    vs_fillpoly: float | None
    """fillPoly time over privmask's (gray) time: at least 1 meets the target."""


class ThreadsRow(TypedDict):
    style: str
    one_thread_ms: float
    n_threads_ms: float
    speedup: float


class ThreadsResult(TypedDict):
    resolution: str
    coverage_pct: int
    threads: int
    rows: list[ThreadsRow]
    copy_speedup: float
    """numpy copies of a buffer larger than the caches, split ``threads`` ways and run at once,
    over one thread copying it all: how far memory bandwidth itself scales, the ceiling for
    styles that are bound by it."""


class OverheadRow(TypedDict):
    resolution: str
    width: int
    height: int
    compiled_us: float
    """``pm.apply(frame, compiled)``: the Python wrapper, the frame checks, the native call."""
    maskset_us: float
    """``pm.apply(frame, mask_set)``: plus the compile-cache lookup by content hash."""


class FillVsMosaic(TypedDict):
    format: str
    resolution: str
    coverage_pct: int
    fill_ms: float
    mosaic_ms: float
    ratio: float


class BenchReport(TypedDict):
    """Everything ``privmask bench`` measured; ``--json`` writes it as is."""

    report_version: int
    privmask: str
    numpy: str
    opencv: str | None
    machine: Machine
    simd_level: str
    simd_levels: list[str]
    threads: int
    opencv_threads: int | None
    settings: dict[str, Any]
    cases: list[CaseResult]
    floors: Floors
    fill_vs_mosaic: list[FillVsMosaic]
    compile: CompileResult
    threads_scaling: ThreadsResult
    overhead: list[OverheadRow]
    elapsed_s: float


def cpu_name() -> str:
    """The CPU model, so a pasted report says where it came from."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine() -> Machine:
    return {
        "cpu": cpu_name(),
        "logical_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def measure_floors(settings: Settings) -> Floors:
    """Fill and copy bandwidth with numpy on a buffer larger than the caches: what any kernel
    that writes (solid) or reads and writes (the others) its covered bytes cannot beat."""
    n = settings.floor_mib << 20
    dst = np.empty(n, dtype=np.uint8)
    src = np.ones(n, dtype=np.uint8)
    dst.fill(0)  # fault the pages in before timing
    t = measure(
        {"fill": lambda: dst.fill(7), "copy": lambda: np.copyto(dst, src)},
        Settings(warmup=1, min_repeats=5, max_repeats=max(5, settings.min_repeats)),
    )
    return {
        "buffer_bytes": n,
        "fill_gb_per_s": n / t["fill"].median_s / 1e9,
        "copy_gb_per_s": n / t["copy"].median_s / 1e9,
    }


def _ratio(peer_ms: float | None, own_ms: float) -> float | None:
    return None if peer_ms is None else peer_ms / own_ms


def _bench_case(
    case: Case,
    frame: pm.Frame,
    floors: Floors,
    settings: Settings,
    opencv: bool,
) -> CaseResult:
    """Builds the case's peers (untimed), times them in turns, and relates privmask's time to
    its peers and to the bandwidth floor for the bytes it touches."""
    width, height = case.size
    peers = {name: make(case) for name, make in peers_for(case, opencv=opencv).items()}
    # every peer masks in place, each its own frame
    runs = {name: partial(peer, frame.copy()) for name, peer in peers.items()}
    timed = measure(runs, settings)
    del runs, peers  # the numpy plans of 4K cases are large; free them before the next case
    luma = pm.coverage(case.masks, width, height)
    n_covered = int(np.count_nonzero(luma))
    own_ms = timed["privmask"].ms
    numpy_ms = timed["numpy"].ms if "numpy" in timed else None
    opencv_ms = timed["opencv"].ms if "opencv" in timed else None
    kind, target = _FLOOR_OF[type(STYLES[case.style])]
    nbytes = touched_bytes(case.format, luma)
    floor_ms = nbytes / (floors["fill_gb_per_s" if kind == "fill" else "copy_gb_per_s"] * 1e6)
    return {
        "id": case.id,
        "style": case.style,
        "format": case.format,
        "resolution": case.resolution,
        "width": width,
        "height": height,
        "coverage_pct": case.coverage,
        "covered_pct": 100 * n_covered / (width * height),
        "privmask_ms": own_ms,
        "covered_mpix_per_s": n_covered / (own_ms * 1e3),
        "numpy_ms": numpy_ms,
        "opencv_ms": opencv_ms,
        "vs_numpy": _ratio(numpy_ms, own_ms),
        "vs_opencv": _ratio(opencv_ms, own_ms),
        "touched_bytes": nbytes,
        "floor": kind,
        "floor_ms": floor_ms,
        "floor_multiple": own_ms / floor_ms if floor_ms > 0 else None,
        "floor_target": target,
        "repeats": {name: t.repeats for name, t in timed.items()},
    }


def compile_polygons(count: int = 16, vertices: int = 64) -> list[pm.Polygon]:
    """``count`` star-shaped (non-convex) polygons of ``vertices`` vertices on a 4x4-style grid:
    the many-edged zones a hand-drawn mask or a traced outline produces."""
    rng = np.random.default_rng(1)
    side = math.ceil(math.sqrt(count))
    cell = 1 / side
    out = []
    for k in range(count):
        cx, cy = (k % side + 0.5) * cell, (k // side + 0.5) * cell
        angles = 2 * math.pi * np.arange(vertices) / vertices
        radii = 0.4 * cell * (0.7 + 0.3 * rng.random(vertices))
        out.append(
            pm.Polygon(
                (cx + r * math.cos(a), cy + r * math.sin(a))
                for r, a in zip(radii.tolist(), angles.tolist(), strict=True)
            )
        )
    return out


def measure_compile(settings: Settings, opencv: bool) -> CompileResult:
    """Rasterising against ``cv2.fillPoly`` drawing the same polygons into one plane.

    The native compile is timed directly: ``MaskSet.compile`` caches by content hash, so after
    the first call it would time a dictionary lookup, not the rasteriser.
    """
    width, height = resolution_size(settings.compile_resolution)
    polygons = compile_polygons()
    specs: list[tuple[Sequence[tuple[float, float]], str, Sequence[float], bool]] = [
        (list(p.points), *pm.Solid()._native_spec(), False) for p in polygons
    ]
    runs: dict[str, Callable[[], object]] = {
        "gray": lambda: _native.compile(specs, width, height, "gray"),
        "yuv420p": lambda: _native.compile(specs, width, height, "yuv420p"),
    }
    if opencv:
        cv2 = _import_cv2()
        plane = np.zeros((height, width), dtype=np.uint8)
        pts = [_cv_points(p.points, width, height) for p in polygons]
        runs["fillpoly"] = lambda: cv2.fillPoly(plane, pts, 255, cv2.LINE_8, _SHIFT)
    timed = measure(runs, settings)
    cover = _native.compile(specs, width, height, "gray").coverage()
    fill_ms = timed["fillpoly"].ms if "fillpoly" in timed else None
    return {
        "width": width,
        "height": height,
        "polygons": len(polygons),
        "vertices": len(polygons[0].points),
        "covered_pct": 100 * float(np.mean(cover)),
        "privmask_gray_ms": timed["gray"].ms,
        "privmask_yuv420p_ms": timed["yuv420p"].ms,
        "fillpoly_ms": fill_ms,
        "vs_fillpoly": _ratio(fill_ms, timed["gray"].ms),
    }


def measure_threads(styles: Sequence[str], settings: Settings, n: int = 2) -> ThreadsResult:
    """``apply`` with ``n`` threads against one, per style, on a fully covered frame (the most
    work to share). The thread count changes between blocks of runs, not every run: setting it
    builds a new pool, which is not what is being measured."""
    width, height = resolution_size(settings.scaling_resolution)
    base = make_frame(width, height)
    before = pm.threads()
    rows: list[ThreadsRow] = []
    try:
        for style in styles:
            case = Case(style, settings.scaling_resolution, 100)
            peer = PrivmaskPeer(case)
            frame = base.copy()
            samples: dict[int, list[float]] = {1: [], n: []}
            rounds = 3
            per_round = Settings(
                warmup=1,
                min_repeats=max(1, settings.min_repeats // rounds),
                max_repeats=max(1, settings.max_repeats // rounds),
                budget_s=settings.budget_s / rounds,
            )
            for _ in range(rounds):
                for k in (1, n):
                    pm.set_threads(k)
                    t = measure({"apply": partial(peer, frame)}, per_round)
                    samples[k].append(t["apply"].median_s)
            one, many = statistics.median(samples[1]) * 1e3, statistics.median(samples[n]) * 1e3
            rows.append(
                {"style": style, "one_thread_ms": one, "n_threads_ms": many, "speedup": one / many}
            )
    finally:
        pm.set_threads(before)
    return {
        "resolution": settings.scaling_resolution,
        "coverage_pct": 100,
        "threads": n,
        "rows": rows,
        "copy_speedup": _copy_scaling(settings, n),
    }


def _copy_scaling(settings: Settings, n: int) -> float:
    """Bandwidth of ``n`` threads copying one buffer in ``n`` parts at once over one thread
    copying it whole (numpy releases the GIL while it copies)."""
    size = (settings.floor_mib << 20) // n * n
    src, dst = np.ones(size, dtype=np.uint8), np.zeros(size, dtype=np.uint8)
    chunk = size // n
    parts = [(dst[i * chunk : (i + 1) * chunk], src[i * chunk : (i + 1) * chunk]) for i in range(n)]
    with ThreadPoolExecutor(n) as pool:

        def together() -> None:
            for f in [pool.submit(np.copyto, d, s) for d, s in parts]:
                f.result()

        t = measure(
            {"one": lambda: np.copyto(dst, src), "many": together},
            Settings(warmup=1, min_repeats=5, max_repeats=max(5, settings.min_repeats)),
        )
    return t["one"].median_s / t["many"].median_s


def measure_overhead(settings: Settings) -> list[OverheadRow]:
    """The fixed cost of one ``apply`` call: a small frame and a 4x4-pixel solid mask, so the
    kernel itself is negligible. Both the compiled path (what a tight loop should use) and the
    mask-set path (content-hash cache lookup first) are timed."""
    rows: list[OverheadRow] = []
    batch = settings.overhead_batch

    def many(frame: pm.Frame, target: pm.MaskSet | pm.CompiledMasks) -> None:
        for _ in range(batch):
            pm.apply(frame, target)

    for name in settings.overhead_resolutions:
        width, height = resolution_size(name)
        tiny = pm.Polygon.rect(0.5, 0.5, 4 / width, 4 / height)
        masks = pm.MaskSet([pm.Mask(tiny, pm.Solid(yuv=(16, 128, 128)))])
        compiled = masks.compile(width, height, PEER_FORMAT)
        frame = make_frame(width, height)
        t = measure(
            {"compiled": partial(many, frame, compiled), "maskset": partial(many, frame, masks)},
            settings,
        )
        rows.append(
            {
                "resolution": name,
                "width": width,
                "height": height,
                "compiled_us": t["compiled"].median_s / batch * 1e6,
                "maskset_us": t["maskset"].median_s / batch * 1e6,
            }
        )
    return rows


def _fill_vs_mosaic(results: Sequence[CaseResult]) -> list[FillVsMosaic]:
    """Fill against mosaic in the same geometry: fill reads the surroundings and interpolates,
    so users choosing between the two anonymising-looking styles want to know the price."""
    mosaic = {
        (r["format"], r["resolution"], r["coverage_pct"]): r["privmask_ms"]
        for r in results
        if r["style"] == _MOSAIC_FOR_FILL
    }
    out: list[FillVsMosaic] = []
    for r in results:
        key = (r["format"], r["resolution"], r["coverage_pct"])
        if r["style"] == "fill" and key in mosaic:
            out.append(
                {
                    "format": key[0],
                    "resolution": key[1],
                    "coverage_pct": key[2],
                    "fill_ms": r["privmask_ms"],
                    "mosaic_ms": mosaic[key],
                    "ratio": r["privmask_ms"] / mosaic[key],
                }
            )
    return out


def run_bench(
    *,
    styles: Sequence[str] = tuple(STYLES),
    formats: Sequence[str] = (PEER_FORMAT,),
    resolutions: Sequence[str] = ("1080p", "4k"),
    coverages: Sequence[int] = COVERAGES,
    settings: Settings = DEFAULT,
    threads: int = 1,
    simd: str | None = None,
    opencv: bool = True,
    log: Callable[[str], None] | None = None,
) -> BenchReport:
    """Runs the whole benchmark and returns the report (see :class:`BenchReport`).

    ``threads`` applies to privmask and OpenCV alike (one by default, so the table compares
    kernels and cores, not core counts; the threads section shows the scaling). ``simd`` forces
    a SIMD level for the run. Both, and OpenCV's thread count, are restored afterwards, so
    calling this in a long-lived process leaves it as it was. ``opencv=False`` leaves OpenCV out
    even when it is installed.
    """
    started = time.perf_counter()
    say = log or (lambda _msg: None)
    for s in styles:
        if s not in STYLES:
            raise ValueError(f"unknown style {s!r}; one of {', '.join(STYLES)}")
    for f in formats:
        if f not in FORMATS:
            raise ValueError(f"unknown format {f!r}; one of {', '.join(FORMATS)}")
    for name in resolutions:
        resolution_size(name)
    cv_version = opencv_version() if opencv else None
    with_cv2 = cv_version is not None
    cv2 = _import_cv2() if with_cv2 else None
    threads_before, simd_before = pm.threads(), _native.simd_level()
    cv_threads_before = int(cv2.getNumThreads()) if cv2 is not None else None
    try:
        pm.set_threads(threads)
        if cv2 is not None:
            cv2.setNumThreads(threads)
        if simd is not None:
            _native.set_simd_level(simd)
        # Thread scaling first: once the numpy peer has run, OpenBLAS worker threads may spin on
        # the other core for a while and make any second privmask thread look useless.
        say(f"threads: 1 vs 2 at {settings.scaling_resolution}")
        scaling = measure_threads(styles, settings)
        pm.set_threads(threads)
        say(f"bandwidth floor ({settings.floor_mib} MiB buffer)")
        floors = measure_floors(settings)
        results: list[CaseResult] = []
        frames: dict[tuple[str, str], pm.Frame] = {}
        for case in cases(styles, formats, resolutions, coverages):
            key = (case.format, case.resolution)
            if key not in frames:
                frames[key] = make_frame(*case.size, case.format)
            r = _bench_case(case, frames[key], floors, settings, with_cv2)
            peer_ms = {"numpy": r["numpy_ms"], "opencv": r["opencv_ms"]}
            say(
                f"{case.id}: privmask {_fmt_ms(r['privmask_ms'])} ms"
                + "".join(f", {k} {_fmt_ms(v)} ms" for k, v in peer_ms.items() if v is not None)
            )
            results.append(r)
        frames.clear()
        say("compile: 16 polygons x 64 vertices")
        compiled = measure_compile(settings, with_cv2)
        say("per-call overhead")
        overhead = measure_overhead(settings)
        level = _native.simd_level()
    finally:
        pm.set_threads(threads_before)
        _native.set_simd_level(simd_before)
        if cv2 is not None and cv_threads_before is not None:
            cv2.setNumThreads(cv_threads_before)
    return {
        "report_version": 1,
        "privmask": pm.__version__,
        "numpy": np.__version__,
        "opencv": cv_version,
        "machine": _machine(),
        "simd_level": level,
        "simd_levels": list(_native.simd_levels()),
        "threads": threads,
        "opencv_threads": threads if with_cv2 else None,
        "settings": {
            "warmup": settings.warmup,
            "min_repeats": settings.min_repeats,
            "max_repeats": settings.max_repeats,
            "budget_s": settings.budget_s,
            "statistic": "median",
        },
        "cases": results,
        "floors": floors,
        "fill_vs_mosaic": _fill_vs_mosaic(results),
        "compile": compiled,
        "threads_scaling": scaling,
        "overhead": overhead,
        "elapsed_s": time.perf_counter() - started,
    }


# --- printing ----------------------------------------------------------------------------------


def _fmt_ms(ms: float | None) -> str:
    """Three decimals below 1 ms (solid zones take microseconds), two above."""
    if ms is None:
        return "n/a"
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}"


def _fmt_x(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}x"


def _res(width: int, height: int, name: str) -> str:
    return name if name == f"{width}x{height}" else f"{name} ({width}x{height})"


def format_report(report: BenchReport) -> str:
    """The report as Markdown: pasteable into an issue or the README as it is."""
    m = report["machine"]
    versions = [
        f"privmask {report['privmask']}",
        f"numpy {report['numpy']}",
        f"Python {m['python']}",
    ]
    if report["opencv"] is not None:
        versions.append(f"OpenCV {report['opencv']}")
    thread_note = f"{report['threads']} thread{'s' if report['threads'] != 1 else ''}"
    lines = [
        f"CPU: {m['cpu']}, {m['logical_cores']} logical cores; SIMD {report['simd_level']} "
        f"(supported: {', '.join(report['simd_levels'])}); {thread_note} "
        f"({'privmask and OpenCV' if report['opencv'] else 'privmask'}); "
        + ", ".join(versions)
        + ".",
        "",
        "Four zones per frame; medians of repeated in-place runs after a warm-up; geometry "
        "prepared before timing for every peer. Mpix/s: covered luma pixels per second. "
        "vs numpy / vs OpenCV: their time over privmask's (above 1: privmask is faster). "
        "x floor: privmask's time over the bandwidth floor for the bytes the case touches "
        "(solid: fill floor, target <= 3x; others: copy floor, target <= 6x for mosaic and "
        "blur).",
        "",
        "| style | format | resolution | cover | privmask ms | Mpix/s | numpy ms | OpenCV ms "
        "| vs numpy | vs OpenCV | x floor |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["cases"]:
        multiple, target = r["floor_multiple"], r["floor_target"]
        missed = multiple is not None and target is not None and multiple > target
        lines.append(
            f"| {r['style']} | {r['format']} | {r['resolution']} | {r['coverage_pct']} % "
            f"| {_fmt_ms(r['privmask_ms'])} | {r['covered_mpix_per_s']:.0f} "
            f"| {_fmt_ms(r['numpy_ms'])} | {_fmt_ms(r['opencv_ms'])} "
            f"| {_fmt_x(r['vs_numpy'])} | {_fmt_x(r['vs_opencv'])} "
            f"| {_fmt_x(multiple)}{' (!)' if missed else ''} |"
        )
    f = report["floors"]
    lines += [
        "",
        f"**Bandwidth floor** (numpy on a {f['buffer_bytes'] >> 20} MiB buffer, same run): "
        f"fill {f['fill_gb_per_s']:.1f} GB/s, copy {f['copy_gb_per_s']:.1f} GB/s. "
        + _floor_summary(report["cases"]),
    ]
    if report["fill_vs_mosaic"]:
        lines += ["", f"**Fill vs {_MOSAIC_FOR_FILL}** (fill time over mosaic time): "]
        lines[-1] += ", ".join(
            f"{v['resolution']} {v['coverage_pct']} % {v['ratio']:.1f}x"
            + ("" if v["format"] == PEER_FORMAT else f" ({v['format']})")
            for v in report["fill_vs_mosaic"]
        )
        lines[-1] += "."
    c = report["compile"]
    cv_part = (
        f"; cv2.fillPoly {_fmt_ms(c['fillpoly_ms'])} ms (fillPoly / privmask "
        f"{_fmt_x(c['vs_fillpoly'])}, target >= 1x)"
        if c["fillpoly_ms"] is not None
        else ""
    )
    lines += [
        "",
        f"**Compile** {c['polygons']} polygons x {c['vertices']} vertices "
        f"({c['covered_pct']:.0f} % cover) for {c['width']}x{c['height']}: privmask "
        f"{_fmt_ms(c['privmask_gray_ms'])} ms for the luma plane, "
        f"{_fmt_ms(c['privmask_yuv420p_ms'])} ms for yuv420p{cv_part}.",
    ]
    t = report["threads_scaling"]
    lines += [
        "",
        f"**Threads** ({t['resolution']}, {t['coverage_pct']} % cover, yuv420p): "
        + ", ".join(
            f"{row['style']} {_fmt_ms(row['one_thread_ms'])} -> {_fmt_ms(row['n_threads_ms'])} "
            f"ms ({row['speedup']:.2f}x)"
            for row in t["rows"]
        )
        + f" (1 -> {t['threads']} threads); memory bandwidth itself scales "
        f"{t['copy_speedup']:.2f}x (numpy copies on {t['threads']} threads), the ceiling for "
        "the styles bound by it.",
        "",
        "**Per-call overhead** (one 4x4 px solid mask, yuv420p; CompiledMasks / MaskSet): "
        + ", ".join(
            f"{_res(o['width'], o['height'], o['resolution'])} {o['compiled_us']:.1f} / "
            f"{o['maskset_us']:.1f} us"
            for o in report["overhead"]
        )
        + ".",
    ]
    return "\n".join(lines)


def _floor_summary(results: Sequence[CaseResult]) -> str:
    """The worst multiple per style against its target: the line a reviewer looks for."""
    worst: dict[str, tuple[float, CaseResult]] = {}
    for r in results:
        multiple = r["floor_multiple"]
        if multiple is not None and (r["style"] not in worst or multiple > worst[r["style"]][0]):
            worst[r["style"]] = (multiple, r)
    parts = []
    for style, (multiple, r) in worst.items():
        target = r["floor_target"]
        verdict = "" if target is None else (" ok" if multiple <= target else " MISSED")
        limit = "" if target is None else f" (target {target:.0f}x{verdict})"
        where = (
            r["resolution"] if r["format"] == PEER_FORMAT else f"{r['format']} {r['resolution']}"
        )
        parts.append(f"{style} {multiple:.1f}x at {where} {r['coverage_pct']} %{limit}")
    return ("Worst multiple of the floor: " + "; ".join(parts) + ".") if parts else ""


# --- command line ------------------------------------------------------------------------------


def _csv(choices: Sequence[str] | None, what: str) -> Callable[[str], list[str]]:
    """An argparse type for comma-separated lists, checked against ``choices`` when given."""

    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"give at least one {what}")
        for item in items:
            if choices is not None and item not in choices:
                raise argparse.ArgumentTypeError(
                    f"unknown {what} {item!r}; one of {', '.join(choices)}"
                )
            if choices is None:
                try:
                    resolution_size(item)
                except ValueError as e:
                    raise argparse.ArgumentTypeError(str(e)) from None
        return items

    return parse


_DESCRIPTION = (
    "Time privmask against the numpy reference and OpenCV (if installed) on this machine: "
    "per style, format, resolution and coverage; the bandwidth floor; rasterising; threads; "
    "per-call overhead. Prints a Markdown table; progress goes to stderr."
)


def _configure(parser: argparse.ArgumentParser) -> None:
    from privmask.cli.main import positive_int

    parser.add_argument(
        "--quick", action="store_true", help="1080p only and fewer repeats (under 15 s)"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="also write the report as JSON to FILE"
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="threads for privmask and OpenCV in the table (default 1; the threads section "
        "always compares 1 and 2)",
    )
    parser.add_argument(
        "--simd",
        choices=_native.simd_levels(),
        metavar="LEVEL",
        help=f"force a SIMD level (one of {', '.join(_native.simd_levels())}; default: the "
        f"best this CPU supports, {_native.simd_level()})",
    )
    parser.add_argument(
        "--formats",
        type=_csv(FORMATS, "format"),
        default=[PEER_FORMAT],
        metavar="F,...",
        help=f"pixel formats (default {PEER_FORMAT}; the peers run on {PEER_FORMAT} only; "
        f"e.g. {','.join(BENCH_FORMATS)})",
    )
    parser.add_argument(
        "--resolutions",
        type=_csv(None, "resolution"),
        metavar="R,...",
        help=f"resolutions: {', '.join(RESOLUTIONS)} or WxH (default 1080p,4k; --quick 1080p)",
    )
    parser.add_argument(
        "--styles",
        type=_csv(tuple(STYLES), "style"),
        default=list(STYLES),
        metavar="S,...",
        help=f"styles (default all: {','.join(STYLES)})",
    )
    parser.add_argument(
        "--no-opencv", action="store_true", help="leave OpenCV out even if it is installed"
    )


COMMANDS = ("bench",)
"""The ``privmask`` sub-commands this module adds (see :mod:`privmask.cli.main`)."""


def add_cli(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Registers ``bench`` on the ``privmask`` command's sub-commands."""
    parser = subparsers.add_parser(
        "bench", help="benchmark privmask on this machine", description=_DESCRIPTION
    )
    _configure(parser)
    return parser


def run_cli(args: argparse.Namespace) -> int:
    """Runs the benchmark for parsed arguments (from :func:`add_cli` or :func:`main`)."""
    settings = QUICK if args.quick else DEFAULT
    resolutions = args.resolutions or (["1080p"] if args.quick else ["1080p", "4k"])

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = run_bench(
        styles=args.styles,
        formats=args.formats,
        resolutions=resolutions,
        settings=settings,
        threads=args.threads,
        simd=args.simd,
        opencv=not args.no_opencv,
        log=log,
    )
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
        log(f"wrote {args.json}")
    log(f"{report['elapsed_s']:.0f} s in all")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m privmask.tools.bench``: the same as ``privmask bench``, without the CLI
    module."""
    parser = argparse.ArgumentParser(
        prog="python -m privmask.tools.bench", description=_DESCRIPTION
    )
    _configure(parser)
    return run_cli(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
