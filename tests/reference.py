"""Independent references the tests compare privmask against.

The coverage reference is exact (``fractions.Fraction``) and works another way than the Rust
sweep: it cuts each pixel row at vertices, at edge crossings *and* wherever an edge crosses a pixel
column boundary, then samples the winding number at the middle height of each cut. Between two
cuts no edge changes pixel column, so that one sample decides every pixel the strip touches.

``exact_coverage`` is that cover for the vertices exactly as given (``Fraction(x) * w``): what
privmask promises never to leave out. ``coverage`` is privmask's rule, which rounds outward: the
cover of the polygon snapped to 1/256 px, plus, for each edge with an end that snapping moved,
the pixels whose open square meets the convex hull of the edge's ends before and after snapping
(the exact ends taken as their boxes of whole 1/16384 px); except edges that edges between the
same two vertices the other way cancel.
"""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

SUBPIXEL = 256
FINE = 16384
GUARD_PX = 8192

SUBSAMPLING = {
    "gray": (1, 1),
    "yuv420p": (2, 2),
    "yuvj420p": (2, 2),
    "yuv422p": (2, 1),
    "yuv444p": (1, 1),
    "nv12": (2, 2),
    "nv21": (2, 2),
    "yuv420p10le": (2, 2),
    "p010le": (2, 2),
    "rgb24": (1, 1),
    "bgr24": (1, 1),
}
#: Bits per sample value, and how far values sit up in their 16-bit words.
DEPTH = {"yuv420p10le": 10, "p010le": 10}
SHIFT = {"p010le": 6}


def max_value(fmt: str) -> int:
    return (1 << DEPTH.get(fmt, 8)) - 1


Edge = tuple[Fraction, Fraction, Fraction, Fraction, int]  # xa, ya, xb, yb (ya < yb), direction


def snapped(points: list[tuple[float, float]], w: int, h: int) -> list[tuple[Fraction, Fraction]]:
    """The polygon in pixel units exactly as privmask defines it: ``floor(v*256 + 0.5) / 256``."""
    out = []
    for x, y in points:
        px, py = x * w, y * h
        assert -GUARD_PX <= px <= w + GUARD_PX and -GUARD_PX <= py <= h + GUARD_PX
        out.append(
            (
                Fraction(math.floor(px * SUBPIXEL + 0.5), SUBPIXEL),
                Fraction(math.floor(py * SUBPIXEL + 0.5), SUBPIXEL),
            )
        )
    return out


def _edges(pts: list[tuple[Fraction, Fraction]]) -> list[Edge]:
    edges = []
    for i, a in enumerate(pts):
        b = pts[(i + 1) % len(pts)]
        if a[1] < b[1]:
            edges.append((a[0], a[1], b[0], b[1], 1))
        elif a[1] > b[1]:
            edges.append((b[0], b[1], a[0], a[1], -1))
    return edges


def _x_at(e: Edge, y: Fraction) -> Fraction:
    xa, ya, xb, yb, _ = e
    return xa + (y - ya) * (xb - xa) / (yb - ya)


def exact_coverage(points: list[tuple[float, float]], w: int, h: int) -> npt.NDArray[np.bool_]:
    """Pixels whose square meets the interior of the polygon with the vertices as given."""
    return _cover([(Fraction(x) * w, Fraction(y) * h) for x, y in points], w, h)


def coverage(points: list[tuple[float, float]], w: int, h: int) -> npt.NDArray[np.bool_]:
    """privmask's cover: the snapped polygon's, grown by the hulls of the edges snapping moved."""
    snap = snapped(points, w, h)
    cov = _cover(snap, w, h)
    exact = [(Fraction(x) * w, Fraction(y) * h) for x, y in points]

    def box(v: Fraction) -> tuple[Fraction, Fraction]:
        return Fraction(math.floor(v * FINE), FINE), Fraction(math.ceil(v * FINE), FINE)

    # Edges between the same two vertices, there and back, cancel (bridges to holes): no hull.
    net: dict[tuple[Any, Any], int] = {}
    n = len(points)
    for i in range(n):
        a, b = points[i], points[(i + 1) % n]
        key, sign = ((a, b), 1) if a <= b else ((b, a), -1)
        net[key] = net.get(key, 0) + sign
    for i in range(n):
        j = (i + 1) % n
        if snap[i] == exact[i] and snap[j] == exact[j]:
            continue
        a, b = points[i], points[j]
        if a == b or net[(a, b) if a <= b else (b, a)] == 0:
            continue  # a repeated vertex is no edge; its neighbours' hulls hold its box
        pts = {snap[i], snap[j]}
        for k in (i, j):
            (x0, x1), (y0, y1) = box(exact[k][0]), box(exact[k][1])
            pts.update({(x0, y0), (x1, y0), (x0, y1), (x1, y1)})
        for row, first, last in _hull_columns(sorted(pts), h):
            first, last = max(first, 0), min(last, w)
            if first < last:
                cov[row, first:last] = True
    return cov


