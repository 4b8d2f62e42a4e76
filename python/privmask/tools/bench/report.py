"""The report ``privmask bench`` produces: its fields (``--json`` writes them as they are) and its
Markdown form (what people paste into issues)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypedDict

from privmask.tools.bench.cases import MOSAIC_FOR_FILL, PEER_FORMAT

__all__ = [
    "BenchReport",
    "CaseResult",
    "CompileResult",
    "FillVsMosaic",
    "Floors",
    "Machine",
    "OverheadRow",
    "ThreadsResult",
    "ThreadsRow",
    "fmt_ms",
    "format_report",
]

# The most fill may cost against the mosaic on the same geometry (performance goal of the
# project, docs/performance.md "Fill").
_FILL_TARGET = 2.0


class Machine(TypedDict):
    cpu: str
    logical_cores: int | None
    platform: str
    python: str


class CaseResult(TypedDict):
    id: str
    style: str
    format: str
    resolution: str
    width: int
    height: int
    coverage_pct: int
    covered_pct: float
    """The luma pixels actually covered (conservative cover), in % of the frame."""
    privmask_ms: float
    covered_mpix_per_s: float
    """Covered luma pixels per second, in millions: the work scales with the cover."""
    numpy_ms: float | None
    opencv_ms: float | None
    vs_numpy: float | None
    """numpy time over privmask time: above 1, privmask is faster."""
    vs_opencv: float | None
    touched_bytes: int
    floor: Literal["fill", "copy"]
    floor_ms: float
    floor_multiple: float | None
    """privmask time over the floor time for the touched bytes (None if nothing is covered)."""
    floor_target: float | None
    mosaic_ms: float | None
    """Fill cases only: privmask's mosaic on the same geometry and format, timed in the same
    rounds as the fill (the price of fill is reported against it)."""
    repeats: dict[str, int]


class Floors(TypedDict):
    buffer_bytes: int
    fill_gb_per_s: float
    copy_gb_per_s: float
    """Bytes written per second (each is also read once)."""


class CompileResult(TypedDict):
    width: int
    height: int
    polygons: int
    vertices: int
    covered_pct: float
    privmask_gray_ms: float
    """``_native.compile`` for the luma plane alone: the same one plane fillPoly draws."""
    privmask_yuv420p_ms: float
    """The same polygons compiled for yuv420p (luma and chroma spans), what ``apply`` uses."""
    fillpoly_ms: float | None
    vs_fillpoly: float | None
    """fillPoly time over privmask's (gray) time: at least 1 meets the target."""


class ThreadsRow(TypedDict):
    style: str
    one_thread_ms: float
    n_threads_ms: float
    speedup: float


class ThreadsResult(TypedDict):
    resolution: str
    coverage_pct: int
    threads: int
    rows: list[ThreadsRow]
    copy_speedup: float
    """numpy copies of a buffer larger than the caches, split ``threads`` ways and run at once,
    over one thread copying it all: how far memory bandwidth itself scales, the ceiling for
    styles that are bound by it."""


class OverheadRow(TypedDict):
    resolution: str
    width: int
    height: int
    compiled_us: float
    """``pm.apply(frame, compiled)``: the Python wrapper, the frame checks, the native call."""
    maskset_us: float
    """``pm.apply(frame, mask_set)``: plus the compile-cache lookup by content hash."""


class FillVsMosaic(TypedDict):
    format: str
    resolution: str
    coverage_pct: int
    fill_ms: float
    mosaic_ms: float
    ratio: float


class BenchReport(TypedDict):
    """Everything ``privmask bench`` measured; ``--json`` writes it as is."""

    report_version: int
    privmask: str
    numpy: str
    opencv: str | None
    machine: Machine
    simd_level: str
    simd_levels: list[str]
    threads: int
    opencv_threads: int | None
    settings: dict[str, Any]
    cases: list[CaseResult]
    floors: Floors
    fill_vs_mosaic: list[FillVsMosaic]
    compile: CompileResult
    threads_scaling: ThreadsResult
    overhead: list[OverheadRow]
    elapsed_s: float


def fmt_ms(ms: float | None) -> str:
    """Three decimals below 1 ms (solid zones take microseconds), two above."""
    if ms is None:
        return "n/a"
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}"


def _fmt_x(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}x"


def _res(width: int, height: int, name: str) -> str:
    return name if name == f"{width}x{height}" else f"{name} ({width}x{height})"


