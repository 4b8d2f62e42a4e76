"""Running the benchmark: each case against its peers, the bandwidth floor, rasterising, thread
scaling and the per-call overhead, gathered into one
:class:`~privmask.tools.bench.report.BenchReport`."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

import privmask as pm
from privmask import _native
from privmask.engine.frame import FORMATS
from privmask.tools.bench.cases import (
    COVERAGES,
    FLOOR_OF,
    MOSAIC_FOR_FILL,
    PEER_FORMAT,
    STYLES,
    Case,
    cases,
    make_frame,
    resolution_size,
    touched_bytes,
)
from privmask.tools.bench.machine import describe_machine
from privmask.tools.bench.peers import (
    FILLPOLY_SHIFT,
    PrivmaskPeer,
    cv_points,
    import_cv2,
    opencv_version,
    peers_for,
)
from privmask.tools.bench.report import (
    BenchReport,
    CaseResult,
    CompileResult,
    FillVsMosaic,
    Floors,
    OverheadRow,
    ThreadsResult,
    ThreadsRow,
    fmt_ms,
)
from privmask.tools.bench.timing import DEFAULT, Settings, measure

__all__ = [
    "compile_polygons",
    "measure_compile",
    "measure_floors",
    "measure_overhead",
    "measure_threads",
    "run_bench",
]


def measure_floors(settings: Settings) -> Floors:
    """Fill and copy bandwidth with numpy on a buffer larger than the caches: what any kernel
    that writes (solid) or reads and writes (the others) its covered bytes cannot beat."""
    n = settings.floor_mib << 20
    dst = np.empty(n, dtype=np.uint8)
    src = np.ones(n, dtype=np.uint8)
    dst.fill(0)  # fault the pages in before timing
    t = measure(
        {"fill": lambda: dst.fill(7), "copy": lambda: np.copyto(dst, src)},
        Settings(warmup=1, min_repeats=5, max_repeats=max(5, settings.min_repeats)),
    )
    return {
        "buffer_bytes": n,
        "fill_gb_per_s": n / t["fill"].median_s / 1e9,
        "copy_gb_per_s": n / t["copy"].median_s / 1e9,
    }


def _ratio(peer_ms: float | None, own_ms: float) -> float | None:
    return None if peer_ms is None else peer_ms / own_ms


def _bench_case(
    case: Case,
    frame: pm.Frame,
    floors: Floors,
    settings: Settings,
    opencv: bool,
) -> CaseResult:
    """Builds the case's peers (untimed), times them in turns, and relates privmask's time to
    its peers and to the bandwidth floor for the bytes it touches."""
    width, height = case.size
    peers = {name: make(case) for name, make in peers_for(case, opencv=opencv).items()}
    # every peer masks in place, each its own frame
    runs = {name: partial(peer, frame.copy()) for name, peer in peers.items()}
    timed = measure(runs, settings)
    del runs, peers  # the numpy plans of 4K cases are large; free them before the next case
    luma = pm.coverage(case.masks, width, height)
    n_covered = int(np.count_nonzero(luma))
    own_ms = timed["privmask"].ms
    numpy_ms = timed["numpy"].ms if "numpy" in timed else None
    opencv_ms = timed["opencv"].ms if "opencv" in timed else None
    kind, target = FLOOR_OF[type(STYLES[case.style])]
    nbytes = touched_bytes(case.format, luma)
    floor_ms = nbytes / (floors["fill_gb_per_s" if kind == "fill" else "copy_gb_per_s"] * 1e6)
    return {
        "id": case.id,
        "style": case.style,
        "format": case.format,
        "resolution": case.resolution,
        "width": width,
        "height": height,
        "coverage_pct": case.coverage,
        "covered_pct": 100 * n_covered / (width * height),
        "privmask_ms": own_ms,
        "covered_mpix_per_s": n_covered / (own_ms * 1e3),
        "numpy_ms": numpy_ms,
        "opencv_ms": opencv_ms,
        "vs_numpy": _ratio(numpy_ms, own_ms),
        "vs_opencv": _ratio(opencv_ms, own_ms),
        "touched_bytes": nbytes,
        "floor": kind,
        "floor_ms": floor_ms,
        "floor_multiple": own_ms / floor_ms if floor_ms > 0 else None,
        "floor_target": target,
        "mosaic_ms": timed[MOSAIC_FOR_FILL].ms if MOSAIC_FOR_FILL in timed else None,
        "repeats": {name: t.repeats for name, t in timed.items()},
    }


def compile_polygons(count: int = 16, vertices: int = 64) -> list[pm.Polygon]:
    """``count`` star-shaped (non-convex) polygons of ``vertices`` vertices on a 4x4-style grid:
    the many-edged zones a hand-drawn mask or a traced outline produces."""
    rng = np.random.default_rng(1)
    side = math.ceil(math.sqrt(count))
    cell = 1 / side
    out = []
    for k in range(count):
        cx, cy = (k % side + 0.5) * cell, (k // side + 0.5) * cell
        angles = 2 * math.pi * np.arange(vertices) / vertices
        radii = 0.4 * cell * (0.7 + 0.3 * rng.random(vertices))
        out.append(
            pm.Polygon(
                (cx + r * math.cos(a), cy + r * math.sin(a))
                for r, a in zip(radii.tolist(), angles.tolist(), strict=True)
            )
        )
    return out


def measure_compile(settings: Settings, opencv: bool) -> CompileResult:
    """Rasterising against ``cv2.fillPoly`` drawing the same polygons into one plane.

    The native compile is timed directly: ``MaskSet.compile`` caches by content hash, so after
    the first call it would time a dictionary lookup, not the rasteriser.
    """
    width, height = resolution_size(settings.compile_resolution)
    polygons = compile_polygons()
    specs: list[tuple[Sequence[tuple[float, float]], str, Sequence[float], bool]] = [
        (list(p.points), *pm.Solid().native_spec(), False) for p in polygons
    ]
    runs: dict[str, Callable[[], object]] = {
        "gray": lambda: _native.compile(specs, width, height, "gray"),
        "yuv420p": lambda: _native.compile(specs, width, height, "yuv420p"),
    }
    if opencv:
        cv2 = import_cv2()
        plane = np.zeros((height, width), dtype=np.uint8)
        pts = [cv_points(p.points, width, height) for p in polygons]
        runs["fillpoly"] = lambda: cv2.fillPoly(plane, pts, 255, cv2.LINE_8, FILLPOLY_SHIFT)
    timed = measure(runs, settings)
    cover = _native.compile(specs, width, height, "gray").coverage()
    fill_ms = timed["fillpoly"].ms if "fillpoly" in timed else None
    return {
        "width": width,
        "height": height,
        "polygons": len(polygons),
        "vertices": len(polygons[0].points),
        "covered_pct": 100 * float(np.mean(cover)),
        "privmask_gray_ms": timed["gray"].ms,
        "privmask_yuv420p_ms": timed["yuv420p"].ms,
        "fillpoly_ms": fill_ms,
        "vs_fillpoly": _ratio(fill_ms, timed["gray"].ms),
    }


def measure_threads(styles: Sequence[str], settings: Settings, n: int = 2) -> ThreadsResult:
    """``apply`` with ``n`` threads against one, per style, on a fully covered frame (the most
    work to share). The thread count changes between blocks of runs, not every run: setting it
    builds a new pool, which is not what is being measured."""
    width, height = resolution_size(settings.scaling_resolution)
    base = make_frame(width, height)
    before = pm.threads()
    rows: list[ThreadsRow] = []
    try:
        for style in styles:
            case = Case(style, settings.scaling_resolution, 100)
            peer = PrivmaskPeer(case)
            frame = base.copy()
            samples: dict[int, list[float]] = {1: [], n: []}
            rounds = 3
            per_round = Settings(
                warmup=1,
                min_repeats=max(1, settings.min_repeats // rounds),
                max_repeats=max(1, settings.max_repeats // rounds),
                budget_s=settings.budget_s / rounds,
            )
            for _ in range(rounds):
                for k in (1, n):
                    pm.set_threads(k)
                    t = measure({"apply": partial(peer, frame)}, per_round)
                    samples[k].append(t["apply"].median_s)
            one, many = statistics.median(samples[1]) * 1e3, statistics.median(samples[n]) * 1e3
            rows.append(
                {"style": style, "one_thread_ms": one, "n_threads_ms": many, "speedup": one / many}
            )
    finally:
        pm.set_threads(before)
    return {
        "resolution": settings.scaling_resolution,
        "coverage_pct": 100,
        "threads": n,
        "rows": rows,
        "copy_speedup": _copy_scaling(settings, n),
    }


def _copy_scaling(settings: Settings, n: int) -> float:
    """Bandwidth of ``n`` threads copying one buffer in ``n`` parts at once over one thread
    copying it whole (numpy releases the GIL while it copies)."""
    size = (settings.floor_mib << 20) // n * n
    src, dst = np.ones(size, dtype=np.uint8), np.zeros(size, dtype=np.uint8)
    chunk = size // n
    parts = [(dst[i * chunk : (i + 1) * chunk], src[i * chunk : (i + 1) * chunk]) for i in range(n)]
    with ThreadPoolExecutor(n) as pool:

        def together() -> None:
            for f in [pool.submit(np.copyto, d, s) for d, s in parts]:
                f.result()

        t = measure(
            {"one": lambda: np.copyto(dst, src), "many": together},
            Settings(warmup=1, min_repeats=5, max_repeats=max(5, settings.min_repeats)),
        )
    return t["one"].median_s / t["many"].median_s


def measure_overhead(settings: Settings) -> list[OverheadRow]:
    """The fixed cost of one ``apply`` call: a small frame and a 4x4-pixel solid mask, so the
    kernel itself is negligible. Both the compiled path (what a tight loop should use) and the
    mask-set path (content-hash cache lookup first) are timed."""
    rows: list[OverheadRow] = []
    batch = settings.overhead_batch

    def many(frame: pm.Frame, target: pm.MaskSet | pm.CompiledMasks) -> None:
        for _ in range(batch):
            pm.apply(frame, target)

    for name in settings.overhead_resolutions:
        width, height = resolution_size(name)
        tiny = pm.Polygon.rect(0.5, 0.5, 4 / width, 4 / height)
        masks = pm.MaskSet([pm.Mask(tiny, pm.Solid(yuv=(16, 128, 128)))])
        compiled = masks.compile(width, height, PEER_FORMAT)
        frame = make_frame(width, height)
        t = measure(
            {"compiled": partial(many, frame, compiled), "maskset": partial(many, frame, masks)},
            settings,
        )
        rows.append(
            {
                "resolution": name,
                "width": width,
                "height": height,
                "compiled_us": t["compiled"].median_s / batch * 1e6,
                "maskset_us": t["maskset"].median_s / batch * 1e6,
            }
        )
    return rows


def _fill_vs_mosaic(results: Sequence[CaseResult]) -> list[FillVsMosaic]:
    """Fill against mosaic in the same geometry: fill reads the surroundings and interpolates,
    so users choosing between the two anonymising-looking styles want to know the price. The
    mosaic is the one timed in the same rounds as each fill case, so a burst of load from
    elsewhere slows both alike."""
    out: list[FillVsMosaic] = []
    for r in results:
        mosaic_ms = r["mosaic_ms"]
        if r["style"] == "fill" and mosaic_ms is not None:
            out.append(
                {
                    "format": r["format"],
                    "resolution": r["resolution"],
                    "coverage_pct": r["coverage_pct"],
                    "fill_ms": r["privmask_ms"],
                    "mosaic_ms": mosaic_ms,
                    "ratio": r["privmask_ms"] / mosaic_ms,
                }
            )
    return out


def run_bench(
    *,
    styles: Sequence[str] = tuple(STYLES),
    formats: Sequence[str] = (PEER_FORMAT,),
    resolutions: Sequence[str] = ("1080p", "4k"),
    coverages: Sequence[int] = COVERAGES,
    settings: Settings = DEFAULT,
    threads: int = 1,
    simd: str | None = None,
    opencv: bool = True,
    log: Callable[[str], None] | None = None,
) -> BenchReport:
    """Runs the whole benchmark and returns the report (see :class:`BenchReport`).

    ``threads`` applies to privmask and OpenCV alike (one by default, so the table compares
    kernels and cores, not core counts; the threads section shows the scaling). ``simd`` forces
    a SIMD level for the run. Both, and OpenCV's thread count, are restored afterwards, so
    calling this in a long-lived process leaves it as it was. ``opencv=False`` leaves OpenCV out
    even when it is installed.
    """
    started = time.perf_counter()
    say = log or (lambda _msg: None)
    for s in styles:
        if s not in STYLES:
            raise ValueError(f"unknown style {s!r}; one of {', '.join(STYLES)}")
    for f in formats:
        if f not in FORMATS:
            raise ValueError(f"unknown format {f!r}; one of {', '.join(FORMATS)}")
    for name in resolutions:
        resolution_size(name)
    cv_version = opencv_version() if opencv else None
    with_cv2 = cv_version is not None
    cv2 = import_cv2() if with_cv2 else None
    threads_before, simd_before = pm.threads(), _native.simd_level()
    cv_threads_before = int(cv2.getNumThreads()) if cv2 is not None else None
    try:
        pm.set_threads(threads)
        if cv2 is not None:
            cv2.setNumThreads(threads)
        if simd is not None:
            _native.set_simd_level(simd)
        # Thread scaling first: once the numpy peer has run, OpenBLAS worker threads may spin on
        # the other core for a while and make any second privmask thread look useless.
        say(f"threads: 1 vs 2 at {settings.scaling_resolution}")
        scaling = measure_threads(styles, settings)
        pm.set_threads(threads)
        say(f"bandwidth floor ({settings.floor_mib} MiB buffer)")
        floors = measure_floors(settings)
        results: list[CaseResult] = []
        frames: dict[tuple[str, str], pm.Frame] = {}
        for case in cases(styles, formats, resolutions, coverages):
            key = (case.format, case.resolution)
            if key not in frames:
                frames[key] = make_frame(*case.size, case.format)
            r = _bench_case(case, frames[key], floors, settings, with_cv2)
            peer_ms = {"numpy": r["numpy_ms"], "opencv": r["opencv_ms"]}
            say(
                f"{case.id}: privmask {fmt_ms(r['privmask_ms'])} ms"
                + "".join(f", {k} {fmt_ms(v)} ms" for k, v in peer_ms.items() if v is not None)
            )
            results.append(r)
        frames.clear()
        say("compile: 16 polygons x 64 vertices")
        compiled = measure_compile(settings, with_cv2)
        say("per-call overhead")
        overhead = measure_overhead(settings)
        level = _native.simd_level()
    finally:
        pm.set_threads(threads_before)
        _native.set_simd_level(simd_before)
        if cv2 is not None and cv_threads_before is not None:
            cv2.setNumThreads(cv_threads_before)
    return {
        "report_version": 1,
        "privmask": pm.__version__,
        "numpy": np.__version__,
        "opencv": cv_version,
        "machine": describe_machine(),
        "simd_level": level,
        "simd_levels": list(_native.simd_levels()),
        "threads": threads,
        "opencv_threads": threads if with_cv2 else None,
        "settings": {
            "warmup": settings.warmup,
            "min_repeats": settings.min_repeats,
            "max_repeats": settings.max_repeats,
            "budget_s": settings.budget_s,
            "statistic": "median",
        },
        "cases": results,
        "floors": floors,
        "fill_vs_mosaic": _fill_vs_mosaic(results),
        "compile": compiled,
        "threads_scaling": scaling,
        "overhead": overhead,
        "elapsed_s": time.perf_counter() - started,
    }
