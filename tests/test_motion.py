"""The Rust motion detector through its Python wrapper."""

from __future__ import annotations

import numpy as np
import pytest

import privmask as pm
from privmask import _native
from privmask.dynamic.detect import Detector, MotionDetector, luma
from privmask.dynamic.track import iou
from tests.people import make_clip


def test_learning_frames_are_whole_frame_regions_then_the_mover_is_found() -> None:
    clip = make_clip(20)
    det = MotionDetector(warmup_frames=5)
    assert isinstance(det, Detector)
    out = [det.detect(f) for f in clip.frames]
    for regions in out[:5]:
        assert len(regions) == 1 and regions[0].is_whole_frame
    assert out[5:8] == [[], [], []]  # nothing moves before the face walks in
    for t in range(9, 20):
        assert out[t], t
        sx0, sy0, sx1, sy1 = clip.sprite[t]  # type: ignore[misc]
        x0, y0, x1, y1 = out[t][0].bounds
        # Motion sees only what differs from the background (a sprite's edge may not), so the
        # box is close to the sprite, not necessarily round it: the tracker's margin adds that.
        sprite = (sx0 / 320, sy0 / 240, sx1 / 320, sy1 / 240)
        assert iou(sprite, (x0, y0, x1, y1)) > 0.6, (t, sprite, out[t][0].bounds)
        assert out[t][0].label == "motion"


def test_exclusion_map_hides_motion_under_permanent_masks() -> None:
    clip = make_clip(20)
    left = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 1))])
    det = MotionDetector(exclusion=left)
    out = [det.detect(f) for f in clip.frames]
    # The face is in the left half until about frame 17; nothing is reported there.
    for t in range(9, 15):
        assert all(r.bounds[0] >= 0.4 for r in out[t]), (t, out[t])


def test_padded_planes_and_a_new_size_start_a_new_model() -> None:
    det = _native.MotionDetector(30, 20, scale=2, warmup_frames=1)
    buf = np.full((20, 40), 50, np.uint8)
    assert det.process(buf[:, :30]) == (True, [])
    buf[5:15, 10:20] = 250
    buf[:, 30:] = 0  # padding, never read
    learning, boxes = det.process(buf[:, :30])
    assert not learning and len(boxes) == 1
    wrapper = MotionDetector(warmup_frames=1)
    wrapper.detect(pm.Frame.blank("gray", 32, 16))
    assert wrapper.detect(pm.Frame.blank("gray", 16, 32))[0].is_whole_frame


def test_luma_of_other_formats() -> None:
    f = pm.Frame.blank("yuv420p10le", 8, 4, value=400)
    assert (luma(f) == 100).all()
    rgb = pm.Frame("rgb24", [np.full((4, 24), 200, np.uint8)])
    assert (luma(rgb) == 199).all() or (luma(rgb) == 200).all()


def test_errors() -> None:
    with pytest.raises(pm.MaskConfigError):
        MotionDetector(scale=0)
    with pytest.raises(pm.MaskConfigError):
        MotionDetector(merge_frames=0.5)
    det = _native.MotionDetector(8, 8)
    with pytest.raises(pm.FrameFormatError):
        det.process(np.zeros((8, 9), np.uint8))
    with pytest.raises(pm.FrameFormatError):
        det.process(np.zeros((8, 16), np.uint8)[:, ::2])
    with pytest.raises(TypeError):
        det.process(np.zeros((8, 8), np.float32))
    with pytest.raises(pm.FrameFormatError):
        det.set_exclusion(np.zeros((4, 4), np.uint8))
    det.reset()
    assert det.frames == 0 and "8x8" in repr(det)
