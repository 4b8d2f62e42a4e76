"""Prints a Markdown table of privmask against OpenCV and numpy, without pytest.

    python benches/report.py            # every case, 1080p and 4K (a couple of minutes)
    python benches/report.py --quick    # 1080p only, fewer repeats (well under a minute)
    python benches/report.py --opencv-threads 1   # OpenCV single-threaded too

Why a separate script: pytest-benchmark's tables list one group at a time, while a hardware or
release comparison wants one table with the ratios. Absolute times on shared machines are noisy;
the ratios, measured in the same run, are what to compare. Each timing is the median of several
repeats after a warm-up; geometry-only work (privmask's ``compile``, the peers' masks and ids)
is done before timing, for every peer alike. Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # found through the path insert above

import privmask as pm


@dataclass(frozen=True)
class Settings:
    """How hard to measure: repeats are ``budget / first run``, clamped to the bounds."""

    resolutions: tuple[str, ...]
    warmup: int
    min_repeats: int
    max_repeats: int
    budget_s: float


FULL = Settings(("1080p", "4k"), warmup=2, min_repeats=7, max_repeats=60, budget_s=1.0)
QUICK = Settings(("1080p",), warmup=1, min_repeats=3, max_repeats=10, budget_s=0.15)


def _once(peer: peers.Peer, frame: pm.Frame) -> float:
    t0 = time.perf_counter()
    peer(frame)
    return time.perf_counter() - t0


def time_peers(
    runs: dict[str, tuple[peers.Peer, pm.Frame]], settings: Settings
) -> dict[str, float]:
    """Median wall time in milliseconds of each peer masking its own frame in place.

    The peers take turns round by round rather than one after the other, so a burst of load
    from elsewhere on a shared machine slows all of them alike and the ratios survive it.
    """
    first = {name: 0.0 for name in runs}
    for _ in range(settings.warmup):
        for name, (peer, frame) in runs.items():
            first[name] = _once(peer, frame)
    repeats = {
        name: min(
            max(math.ceil(settings.budget_s / max(t, 1e-9)), settings.min_repeats),
            settings.max_repeats,
        )
        for name, t in first.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(max(repeats.values())):
        for name, (peer, frame) in runs.items():
            if r < repeats[name]:
                samples[name].append(_once(peer, frame))
    return {name: statistics.median(ts) * 1e3 for name, ts in samples.items()}


def opencv_available() -> bool:
    """OpenCV is an optional peer (the ``bench`` extra); the table says n/a without it."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def cpu_name() -> str:
    """The CPU model, for the header (ratios only compare within one machine)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header(with_cv2: bool) -> list[str]:
    """Versions and machine, so a pasted table says where it came from."""
    parts = [
        f"privmask {pm.__version__}",
        f"numpy {np.__version__}",
        f"Python {platform.python_version()}",
    ]
    if with_cv2:
        import cv2

        parts.append(f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads)")
    return [
        f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; " + ", ".join(parts) + ".",
        "",
        "yuv420p frames, 4 convex zones; medians of repeated in-place runs; "
        "geometry prepared before timing for every peer. Ratio > 1: privmask is faster.",
        "",
    ]


def fmt_ms(ms: float | None) -> str:
    """Three decimals below 1 ms (solid zones take microseconds), two above."""
    if ms is None:
        return "n/a"
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}"


def fmt_ratio(peer_ms: float | None, privmask_ms: float) -> str:
    """Peer time over privmask time: above 1 means privmask is faster."""
    return "n/a" if peer_ms is None else f"{peer_ms / privmask_ms:.1f}x"


def run(settings: Settings, log: Callable[[str], None]) -> list[str]:
    """Times every selected case and returns the Markdown lines."""
    with_cv2 = opencv_available()
    lines = header(with_cv2)
    lines += [
        "| style | resolution | coverage | privmask ms | OpenCV ms | numpy ms "
        "| OpenCV/privmask | numpy/privmask |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    frames = {r: peers.make_frame(*peers.RESOLUTIONS[r]) for r in settings.resolutions}
    cases = [c for c in peers.CASES if c.resolution in settings.resolutions]
    for case in cases:
        runs = {
            name: (make(case), frames[case.resolution].copy())
            for name, make in peers.PEERS.items()
            if with_cv2 or name != "opencv"
        }
        timed = time_peers(runs, settings)
        ms: dict[str, float | None] = {name: timed.get(name) for name in peers.PEERS}
        del runs  # the numpy plans of 4K cases are large; free them before the next case
        own = ms["privmask"]
        assert own is not None
        log(f"{case.id}: " + ", ".join(f"{k} {fmt_ms(v)} ms" for k, v in ms.items()))
        lines.append(
            f"| {case.style} | {case.resolution} | {case.coverage} % | {fmt_ms(own)} "
            f"| {fmt_ms(ms['opencv'])} | {fmt_ms(ms['numpy'])} "
            f"| {fmt_ratio(ms['opencv'], own)} | {fmt_ratio(ms['numpy'], own)} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1080p only, fewer repeats")
    parser.add_argument(
        "--opencv-threads",
        type=int,
        default=None,
        help="cv2.setNumThreads before timing (default: OpenCV's own choice); "
        "1 compares single-threaded code with single-threaded code",
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.opencv_threads is not None and opencv_available():
        import cv2

        cv2.setNumThreads(args.opencv_threads)
    started = time.perf_counter()
    lines = run(settings, lambda msg: print(msg, file=sys.stderr, flush=True))
    print("\n".join(lines))
    print(f"\n_{time.perf_counter() - started:.0f} s in all._", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
