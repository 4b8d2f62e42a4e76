"""Rasterise + composite: privmask side by side with OpenCV and numpy (pytest-benchmark).

The cases and the peers are ``privmask.tools.bench``'s, the same ones ``privmask bench`` times, so
the
two always measure the same work. Each case (style, format, resolution, coverage) is one
benchmark group, so ``make bench`` prints privmask at every SIMD level this CPU supports next to
its peers; absolute times are noisy on shared machines, the ratios are the point. With
``--benchmark-disable`` (the default in pyproject) every benchmark runs once, so this file
doubles as a smoke test of every SIMD path and peer; the ``test_*_matches_*`` / ``*_close`` /
``*_inside`` checks keep the peers honest.

Run: ``pytest benches --benchmark-enable`` (or ``make bench``);
``python -m privmask.tools.bench`` for
one table of the same cases with ratios, the bandwidth floor, threads and overhead.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np
import pytest

import privmask as pm
from privmask import _native
from privmask.tools.bench import (
    BENCH_FORMATS,
    PEER_FORMAT,
    Case,
    InpaintPeer,
    NumpyPeer,
    OpenCVPeer,
    Peer,
    PrivmaskPeer,
    cases,
    chroma_cover,
    make_frame,
    peers_for,
)


def _params(selected: list[Case]) -> list[Any]:
    return [pytest.param(case, id=case.id) for case in selected]


ALL_CASES = _params(cases(formats=BENCH_FORMATS))
"""privmask alone: every style x format x resolution x coverage."""
YUV420P_CASES = _params(cases())
PEER_CASES = [p for p in _params(cases()) if "numpy" in peers_for(p.values[0], opencv=False)]
"""The cases the numpy and OpenCV peers implement (yuv420p, every style but fill)."""
PEER_CASES_1080P = [p for p in PEER_CASES if p.values[0].resolution == "1080p"]
INPAINT_CASES = _params([c for c in cases(styles=["fill"]) if c.coverage == 5])
"""cv2.inpaint takes about a second per 4K frame at 25 % cover: the smallest cover only."""
SIMD_LEVELS = _native.simd_levels()


@lru_cache(maxsize=2 * len(BENCH_FORMATS))
def _base_frame(width: int, height: int, fmt: str) -> pm.Frame:
    """One noise frame per geometry; generating 4K noise per test would dominate the smoke run."""
    return make_frame(width, height, fmt)


def _fresh_frame(case: Case) -> pm.Frame:
    """A private copy, since every peer masks in place."""
    return _base_frame(*case.size, case.format).copy()


@pytest.fixture(params=SIMD_LEVELS)
def simd_level(request: pytest.FixtureRequest) -> Iterator[str]:
    """Forces each SIMD level the CPU supports, so every kernel path is timed (and smoke-run);
    the level in force before is restored, whatever the test does."""
    before = _native.simd_level()
    _native.set_simd_level(request.param)
    try:
        yield str(request.param)
    finally:
        _native.set_simd_level(before)


def _bench(benchmark: Any, case: Case, peer: Peer, label: str | None = None) -> None:
    """Times ``peer`` on one frame, grouped by case so the peers line up in the report."""
    benchmark.group = case.id
    benchmark.extra_info.update(
        peer=label or peer.name, style=case.style, format=case.format, coverage_pct=case.coverage
    )
    benchmark(peer, _fresh_frame(case))


@pytest.mark.parametrize("case", ALL_CASES)
def test_privmask_apply(benchmark: Any, case: Case, simd_level: str) -> None:
    """The steady state: masks compiled once for the geometry, ``pm.apply`` per frame, at a
    forced SIMD level."""
    _bench(benchmark, case, PrivmaskPeer(case), f"privmask[{simd_level}]")


@pytest.mark.parametrize("case", YUV420P_CASES)
def test_privmask_compile_apply(benchmark: Any, case: Case) -> None:
    """Rasterising included: each round gets an equal but distinct mask set (a different mask
    name), so ``compile``'s cache misses and the polygons are rasterised again."""
    benchmark.group = case.id
    benchmark.extra_info.update(peer="privmask+compile", style=case.style)
    frame = _fresh_frame(case)
    counter = itertools.count()

    def fresh_masks() -> tuple[tuple[pm.Frame, pm.MaskSet], dict[str, Any]]:
        n = next(counter)
        masks = pm.MaskSet(pm.Mask(m.shape, m.style, name=f"round-{n}") for m in case.masks)
        return (frame, masks), {}

    benchmark.pedantic(pm.apply, setup=fresh_masks, rounds=10, warmup_rounds=1)


