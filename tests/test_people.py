"""People, faces at every size, tight motion shapes and the refusal of weak detectors, on real
footage (OpenCV's vtest.avi from Debian's opencv-doc, with hand-made ground truth) and on real
face photographs (scikit-image's astronaut) pasted small into a 1080p frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

import privmask as pm
from benches.redact_quality import (
    Quality,
    evaluate,
    evaluate_all,
    load_truth,
    score_frame,
    truth_frames,
)
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
from privmask.dynamic.people import PERSON_GROW, PersonDetector, _merged, tiles
from privmask.redaction.redact import PERSON_MARGIN

CLIP = Path(load_truth()["clip"])
needs_clip = pytest.mark.skipif(
    not CLIP.is_file(),
    reason=f"{CLIP} is missing: apt-get install --no-install-recommends opencv-doc",
)


def _truth_frames(*, held_out: bool = False) -> dict[int, pm.Frame]:
    import av

    want = set(truth_frames(held_out=held_out))
    out = {}
    with av.open(str(CLIP)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in want:
                out[i] = pm.Frame.from_av(f.reformat(format="yuv420p"))
            if i >= max(want):
                break
    return out


# --- people on real footage ----------------------------------------------------------------


def _found(held_out: bool) -> tuple[int, int]:
    truth = truth_frames(held_out=held_out)
    det = PersonDetector()
    found = total = 0
    for i, frame in _truth_frames(held_out=held_out).items():
        cover = region_coverage(det.detect(frame), frame.width, frame.height)
        for x0, y0, x1, y1 in truth[i]:
            total += 1
            found += cover[y0:y1, x0:x1].mean() >= 0.5
    return found, total


@needs_clip
def test_person_detector_finds_the_people_on_every_ground_truth_frame() -> None:
    """Single-frame detections (no tracker): a person counts as found when detections cover at
    least half of their hand-drawn box. Measured with the defaults: 64 of 65 people on the
    tuned frames (62 before the boxes were grown and the threshold lowered; the one missed
    stands behind the sign at score 0.05), 37 of 39 on the held-out frames (both behind the
    sign)."""
    found, total = _found(held_out=False)
    assert total == 65
    assert found >= 63, found
    found, total = _found(held_out=True)
    assert total == 39
    assert found >= 36, found


@needs_clip
def test_person_boxes_are_grown_by_fractions_of_their_height() -> None:
    frame = _truth_frames()[40]
    w, h = frame.width, frame.height
    bare = PersonDetector(grow=(0, 0, 0, 0)).detect(frame)
    grown = PersonDetector().detect(frame)
    assert len(bare) == len(grown) >= 6
    gl, gt, gr, gb = PERSON_GROW
    for b, g in zip(bare, grown, strict=True):
        x0, y0, x1, y1 = b.bounds
        bh = (y1 - y0) * h
        want = (
            max(0.0, x0 - gl * bh / w),
            max(0.0, y0 - gt * bh / h),
            min(1.0, x1 + gr * bh / w),
            min(1.0, y1 + gb * bh / h),
        )
        assert g.bounds == pytest.approx(want, abs=1e-6)
        assert g.score == b.score


@pytest.fixture(scope="module")
def people_runs() -> tuple[Quality, Quality, Quality]:
    """The bench's people and people + motion-shape rows (motion held everywhere, the default,
    and held where tracked), in one pass over the clip."""
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} is missing: apt-get install --no-install-recommends opencv-doc")
    person = PersonDetector()
    settings = {"hold": 5, "margin": 0.15, "margins": {"person": PERSON_MARGIN}}
    alone, with_motion, tracked = evaluate_all(
        [
            ("people", [person], settings),
            ("people + motion", [person, ShapedMotionDetector()], settings),
            ("people + motion, tracked", [person, ShapedMotionDetector(hold="tracked")], settings),
        ]
    )
    return alone, with_motion, tracked


def test_people_alone_mask_every_person_but_one_within_the_target(
    people_runs: tuple[Quality, Quality, Quality],
) -> None:
    """The tracked person detector with the redaction defaults on the whole clip. Measured:
    64/65 masked with 2.68 % of the frame over-masked (worst frame 5.2 %) on the tuned frames
    (the one missed stands behind the sign), 37/39 with 1.96 % on the held-out frames (both
    missed behind the sign); before (scale 0.75, threshold 0.15, boxes as the network gave
    them, margin 0.15): 53/65 with 3.2 %. The bound on over-masking is the issue's target."""
    q = people_runs[0]
    assert q.masked >= 64, q.missed
    assert q.over <= 0.03, q.over
    assert q.held_out is not None
    assert q.held_out.masked >= 37, q.held_out.missed
    assert q.held_out.over <= 0.03, q.held_out.over


