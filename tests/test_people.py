"""People, faces at every size, tight motion shapes and the refusal of weak detectors, on real
footage (OpenCV's vtest.avi from Debian's opencv-doc, with hand-made ground truth) and on real
face photographs (scikit-image's astronaut) pasted small into a 1080p frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

import privmask as pm
from benches.redact_quality import evaluate, load_truth, score_frame
from privmask.dynamic.detect import (
    INSTALL_DETECT,
    CascadeFaceDetector,
    MotionDetector,
    detector_names,
    face_detector,
    person_detector,
    strong_detectors_available,
)
from privmask.dynamic.motion import ShapedMotionDetector, component_outline
from privmask.dynamic.track import Tracker
from privmask.engine.regions import region_coverage

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

import itertools

from privmask.dynamic.faces import CenterFaceDetector
from privmask.dynamic.people import PersonDetector, tiles

CLIP = Path(load_truth()["clip"])
needs_clip = pytest.mark.skipif(
    not CLIP.is_file(),
    reason=f"{CLIP} is missing: apt-get install --no-install-recommends opencv-doc",
)


def _truth_frames() -> dict[int, pm.Frame]:
    import av

    want = {int(k) for k in load_truth()["frames"]}
    out = {}
    with av.open(str(CLIP)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in want:
                out[i] = pm.Frame.from_av(f.reformat(format="yuv420p"))
            if i >= max(want):
                break
    return out


# --- people on real footage ----------------------------------------------------------------


@needs_clip
def test_person_detector_finds_the_people_on_every_ground_truth_frame() -> None:
    """Single-frame detections (no tracker): a person counts as found when detections cover at
    least half of their hand-drawn box (YOLO's boxes are looser than hand-drawn ones; the
    tracker's margin covers the rest). Measured with the defaults: 62 of 65 people."""
    truth = {int(k): v for k, v in load_truth()["frames"].items()}
    det = PersonDetector()
    found = total = 0
    for i, frame in _truth_frames().items():
        cover = region_coverage(det.detect(frame), frame.width, frame.height)
        for x0, y0, x1, y1 in truth[i]:
            total += 1
            found += cover[y0:y1, x0:x1].mean() >= 0.5
    assert total == 65
    assert found >= 60, found


@needs_clip
def test_people_and_motion_mask_most_people_with_little_else() -> None:
    """The tracked people + motion-shape combination on the whole clip (the bench's settings).
    Measured: people alone 53/65 masked with 3.2 % over-masked, shapes alone 34/65 with 5.1 %,
    together 60/65 with 7.9 % (bounds: at least people's recall, at most the sum). The
    issue's targets (every person, at most 3 %) are not reached yet: see the bench table."""
    q = evaluate(
        "people + motion",
        [PersonDetector(scale=0.75), ShapedMotionDetector()],
        hold=5,
        margin=0.15,
    )
    assert q.recall >= 0.8, q.missed
    assert q.over <= 0.085, q.over


@needs_clip
def test_motion_shapes_mask_far_less_than_motion_boxes() -> None:
    """The same background model, reported as outlines instead of boxes, masks at most half as
    much away from people."""
    boxes = evaluate("boxes", [MotionDetector()], hold=5, margin=0.15)
    shapes = evaluate("shapes", [ShapedMotionDetector()], hold=5, margin=0.05)
    # Measured: boxes 14.8 %, shapes 3.6 % (box recall 94 % vs 51 %: an outline leaves part of
    # a hand-drawn box unmasked, which is why shapes go with the person detector).
    assert shapes.over <= 0.05, shapes.over
    assert shapes.over <= boxes.over / 2, (shapes.over, boxes.over)
    assert shapes.recall >= 0.45, shapes.missed


def test_score_frame_counts_covered_people_and_over_masking() -> None:
    cover = np.zeros((100, 100), dtype=bool)
    cover[10:50, 10:30] = True  # person 1 whole
    cover[60:90, 60:70] = True  # half of person 2
    cover[0:5, 90:100] = True  # 50 pixels far from anyone
    masked, over, missed = score_frame(cover, [[10, 10, 30, 50], [60, 60, 80, 90]])
    assert masked == 1 and missed == [[60, 60, 80, 90]]
    assert over == pytest.approx(50 / 10_000)


# --- standing people and motion outlines ---------------------------------------------------


def _walk_then_stand(n: int) -> tuple[list[pm.Frame], list[tuple[int, int, int, int]]]:
    """A 320x240 gray scene where a textured figure (a real photo crop) walks in over 10
    frames and then stands still; the figure's box per frame."""
    from skimage import data

    photo = data.astronaut()[60:180, 180:260].mean(axis=2).astype(np.uint8)  # 120 x 80
    figure = photo[::2, ::2]  # 60 x 40
    rng = np.random.default_rng(5)
    frames, boxes = [], []
    for t in range(n):
        y = np.clip(rng.normal(110, 3, (240, 320)), 0, 255).astype(np.uint8)
        x0 = 20 + 12 * min(t, 10)
        y[100:160, x0 : x0 + 40] = figure
        frames.append(pm.Frame("gray", [y]))
        boxes.append((x0, 100, x0 + 40, 160))
    return frames, boxes


def test_a_person_who_stops_stays_masked_by_motion_shapes() -> None:
    frames, boxes = _walk_then_stand(160)
    shaped = ShapedMotionDetector(warmup_frames=0)
    plain = MotionDetector(warmup_frames=1)
    lost_shaped = lost_plain = 0
    for t, (f, (x0, y0, x1, y1)) in enumerate(zip(frames, boxes, strict=True)):
        cs = region_coverage(shaped.detect(f), f.width, f.height)
        cp = region_coverage(plain.detect(f), f.width, f.height)
        if t >= 12:  # standing
            lost_shaped += cs[y0:y1, x0:x1].mean() < 0.95
            lost_plain += cp[y0:y1, x0:x1].mean() < 0.95
    assert lost_shaped == 0
    assert lost_plain > 50  # the control: the plain running average learns the figure away


def test_component_outline_is_the_row_spans() -> None:
    rect = component_outline(np.arange(3, 6), np.full(3, 2), np.full(3, 4))
    assert rect == [(5, 3), (5, 6), (2, 6), (2, 3)]
    # An L: rows 0-1 span cells 0..0, row 2 spans 0..2.
    ell = component_outline(np.arange(3), np.array([0, 0, 0]), np.array([0, 0, 2]))
    assert ell == [(1, 0), (1, 2), (3, 2), (3, 3), (0, 3), (0, 0)]


def test_motion_shapes_cover_a_moving_block_exactly_round_its_cells() -> None:
    y = np.full((64, 96), 80, np.uint8)
    det = ShapedMotionDetector(scale=4, warmup_frames=1, dilate_radius=1, open_radius=0)
    assert det.detect(pm.Frame("gray", [y]))[0].is_whole_frame
    y2 = y.copy()
    y2[16:40, 32:48] = 200
    regions = det.detect(pm.Frame("gray", [y2]))
    assert len(regions) == 1 and regions[0].label == "motion"
    cover = region_coverage(regions, 96, 64)
    assert cover[16:40, 32:48].all()
    assert cover.sum() == (24 + 8) * (16 + 8)  # one dilation cell (4 px) on every side


# --- faces at every size -------------------------------------------------------------------


def _small_faces_clip(n: int) -> tuple[list[pm.Frame], list[list[tuple[int, int, int, int]]]]:
    """1080p frames with the astronaut's face pasted at 24, 32, 48 and 64 pixels high, each
    moving 6 pixels a frame; per frame, the faces' boxes."""
    from PIL import Image
    from skimage import data

    face = Image.fromarray(data.astronaut()[60:175, 185:268].mean(axis=2).astype(np.uint8))
    rng = np.random.default_rng(7)
    frames, boxes = [], []
    for t in range(n):
        y: npt.NDArray[np.uint8] = np.clip(rng.normal(120, 6, (1080, 1920)), 0, 255).astype(
            np.uint8
        )
        here = []
        for k, h in enumerate((24, 32, 48, 64)):
            w = round(h * 83 / 115)
            small = np.asarray(face.resize((w, h), Image.Resampling.BILINEAR))
            x0, y0 = 200 + 400 * k + 6 * t, 300 + 150 * k
            y[y0 : y0 + h, x0 : x0 + w] = small
            here.append((x0, y0, x0 + w, y0 + h))
        uv = np.full((540, 960), 128, np.uint8)
        frames.append(pm.Frame("yuv420p", [y, uv, uv.copy()]))
        boxes.append(here)
    return frames, boxes


def _face_misses(detector: pm.Detector, frames: list[pm.Frame], boxes: list) -> int:
    t = Tracker([detector], hold=2, margin=0.15)
    misses = 0
    for f, here in zip(frames, boxes, strict=True):
        s = t.step(f)
        cover = region_coverage(list(s.regions), f.width, f.height)
        misses += sum(not cover[y0:y1, x0:x1].all() for x0, y0, x1, y1 in here)
    return misses


def test_faces_from_24_pixels_in_1080p_are_masked_in_every_frame() -> None:
    """Measured: at scale 1.5 every face of every frame is masked; at full resolution (scale 1)
    the 24-pixel face is missed on grey input, the larger ones are found."""
    frames, boxes = _small_faces_clip(8)
    assert _face_misses(CenterFaceDetector(scale=1.5), frames, boxes) == 0
    # The control: the same model on the frame shrunk to 640 pixels leaves small faces visible.
    assert _face_misses(CenterFaceDetector(max_side=640), frames, boxes) >= 8


# --- strong by default ---------------------------------------------------------------------


def test_without_onnxruntime_faces_and_people_refuse_naming_the_install() -> None:
    assert strong_detectors_available()
    for make in (face_detector, person_detector):
        with pytest.raises(pm.MaskConfigError, match=r"pip install 'privmask-video\[detect\]'"):
            make("auto", strong_available=False)
    with pytest.raises(pm.MaskConfigError, match="cascade"):
        face_detector("centerface", strong_available=False)
    # The weak model still runs when chosen by name.
    assert isinstance(face_detector("cascade", strong_available=False), CascadeFaceDetector)
    assert "privmask-video[detect]" in INSTALL_DETECT


def test_strong_detectors_by_default_and_named_in_summaries() -> None:
    face = face_detector()
    people = person_detector(scale=0.5)
    assert isinstance(face, CenterFaceDetector) and isinstance(people, PersonDetector)
    names = detector_names([face, people, ShapedMotionDetector(), CascadeFaceDetector()])
    assert names == (
        "CenterFace (scale 1), YOLO people (scale 0.5), motion shapes, LBP face cascade (weak)"
    )


def test_bad_settings_are_refused_before_any_frame() -> None:
    with pytest.raises(pm.MaskConfigError):
        face_detector("nope")
    with pytest.raises(pm.MaskConfigError):
        person_detector("nope")
    with pytest.raises(pm.MaskConfigError):
        CenterFaceDetector(scale=0)
    with pytest.raises(pm.MaskConfigError):
        PersonDetector(tile=100)
    with pytest.raises(pm.MaskConfigError):
        PersonDetector(classes=(80,))
    with pytest.raises(pm.MaskConfigError):
        ShapedMotionDetector(hold_frames=0.5)
    with pytest.raises(pm.PrivmaskError):
        PersonDetector(model="/nonexistent.onnx")


def test_tiles_cover_the_picture_with_the_overlap() -> None:
    assert tiles(300, 416, 104) == [(0, 300)]
    spans = tiles(1080, 416, 104)
    assert spans[0][0] == 0 and spans[-1][1] == 1080
    for (a0, a1), (b0, _b1) in itertools.pairwise(spans):
        assert a1 - a0 == 416 and a1 - b0 >= 104
