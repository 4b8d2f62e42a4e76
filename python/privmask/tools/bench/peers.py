"""The contestants: privmask itself, a numpy reference implementation of its semantics, and what a
competent OpenCV user would write (plus ``cv2.inpaint`` for fill, timed only in ``benches/``).

Every peer follows one contract: the constructor does whatever depends only on the geometry (not
timed), and calling it with a frame masks the frame in place (timed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

import privmask as pm
from privmask.tools.bench.cases import (
    MOSAIC_FOR_FILL,
    PEER_FORMAT,
    STYLES,
    SUBSAMPLING,
    Case,
    chroma_cover,
)

__all__ = [
    "FILLPOLY_SHIFT",
    "InpaintPeer",
    "NumpyPeer",
    "OpenCVPeer",
    "Peer",
    "PrivmaskPeer",
    "bbox",
    "block_px",
    "cell_px",
    "cv_points",
    "import_cv2",
    "opencv_version",
    "peers_for",
    "rgb_to_yuv",
    "sigma_px",
]

U8 = npt.NDArray[np.uint8]
Bool2D = npt.NDArray[np.bool_]
F32 = npt.NDArray[np.float32]
Box = tuple[int, int, int, int]  # y0, y1, x0, x1 (half-open), in plane samples


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
    """Mosaic block edge in luma pixels, rounded up to the chroma subsampling."""
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

FILLPOLY_SHIFT = 4  # fillPoly fixed-point fraction bits: sub-pixel vertices


def cv_points(points: Sequence[tuple[float, float]], width: int, height: int) -> Any:
    """Polygon vertices in OpenCV's pixel-centre convention, fixed point for ``shift``."""
    pts = np.asarray(points, dtype=np.float64) * (width, height) - 0.5
    return np.rint(pts * (1 << FILLPOLY_SHIFT)).astype(np.int32).reshape(-1, 1, 2)


def import_cv2() -> Any:
    """OpenCV, imported only when a peer needs it: it is an optional extra
    (``privmask-video[bench]``) and a large import that the ``privmask`` command should not pay
    for otherwise."""
    import cv2

    return cv2


def opencv_version() -> str | None:
    """OpenCV's version, or None when it is not installed (the OpenCV columns are then left out)."""
    try:
        cv2 = import_cv2()
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
        cv2 = self.cv2 = import_cv2()
        width, height = case.size
        self.ops: list[tuple[int, PlaneOp]] = []
        for mask in case.masks:
            style = mask.style
            for i in range(3):
                div = 1 if i == 0 else SUBSAMPLING
                pw, ph = -(-width // div), -(-height // div)
                pts = cv_points(mask.shape.points, pw, ph)
                if isinstance(style, pm.Solid):
                    self.ops.append((i, self._solid(pts, _solid_samples(style, height)[i])))
                    continue
                full = np.zeros((ph, pw), dtype=np.uint8)
                cv2.fillPoly(full, [pts], 255, cv2.LINE_8, FILLPOLY_SHIFT)
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
            cv2.fillPoly(plane, [pts], int(value), cv2.LINE_8, FILLPOLY_SHIFT)

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
        cv2 = self.cv2 = import_cv2()
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
                cv2.fillPoly(full, [cv_points(mask.shape.points, pw, ph)], 255, 8, FILLPOLY_SHIFT)
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


def _mosaic_for_fill(case: Case) -> Peer:
    """privmask's mosaic on the same geometry and format as a fill case: the price of fill is
    reported against it, so the two are timed in the same rounds."""
    return PrivmaskPeer(Case(MOSAIC_FOR_FILL, case.resolution, case.coverage, case.format))


def peers_for(case: Case, *, opencv: bool) -> dict[str, Callable[[Case], Peer]]:
    """The peers that do comparable work for ``case``: privmask always; the numpy reference and
    (when ``opencv``) OpenCV for yuv420p, except for fill, which has neither in the table and
    instead runs next to privmask's own mosaic on the same geometry (``MOSAIC_FOR_FILL``)."""
    out: dict[str, Callable[[Case], Peer]] = {"privmask": PrivmaskPeer}
    if isinstance(STYLES[case.style], pm.Fill):
        out[MOSAIC_FOR_FILL] = _mosaic_for_fill
    elif case.format == PEER_FORMAT:
        out["numpy"] = NumpyPeer
        if opencv:
            out["opencv"] = OpenCVPeer
    return out
