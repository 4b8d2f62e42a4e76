"""``privmask bench``: the report's structure, its JSON, and the command line, in a tiny
configuration (one small resolution, one repeat). Speed is not asserted: this machine is shared
and the numbers are only meaningful as ratios within one run."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pytest

import privmask as pm
from privmask import _native
from privmask.tools import bench

TINY = bench.Settings(
    warmup=1,
    min_repeats=1,
    max_repeats=1,
    budget_s=0.0,
    floor_mib=4,
    scaling_resolution="320x180",
    compile_resolution="320x180",
    overhead_resolutions=("cif",),
    overhead_batch=5,
)
STYLES = ["solid", "mosaic16", "fill"]


def _has_cv2() -> bool:
    return bench.opencv_version() is not None


@pytest.fixture(scope="module")
def report() -> bench.BenchReport:
    """One tiny run shared by the structure tests (it is the slow part)."""
    return bench.run_bench(
        styles=STYLES,
        formats=["yuv420p", "nv12"],
        resolutions=["320x180"],
        coverages=[25],
        settings=TINY,
        simd=_native.simd_levels()[0],
    )


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_report_header(report: bench.BenchReport) -> None:
    assert set(report) == bench.BenchReport.__required_keys__
    assert report["privmask"] == pm.__version__
    assert report["machine"]["cpu"]
    assert report["simd_level"] == _native.simd_levels()[0]
    assert report["simd_levels"] == _native.simd_levels()
    assert report["threads"] == 1
    assert (report["opencv"] is not None) == _has_cv2()
    assert _positive(report["elapsed_s"])


def test_report_cases(report: bench.BenchReport) -> None:
    """Every case of the matrix is there; peers only where they do the same work (yuv420p, not
    fill); every number positive."""
    ids = [c["id"] for c in report["cases"]]
    assert ids == [c.id for c in bench.cases(STYLES, ["yuv420p", "nv12"], ["320x180"], [25])]
    for c in report["cases"]:
        assert set(c) == bench.CaseResult.__required_keys__
        assert (c["width"], c["height"]) == (320, 180)
        for key in ("privmask_ms", "covered_mpix_per_s", "touched_bytes", "floor_ms"):
            assert _positive(c[key]), (c["id"], key)
        assert _positive(c["floor_multiple"])
        assert 20 < c["covered_pct"] < 35
        compared = c["format"] == "yuv420p" and c["style"] != "fill"
        assert (c["numpy_ms"] is not None) == compared
        assert (c["opencv_ms"] is not None) == (compared and _has_cv2())
        for peer, ratio in (("numpy_ms", "vs_numpy"), ("opencv_ms", "vs_opencv")):
            if c[peer] is not None:  # type: ignore[literal-required]
                assert _positive(c[ratio])  # type: ignore[literal-required]
        assert c["floor"] == ("fill" if c["style"] == "solid" else "copy")
        assert all(n == 1 for n in c["repeats"].values())


def test_report_extras(report: bench.BenchReport) -> None:
    floors = report["floors"]
    assert floors["buffer_bytes"] == 4 << 20
    assert _positive(floors["fill_gb_per_s"]) and _positive(floors["copy_gb_per_s"])
    assert [(v["format"], v["resolution"]) for v in report["fill_vs_mosaic"]] == [
        ("yuv420p", "320x180"),
        ("nv12", "320x180"),
    ]
    assert all(_positive(v["ratio"]) for v in report["fill_vs_mosaic"])
    comp = report["compile"]
    assert (comp["polygons"], comp["vertices"]) == (16, 64)
    assert _positive(comp["privmask_gray_ms"]) and _positive(comp["privmask_yuv420p_ms"])
    assert (comp["fillpoly_ms"] is not None) == _has_cv2()
    scaling = report["threads_scaling"]
    assert scaling["threads"] == 2
    assert [row["style"] for row in scaling["rows"]] == STYLES
    assert all(_positive(row["speedup"]) for row in scaling["rows"])
    assert _positive(scaling["copy_speedup"])
    (overhead,) = report["overhead"]
    assert (overhead["width"], overhead["height"]) == (352, 288)
    assert _positive(overhead["compiled_us"]) and _positive(overhead["maskset_us"])


def test_report_restores_state() -> None:
    """A run forces threads and a SIMD level; a long-lived process must get its own back."""
    threads, level = pm.threads(), _native.simd_level()
    bench.run_bench(
        styles=["solid"],
        resolutions=["64x36"],
        coverages=[5],
        settings=TINY,
        threads=2,
        simd=_native.simd_levels()[0],
        opencv=False,
    )
    assert (pm.threads(), _native.simd_level()) == (threads, level)


def test_format_report(report: bench.BenchReport) -> None:
    text = bench.format_report(report)
    assert report["machine"]["cpu"] in text
    assert "| style | format |" in text
    for c in report["cases"]:
        assert f"| {c['style']} | {c['format']} | 320x180 | 25 % |" in text
    for heading in ("Bandwidth floor", "Fill vs mosaic16", "Compile", "Threads", "overhead"):
        assert heading in text
    top = max(v["ratio"] for v in report["fill_vs_mosaic"])
    verdict = "ok" if top <= 2 else "MISSED"
    assert f"Highest: {top:.2f}x at 320x180 25 % (target 2x {verdict})." in text


def test_main_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m privmask.tools.bench --quick --json FILE``: a table on stdout, strict JSON in
    FILE
    (no NaN or Infinity, which other JSON readers reject) that matches the printed run."""
    monkeypatch.setattr(bench, "QUICK", TINY)
    out = tmp_path / "report.json"
    status = bench.main(
        ["--quick", "--json", str(out), "--styles", "solid", "--resolutions", "64x36"]
    )
    assert status == 0
    data = json.loads(out.read_text(), parse_constant=pytest.fail)
    assert set(data) == bench.BenchReport.__required_keys__
    assert [c["id"] for c in data["cases"]] == [
        f"solid-yuv420p-64x36-{cov}" for cov in bench.COVERAGES
    ]
    printed = capsys.readouterr().out
    assert "| solid | yuv420p | 64x36 | 100 % |" in printed