def _hull_columns(pts: list[tuple[Fraction, Fraction]], h: int) -> list[tuple[int, int, int]]:
    """``(row, first, last)``: the columns whose open square meets the inside of the convex hull
    of ``pts`` (sorted), row by row; nothing when the hull has no area."""

    def cross(
        o: tuple[Fraction, Fraction], a: tuple[Fraction, Fraction], b: tuple[Fraction, Fraction]
    ) -> Fraction:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    hull: list[tuple[Fraction, Fraction]] = []
    for chain in (pts, pts[::-1]):
        start = len(hull)
        for p in chain:
            while len(hull) >= start + 2 and cross(hull[-2], hull[-1], p) <= 0:
                hull.pop()
            hull.append(p)
        hull.pop()
    if len(hull) < 3:
        return []
    ys = [p[1] for p in hull]
    out = []
    for row in range(max(math.floor(min(ys)), 0), min(math.ceil(max(ys)), h)):
        top, bottom = Fraction(row), Fraction(row + 1)
        xs = [p[0] for p in hull if top <= p[1] <= bottom]
        for a, b in zip(hull, hull[1:] + hull[:1], strict=True):
            for y in (top, bottom):
                if min(a[1], b[1]) < y < max(a[1], b[1]):
                    xs.append(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]))
        out.append((row, math.floor(min(xs)), math.ceil(max(xs))))
    return out


def _cover(pts: list[tuple[Fraction, Fraction]], w: int, h: int) -> npt.NDArray[np.bool_]:
    """Pixels whose square meets the (nonzero) interior of the polygon ``pts`` (in pixels) with
    positive area."""
    edges = _edges(pts)
    cov = np.zeros((h, w), dtype=bool)
    for j in range(h):
        top, bottom = Fraction(j), Fraction(j + 1)
        live = [e for e in edges if e[1] < bottom and e[3] > top]
        if not live:
            continue
        cuts = {top, bottom}
        for e in live:
            xa, ya, xb, yb, _ = e
            cuts.update(v for v in (ya, yb) if top < v < bottom)
            lo, hi = sorted((xa, xb))
            for col in range(math.ceil(lo), math.floor(hi) + 1):
                if xa != xb:
                    y = ya + (col - xa) * (yb - ya) / (xb - xa)
                    if top < y < bottom:
                        cuts.add(y)
        for i, a in enumerate(live):
            for b in live[i + 1 :]:
                # Solve x_a(y) = x_b(y) for y.
                sa = (a[2] - a[0]) / (a[3] - a[1])
                sb = (b[2] - b[0]) / (b[3] - b[1])
                if sa == sb:
                    continue
                y = (b[0] - a[0] + sa * a[1] - sb * b[1]) / (sa - sb)
                if max(top, a[1], b[1]) < y < min(bottom, a[3], b[3]):
                    cuts.add(y)
        ordered = sorted(cuts)
        for y0, y1 in pairwise(ordered):
            ym = (y0 + y1) / 2
            xs = sorted((_x_at(e, ym), e[4]) for e in live if e[1] < ym < e[3])
            winding = 0
            for (xl, d), (xr, _) in pairwise(xs):
                winding += d
                if winding != 0 and xl < xr:
                    first = min(max(math.floor(xl), 0), w)
                    last = min(max(math.ceil(xr), 0), w)
                    cov[j, first:last] = True
    return cov