def test_people_and_motion_held_everywhere_mask_every_person_the_detector_finds(
    people_runs: tuple[Quality, Quality, Quality],
) -> None:
    """The default people + motion shapes (motion holds its background wherever something
    stands): measured 64/65 with 7.49 % over-masked, held out 38/39 with 7.45 % (mostly ghosts
    where people stood at the start of the clip, and motion tracks' held boxes)."""
    q = people_runs[1]
    assert q.masked >= 64, q.missed
    assert q.over <= 0.08, q.over
    assert q.held_out is not None
    assert q.held_out.masked >= 38, q.held_out.missed
    assert q.held_out.over <= 0.08, q.held_out.over


def test_people_and_motion_held_where_tracked_reach_the_target(
    people_runs: tuple[Quality, Quality, Quality],
) -> None:
    """People + motion shapes with ``hold="tracked"``: the motion detector holds only where
    people are tracked, ghosts fade, lost motion tracks under people's boxes end. Measured:
    64/65 masked with 2.94 % over-masked, held out 38/39 with 2.24 %. The bound on
    over-masking is the issue's target."""
    q = people_runs[2]
    assert q.masked >= 64, q.missed
    assert q.over <= 0.03, q.over
    assert q.held_out is not None
    assert q.held_out.masked >= 38, q.held_out.missed
    assert q.held_out.over <= 0.03, q.held_out.over


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


def test_hold_areas_hold_a_standing_person_and_let_the_rest_fade() -> None:
    """With another detector alongside, only foreground inside its boxes is held: the standing
    figure inside a box stays masked, the same figure outside every box (what an uncovered
    ghost looks like to the model) is learned away at the ordinary rate."""
    frames, boxes = _walk_then_stand(160)
    held = ShapedMotionDetector(warmup_frames=0, hold="tracked")
    unheld = ShapedMotionDetector(warmup_frames=0, hold="tracked")
    default = ShapedMotionDetector(warmup_frames=0)  # hold="all": the boxes change nothing
    lost_held = lost_unheld = lost_default = 0
    for t, (f, (x0, y0, x1, y1)) in enumerate(zip(frames, boxes, strict=True)):
        held.hold_areas([(x0 / 320, y0 / 240, x1 / 320, y1 / 240)])
        unheld.hold_areas([])
        default.hold_areas([])
        ch = region_coverage(held.detect(f), f.width, f.height)
        cu = region_coverage(unheld.detect(f), f.width, f.height)
        cd = region_coverage(default.detect(f), f.width, f.height)
        if t >= 12:  # standing
            lost_held += ch[y0:y1, x0:x1].mean() < 0.95
            lost_unheld += cu[y0:y1, x0:x1].mean() < 0.95
            lost_default += cd[y0:y1, x0:x1].mean() < 0.95
    assert lost_held == 0 and lost_default == 0
    assert lost_unheld > 50  # learned away within the 148 standing frames