@pytest.mark.parametrize("case", PEER_CASES)
def test_opencv(benchmark: Any, case: Case) -> None:
    """OpenCV as a competent user would apply the same zones (see ``bench.OpenCVPeer``)."""
    pytest.importorskip("cv2")
    _bench(benchmark, case, OpenCVPeer(case))


@pytest.mark.parametrize("case", INPAINT_CASES)
def test_opencv_inpaint(benchmark: Any, case: Case) -> None:
    """OpenCV's nearest analogue of fill, ``cv2.inpaint`` (Telea), on the same zones."""
    pytest.importorskip("cv2")
    _bench(benchmark, case, InpaintPeer(case))


@pytest.mark.parametrize("case", PEER_CASES)
def test_numpy(benchmark: Any, case: Case) -> None:
    """The straightforward numpy reference of the same semantics."""
    _bench(benchmark, case, NumpyPeer(case))


@pytest.mark.parametrize("case", PEER_CASES_1080P)
def test_numpy_matches_privmask(case: Case) -> None:
    """The numpy peer must do the same work as privmask, or the comparison means nothing:
    identical for solid and mosaic, within one level (float rounding) for blur, and nothing
    outside the cover touched."""
    expected, actual = _fresh_frame(case), _fresh_frame(case)
    original = _fresh_frame(case)
    PrivmaskPeer(case)(expected)
    NumpyPeer(case)(actual)
    tolerance = 1 if case.style.startswith("blur") else 0
    for want, got in zip(expected.planes, actual.planes, strict=True):
        diff = np.abs(want.astype(np.int16) - got.astype(np.int16))
        assert int(diff.max()) <= tolerance
    luma = pm.coverage(case.masks, *case.size)
    for cover, got, before in zip(
        (luma, chroma_cover(luma), chroma_cover(luma)), actual.planes, original.planes, strict=True
    ):
        np.testing.assert_array_equal(got[~cover], before[~cover])


@pytest.mark.parametrize("coverage", [5, 25])
def test_opencv_solid_cover_close(coverage: int) -> None:
    """OpenCV's fillPoly covers pixel centres, privmask covers any touched pixel: the two covers
    may differ along the edges only (well under 1 % of the frame here)."""
    pytest.importorskip("cv2")
    case = Case("solid", "1080p", coverage)
    expected, actual = _fresh_frame(case), _fresh_frame(case)
    PrivmaskPeer(case)(expected)
    OpenCVPeer(case)(actual)
    assert expected.format == actual.format == PEER_FORMAT
    for want, got in zip(expected.planes, actual.planes, strict=True):
        assert float(np.mean(want != got)) < 0.005


def test_opencv_inpaint_stays_inside() -> None:
    """The inpaint peer must change the zones and (almost) nothing else, or it would be timed
    on a different amount of work: fillPoly's pixel-centre cover lies inside privmask's
    conservative one, up to rounding on the edges."""
    pytest.importorskip("cv2")
    case = Case("fill", "1080p", 5)
    original, actual = _fresh_frame(case), _fresh_frame(case)
    InpaintPeer(case)(actual)
    luma = pm.coverage(case.masks, *case.size)
    for cover, got, before in zip(
        (luma, chroma_cover(luma), chroma_cover(luma)), actual.planes, original.planes, strict=True
    ):
        changed = got != before
        assert float(np.mean(changed[~cover])) < 0.0005
        assert float(np.mean(changed[cover])) > 0.5
