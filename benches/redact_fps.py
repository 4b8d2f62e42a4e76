"""Frames per second of people redaction on 1080p, and where the time goes (not a test).

    .venv/bin/python benches/redact_fps.py [--frames 60] [--faces cascade|centerface|none]

A generated 1920x1080 yuv420p scene (a textured background and a real face, scikit-image's
``astronaut``, walking across it), redacted frame by frame without a codec: motion-based,
then face-based. Prints fps and the share of time in detection (and tracking) versus
compositing (the masking kernels). Decoding and encoding are not included: they are the same
for any masking and are measured by ``privmask bench``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import privmask as pm
from privmask.dynamic.detect import Detector
from tests.people import make_clip


def run(name: str, detector: Detector, frames: list[pm.Frame], **kw: int) -> None:
    redactor = pm.Redactor(pm.Tracker(detector, **kw), style=pm.Solid())
    work = [f.copy() for f in frames]
    t0 = time.perf_counter()
    for f in work:
        redactor.process(f)
    total = time.perf_counter() - t0
    detect = redactor.tracker.stats.detect_seconds
    comp = redactor.composite_seconds
    print(
        f"{name:<34} {len(work) / total:7.1f} fps   detection {100 * detect / total:5.1f} %   "
        f"compositing {100 * comp / total:5.1f} %   "
        f"other {100 * (total - detect - comp) / total:4.1f} %"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--faces", choices=("cascade", "centerface", "both", "none"), default="both")
    args = ap.parse_args()
    clip = make_clip(args.frames, 1920, 1080, scale=3.0, speed=60)
    print(f"1920x1080 yuv420p, {args.frames} frames, {pm.threads()} threads")
    run("motion (every frame)", pm.MotionDetector(), clip.frames)
    if args.faces in ("cascade", "both"):
        run("faces, LBP cascade (every frame)", pm.CascadeFaceDetector(), clip.frames)
        run("faces, LBP cascade (every 3rd)", pm.CascadeFaceDetector(), clip.frames, detect_every=3)
    if args.faces in ("centerface", "both"):
        run("faces, CenterFace (every frame)", pm.CenterFaceDetector(), clip.frames)
        run("faces, CenterFace (every 3rd)", pm.CenterFaceDetector(), clip.frames, detect_every=3)


if __name__ == "__main__":
    main()
