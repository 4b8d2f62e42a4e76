"""Property tests: the output of privmask cannot be undone, and only the cover is touched.

Random polygons (convex, concave, self-intersecting, partly or wholly outside the frame), random
frame sizes including odd ones and 1x1, every pixel format, every style, planes with and without
row padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import privmask as pm
from tests import reference as ref

# ---------------------------------------------------------------------------------------------
# Strategies


NICE = [k / 8 for k in range(-4, 13)]
coords = st.one_of(
    st.floats(-0.5, 1.5, allow_nan=False, allow_infinity=False),
    st.sampled_from(NICE),
)


@st.composite
def polygons(draw: st.DrawFn) -> pm.Polygon:
    kind = draw(st.sampled_from(["free", "rect", "outside"]))
    if kind == "rect":
        x, y = draw(coords), draw(coords)
        w = draw(st.floats(0.01, 1.0))
        h = draw(st.floats(0.01, 1.0))
        return pm.Polygon.rect(x, y, w, h)
    pts = draw(st.lists(st.tuples(coords, coords), min_size=3, max_size=8))
    if kind == "outside":
        pts = [(x + 2.0, y) for x, y in pts]
    try:
        return pm.Polygon(pts)
    except pm.InvalidGeometryError:
        assume(False)
        raise


sizes = st.tuples(st.integers(1, 24), st.integers(1, 24))
formats = st.sampled_from(pm.FORMATS)
byte = st.integers(0, 255)
solids = st.one_of(
    st.tuples(byte, byte, byte).map(lambda c: pm.Solid(c)),
    st.tuples(byte, byte, byte).map(lambda c: pm.Solid(yuv=c)),
)
mosaics = st.integers(2, 7).map(lambda b: pm.Mosaic(block_px=b))
blurs = st.floats(1.0, 6.0).map(lambda s: pm.Blur(sigma_px=s))
fills = st.one_of(st.just(pm.Fill()), st.tuples(byte, byte, byte).map(lambda c: pm.Fill(c)))
anonymising = st.one_of(solids, fills)
styles = st.one_of(solids, mosaics, blurs, fills)
masks = st.builds(pm.Mask, polygons(), styles, st.booleans())
mask_sets = st.lists(masks, min_size=1, max_size=3).map(pm.MaskSet)


@dataclass
class Buffers:
    """A frame whose planes are views into padded buffers, so padding can be checked too."""

    frame: pm.Frame
    buffers: list[npt.NDArray[np.uint8]]


@st.composite
def frames(draw: st.DrawFn, fmt: str | None = None) -> Buffers:
    fmt = fmt or draw(formats)
    w, h = draw(sizes)
    seed = draw(st.integers(0, 2**32 - 1))
    pad = draw(st.sampled_from([0, 0, 3, 16]))
    rng = np.random.default_rng(seed)
    shapes = pm.engine.frame.plane_shapes(fmt, w, h)
    dtype = pm.engine.frame.sample_dtype(fmt)
    top, shift = ref.max_value(fmt), ref.SHIFT.get(fmt, 0)
    buffers = [(rng.integers(0, top + 1, (r, c + pad)) << shift).astype(dtype) for r, c in shapes]
    planes = [b[:, :c] for b, (_, c) in zip(buffers, shapes, strict=True)]
    return Buffers(pm.Frame(fmt, planes), buffers)


# ---------------------------------------------------------------------------------------------
# Helpers


def masked(frame: pm.Frame, ms: pm.MaskSet, *, lifted: bool = False) -> pm.Frame:
    # Random masks may lie wholly outside the picture: that is the subject of other tests.
    out = frame.copy()
    pm.apply(out, ms, lifted=lifted, allow_outside=True)
    return out


def covers(ms: pm.MaskSet, frame: pm.Frame, *, lifted: bool = False) -> dict[str, np.ndarray]:
    """Reference cover per component, from the exact reference rasteriser."""
    luma = np.zeros((frame.height, frame.width), dtype=bool)
    for m in ms:
        if not (lifted and m.liftable):
            luma |= ref.coverage(list(m.shape.points), frame.width, frame.height)
    chroma = ref.chroma_cover(luma, frame.format)
    return {"y": luma, "u": chroma, "v": chroma, "r": luma, "g": luma, "b": luma}


def channels(frame: pm.Frame) -> list[tuple[str, np.ndarray]]:
    """Each channel's sample values (a copy, as int64: ``p010le`` words shifted down)."""
    shift = ref.SHIFT.get(frame.format, 0)
    return [
        (comp, view.astype(np.int64) >> shift)
        for comp, view in ref.channel_views(frame.format, list(frame.planes))
    ]