def format_report(report: BenchReport) -> str:
    """The report as Markdown: pasteable into an issue or the README as it is."""
    m = report["machine"]
    versions = [
        f"privmask {report['privmask']}",
        f"numpy {report['numpy']}",
        f"Python {m['python']}",
    ]
    if report["opencv"] is not None:
        versions.append(f"OpenCV {report['opencv']}")
    thread_note = f"{report['threads']} thread{'s' if report['threads'] != 1 else ''}"
    lines = [
        f"CPU: {m['cpu']}, {m['logical_cores']} logical cores; SIMD {report['simd_level']} "
        f"(supported: {', '.join(report['simd_levels'])}); {thread_note} "
        f"({'privmask and OpenCV' if report['opencv'] else 'privmask'}); "
        + ", ".join(versions)
        + ".",
        "",
        "Four zones per frame; medians of repeated in-place runs after a warm-up; geometry "
        "prepared before timing for every peer. Mpix/s: covered luma pixels per second. "
        "vs numpy / vs OpenCV: their time over privmask's (above 1: privmask is faster). "
        "x floor: privmask's time over the bandwidth floor for the bytes the case touches "
        "(solid: fill floor, target <= 3x; others: copy floor, target <= 6x for mosaic and "
        "blur).",
        "",
        "| style | format | resolution | cover | privmask ms | Mpix/s | numpy ms | OpenCV ms "
        "| vs numpy | vs OpenCV | x floor |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["cases"]:
        multiple, target = r["floor_multiple"], r["floor_target"]
        missed = multiple is not None and target is not None and multiple > target
        lines.append(
            f"| {r['style']} | {r['format']} | {r['resolution']} | {r['coverage_pct']} % "
            f"| {fmt_ms(r['privmask_ms'])} | {r['covered_mpix_per_s']:.0f} "
            f"| {fmt_ms(r['numpy_ms'])} | {fmt_ms(r['opencv_ms'])} "
            f"| {_fmt_x(r['vs_numpy'])} | {_fmt_x(r['vs_opencv'])} "
            f"| {_fmt_x(multiple)}{' (!)' if missed else ''} |"
        )
    f = report["floors"]
    lines += [
        "",
        f"**Bandwidth floor** (numpy on a {f['buffer_bytes'] >> 20} MiB buffer, same run): "
        f"fill {f['fill_gb_per_s']:.1f} GB/s, copy {f['copy_gb_per_s']:.1f} GB/s. "
        + _floor_summary(report["cases"]),
    ]
    if report["fill_vs_mosaic"]:
        lines += [
            "",
            f"**Fill vs {MOSAIC_FOR_FILL}** (fill time over mosaic time, the two timed in the "
            "same rounds on the same geometry): ",
        ]
        lines[-1] += ", ".join(
            f"{v['resolution']} {v['coverage_pct']} % {v['ratio']:.2f}x"
            + ("" if v["format"] == PEER_FORMAT else f" ({v['format']})")
            for v in report["fill_vs_mosaic"]
        )
        top = max(report["fill_vs_mosaic"], key=lambda v: v["ratio"])
        verdict = "ok" if top["ratio"] <= _FILL_TARGET else "MISSED"
        lines[-1] += (
            f". Highest: {top['ratio']:.2f}x at {top['resolution']} {top['coverage_pct']} % "
            f"(target {_FILL_TARGET:.0f}x {verdict})."
        )
    c = report["compile"]
    cv_part = (
        f"; cv2.fillPoly {fmt_ms(c['fillpoly_ms'])} ms (fillPoly / privmask "
        f"{_fmt_x(c['vs_fillpoly'])}, target >= 1x)"
        if c["fillpoly_ms"] is not None
        else ""
    )
    lines += [
        "",
        f"**Compile** {c['polygons']} polygons x {c['vertices']} vertices "
        f"({c['covered_pct']:.0f} % cover) for {c['width']}x{c['height']}: privmask "
        f"{fmt_ms(c['privmask_gray_ms'])} ms for the luma plane, "
        f"{fmt_ms(c['privmask_yuv420p_ms'])} ms for yuv420p{cv_part}.",
    ]
    t = report["threads_scaling"]
    lines += [
        "",
        f"**Threads** ({t['resolution']}, {t['coverage_pct']} % cover, yuv420p): "
        + ", ".join(
            f"{row['style']} {fmt_ms(row['one_thread_ms'])} -> {fmt_ms(row['n_threads_ms'])} "
            f"ms ({row['speedup']:.2f}x)"
            for row in t["rows"]
        )
        + f" (1 -> {t['threads']} threads); memory bandwidth itself scales "
        f"{t['copy_speedup']:.2f}x (numpy copies on {t['threads']} threads), the ceiling for "
        "the styles bound by it.",
        "",
        "**Per-call overhead** (one 4x4 px solid mask, yuv420p; CompiledMasks / MaskSet): "
        + ", ".join(
            f"{_res(o['width'], o['height'], o['resolution'])} {o['compiled_us']:.1f} / "
            f"{o['maskset_us']:.1f} us"
            for o in report["overhead"]
        )
        + ".",
    ]
    return "\n".join(lines)


def _floor_summary(results: Sequence[CaseResult]) -> str:
    """The worst multiple per style against its target: the line a reviewer looks for."""
    worst: dict[str, tuple[float, CaseResult]] = {}
    for r in results:
        multiple = r["floor_multiple"]
        if multiple is not None and (r["style"] not in worst or multiple > worst[r["style"]][0]):
            worst[r["style"]] = (multiple, r)
    parts = []
    for style, (multiple, r) in worst.items():
        target = r["floor_target"]
        verdict = "" if target is None else (" ok" if multiple <= target else " MISSED")
        limit = "" if target is None else f" (target {target:.0f}x{verdict})"
        where = (
            r["resolution"] if r["format"] == PEER_FORMAT else f"{r['format']} {r['resolution']}"
        )
        parts.append(f"{style} {multiple:.1f}x at {where} {r['coverage_pct']} %{limit}")
    return ("Worst multiple of the floor: " + "; ".join(parts) + ".") if parts else ""