@needs_clip
def test_ghosts_of_people_who_left_fade_on_real_footage() -> None:
    """vtest.avi's first frames have people standing who leave: the warm-up learns them into the
    background, and where they stood the ground they uncover is foreground (ghosts). Given hold
    areas (here none: nobody seen), still foreground outside them fades in about
    ``ghost_frames``. Measured at frame 40, outside the ground truth's people: 1.06 % of the
    frame masked; 3.35 % holding all foreground (no hold areas), 3.02 % with hold areas but
    ghosts learned at the ordinary rate (``ghost_frames=merge_frames``)."""
    import av

    from benches.redact_quality import GT_MARGIN

    people = truth_frames()[40]
    dets = {
        "held": ShapedMotionDetector(),
        "ghosts": ShapedMotionDetector(hold="tracked"),
        "slow": ShapedMotionDetector(ghost_frames=50.0, hold="tracked"),
    }
    found = {}
    with av.open(str(CLIP)) as c:
        for i, f in enumerate(c.decode(video=0)):
            frame = pm.Frame.from_av(f.reformat(format="yuv420p"))
            for name, d in dets.items():
                if name != "held":
                    d.hold_areas([])
                found[name] = d.detect(frame)
            if i == 40:
                break
    near = np.zeros((frame.height, frame.width), dtype=bool)
    for x0, y0, x1, y1 in people:
        near[max(0, y0 - GT_MARGIN) : y1 + GT_MARGIN, max(0, x0 - GT_MARGIN) : x1 + GT_MARGIN] = 1
    over = {
        name: float((region_coverage(r, frame.width, frame.height) & ~near).mean())
        for name, r in found.items()
    }
    assert over["ghosts"] <= 0.015, over
    assert over["held"] >= 0.025, over  # the controls: the ghosts are there
    assert over["slow"] >= 0.025, over


class _Standing:
    """A person detector for the walk-then-stand scene that sees the figure once it stands
    (``seen``) or never: its box, grown by 4 pixels, labelled ``"person"``."""

    def __init__(self, boxes: list[tuple[int, int, int, int]], seen: bool) -> None:
        self.boxes, self.seen, self.calls = boxes, seen, 0

    def detect(self, frame: pm.Frame) -> list[pm.Region]:
        x0, y0, x1, y1 = self.boxes[self.calls]
        self.calls += 1
        if not self.seen or self.calls <= 12:
            return []
        return [
            pm.Region(
                ((x0 - 4) / 320, (y0 - 4) / 240, (x1 + 4) / 320, (y1 + 4) / 240), label="person"
            )
        ]


@pytest.mark.parametrize("seen", [True, False])
def test_the_tracker_holds_motion_where_other_detectors_see_people(seen: bool) -> None:
    """With ``hold="tracked"`` the tracker gives motion detectors the other detectors' boxes
    before each detection:
    motion keeps masking a standing person the person detector sees (two detectors agree);
    what only motion sees and does not move is learned away like a ghost. Motion alone holds
    all its foreground (the standing test above, here through the tracker)."""
    frames, boxes = _walk_then_stand(160)
    with_people = Tracker(
        [_Standing(boxes, seen), ShapedMotionDetector(warmup_frames=0, hold="tracked")],
        hold=2,
        margin=0.0,
    )
    by_default = Tracker(
        [_Standing(boxes, seen), ShapedMotionDetector(warmup_frames=0)], hold=2, margin=0.0
    )
    alone = Tracker([ShapedMotionDetector(warmup_frames=0)], hold=2, margin=0.0)
    lost_with = lost_alone = lost_default = 0
    for t, (f, (x0, y0, x1, y1)) in enumerate(zip(frames, boxes, strict=True)):
        motion = [r for r in with_people.step(f).regions if r.label == "motion"]
        cw = region_coverage(motion, f.width, f.height)
        motion = [r for r in by_default.step(f).regions if r.label == "motion"]
        cd = region_coverage(motion, f.width, f.height)
        ca = region_coverage(list(alone.step(f).regions), f.width, f.height)
        if t >= 12:
            lost_with += cw[y0:y1, x0:x1].mean() < 0.95
            lost_default += cd[y0:y1, x0:x1].mean() < 0.95
            lost_alone += ca[y0:y1, x0:x1].mean() < 0.95
    # By default motion holds whatever stands, seen by the person detector or not.
    assert lost_alone == 0 and lost_default == 0
    if seen:
        assert lost_with == 0
    else:
        assert lost_with > 50


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