def test_add_cli_registers_bench() -> None:
    """What the ``privmask`` command does with :func:`privmask.cli.bench.add_parser`."""
    from privmask.cli import bench as bench_cli
    from privmask.cli.main import COMMANDS

    parser = argparse.ArgumentParser(prog="privmask")
    sub = parser.add_subparsers(dest="command", required=True)
    bench_cli.add_parser(sub)
    args = parser.parse_args(
        ["bench", "--quick", "--formats", "yuv420p,nv12", "--styles", "solid,blur8"]
    )
    assert args.command == "bench"
    assert COMMANDS["bench"].module == "privmask.cli.bench"
    assert (args.quick, args.formats, args.styles, args.threads) == (
        True,
        ["yuv420p", "nv12"],
        ["solid", "blur8"],
        1,
    )
    assert args.resolutions is None  # chosen by --quick or not, at run time


@pytest.mark.parametrize(
    "argv",
    [
        ["--styles", "sepia"],
        ["--formats", "yuv411p"],
        ["--resolutions", "huge"],
        ["--threads", "0"],
        ["--simd", "avx512-nope"],
    ],
)
def test_bad_arguments_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2


def test_touched_bytes_by_format() -> None:
    """The floor is computed for the bytes a cover makes privmask write, per format."""
    import numpy as np

    luma = np.zeros((4, 4), dtype=bool)
    luma[0, 0] = True  # one luma pixel: one chroma site of 2x2 in 4:2:0
    assert bench.touched_bytes("yuv420p", luma) == 3
    assert bench.touched_bytes("nv12", luma) == 3
    assert bench.touched_bytes("yuv420p10le", luma) == 6
    assert bench.touched_bytes("p010le", luma) == 6
    assert bench.touched_bytes("rgb24", luma) == 3
    assert bench.touched_bytes("gray", luma) == 1
    assert bench.touched_bytes("yuv444p", luma) == 3
