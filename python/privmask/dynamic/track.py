"""Tracking for dynamic masking, built so that a detector's miss never shows a face.

A detector misses: a face turns, blurs, is half hidden for a frame or two. Masking only what was
detected in each frame would flash the face uncovered on exactly those frames. The
:class:`Tracker` therefore keeps every track masked for ``hold`` detection runs after it was last
seen, over the union of where it was last seen and where its motion predicts it now, grown by a
margin that widens with every frame since it was seen. A track found on the current frame by a
detector that gives shapes (motion outlines) is masked by that shape instead: the detector has
already grown it, and the box round it would mostly mask background. A detection continues
only a track of its own label: with several detectors, a person's box and the motion outline
round them are two tracks, each masked by its own detector's rule (and margin, see
``margins``), rather than one track whose box jumps between the two.

Motion detectors that learn a background and hold it where something stands, when asked to
hold it only where tracked (a ``hold_areas(boxes)`` method and ``hold="tracked"``,
:class:`~privmask.dynamic.motion.ShapedMotionDetector`; opt-in), are told,
before each detection, where the other detectors found something on this frame and where those
detectors' live tracks are masked; they run after the other detectors. A motion detector then
holds only people that the person or face detector sees, and the places people left at the start
(ghosts) fade. With motion detectors alone the method is not called: they hold all foreground.
For the same reason, with such a detector, a lost motion track mostly under the other
detectors' boxes is not held (:data:`TAKEN_OVER`).

Detection can run on every ``detect_every``-th frame only (tracks cover the frames between),
for speed. When a detector raises, or takes longer than ``budget_s``, the frame is masked whole
(fail closed) and :class:`TrackerStats` counts it; a detector that cannot tell yet (a
background being learned) returns a whole-frame region, which masks the frame whole too.

The tracker is a small greedy IoU tracker rather than a packaged ByteTrack: ``supervision``
0.31 (checked, 2026-11) no longer ships one, and ByteTrack's design works against masking
anyway: it discards low-confidence detections that start no track, and its Kalman-filtered
boxes are smoothed toward the detections, where masking needs boxes grown to hold the subject.
What a library tracker would add (re-identifying a person who leaves and returns) is listed as
not done.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from privmask.dynamic.detect import Detector
from privmask.engine.frame import Frame
from privmask.engine.regions import Box, Region, region_coverage
from privmask.errors import MaskConfigError
from privmask.masks.geometry import Polygon

__all__ = ["TAKEN_OVER", "Track", "TrackedFrame", "Tracker", "TrackerStats", "iou"]

TAKEN_OVER = 0.7
"""A track with a shape (a motion outline) that finds no detection of its own label ends at
once, instead of being held, when at least this fraction of its last outline's pixels lies under
the current frame's detections of other labels: the person (or face) detector has taken over
what it outlined. Measured on vtest.avi (``benches/redact_quality.py``, people + motion shapes):
the held boxes of such tracks, grown frame after frame, were most of what motion added to the
person detector's over-masking (4.8 % of the frame, 2.9 % without them), and ending them lost
no person (0.5: 2.7 %, no person lost either; 0.7 is the more cautious). Applied only when a
motion detector holds its background where tracked (``hold="tracked"``); with motion detectors
alone nothing changes."""


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes ``(x0, y0, x1, y1)``."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _outline(r: Region) -> Polygon | None:
    return r.shape if isinstance(r.shape, Polygon) else None


def _clip(b: Box) -> Box:
    return (max(0.0, b[0]), max(0.0, b[1]), min(1.0, b[2]), min(1.0, b[3]))


@dataclass
class Track:
    """One tracked person or object: its id, what found it, and where it was detected."""

    track_id: int
    label: str | None
    first_frame: int
    last_frame: int
    box: Box
    velocity: tuple[float, float] = (0.0, 0.0)
    missed: int = 0
    detections: list[tuple[int, Box]] = field(default_factory=list)
    shape: Polygon | None = None
    """The last detection's outline when its detector gives shapes (motion), else ``None``."""

    def predicted(self, frame: int, margin: float) -> Box:
        """Where to mask at ``frame``: the last box and the box moved by the track's velocity,
        together, grown by ``margin`` of the box size per side for each frame since the last
        detection (plus one; twice that while the track has no velocity yet), at most
        doubled."""
        n = frame - self.last_frame
        x0, y0, x1, y1 = self.box
        dx, dy = self.velocity[0] * n, self.velocity[1] * n
        ux0, uy0 = min(x0, x0 + dx), min(y0, y0 + dy)
        ux1, uy1 = max(x1, x1 + dx), max(y1, y1 + dy)
        # A track seen once has no velocity yet: its box grows twice as fast until it has one.
        grow = min(1.0, margin * (1 + n) * (2 if len(self.detections) < 2 else 1))
        gx, gy = (x1 - x0) * grow, (y1 - y0) * grow
        return _clip((ux0 - gx, uy0 - gy, ux1 + gx, uy1 + gy))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by the redaction sidecar."""
        return {
            "id": self.track_id,
            "label": self.label,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "detections": len(self.detections),
            "boxes": [[f, *(round(v, 5) for v in b)] for f, b in self.detections],
        }


@dataclass
class TrackerStats:
    """How often the tracker could not trust its detectors: ``failures`` (a detector raised),
    ``overruns`` (detection took longer than the budget) and ``learning`` (a detector could not
    tell yet) each masked a whole frame; ``whole_frames`` counts the frames so masked."""

    frames: int = 0
    detection_runs: int = 0
    failures: int = 0
    overruns: int = 0
    learning: int = 0
    whole_frames: int = 0
    detect_seconds: float = 0.0
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "detection_runs": self.detection_runs,
            "failures": self.failures,
            "overruns": self.overruns,
            "learning": self.learning,
            "whole_frames": self.whole_frames,
            "detect_seconds": round(self.detect_seconds, 4),
            "last_error": self.last_error,
        }


@dataclass(frozen=True)
class TrackedFrame:
    """What to mask in one frame: ``regions`` (one per live track, with its ``track_id``), or
    the whole frame when ``whole_frame`` (``reason`` says why: ``"failure"``, ``"overrun"`` or
    ``"learning"``)."""

    index: int
    regions: tuple[Region, ...]
    whole_frame: bool = False
    reason: str | None = None


class Tracker:
    """Runs ``detectors`` on frames and keeps what they find masked (see the module docstring).

    ``hold``: detection runs a track survives without a match (>= 0; 2 or more rides out the
    usual 1-2 frame misses). ``margin``: fraction of a box's size added on each side, per frame
    since its last detection (plus one), up to doubling. ``margins``: a margin per track label
    (e.g. ``{"person": 0.0}``) used instead of ``margin`` for the tracks of that label, for
    detectors whose boxes already hold the subject (the person detector grows its own boxes).
    ``iou_threshold``: overlap with a
    track's predicted box for a detection to continue it. ``detect_every``: run the detectors
    on every k-th frame only. ``budget_s``: seconds detection may take on one frame; slower
    frames are masked whole (``None``: no budget).
    """

    def __init__(
        self,
        detectors: Detector | Sequence[Detector],
        *,
        hold: int = 5,
        margin: float = 0.15,
        margins: Mapping[str, float] | None = None,
        iou_threshold: float = 0.1,
        detect_every: int = 1,
        budget_s: float | None = None,
    ) -> None:
        dets: list[Any]
        if isinstance(detectors, Detector):
            dets = [detectors]
        else:
            try:
                dets = list(detectors)
            except TypeError:
                raise MaskConfigError(f"{detectors!r} is not a detector") from None
        if not dets:
            raise MaskConfigError("a tracker needs at least one detector")
        for d in dets:
            if not isinstance(d, Detector):
                raise MaskConfigError(f"{d!r} has no detect(frame) method")
        if isinstance(hold, bool) or not isinstance(hold, int) or hold < 0:
            raise MaskConfigError(f"hold must be a non-negative integer, got {hold!r}")
        if not 0 <= margin <= 1:
            raise MaskConfigError(f"margin must be between 0 and 1, got {margin!r}")
        label_margins = dict(margins or {})
        for label, m in label_margins.items():
            if not isinstance(label, str) or not 0 <= m <= 1:
                raise MaskConfigError(
                    f"margins must map labels to margins between 0 and 1, got {label!r}: {m!r}"
                )
        if not 0 < iou_threshold <= 1:
            raise MaskConfigError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
        if isinstance(detect_every, bool) or not isinstance(detect_every, int) or detect_every < 1:
            raise MaskConfigError(f"detect_every must be a positive integer, got {detect_every!r}")
        if budget_s is not None and not budget_s > 0:
            raise MaskConfigError(f"budget_s must be positive or None, got {budget_s!r}")
        self.detectors = dets
        self.hold = hold
        self.margin = float(margin)
        self.margins = {label: float(m) for label, m in label_margins.items()}
        self.iou_threshold = float(iou_threshold)
        self.detect_every = detect_every
        self.budget_s = budget_s
        self.stats = TrackerStats()
        # Motion detectors that hold their background only where told (ShapedMotionDetector with
        # hold="tracked"); with hold="all" they hold every foreground cell and are not told.
        self._holders = {
            k
            for k, d in enumerate(dets)
            if callable(getattr(d, "hold_areas", None)) and getattr(d, "hold", None) != "all"
        }
        self._held_labels: set[str | None] = set()
        self._live: list[Track] = []
        self._all: list[Track] = []
        self._next_id = 1
        self._index = 0

    @property
    def tracks(self) -> list[Track]:
        """Every track so far, live or ended, by id."""
        return list(self._all)

    def _detect(self, frame: Frame) -> tuple[list[Region] | None, str | None]:
        t0 = time.perf_counter()
        found: list[Region] = []
        try:
            by_detector: dict[int, list[Region]] = {}
            # Detectors without hold_areas run first, so that those with it (motion) hold the
            # background where this frame's people and faces are, and where their tracks are.
            for k in sorted(range(len(self.detectors)), key=lambda k: k in self._holders):
                d = self.detectors[k]
                if k in self._holders and len(self._holders) < len(self.detectors):
                    d.hold_areas(self._hold_boxes(by_detector))
                by_detector[k] = list(d.detect(frame))
                if k in self._holders:
                    self._held_labels.update(
                        r.label for r in by_detector[k] if isinstance(r, Region)
                    )
            for k in range(len(self.detectors)):
                found.extend(by_detector[k])
        except Exception as e:  # any detector failure must mask, never crash the export
            self.stats.failures += 1
            self.stats.last_error = f"{type(e).__name__}: {e}"
            return None, "failure"
        finally:
            self.stats.detect_seconds += time.perf_counter() - t0
            self.stats.detection_runs += 1
        for r in found:
            if not isinstance(r, Region):
                self.stats.failures += 1
                self.stats.last_error = f"a detector returned {r!r}, not a Region"
                return None, "failure"
        if any(r.is_whole_frame for r in found):
            self.stats.learning += 1
            return None, "learning"
        if self.budget_s is not None and time.perf_counter() - t0 > self.budget_s:
            self.stats.overruns += 1
            return found, "overrun"  # late but valid: tracks still learn from it
        return found, None

    def _hold_boxes(self, by_detector: dict[int, list[Region]]) -> list[Box]:
        """Where a motion detector should hold its background on the frame being detected: the
        boxes the other detectors found on it, and where the live tracks of their labels are
        masked (so a person missed for a frame or two stays held)."""
        boxes = [
            r.bounds
            for k, regions in by_detector.items()
            if k not in self._holders
            for r in regions
            if isinstance(r, Region) and not r.is_whole_frame
        ]
        for t in self._live:
            if t.label in self._held_labels:
                continue
            margin = self.margins.get(t.label, self.margin) if t.label is not None else self.margin
            boxes.append(t.predicted(self._index - 1, margin))
        return boxes

    def _taken_over(
        self, shape: Polygon, label: str | None, found: list[Region], size: tuple[int, int]
    ) -> bool:
        """Whether at least :data:`TAKEN_OVER` of the pixels of ``shape`` (a lost track's last
        outline) lie under this frame's detections of other labels, on a frame of ``size``
        ``(width, height)`` pixels."""
        others = [r for r in found if r.label != label]
        if not others:
            return False
        mine = region_coverage([Region(shape)], *size)
        area = int(mine.sum())
        covered = int((mine & region_coverage(others, *size)).sum())
        return area > 0 and covered >= TAKEN_OVER * area

    def _update(self, index: int, found: list[Region], size: tuple[int, int]) -> None:
        pairs = []
        for ti, t in enumerate(self._live):
            predicted = t.predicted(index, 0.0)
            for di, r in enumerate(found):
                if r.label != t.label:
                    continue  # a person's box and their motion outline stay two tracks
                overlap = iou(predicted, r.bounds)
                if overlap >= self.iou_threshold:
                    pairs.append((overlap, ti, di))
        pairs.sort(reverse=True)
        used_t: set[int] = set()
        used_d: set[int] = set()
        for _, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            t, box = self._live[ti], found[di].bounds
            n = index - t.last_frame
            cx = (box[0] + box[2] - t.box[0] - t.box[2]) / 2 / n
            cy = (box[1] + box[3] - t.box[1] - t.box[3]) / 2 / n
            t.velocity = (cx, cy)
            t.box, t.last_frame, t.missed = box, index, 0
            t.shape = _outline(found[di])
            t.detections.append((index, box))
        for ti, t in enumerate(self._live):
            if ti not in used_t:
                t.missed += 1
                if (
                    self._holders
                    and t.shape is not None
                    and self._taken_over(t.shape, t.label, found, size)
                ):
                    t.missed = self.hold + 1
        self._live = [t for t in self._live if t.missed <= self.hold]
        for di, r in enumerate(found):
            if di in used_d:
                continue
            t = Track(self._next_id, r.label, index, index, r.bounds, shape=_outline(r))
            t.detections.append((index, r.bounds))
            self._next_id += 1
            self._live.append(t)
            self._all.append(t)

    def step(self, frame: Frame) -> TrackedFrame:
        """Processes the next frame of the stream and says what to mask in it."""
        index = self._index
        self._index += 1
        self.stats.frames += 1
        reason = None
        if index % self.detect_every == 0:
            found, reason = self._detect(frame)
            if found is not None:
                self._update(index, found, (frame.width, frame.height))
        regions = []
        for t in self._live:
            if t.shape is not None and t.last_frame == index:
                # Detected on this very frame with a shape (already grown by its detector):
                # masked by that shape, not by a box round it.
                regions.append(Region(t.shape, track_id=t.track_id, label=t.label))
                continue
            margin = self.margins.get(t.label, self.margin) if t.label is not None else self.margin
            box = t.predicted(index, margin)
            if box[2] > box[0] and box[3] > box[1]:  # else predicted wholly off the frame
                regions.append(Region(box, track_id=t.track_id, label=t.label))
        if reason is not None:
            self.stats.whole_frames += 1
        return TrackedFrame(index, tuple(regions), whole_frame=reason is not None, reason=reason)
