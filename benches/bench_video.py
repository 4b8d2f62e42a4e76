"""End-to-end cost of masking a recording: ``mask_file`` against the same transcode without masks.

The question a data team asks is not "how fast is apply" but "how much longer does my export
take with masks": here a 1080p H.264 clip is decoded, masked (25 % of the frame in four zones,
each style) and re-encoded with libx264 ``ultrafast``, and compared with the very same pipeline
given an empty mask set (same demux, threaded decode, queues and encode; no copy of the decoded
picture, no kernel). The ratio is the overhead of masking; the goal is at most 1.03.

For reference, a plain single-threaded PyAV loop (decode, encode, mux, no masks) is timed too:
what a user would write by hand, to show that the pipeline's threads pay for the masking.

Besides wall time, the table gives the process's CPU time (all threads) against the no-mask
run's: on a machine shared with other jobs it is the steadier figure, and with every core
busy decoding and encoding it is also what masking adds to the wall time. ``--hold-zero`` adds
each style with decoded pictures made writable right after decoding (``hold=0`` in
:func:`privmask.video.decode_video`: a copy of every picture the decoder still uses as a
reference), to show what holding them back saves.

    pytest benches/bench_video.py --benchmark-enable        # pytest-benchmark, 100 frames
    python -m benches.bench_video --frames 150 --rounds 9   # the table of medians and ratios
    python -m benches.bench_video --split --rounds 5        # kernel vs the encoder's extra work

With ``--benchmark-disable`` (the default in pyproject) each case runs once on a 10-frame clip,
so the normal test run doubles as a smoke test and checks that the masks are really there.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import privmask as pm
from privmask.tools.bench import STYLES, zone_polygons
from privmask.video import decode, mask_file

av = pytest.importorskip("av")

WIDTH, HEIGHT, FPS = 1920, 1080, 25
COVERAGE = 25
CASES = {name: STYLES[name] for name in ("solid", "mosaic16", "blur8", "fill")}
CODEC, OPTIONS = "libx264", {"preset": "ultrafast"}
HOLD = decode.HOLD_FRAMES


def masks_for(style: str) -> pm.MaskSet:
    """Four zones covering 25 % of the frame, all in one style (the engine benchmark's zones)."""
    return pm.MaskSet(pm.Mask(p, CASES[style]) for p in zone_polygons(COVERAGE))


def make_clip(path: Path, frames: int) -> Path:
    """A deterministic 1080p H.264 clip that costs a real encoder real work: a fine texture
    panning diagonally (every macroblock changes), a moving bright block and slow chroma drift."""
    rng = np.random.default_rng(2026)
    texture = rng.integers(16, 236, (HEIGHT + 64, WIDTH + 64), dtype=np.uint8)
    texture = ((texture.astype(np.uint16) + np.roll(texture, 1, axis=1)) // 2).astype(np.uint8)
    cy, cx = (HEIGHT + 1) // 2, (WIDTH + 1) // 2
    yy, xx = np.mgrid[0:cy, 0:cx]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(frames):
            y = texture[i % 64 : i % 64 + HEIGHT, (2 * i) % 64 : (2 * i) % 64 + WIDTH].copy()
            x0 = (37 * i) % (WIDTH - 200)
            y[400:600, x0 : x0 + 200] = 230
            u = (128 + 40 * np.sin(xx / 150 + i / 20)).astype(np.uint8)
            v = (128 + 40 * np.cos(yy / 120 - i / 30)).astype(np.uint8)
            planes = np.concatenate([y, u.reshape(-1, WIDTH), v.reshape(-1, WIDTH)])
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def plain_pyav(src: Path, dst: Path) -> int:
    """The hand-written loop: decode, encode, mux, one thread (FFmpeg's own threads inside)."""
    frames = 0
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        video = inp.streams.video[0]
        video.thread_type = "AUTO"
        stream = out.add_stream(CODEC, rate=video.average_rate, options=OPTIONS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.time_base = video.time_base
        for frame in inp.decode(video):
            frame.pict_type = av.video.frame.PictureType.NONE
            out.mux(stream.encode(frame))
            frames += 1
        out.mux(stream.encode(None))
    return frames


def runners(src: Path, out_dir: Path, *, hold_zero: bool = False) -> dict[str, Callable[[], int]]:
    """Every timed case: the no-mask baseline, each style (and with ``hold_zero`` each style
    with pictures made writable right after decoding), and the plain PyAV loop."""

    def run(masks: pm.MaskSet, name: str, hold: int) -> Callable[[], int]:
        def once() -> int:
            dst = out_dir / f"{name}.mp4"
            decode.HOLD_FRAMES = hold
            try:
                report = mask_file(
                    src, dst, masks, codec=CODEC, encoder_options=OPTIONS, progress=False
                )
            finally:
                decode.HOLD_FRAMES = HOLD
            return report.frames

        return once

    cases: dict[str, Callable[[], int]] = {"no masks": run(pm.MaskSet([]), "none", HOLD)}
    for style in CASES:
        cases[style] = run(masks_for(style), style, HOLD)
        if hold_zero:
            cases[f"{style}, hold 0"] = run(masks_for(style), f"{style}-hold0", 0)
    cases["plain PyAV loop"] = lambda: plain_pyav(src, out_dir / "plain.mp4")
    return cases


# --- pytest-benchmark ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    disabled = request.config.getoption("benchmark_disable", default=True)
    frames = 10 if disabled else 100
    return make_clip(tmp_path_factory.mktemp("video") / "clip.mp4", frames)


CASE_NAMES = ["no masks", *CASES, "plain PyAV loop"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_transcode(benchmark: Any, case: str, clip: Path, tmp_path: Path) -> None:
    benchmark.group = f"mask_file 1080p libx264-ultrafast {COVERAGE}%"
    benchmark.extra_info.update(case=case)
    run = runners(clip, tmp_path)[case]
    frames = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    with av.open(str(clip)) as c:
        assert frames == c.streams.video[0].frames


@pytest.mark.parametrize("style", list(CASES))
def test_the_benchmarked_output_is_masked(style: str, clip: Path, tmp_path: Path) -> None:
    """The timed runs must do the real work: the output's zones differ from the input's."""
    masks = masks_for(style)
    mask_file(clip, tmp_path / "out.mp4", masks, codec=CODEC, encoder_options=OPTIONS)
    cover = pm.coverage(masks, WIDTH, HEIGHT)
    with av.open(str(clip)) as a, av.open(str(tmp_path / "out.mp4")) as b:
        src = next(iter(a.decode(video=0))).to_ndarray()[:HEIGHT].astype(int)
        out = next(iter(b.decode(video=0))).to_ndarray()[:HEIGHT].astype(int)
    inside = np.abs(src[cover] - out[cover]).mean()
    outside = np.abs(src[~cover] - out[~cover]).mean()
    assert inside > 3 * outside, (inside, outside)


def test_the_split_table_times_every_style(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--split`` runs each style's apply and encode and reports a row for each."""
    assert split_table(clip, tmp_path, rounds=1) == 0
    rows = [line.split("|")[1].strip() for line in capsys.readouterr().out.splitlines()[4:]]
    assert rows == ["none", *CASES]


# --- the table for the closing note ---------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=150, help="clip length (default 150: 6 s)")
    parser.add_argument("--rounds", type=int, default=9, help="rounds of every case (default 9)")
    parser.add_argument(
        "--hold-zero",
        action="store_true",
        help="also run each style with pictures made writable right after decoding",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="instead: split each style's cost into its kernel and the encoder's extra work",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        print(f"making a {args.frames}-frame 1080p H.264 clip ...", file=sys.stderr)
        src = make_clip(out_dir / "clip.mp4", args.frames)
        if args.split:
            return split_table(src, out_dir, args.rounds)
        cases = runners(src, out_dir, hold_zero=args.hold_zero)
        names = list(cases)
        for run in cases.values():  # warm-up: caches, page cache, encoder start-up
            run()
        times: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        for r in range(args.rounds):
            # Each round runs every case once, in a rotated order, and each case is compared
            # with the no-mask run of the same round: slow drifts of a shared machine (other
            # jobs, clock changes) then cancel out of the ratios instead of landing on one case.
            for name in names[r % len(names) :] + names[: r % len(names)]:
                c0, t0 = _cpu_seconds(), time.perf_counter()
                cases[name]()
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(_cpu_seconds() - c0)
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(
        f"mask_file, 1080p H.264 -> libx264 ultrafast, {args.frames} frames, {COVERAGE} % "
        f"covered; {args.rounds} rounds; {os.cpu_count()} logical CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print()
    print(
        "| case | median s | fps | wall time vs no masks (median of rounds) | quartiles "
        "| CPU time vs no masks | quartiles |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, ts in times.items():
        med = statistics.median(ts)
        wall = _ratios(ts, times["no masks"])
        work = _ratios(cpu[name], cpu["no masks"])
        print(f"| {name} | {med:.3f} | {args.frames / med:.1f} | {wall} | {work} |")
    return 0


def split_table(src: Path, out_dir: Path, rounds: int) -> int:
    """Prints, per style, the CPU milliseconds per frame of the kernel (``apply`` on the decoded
    pictures, the planner's cached plan, the pool's threads) and of a one-thread x264
    ``ultrafast`` encode of the masked pictures, against the same encode of the unmasked ones:
    what masking costs itself, and what the masked picture costs the encoder (medians of
    ``rounds``)."""
    with av.open(str(src)) as inp:
        pictures = [f.reformat(format="yuv420p") for f in inp.decode(video=0)]
    n = len(pictures)

    def encode(frames: list[Any]) -> float:
        c0 = time.process_time()
        with av.open(str(out_dir / "split.mp4"), "w") as out:
            stream = out.add_stream(CODEC, rate=FPS, options=OPTIONS)
            stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            stream.thread_count = 1
            for f in frames:
                f.pts = None
                out.mux(stream.encode(f))
            out.mux(stream.encode(None))
        return time.process_time() - c0

    costs: dict[str, list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for style in ["none", *CASES]:
            copies = [
                av.VideoFrame.from_ndarray(f.to_ndarray(), format="yuv420p") for f in pictures
            ]
            kernel = 0.0
            if style != "none":
                masks = masks_for(style)
                for copy in copies:
                    frame = pm.Frame.from_av(copy)
                    c0 = time.process_time()
                    pm.apply(frame, masks)
                    kernel += time.process_time() - c0
            encoded = encode(copies)
            costs.setdefault(style, []).append((kernel, encoded))
    base = statistics.median(e for _, e in costs["none"])
    print(f"per frame, 1080p, {COVERAGE} % covered, {n} frames, medians of {rounds} rounds")
    print()
    print("| style | kernel CPU ms | encode CPU ms (1 thread) | encode vs unmasked |")
    print("|---|---:|---:|---:|")
    for style, pairs in costs.items():
        k = statistics.median(p[0] for p in pairs) / n * 1000
        e = statistics.median(p[1] for p in pairs)
        print(f"| {style} | {k:.2f} | {e / n * 1000:.2f} | {e / base:.3f} |")
    return 0


def _cpu_seconds() -> float:
    """User and system CPU time of this process, all threads (FFmpeg's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ratios(values: list[float], base: list[float]) -> str:
    """The median of the round-by-round ratios, then their quartiles (two table cells)."""
    ratios = sorted(v / b for v, b in zip(values, base, strict=True))
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios * 3)
    return f"{statistics.median(ratios):.3f} | {q1:.3f}-{q3:.3f}"


if __name__ == "__main__":
    sys.exit(main())