def test_centerface_on_one_grey_channel_finds_what_the_shipped_file_finds() -> None:
    """The session CenterFaceDetector runs (weights folded into one input channel, made constant)
    against the shipped file run as it is, luma repeated in its three channels, on a frame with
    real faces: the same heat map and the same boxes."""
    import onnx
    import onnxruntime

    from privmask.dynamic.faces import centerface_model_path, decode_centerface

    frames, boxes = _small_faces_clip(1)
    frame = frames[0]
    det = CenterFaceDetector()
    assert det._session.get_inputs()[0].shape[1] == 1
    w, h = det.input_size(frame.width, frame.height)
    grey = det._tensor(frame, w, h)
    model = onnx.load(str(centerface_model_path()))
    for value in [*model.graph.input[:1], *model.graph.output]:
        for i, name in ((0, "n"), (2, "h"), (3, "w")):
            value.type.tensor_type.shape.dim[i].dim_param = name
    plain = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    theirs = plain.run(None, {plain.get_inputs()[0].name: np.repeat(grey, 3, axis=1)})
    mine = det._session.run(None, {det._input: grey})
    np.testing.assert_allclose(mine[0], theirs[0], atol=1e-4)
    found = decode_centerface(mine[0][0, 0], mine[1][0], mine[2][0], 0.2, w, h)
    ref = decode_centerface(theirs[0][0, 0], theirs[1][0], theirs[2][0], 0.2, w, h)
    assert len(found) == len(ref) >= len(boxes[0]) - 1  # the 24-pixel face is missed at scale 1
    np.testing.assert_allclose(np.array(found)[:, :4], np.array(ref)[:, :4], atol=0.01)


# --- strong by default ---------------------------------------------------------------------


def test_without_onnxruntime_faces_and_people_refuse_naming_the_install() -> None:
    assert strong_detectors_available()
    for make in (face_detector, person_detector):
        with pytest.raises(
            pm.MaskConfigError, match=r"'detect' extra \(onnxruntime .*pip install '\.\[detect\]'"
        ):
            make("auto", strong_available=False)
    with pytest.raises(pm.MaskConfigError, match="cascade"):
        face_detector("centerface", strong_available=False)
    # The weak model still runs when chosen by name.
    assert isinstance(face_detector("cascade", strong_available=False), CascadeFaceDetector)
    assert "pip install '.[detect]'" in INSTALL_DETECT


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
        CenterFaceDetector(threads=0)
    with pytest.raises(pm.MaskConfigError):
        PersonDetector(tile=100)
    with pytest.raises(pm.MaskConfigError):
        PersonDetector(classes=(80,))
    with pytest.raises(pm.MaskConfigError):
        PersonDetector(grow=(0.1, 0.2, 0.1))
    with pytest.raises(pm.MaskConfigError):
        PersonDetector(merge=0)
    with pytest.raises(pm.MaskConfigError):
        PersonDetector(small_threshold=1.5)
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


def test_boxes_mostly_inside_another_become_one_box_round_both() -> None:
    legs = (10.0, 50.0, 30.0, 100.0, 0.3)
    body = (8.0, 20.0, 32.0, 98.0, 0.2)  # holds 96 % of the legs' box
    apart = (60.0, 20.0, 80.0, 100.0, 0.5)
    merged = _merged([legs, body, apart], 0.6)
    assert sorted(merged) == [(8.0, 20.0, 32.0, 100.0, 0.3), apart]
    # Below the limit both stay.
    assert len(_merged([legs, body], 0.99)) == 2