def store(frame: pm.Frame, comp: str, values: np.ndarray) -> None:
    """Writes sample values into one channel of the frame (as words)."""
    shift = ref.SHIFT.get(frame.format, 0)
    view = dict(ref.channel_views(frame.format, list(frame.planes)))[comp]
    view[...] = (np.asarray(values, dtype=np.int64) << shift).astype(view.dtype)


def grid(fmt: str, px: int) -> dict[str, tuple[int, int]]:
    """(width, height) per component of a block grid whose luma edge resolves from ``px``."""
    sx, sy = ref.SUBSAMPLING[fmt]
    a = max(sx, sy)
    b = -(-px // a) * a
    full, sub = (b, b), (b // sx, b // sy)
    return {"y": full, "u": sub, "v": sub, "r": full, "g": full, "b": full}


def mosaic_grid(fmt: str, style: pm.Mosaic) -> dict[str, tuple[int, int]]:
    assert style.block_px is not None
    return grid(fmt, math.ceil(style.block_px))


def blur_grid(fmt: str, style: pm.Blur) -> tuple[dict[str, tuple[int, int]], float]:
    assert style.sigma_px is not None
    cells = grid(fmt, max(2, math.ceil(style.sigma_px)))
    return cells, style.sigma_px / cells["y"][0]


def perturb_keeping_block_sums(
    frame: pm.Frame, cover: dict[str, np.ndarray], blocks: dict[str, tuple[int, int]], seed: int
) -> None:
    """Moves value between two covered samples of each block, so every block sum stays put."""
    rng = np.random.default_rng(seed)
    top = ref.max_value(frame.format)
    for comp, view in channels(frame):
        bw, bh = blocks[comp]
        c = cover[comp]
        for by in range(0, view.shape[0], bh):
            for bx in range(0, view.shape[1], bw):
                ys, xs = np.nonzero(c[by : by + bh, bx : bx + bw])
                if len(ys) < 2:
                    continue
                i, j = rng.choice(len(ys), 2, replace=False)
                pi, pj = (by + ys[i], bx + xs[i]), (by + ys[j], bx + xs[j])
                vi, vj = int(view[pi]), int(view[pj])
                d = int(rng.integers(-min(vi, top - vj), min(top - vi, vj) + 1))
                view[pi], view[pj] = vi + d, vj - d
        store(frame, comp, view)


# ---------------------------------------------------------------------------------------------
# Coverage


@given(polygons(), sizes)
def test_coverage_equals_exact_reference(poly: pm.Polygon, size: tuple[int, int]) -> None:
    w, h = size
    got = pm.coverage(pm.MaskSet([pm.Mask(poly)]), w, h)
    want = ref.coverage(list(poly.points), w, h)
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------------
# Outside invariance and chroma


@given(mask_sets, frames(), st.booleans())
def test_outside_the_cover_nothing_changes(ms: pm.MaskSet, fb: Buffers, lifted: bool) -> None:
    before = [b.copy() for b in fb.buffers]
    original = fb.frame.copy()
    pm.apply(fb.frame, ms, lifted=lifted, allow_outside=True)
    cov = covers(ms, fb.frame, lifted=lifted)
    for (comp, new), (_, old) in zip(channels(fb.frame), channels(original), strict=True):
        np.testing.assert_array_equal(new[~cov[comp]], old[~cov[comp]], err_msg=comp)
    # Row padding beyond each plane's width is never touched either.
    for buf, old, plane in zip(fb.buffers, before, fb.frame.planes, strict=True):
        np.testing.assert_array_equal(buf[:, plane.shape[1] :], old[:, plane.shape[1] :])


@given(polygons(), solids, frames())
def test_solid_changes_exactly_the_cover_including_cosited_chroma(
    poly: pm.Polygon, style: pm.Solid, fb: Buffers
) -> None:
    ms = pm.MaskSet([pm.Mask(poly, style)])
    f = fb.frame
    compiled = ms.compile(f.width, f.height, f.format)
    names = "rgb" if f.format in ("rgb24", "bgr24") else "yuv"
    samples = style.samples(f.format, matrix=compiled.matrix, full_range=compiled.full_range)
    colour = dict(zip(names, samples, strict=True))
    # Inputs where no covered sample can keep its value by chance: every sample differs from
    # the colour the mask writes.
    top = ref.max_value(f.format)
    for comp, view in channels(f):
        store(f, comp, (colour[comp] + 1 + view % (top - 1)) % (top + 1))
    before = fb.frame.copy()
    pm.apply(fb.frame, compiled)
    cov = covers(ms, fb.frame)
    for (comp, new), (_, old) in zip(channels(fb.frame), channels(before), strict=True):
        np.testing.assert_array_equal(new != old, cov[comp], err_msg=comp)
        assert (new[cov[comp]] == colour[comp]).all()


@given(polygons(), frames(), byte, byte)
def test_fill_continues_the_surroundings_and_replaces_cosited_chroma(
    poly: pm.Polygon, fb: Buffers, outside: int, inside: int
) -> None:
    assume(outside != inside)
    ms = pm.MaskSet([pm.Mask(poly, pm.Fill())])
    cov = covers(ms, fb.frame)
    for comp, _ in channels(fb.frame):
        store(fb.frame, comp, np.where(cov[comp], inside, outside))
    before = fb.frame.copy()
    pm.apply(fb.frame, ms, allow_outside=True)
    for (comp, new), (_, old) in zip(channels(fb.frame), channels(before), strict=True):
        # A flat surround continues flat; a cover with nothing around it becomes mid-grey.
        expected = outside if (~cov[comp]).any() else (ref.max_value(fb.frame.format) + 1) // 2
        assert (new[cov[comp]] == expected).all(), comp
        if expected != inside:
            np.testing.assert_array_equal(new != old, cov[comp], err_msg=comp)


# ---------------------------------------------------------------------------------------------
# Irreversibility


@given(st.lists(st.builds(pm.Mask, polygons(), anonymising), min_size=1, max_size=3), frames())
def test_solid_and_fill_output_is_independent_of_the_content(
    ms_list: list[pm.Mask], fb: Buffers
) -> None:
    ms = pm.MaskSet(ms_list)
    other = fb.frame.copy()
    cov = covers(ms, fb.frame)
    rng = np.random.default_rng(len(ms_list))
    top = ref.max_value(other.format)
    for comp, view in channels(other):
        view[cov[comp]] = rng.integers(0, top + 1, int(cov[comp].sum()))
        store(other, comp, view)
    a, b = masked(fb.frame, ms), masked(other, ms)
    for pa, pb in zip(a.planes, b.planes, strict=True):
        np.testing.assert_array_equal(pa, pb)


@given(polygons(), st.one_of(mosaics, blurs), frames(), st.integers(0, 2**32 - 1))
def test_mosaic_and_blur_depend_only_on_block_sums(
    poly: pm.Polygon, style: pm.Mosaic | pm.Blur, fb: Buffers, seed: int
) -> None:
    ms = pm.MaskSet([pm.Mask(poly, style)])
    if isinstance(style, pm.Mosaic):
        blocks = mosaic_grid(fb.frame.format, style)
    else:
        blocks, _ = blur_grid(fb.frame.format, style)
    other = fb.frame.copy()
    perturb_keeping_block_sums(other, covers(ms, fb.frame), blocks, seed)
    a, b = masked(fb.frame, ms), masked(other, ms)
    for pa, pb in zip(a.planes, b.planes, strict=True):
        np.testing.assert_array_equal(pa, pb)


@given(polygons(), mosaics, frames())
def test_mosaic_equals_block_means_and_is_constant_per_block(
    poly: pm.Polygon, style: pm.Mosaic, fb: Buffers
) -> None:
    ms = pm.MaskSet([pm.Mask(poly, style)])
    out = masked(fb.frame, ms)
    cov = covers(ms, fb.frame)
    blocks = mosaic_grid(fb.frame.format, style)
    for (comp, new), (_, old) in zip(channels(out), channels(fb.frame), strict=True):
        bw, bh = blocks[comp]
        want = ref.mosaic(old, cov[comp], bw, bh)
        np.testing.assert_array_equal(new, want, err_msg=comp)
        for by in range(0, new.shape[0], bh):
            for bx in range(0, new.shape[1], bw):
                inside = new[by : by + bh, bx : bx + bw][cov[comp][by : by + bh, bx : bx + bw]]
                assert len(set(inside.tolist())) <= 1


@given(polygons(), blurs, frames())
def test_blur_matches_the_float64_reference_within_one_level(
    poly: pm.Polygon, style: pm.Blur, fb: Buffers
) -> None:
    ms = pm.MaskSet([pm.Mask(poly, style)])
    out = masked(fb.frame, ms)
    cov = covers(ms, fb.frame)
    cells, sigma_cells = blur_grid(fb.frame.format, style)
    for (comp, new), (_, old) in zip(channels(out), channels(fb.frame), strict=True):
        cw, chh = cells[comp]
        want = ref.blur(old, cov[comp], cw, chh, sigma_cells)
        diff = np.abs(new.astype(np.float64) - want)
        assert diff.max(initial=0) <= 0.5 + 1e-3, (comp, diff.max())


# ---------------------------------------------------------------------------------------------
# Idempotence, order, lifting


@given(polygons(), st.one_of(solids, mosaics, fills), frames())
def test_solid_mosaic_and_fill_are_idempotent(
    poly: pm.Polygon, style: pm.Solid | pm.Mosaic | pm.Fill, fb: Buffers
) -> None:
    ms = pm.MaskSet([pm.Mask(poly, style)])
    once = masked(fb.frame, ms)
    twice = masked(once, ms)
    for a, b in zip(once.planes, twice.planes, strict=True):
        np.testing.assert_array_equal(a, b)


@given(
    st.lists(st.builds(pm.Mask, polygons(), st.one_of(solids, mosaics, blurs)), min_size=1),
    st.none() | st.builds(pm.Mask, polygons(), fills),
    frames(),
)
def test_masks_apply_in_list_order(
    ms_list: list[pm.Mask], last_fill: pm.Mask | None, fb: Buffers
) -> None:
    # Each mask reads the result of the ones before it: applying the set equals applying its
    # masks one at a time. (A fill also never reads what a *later* mask hides, so one-at-a-time
    # only matches when the fill comes last; that rule is tested by the independence property.)
    ms_list = [*ms_list[:3], *([last_fill] if last_fill else [])]
    together = masked(fb.frame, pm.MaskSet(ms_list))
    one_by_one = fb.frame.copy()
    for m in ms_list:
        pm.apply(one_by_one, pm.MaskSet([m]), allow_outside=True)
    for a, b in zip(together.planes, one_by_one.planes, strict=True):
        np.testing.assert_array_equal(a, b)


@given(polygons(), polygons(), frames())
def test_fill_never_reads_what_a_later_mask_hides(
    fill_poly: pm.Polygon, later_poly: pm.Polygon, fb: Buffers
) -> None:
    ms = pm.MaskSet([pm.Mask(fill_poly, pm.Fill()), pm.Mask(later_poly, pm.Mosaic(block_px=2))])
    later = pm.MaskSet([ms[1]])
    other = fb.frame.copy()
    cov = covers(later, fb.frame)
    top = ref.max_value(other.format)
    for comp, view in channels(other):
        view[cov[comp]] = top - view[cov[comp]]
        store(other, comp, view)
    # Outside the later mask's cover, nothing of its original content may show up.
    a, b = masked(fb.frame, ms), masked(other, ms)
    for (comp, va), (_, vb) in zip(channels(a), channels(b), strict=True):
        np.testing.assert_array_equal(va[~cov[comp]], vb[~cov[comp]], err_msg=comp)


@given(mask_sets, frames())
def test_lifted_skips_liftable_masks_only(ms: pm.MaskSet, fb: Buffers) -> None:
    lifted = masked(fb.frame, ms, lifted=True)
    permanent_only = masked(fb.frame, pm.MaskSet([m for m in ms if not m.liftable]))
    for a, b in zip(lifted.planes, permanent_only.planes, strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# Errors never half-apply


def _bad_targets(fb: Buffers) -> list[tuple[str, object]]:
    f = fb.frame
    planes = list(f.planes)
    ro = [p.copy() for p in planes]
    ro[-1].flags.writeable = False
    other = np.uint8 if planes[-1].dtype == np.uint16 else np.uint16
    wrong_dtype = [*planes[:-1], planes[-1].astype(other)]
    strided = [*planes[:-1], np.repeat(planes[-1], 2, axis=1)[:, ::2]]
    short = [*planes[:-1], planes[-1][:-1] if planes[-1].shape[0] > 1 else planes[-1][:, :0]]
    cases: list[tuple[str, object]] = [
        ("read-only plane", ro),
        ("wrong dtype", wrong_dtype),
        ("wrong shape", short),
        ("missing plane", planes[:-1]),
        ("not arrays", [p.tolist() for p in planes]),
    ]
    if planes[-1].shape[1] > 1:  # a sample stride only matters with two samples in a row
        cases.append(("sample stride 2", strided))
    return cases


@given(mask_sets, frames())
def test_bad_planes_raise_and_leave_every_plane_unchanged(ms: pm.MaskSet, fb: Buffers) -> None:
    compiled = ms.compile(fb.frame.width, fb.frame.height, fb.frame.format)
    for what, planes in _bad_targets(fb):
        assert isinstance(planes, list)
        before = [np.array(p, copy=True) for p in planes]
        with pytest.raises(pm.FrameFormatError):
            compiled.apply_planes(planes)
        for p, b in zip(planes, before, strict=True):
            np.testing.assert_array_equal(np.asarray(p), b, err_msg=what)


@given(mask_sets, frames())
def test_geometry_mismatch_raises_and_leaves_the_frame_unchanged(
    ms: pm.MaskSet, fb: Buffers
) -> None:
    f = fb.frame
    compiled = ms.compile(f.width + 2, f.height, f.format)
    before = f.copy()
    with pytest.raises(pm.FrameFormatError, match="compiled for"):
        pm.apply(f, compiled)
    for a, b in zip(f.planes, before.planes, strict=True):
        np.testing.assert_array_equal(a, b)
