"""Rasterise + composite: privmask side by side with OpenCV and numpy (pytest-benchmark).

Each case (style, resolution, coverage) is one benchmark group, so ``make bench`` prints the
peers next to each other; absolute times are noisy on shared machines, the ratios are the point.
With ``--benchmark-disable`` (the default in pyproject) every benchmark runs once, so this file
doubles as a smoke test of the peers; the ``test_*_matches_*`` checks keep the peers honest.

Run: ``pytest benches --benchmark-enable`` (or ``make bench``); ``python benches/report.py`` for a
Markdown table of the same cases without pytest.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any

import numpy as np
import pytest

import privmask as pm
from benches.peers import (
    CASES,
    FORMAT,
    Case,
    NumpyPeer,
    OpenCVPeer,
    Peer,
    PrivmaskPeer,
    chroma_cover,
    make_frame,
)

CASE_PARAMS = [pytest.param(case, id=case.id) for case in CASES]
CASES_1080P = [pytest.param(case, id=case.id) for case in CASES if case.resolution == "1080p"]


@lru_cache(maxsize=2)
def _base_frame(width: int, height: int) -> pm.Frame:
    """One noise frame per resolution; generating 4K noise per test would dominate the smoke run."""
    return make_frame(width, height)


def _fresh_frame(case: Case) -> pm.Frame:
    """A private copy, since every peer masks in place."""
    return _base_frame(*case.size).copy()


def _bench(benchmark: Any, case: Case, peer: Peer) -> None:
    """Times ``peer`` on one frame, grouped by case so the peers line up in the report."""
    benchmark.group = case.id
    benchmark.extra_info.update(peer=peer.name, style=case.style, coverage_pct=case.coverage)
    benchmark(peer, _fresh_frame(case))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_privmask_apply(benchmark: Any, case: Case) -> None:
    """The steady state: masks compiled once for the geometry, ``pm.apply`` per frame."""
    _bench(benchmark, case, PrivmaskPeer(case))


@pytest.mark.parametrize("case", CASE_PARAMS)
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


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_opencv(benchmark: Any, case: Case) -> None:
    """OpenCV as a competent user would apply the same zones (see ``peers.OpenCVPeer``)."""
    pytest.importorskip("cv2")
    _bench(benchmark, case, OpenCVPeer(case))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_numpy(benchmark: Any, case: Case) -> None:
    """The straightforward numpy reference of the same semantics."""
    _bench(benchmark, case, NumpyPeer(case))


@pytest.mark.parametrize("case", CASES_1080P)
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
    assert expected.format == actual.format == FORMAT
    for want, got in zip(expected.planes, actual.planes, strict=True):
        assert float(np.mean(want != got)) < 0.005
