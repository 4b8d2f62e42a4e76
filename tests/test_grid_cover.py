"""Grid and motion cells as polygons: the cover is exactly the pixels the selected cells overlap
(so exactly the cells when they are whole pixels), at any grid and frame size, although the core
rounds every vertex outward and ``k / n`` is rarely a double."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import privmask as pm
from privmask.masks.grid import cells_polygon

Bools = npt.NDArray[np.bool_]


def _overlapped(cells: Bools, width: int, height: int) -> Bools:
    """Pixels whose square overlaps a set cell with positive area, in exact integers: pixel
    column ``x`` spans ``(x, x + 1)`` and cell column ``c`` spans ``(c·W/cols, (c + 1)·W/cols)``
    in pixels; they overlap when ``x·cols < (c + 1)·W`` and ``(x + 1)·cols > c·W``."""
    rows, cols = cells.shape

    def meets(n_px: int, n_cells: int) -> npt.NDArray[np.int64]:
        p = np.arange(n_px)[:, None]
        c = np.arange(n_cells)[None, :]
        return ((p * n_cells < (c + 1) * n_px) & ((p + 1) * n_cells > c * n_px)).astype(np.int64)

    return (meets(height, rows) @ cells.astype(np.int64) @ meets(width, cols).T) > 0


def _cover(ms: pm.MaskSet, width: int, height: int) -> Bools:
    return pm.coverage(ms, width, height) if len(ms) else np.zeros((height, width), dtype=bool)


@st.composite
def _selections(draw: st.DrawFn) -> tuple[Bools, int, int]:
    cols, rows = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    flat = draw(st.lists(st.booleans(), min_size=rows * cols, max_size=rows * cols))
    aligned = draw(st.booleans())
    if aligned:  # whole pixels per cell
        width, height = cols * draw(st.integers(1, 6)), rows * draw(st.integers(1, 6))
    else:  # anything, cells smaller than a pixel included
        width, height = draw(st.integers(1, 72)), draw(st.integers(1, 72))
    return np.array(flat, dtype=bool).reshape(rows, cols), width, height


@settings(max_examples=300)
@given(_selections())
def test_a_grid_selection_covers_exactly_the_pixels_its_cells_overlap(
    case: tuple[Bools, int, int],
) -> None:
    cells, width, height = case
    rows, cols = cells.shape
    got = _cover(pm.MaskSet.from_grid(cells, grid=(cols, rows)), width, height)
    want = _overlapped(cells, width, height)
    missing, extra = want & ~got, got & ~want
    assert not missing.any(), f"pixels of selected cells left unmasked: {np.argwhere(missing)}"
    assert not extra.any(), f"pixels of no selected cell masked: {np.argwhere(extra)}"
    if width % cols == 0 and height % rows == 0:
        per = np.ones((height // rows, width // cols), dtype=bool)
        np.testing.assert_array_equal(got, np.kron(cells, per))


def test_cells_touching_at_a_corner_inside_one_area_stay_exact() -> None:
    # One 4-connected area whose cells (0, 1) and (1, 2) also touch at the corner (1, 2) only.
    cells = np.zeros((3, 3), dtype=bool)
    for c, r in [(0, 1), (0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2)]:
        cells[r, c] = True
    ms = pm.MaskSet.from_grid(cells, grid=(3, 3))
    assert len(ms) == 1
    for width, height in [(3, 3), (21, 33), (20, 31), (7, 5), (1920, 1080)]:
        np.testing.assert_array_equal(
            _cover(ms, width, height), _overlapped(cells, width, height), f"{width}x{height}"
        )


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160), (1279, 719)])
@pytest.mark.parametrize("grid", [(7, 5), (22, 15), (13, 11)])
def test_grids_at_video_sizes(grid: tuple[int, int], width: int, height: int) -> None:
    cols, rows = grid
    cells = np.random.default_rng(cols * rows + width).random((rows, cols)) < 0.5
    got = _cover(pm.MaskSet.from_grid(cells, grid=grid), width, height)
    np.testing.assert_array_equal(got, _overlapped(cells, width, height))


@settings(max_examples=100)
@given(
    st.integers(1, 9),
    st.integers(1, 90),
    st.integers(1, 90),
    st.integers(0, 2**32 - 1),
    st.floats(0.05, 0.95),
)
def test_motion_cells_cover_exactly_their_pixels(
    scale: int, width: int, height: int, seed: int, density: float
) -> None:
    gw, gh = -(-width // scale), -(-height // scale)
    cells = np.random.default_rng(seed).random((gh, gw)) < density
    if not cells.any():
        return
    shape = cells_polygon(cells, (scale, scale), (width, height))
    got = _cover(pm.MaskSet([pm.Mask(shape, pm.Solid())]), width, height)
    want = np.kron(cells, np.ones((scale, scale), dtype=bool))[:height, :width]
    np.testing.assert_array_equal(got, want)


def test_grids_are_bounded() -> None:
    with pytest.raises(pm.MaskConfigError, match="grid: at most"):
        pm.MaskSet.from_grid([(0, 0)], grid=(2**33, 1))
    with pytest.raises(pm.MaskConfigError, match="no cells"):
        cells_polygon(np.zeros((2, 2), dtype=bool), (1, 1), (2, 2))
