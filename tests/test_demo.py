"""`make demo` end to end on a short run: files written, masks visible, liftable ones liftable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import privmask as pm


def test_demo_writes_masked_pictures(tmp_path: Path) -> None:
    pytest.importorskip("av")
    image = pytest.importorskip("PIL.Image")
    from privmask import demo

    assert demo.main(["--out", str(tmp_path), "--frames", "2"]) == 0
    for name in ("before_after.png", "lifted.png", "styles.png", "masks.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    masks = pm.MaskSet.from_json((tmp_path / "masks.json").read_text())
    assert masks == demo.build_masks()
    assert any(m.liftable for m in masks) and any(not m.liftable for m in masks)
    both = np.asarray(image.open(tmp_path / "before_after.png").convert("L"), dtype=np.int16)
    half = both.shape[1] // 2
    assert np.abs(both[:, :half] - both[:, half : 2 * half]).mean() > 1.0
