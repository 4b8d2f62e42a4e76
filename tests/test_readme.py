"""The README's first-screen example runs as written, on a real encoded clip."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_readme_example_runs(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None, "the README has no python example"
    with av.open(str(tmp_path / "cam.mp4"), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 128, 72, "yuv420p"
        rng = np.random.default_rng(0)
        for i in range(5):
            rgb = rng.integers(0, 256, (72, 128, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code.group(1), "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    with av.open(str(tmp_path / "masked.mp4")) as src:
        frames = [f.to_ndarray(format="gray") for f in src.decode(video=0)]
    assert len(frames) == 5
    # The solid window mask is in the output: a flat block where the noise was.
    window = frames[0][16:26, 10:27]
    assert window.std() < 4