def chroma_cover(luma: npt.NDArray[np.bool_], fmt: str) -> npt.NDArray[np.bool_]:
    """A chroma sample is covered iff any luma pixel it co-sites is (RGB: same as luma)."""
    sx, sy = SUBSAMPLING[fmt]
    h, w = luma.shape
    ch, cw = -(-h // sy), -(-w // sx)
    padded = np.zeros((ch * sy, cw * sx), dtype=bool)
    padded[:h, :w] = luma
    return padded.reshape(ch, sy, cw, sx).any(axis=(1, 3))


def channel_views(fmt: str, planes: list[npt.NDArray[Any]]) -> list[tuple[str, npt.NDArray[Any]]]:
    """(component, 2-D view of its stored words) for each channel, undoing interleaving."""
    if fmt == "gray":
        return [("y", planes[0])]
    if fmt in ("rgb24", "bgr24"):
        p = planes[0]
        r, g, b = (p[:, 0::3], p[:, 1::3], p[:, 2::3])
        return [("r", r), ("g", g), ("b", b)] if fmt == "rgb24" else [("r", b), ("g", g), ("b", r)]
    if fmt in ("nv12", "nv21", "p010le"):
        first, second = planes[1][:, 0::2], planes[1][:, 1::2]
        u, v = (second, first) if fmt == "nv21" else (first, second)
        return [("y", planes[0]), ("u", u), ("v", v)]
    return [("y", planes[0]), ("u", planes[1]), ("v", planes[2])]


def mosaic(
    values: npt.NDArray[np.int64], cover: npt.NDArray[np.bool_], bw: int, bh: int
) -> npt.NDArray[np.int64]:
    """Each covered sample becomes the mean (rounded half up) of its block's covered samples."""
    out = values.copy()
    h, w = values.shape
    for by in range(0, h, bh):
        for bx in range(0, w, bw):
            c = cover[by : by + bh, bx : bx + bw]
            if c.any():
                block = out[by : by + bh, bx : bx + bw]
                s, n = int(values[by : by + bh, bx : bx + bw][c].sum()), int(c.sum())
                block[c] = (2 * s + n) // (2 * n)
    return out


def blur(
    values: npt.NDArray[np.int64],
    cover: npt.NDArray[np.bool_],
    cw: int,
    chh: int,
    sigma_cells: float,
) -> npt.NDArray[np.float64]:
    """The information-bounded blur in float64 (privmask computes in float32: compare within 1)."""
    h, w = values.shape
    gw, gh = -(-w // cw), -(-h // chh)
    mean = np.zeros((gh, gw))
    weight = np.zeros((gh, gw))
    for gy in range(gh):
        for gx in range(gw):
            c = cover[gy * chh : (gy + 1) * chh, gx * cw : (gx + 1) * cw]
            if c.any():
                v = values[gy * chh : (gy + 1) * chh, gx * cw : (gx + 1) * cw][c]
                mean[gy, gx] = v.mean()
                weight[gy, gx] = 1.0
    r = max(1, math.ceil(3 * sigma_cells))
    k = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma_cells**2))

    def smooth(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        for axis in (1, 0):
            pad = [(0, 0), (0, 0)]
            pad[axis] = (r, r)
            p = np.pad(a, pad)
            n = a.shape[axis]
            a = sum(
                k[i] * (p[:, i : i + n] if axis == 1 else p[i : i + n, :]) for i in range(2 * r + 1)
            )
        return a

    num, den = smooth(mean * weight), smooth(weight)
    field = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    out = values.astype(np.float64)
    for y, x in zip(*np.nonzero(cover), strict=True):
        u, v = (x + 0.5) / cw - 0.5, (y + 0.5) / chh - 0.5
        x0, y0 = math.floor(u), math.floor(v)
        tx, ty = u - x0, v - y0

        def f(cx: int, cy: int) -> float:
            return float(field[min(max(cy, 0), gh - 1), min(max(cx, 0), gw - 1)])

        top = f(x0, y0) * (1 - tx) + f(x0 + 1, y0) * tx
        bot = f(x0, y0 + 1) * (1 - tx) + f(x0 + 1, y0 + 1) * tx
        out[y, x] = top * (1 - ty) + bot * ty
    return out
