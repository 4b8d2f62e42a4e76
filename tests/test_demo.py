"""`make demo` end to end on a short run: files written, masks visible, liftable ones liftable,
and the real job: the sample recording masked with a timeline that changes halfway."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import privmask as pm


def test_demo_writes_masked_pictures_and_video(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    image = pytest.importorskip("PIL.Image")
    from privmask.tools import demo

    assert demo.main(["--out", str(tmp_path), "--frames", "4"]) == 0
    for name in ("before_after.png", "lifted.png", "styles.png", "masks.json", "switch.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    masks = pm.MaskSet.from_json((tmp_path / "masks.json").read_text())
    assert masks == demo.build_masks()
    assert any(m.liftable for m in masks) and any(not m.liftable for m in masks)
    both = np.asarray(image.open(tmp_path / "before_after.png").convert("L"), dtype=np.int16)
    half = both.shape[1] // 2
    assert np.abs(both[:, :half] - both[:, half : 2 * half]).mean() > 1.0

    # The timeline on disk is the demo's, and it changes at frame 2 of 4.
    timeline = pm.MaskTimeline.from_json((tmp_path / "timeline.json").read_text())
    assert timeline == demo.build_timeline(4)
    assert [v.masks for v in timeline] == [demo.build_masks(), demo.build_masks_after()]
    with av.open(str(tmp_path / "sample.mp4")) as c:
        assert c.metadata["title"] == "street camera 7"
        originals = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    with av.open(str(tmp_path / "masked.mp4")) as c:
        assert "title" not in c.metadata and "creation_time" not in c.metadata
        masked = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    assert len(originals) == len(masked) == 4
    # The house front: brick before the switch (only the window is masked), one flat colour
    # after it (the whole front is).
    hx, hy, _, hh = demo.HOUSE
    x0, y0 = round((hx + 0.01) * demo.WIDTH), round((hy + 0.01) * demo.HEIGHT)
    x1, y1 = round((hx + 0.05) * demo.WIDTH), round((hy + hh - 0.01) * demo.HEIGHT)
    brick = [float(f[y0:y1, x0:x1].std()) for f in masked]
    assert brick[0] > 15 and brick[1] > 15, brick  # version 0: the brick wall shows
    assert brick[2] < 3 and brick[3] < 3, brick  # version 1: masked whole
    assert float(originals[3][y0:y1, x0:x1].std()) > 15  # the recording itself is unchanged
    strip = image.open(tmp_path / "switch.png")
    assert strip.width > 4 * demo.WIDTH // 4 and strip.height > 2 * demo.HEIGHT // 4


def test_demo_frames_are_the_exported_videos_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """frames/*.png are masked.mp4's own frames, before and after the timeline's switch, and
    the run says what every output shows."""
    av = pytest.importorskip("av")
    image = pytest.importorskip("PIL.Image")
    from privmask.tools import demo

    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "frame_096.png").write_bytes(b"from an earlier, longer run")
    assert demo.main(["--out", str(tmp_path), "--frames", "20"]) == 0
    with av.open(str(tmp_path / "masked.mp4")) as c:
        exported = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    pngs = sorted((tmp_path / "frames").glob("frame_*.png"))
    assert [p.name for p in pngs] == ["frame_000.png", "frame_008.png", "frame_016.png"]
    for p in pngs:
        i = int(p.stem.split("_")[1])
        assert np.array_equal(np.asarray(image.open(p).convert("RGB")), exported[i]), p.name
    # Frame 16 is after the switch (frame 10): the house front is one flat colour there.
    hx, hy, _, hh = demo.HOUSE
    x0, y0 = round((hx + 0.01) * demo.WIDTH), round((hy + 0.01) * demo.HEIGHT)
    x1, y1 = round((hx + 0.05) * demo.WIDTH), round((hy + hh - 0.01) * demo.HEIGHT)
    last = np.asarray(image.open(pngs[-1]).convert("L"), dtype=np.float64)
    first = np.asarray(image.open(pngs[0]).convert("L"), dtype=np.float64)
    assert last[y0:y1, x0:x1].std() < 3 < 15 < first[y0:y1, x0:x1].std()
    printed = capsys.readouterr().out
    for name in (
        "sample.mp4",
        "masked.mp4",
        "frames",
        "before_after.png",
        "lifted.png",
        "styles.png",
        "switch.png",
        "masks.json",
        "timeline.json",
    ):
        line = next(
            (ln for ln in printed.splitlines() if ln.strip().startswith(str(tmp_path / name))), None
        )
        assert line is not None and len(line.split(None, 1)[1]) > 20, (name, printed)
    assert "every 8th frame decoded from masked.mp4 (version 0: 0, 8; version 1: 16)" in printed
