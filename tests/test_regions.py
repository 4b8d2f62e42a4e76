"""Regions: per-frame masking in apply(), inverse masking, validation."""

from __future__ import annotations

import numpy as np
import pytest

import privmask as pm
from privmask.engine.regions import Region, region_coverage

BLACK = pm.Solid(yuv=(1, 128, 128))


def frame(fmt: str = "yuv420p", w: int = 64, h: int = 48) -> pm.Frame:
    f = pm.Frame.blank(fmt, w, h, value=100)
    return f


def test_region_box_masks_exactly_its_cover() -> None:
    f = frame()
    r = Region((0.25, 0.25, 0.5, 0.5), track_id=3, label="face", score=0.9)
    pm.apply(f, pm.MaskSet(), regions=[r], region_style=BLACK)
    masked = f.planes[0] == 1
    assert masked[12:24, 16:32].all()
    assert masked.sum() == 12 * 16
    assert (f.planes[1][6:12, 8:16] == 128).all()


def test_regions_and_static_masks_in_one_call() -> None:
    f = frame()
    static = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.25, 0.25), pm.Solid(yuv=(2, 128, 128)))])
    tri = pm.Polygon([(0.6, 0.6), (0.9, 0.6), (0.9, 0.9)])
    pm.apply(f, static, regions=[Region(tri)], region_style=BLACK)
    assert (f.planes[0][:12, :16] == 2).all()
    cover = region_coverage([Region(tri)], 64, 48)
    assert ((f.planes[0] == 1) == cover).all()
    assert cover.sum() > 0


def test_no_regions_changes_nothing_beyond_static_masks() -> None:
    f = frame()
    pm.apply(f, pm.MaskSet(), regions=[], region_style=BLACK)
    assert (f.planes[0] == 100).all()


@pytest.mark.parametrize("fmt", ["yuv420p", "nv12", "yuv422p", "yuv444p", "gray", "rgb24"])
def test_inverse_masking_leaves_only_the_region(fmt: str) -> None:
    f = frame(fmt, 63, 47)
    before = [p.copy() for p in f.planes]
    r = Region((0.25, 0.25, 0.5, 0.5))
    style = pm.Solid(yuv=(1, 1, 1)) if fmt != "rgb24" else pm.Solid((1, 1, 1))
    pm.apply(f, pm.MaskSet(), regions=[r], region_style=style, invert=True)
    keep = region_coverage([r], 63, 47)
    if fmt == "rgb24":
        keep3 = np.repeat(keep, 3, axis=1)
        assert (f.planes[0][keep3] == before[0][keep3]).all()
        assert (f.planes[0][~keep3] != before[0][~keep3]).all()
        return
    y = f.planes[0]
    assert (y[keep] == 100).all()
    assert (y[~keep] == 1).all()
    for p, b in zip(f.planes[1:], before[1:], strict=True):
        # Only chroma wholly inside the region survives; the rest is masked.
        assert (p != b).sum() > 0
        assert (p == b).sum() <= keep.sum()


def test_inverse_with_no_regions_masks_everything_and_static_masks_still_apply_inside() -> None:
    f = frame()
    pm.apply(f, pm.MaskSet(), regions=[], region_style=BLACK, invert=True)
    assert (f.planes[0] == 1).all()
    f = frame()
    static = pm.MaskSet([pm.Mask(pm.Polygon.rect(0.25, 0.25, 0.1, 0.1), pm.Solid(yuv=(2, 1, 1)))])
    pm.apply(f, static, regions=[Region((0.2, 0.2, 0.6, 0.6))], region_style=BLACK, invert=True)
    assert (f.planes[0] == 2).any()
    assert (f.planes[0] == 100).any()


def test_mosaic_region_style() -> None:
    f = frame()
    f.planes[0][:] = np.arange(64, dtype=np.uint8)[None, :]
    before = f.planes[0].copy()
    pm.apply(
        f, pm.MaskSet(), regions=[Region((0, 0, 0.5, 0.5))], region_style=pm.Mosaic(block_px=8)
    )
    assert (f.planes[0][:24, :32] != before[:24, :32]).any()
    assert (f.planes[0][24:] == before[24:]).all()


def test_bad_regions_are_refused_before_anything_is_written() -> None:
    with pytest.raises(pm.InvalidGeometryError):
        Region((0.5, 0.5, 0.4, 0.6))
    with pytest.raises(pm.InvalidGeometryError):
        Region((0, 0, 1))  # type: ignore[arg-type]
    with pytest.raises(pm.MaskConfigError):
        Region((0, 0, 1, 1), track_id="7")  # type: ignore[arg-type]
    f = frame()
    static = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 1, 1), BLACK)])
    with pytest.raises(pm.MaskConfigError):
        pm.apply(f, static, regions=[(0, 0, 1, 1)])  # type: ignore[list-item]
    with pytest.raises(pm.MaskConfigError):
        pm.apply(f, static, regions=[], region_style="solid")  # type: ignore[arg-type]
    assert (f.planes[0] == 100).all()


def test_whole_frame_region() -> None:
    r = Region.whole_frame()
    assert r.is_whole_frame
    assert not Region((0, 0, 1, 0.9)).is_whole_frame
    assert Region(pm.Polygon.rect(0.1, 0.2, 0.3, 0.4)).bounds == pytest.approx((0.1, 0.2, 0.4, 0.6))
