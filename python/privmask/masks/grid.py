"""Grid cells to polygons: the cell editors of video management systems, and motion cells.

A selection of cells of a grid laid over the frame becomes polygons whose cover is exactly the
pixels the selected cells overlap. That takes care, because the core masks every pixel the
polygon *with the vertices exactly as given* overlaps (:class:`~privmask.masks.geometry.Polygon`):
a cell edge at ``k / n`` of the frame is rarely a double (``6 / 7`` is not), and the nearest
double can lie a hair outside the cell, which then takes the pixel beyond the edge too (the
double nearest ``5 / 7``, times 70 px, is 50.0000000000000011 px: a sliver of pixel 50 for a cell
that ends at pixel line 50; the double nearest ``6 / 7`` gives 59.999999999999997 px, a sliver of
pixel 59 for the cell that starts at line 60).

So every vertex is rounded *inward*, per coordinate: each traced corner lies on one vertical and
one horizontal boundary edge, its ``x`` is the double nearest the vertical edge's exact line
on the side of the cells that edge bounds, and its ``y`` likewise from the horizontal edge
(``math.nextafter`` when the nearest double lies on the wrong side, found in exact integer
arithmetic). Where two selected cells touch only at a corner (a pinch), the outline leaves the
corner by the edge that turns right (towards the inside), so each corner of each loop is a convex
or reflex corner of the cells round it and its rounded point lies in a selected cell.

**The cover.** For a frame ``W`` x ``H`` px and a ``cols`` x ``rows`` grid, the line ``k`` lies at
``k·W/cols`` px, and the rounded vertex at most ``2^-52·W <= 2^-38`` px inside it. The cover is:

- every pixel that a selected cell overlaps with positive area: such a pixel overlaps the cell
  by at least ``1/cols`` px across (a multiple of it), far more than the rounding, and the core
  can only add to what the rounded polygon overlaps;
- nothing else: the rounded polygon lies inside the cells, and the core's snapping to 1/256 px
  moves a coordinate towards the nearest 1/256 px, never across a pixel line.

When each cell edge is on a pixel line (``cols`` divides ``W`` and ``rows`` divides ``H``; motion
cells of whole pixels), that is exactly the selected cells' pixels. Otherwise the pixels a cell
edge passes through are masked whole, on both sides of the edge, as for any polygon. Grids are
limited to :data:`MAX_CELLS` a side, which keeps ``1/cols`` above the rounding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from privmask.errors import MaskConfigError
from privmask.masks.geometry import Point, Polygon
from privmask.masks.maskset import Mask, MaskSet
from privmask.masks.styles import Solid, Style

__all__ = ["MAX_CELLS", "cells_polygon", "masks_from_grid"]

MAX_CELLS = 1 << 32
"""Most cells a grid may have along either side (the cover argument needs fewer than 2^38)."""

Corner = tuple[int, int]  # (x, y) in cells
Edge = tuple[Corner, Corner]


def _cells_array(cells: Any, cols: int, rows: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    arr = np.asarray(cells) if not isinstance(cells, (set, frozenset)) else None
    if arr is not None and arr.ndim == 2 and arr.shape == (rows, cols) and arr.dtype == bool:
        return arr.astype(bool)
    grid = np.zeros((rows, cols), dtype=bool)
    for i, cell in enumerate(cells):
        try:
            c, r = cell
        except (TypeError, ValueError) as e:
            raise MaskConfigError(f"must be a (col, row) pair, got {cell!r}", f"cells[{i}]") from e
        if isinstance(c, bool) or isinstance(r, bool) or not isinstance(c, (int, np.integer)):
            raise MaskConfigError(f"must be integers, got {cell!r}", f"cells[{i}]")
        if not isinstance(r, (int, np.integer)) or not (0 <= c < cols and 0 <= r < rows):
            raise MaskConfigError(f"{cell!r} is outside the {cols} x {rows} grid", f"cells[{i}]")
        grid[r, c] = True
    return grid


def _components(grid: np.ndarray[Any, np.dtype[np.bool_]]) -> list[list[tuple[int, int]]]:
    """4-connected areas of set cells, each a list of (row, col), in reading order."""
    rows, cols = grid.shape
    seen = np.zeros_like(grid)
    out = []
    for r0 in range(rows):
        for c0 in range(cols):
            if not grid[r0, c0] or seen[r0, c0]:
                continue
            seen[r0, c0] = True
            stack, comp = [(r0, c0)], []
            while stack:
                r, c = stack.pop()
                comp.append((r, c))
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                    if 0 <= rr < rows and 0 <= cc < cols and grid[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        stack.append((rr, cc))
            out.append(comp)
    return out


def _loops(
    cells: np.ndarray[Any, np.dtype[np.bool_]], origin: tuple[int, int]
) -> list[list[Corner]]:
    """The boundary of the set cells as closed loops of corners (``x`` = column, ``y`` = row, of
    the whole grid: ``cells[0, 0]`` is cell ``origin = (row, col)``), no collinear corners.

    Each cell contributes its four edges clockwise on screen (``y`` down: the cell is on the
    right of each edge); edges shared by two cells cancel. At a corner with two ways out (two
    cells touching only there), a loop takes the one that turns right, so loops do not cross.
    The first loop starts at the least corner (an outer boundary).
    """
    p = np.pad(cells, 1)
    inner = p[1:-1, 1:-1]
    out_of: dict[Corner, list[Corner]] = {}
    # (cells whose neighbour that way is clear, the edge's start and end as offsets from the cell)
    sides = (
        (inner & ~p[:-2, 1:-1], (0, 0), (1, 0)),  # top, going +x
        (inner & ~p[1:-1, 2:], (1, 0), (1, 1)),  # right, going +y
        (inner & ~p[2:, 1:-1], (1, 1), (0, 1)),  # bottom, going -x
        (inner & ~p[1:-1, :-2], (0, 1), (0, 0)),  # left, going -y
    )
    r0, c0 = origin
    for side, (ax, ay), (bx, by) in sides:
        for r, c in zip(*np.nonzero(side), strict=True):
            x, y = int(c) + c0, int(r) + r0
            out_of.setdefault((x + ax, y + ay), []).append((x + bx, y + by))

    def after(a: Corner, b: Corner) -> Corner:
        ways = out_of[b]
        if len(ways) == 1:
            return ways[0]
        dx, dy = b[0] - a[0], b[1] - a[1]
        return (b[0] - dy, b[1] + dx)  # the right turn of (dx, dy), y down

    unused = {(a, b) for a, outs in out_of.items() for b in outs}
    loops = []
    while unused:
        first = min(unused)
        loop, (a, b) = [], first
        while True:
            unused.discard((a, b))
            loop.append(a)
            a, b = b, after(a, b)
            if (a, b) == first:
                break
        loops.append(_drop_collinear(loop))
    return loops


def _drop_collinear(loop: list[Corner]) -> list[Corner]:
    out = []
    n = len(loop)
    for i in range(n):
        a, b, c = loop[i - 1], loop[i], loop[(i + 1) % n]
        if (b[0] - a[0]) * (c[1] - b[1]) != (b[1] - a[1]) * (c[0] - b[0]):
            out.append(b)
    return out


def _inward(k: int, step: int, size: int, up: bool) -> float:
    """The line ``q = min(k·step, size) / size`` as a double on the cells' side of it: the
    nearest double when that is on the side (or exact), else the next one towards it."""
    a = min(k * step, size)
    v = a / size  # correctly rounded
    p, q = v.as_integer_ratio()
    if up and p * size < a * q:
        v = math.nextafter(v, math.inf)
    elif not up and p * size > a * q:
        v = math.nextafter(v, -math.inf)
    return v


def _rounded(loop: list[Corner], cell: tuple[int, int], frame: tuple[int, int]) -> list[Point]:
    """The loop's corners in normalised coordinates, each rounded to the inside of the edges it
    lies on (module doc). ``loop`` alternates vertical and horizontal edges."""
    out = []
    n = len(loop)
    for i in range(n):
        prev, here, nxt = loop[i - 1], loop[i], loop[(i + 1) % n]
        # Of the edge in and the edge out, one is vertical and one horizontal.
        into, out_of = (prev, here), (here, nxt)
        vert, horiz = (into, out_of) if prev[0] == here[0] else (out_of, into)
        # The cells lie right of each edge (y down): right of a downward edge is -x, right of
        # an edge going +x is +y.
        x_up = vert[1][1] < vert[0][1]
        y_up = horiz[1][0] > horiz[0][0]
        out.append(
            (
                _inward(here[0], cell[0], frame[0], x_up),
                _inward(here[1], cell[1], frame[1], y_up),
            )
        )
    return out


def cells_polygon(
    cells: np.ndarray[Any, np.dtype[np.bool_]],
    cell: tuple[int, int],
    frame: tuple[int, int],
    origin: tuple[int, int] = (0, 0),
) -> Polygon:
    """One polygon (nonzero rule) covering the set cells of a grid over the frame.

    ``cells``: a bool array, ``cells[i, j]`` the cell at row ``origin[0] + i`` and column
    ``origin[1] + j`` of the grid. ``cell = (cell_w, cell_h)`` and ``frame = (frame_w,
    frame_h)`` are in one unit (pixels for motion cells; ``(1, 1)`` and ``(cols, rows)`` for a
    grid of whole cells): grid line ``k`` lies at ``min(k·cell_w, frame_w) / frame_w`` of the
    width, and likewise down, so a last column or row reaching past the frame ends at its edge.
    The cells need not be connected: the loops of the boundary (outer ones and holes) are joined
    by there-and-back bridges, which add no winding. Vertices are rounded inward (module doc):
    the cover is the pixels the cells overlap. Raises :class:`MaskConfigError` when no cell is
    set.
    """
    if not cells.any():
        raise MaskConfigError("no cells to outline")
    loops = [_rounded(loop, cell, frame) for loop in _loops(cells, origin)]
    path = list(loops[0])
    anchor = loops[0][0]
    for hole in loops[1:]:
        path += [anchor, *hole, hole[0]]
    return Polygon(path)


def masks_from_grid(cells: Any, grid: tuple[int, int], *, style: Style | None = None) -> MaskSet:
    """Masks from a cell grid like a VMS's grid editor: ``grid=(cols, rows)`` over the whole
    frame, ``cells`` either ``(col, row)`` pairs or a bool array of shape ``(rows, cols)``.

    Adjacent cells (sharing an edge) merge into one polygon per connected area, holes kept; each
    area becomes one mask (``style``, default :class:`Solid`), in reading order of its first
    cell. A cell's edges are ``col / cols`` and ``row / rows``, rounded inward: at any frame
    size the masks cover exactly the pixels the selected cells overlap (the module doc says why),
    which is exactly the cells when they are whole pixels. Raises :class:`MaskConfigError` for a
    grid that is not two positive integers up to :data:`MAX_CELLS`, and for cells off the grid.
    """
    try:
        cols, rows = grid
    except (TypeError, ValueError) as e:
        raise MaskConfigError(f"must be (cols, rows), got {grid!r}", "grid") from e
    for v in (cols, rows):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise MaskConfigError(f"must be two positive integers, got {grid!r}", "grid")
        if v > MAX_CELLS:
            raise MaskConfigError(f"at most {MAX_CELLS} cells a side, got {grid!r}", "grid")
    g = _cells_array(cells, cols, rows)
    chosen = style if style is not None else Solid()
    out = []
    for comp in _components(g):
        rr, cc = np.array(comp).T
        box = np.zeros((rr.max() - rr.min() + 1, cc.max() - cc.min() + 1), dtype=bool)
        box[rr - rr.min(), cc - cc.min()] = True
        shape = cells_polygon(box, (1, 1), (cols, rows), (int(rr.min()), int(cc.min())))
        out.append(Mask(shape, chosen))
    return MaskSet(out)
