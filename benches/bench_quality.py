"""Picture quality of a masked copy with the default settings: PSNR outside the masks and the bit
rate against the source's.

A masked recording must still look like its source everywhere the masks are not: evidence is
judged on it. The source here is a detailed 1080p H.264 clip at 16 Mb/s (photographs panning
slowly under fine grain: every macroblock has detail and changes); it is masked with
:func:`privmask.video.mask_file` and the default settings, as H.264 (the source's codec) and as
HEVC, and compared with the decoded source outside the masks. The targets (issue 13): at least
40 dB luma PSNR outside the masks, at most 1.3x the source's bit rate.

    python -m benches.bench_quality                  # 1080p, 50 frames: the table
    python -m benches.bench_quality --size 640x360   # quicker

Under pytest it runs once on a small clip as a smoke test (no figures are asserted there: a
tiny clip's bit rate says little); the settings it relies on are tested in
``tests/test_recordings.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import privmask as pm
from privmask.video import mask_file

av = pytest.importorskip("av")

SOURCE_RATE = 16_000_000
FPS = 25
MASKS = pm.MaskSet(
    [
        pm.Mask(pm.Polygon.rect(0.05, 0.1, 0.2, 0.3)),
        pm.Mask(pm.Polygon.rect(0.6, 0.55, 0.3, 0.25), pm.Mosaic(block=0.03)),
    ]
)


def _photo(width: int, height: int) -> np.ndarray:
    """Photographs (scikit-image's) tiled to cover ``width`` x ``height`` (RGB)."""
    from skimage import data

    tiles = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    row_h = 300
    rows, x_total = [], width
    for r in range((height + row_h - 1) // row_h):
        row, x = [], 0
        i = r
        while x < x_total:
            t = tiles[i % len(tiles)]
            scale = row_h / t.shape[0]
            w = max(1, int(t.shape[1] * scale))
            ys = (np.arange(row_h) / scale).astype(int).clip(0, t.shape[0] - 1)
            xs = (np.arange(w) / scale).astype(int).clip(0, t.shape[1] - 1)
            row.append(t[ys][:, xs])
            x += w
            i += 1
        rows.append(np.concatenate(row, axis=1)[:, :x_total])
    return np.concatenate(rows, axis=0)[:height]


def make_source(path: Path, width: int, height: int, frames: int) -> float:
    """Writes the detailed source clip; returns its video bit rate in bits/s."""
    photo = _photo(width + 2 * frames, height).astype(np.int16)
    rng = np.random.default_rng(13)
    with av.open(str(path), "w") as out:
        s = out.add_stream(
            "libx264",
            rate=FPS,
            options={"preset": "veryfast", "maxrate": str(SOURCE_RATE), "bufsize": "8M"},
        )
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.bit_rate = SOURCE_RATE * width * height // (1920 * 1080)
        for i in range(frames):
            grain = rng.normal(0, 4, (height, width, 1)).astype(np.int16)
            img = (photo[:, 2 * i : 2 * i + width] + grain).clip(0, 255).astype(np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return bit_rate(path)


def bit_rate(path: Path) -> float:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        size = sum(p.size for p in c.demux(v) if p.size)
        seconds = float(v.frames / v.average_rate) if v.frames else float(c.duration / 1e6)
    return size * 8 / seconds


def luma(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="gray") for f in c.decode(video=0)])


def psnr_outside(src: Path, dst: Path, masks: pm.MaskSet) -> float:
    """Luma PSNR (dB) of ``dst`` against ``src`` over the pixels no mask covers."""
    a, b = luma(src).astype(np.float64), luma(dst).astype(np.float64)
    outside = ~pm.coverage(masks, a.shape[2], a.shape[1])
    mse = float(((a - b) ** 2)[:, outside].mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def measure(width: int, height: int, frames: int, workdir: Path) -> list[dict[str, object]]:
    src = workdir / "source.mp4"
    src_rate = make_source(src, width, height, frames)
    rows: list[dict[str, object]] = []
    for label, codec in (("H.264 (default: source codec)", None), ("HEVC", "libx265")):
        dst = workdir / f"masked-{codec or 'default'}.mp4"
        t0 = time.perf_counter()
        report = mask_file(src, dst, MASKS, codec=codec, progress=False)
        seconds = time.perf_counter() - t0
        rate = bit_rate(dst)
        rows.append(
            {
                "output": f"{label} [{report.codec}]",
                "source_mbps": src_rate / 1e6,
                "output_mbps": rate / 1e6,
                "ratio": rate / src_rate,
                "psnr_outside_db": psnr_outside(src, dst, MASKS),
                "seconds": seconds,
            }
        )
    return rows


def format_rows(rows: list[dict[str, object]]) -> str:
    lines = [
        f"{'output':38} {'source Mb/s':>11} {'output Mb/s':>11} {'ratio':>6} "
        f"{'PSNR outside':>12} {'time s':>7}"
    ]
    for r in rows:
        lines.append(
            f"{r['output']!s:38} {r['source_mbps']:>11.2f} {r['output_mbps']:>11.2f} "
            f"{r['ratio']:>6.2f} {r['psnr_outside_db']:>9.2f} dB {r['seconds']:>7.1f}"
        )
    return "\n".join(lines)


def test_quality_smoke(tmp_path: Path) -> None:
    rows = measure(192, 108, 6, tmp_path)
    assert len(rows) == 2
    assert all(float(str(r["psnr_outside_db"])) > 30 for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT (default 1920x1080)")
    parser.add_argument("--frames", type=int, default=50)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as d:
        print(format_rows(measure(width, height, args.frames, Path(d))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
