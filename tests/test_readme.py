"""Every code block of README.md, run as written in a fresh venv made by ``pip install <checkout>``.

The blocks run in README order in one working directory, as a reader following the README would:
a block may read what an earlier one wrote (``cam7.timeline.json``, ``scene.json``). The test
makes the inputs the blocks name (``cam.mp4`` and the other recordings: real H.264 files made
with PyAV, without ``creation_time``) and writes the README's own JSON blocks as the files they
are marked as (``<!-- file: masks.json -->``). Python blocks run with the venv's interpreter,
bash blocks with the venv first on PATH. A block marked ``<!-- needs: crypto -->`` runs in a
second venv installed with the extras blocks need (``pip install '<checkout>[crypto,faces]'``);
all others run in the plain install. Blocks that cannot run here are marked
``<!-- not run: REASON -->`` and listed in ``NOT_RUN`` below: a new unmarked block runs, a new
marked one fails until listed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.freshvenv import (
    CHECKOUT,
    CLIP_FPS,
    CLIP_FRAMES,
    Block,
    Venv,
    gray_frames,
    installed_venv,
    readme_blocks,
    region,
    write_clip,
)

NOT_RUN = {
    "installs into your environment; tests/test_install.py runs `pip install <checkout>` in a "
    "fresh venv": "tests/test_install.py: pip install <checkout> in a fresh venv",
    "make test is the whole suite, this test included; make demo is tests/test_demo.py": (
        "would run this suite inside itself; the demo is tests/test_demo.py"
    ),
    "needs a Dask scheduler at tcp://scheduler:8786": "no Dask cluster here; compiled only",
    "needs a live camera": "tests/test_live.py: real RTSP and HTTP servers on 127.0.0.1",
}
"""The README blocks that are not run, by the reason the README gives, and what covers them."""

FILES = {"json", "yaml", "xml"}
"""Blocks in these languages are input files: each says which (``<!-- file: NAME -->``)."""
LANGUAGES = {"python", "bash", "text"} | FILES
"""Every fence names one: a block of commands without a language would escape the test."""

DAY_FRAMES = 12  # short: the batch examples run the face detector on each (about 0.4 s a frame)
INPUTS = {
    "cam.mp4": (1, CLIP_FRAMES),
    "cam7.mp4": (2, CLIP_FRAMES),
    "lobby.mp4": (3, CLIP_FRAMES),
    "ptz.mp4": (4, CLIP_FRAMES),
    "day/a.mp4": (5, DAY_FRAMES),
    "day/b.mp4": (6, DAY_FRAMES),
}
"""The recordings the README's blocks name: the seed each is drawn with, and its length."""

WINDOW = (0.06, 0.20, 0.22, 0.37)  # the README's solid "window" mask, x0, y0, x1, y1
BOARD = (0.60, 0.10, 0.90, 0.35)  # the mosaic "notice board" the timeline example adds

COMMAND = re.compile(r"^\s*(\$ |privmask |pip |python |make |ffmpeg )", re.M)

BLOCKS = readme_blocks()
RUN = [b for b in BLOCKS if b.lang in ("python", "bash") and b.not_run is None]
EXTRAS = ",".join(sorted({e.strip() for b in RUN for e in b.needs.split(",") if e.strip()}))
"""One venv with every extra some block needs (one install instead of one per extra)."""


@dataclass
class Outcome:
    block: Block
    venv: Venv | None
    proc: subprocess.CompletedProcess[str] | None
    skipped: str = ""


@pytest.fixture(scope="session")
def readme_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Outcome]]:
    """Runs every runnable block once, in README order, in one working directory."""
    base = tmp_path_factory.getbasetemp() / "fresh"
    plain = installed_venv(base)
    work = tmp_path_factory.mktemp("readme")
    scripts = tmp_path_factory.mktemp("readme-scripts")
    for name, (seed, frames) in INPUTS.items():
        write_clip(work / name, seed=seed, frames=frames)
    for block in BLOCKS:
        if block.file is not None:
            (work / block.file).write_text(block.code)
    outcomes: dict[str, Outcome] = {}
    for block in RUN:
        if "ffmpeg " in block.code and shutil.which("ffmpeg") is None:
            outcomes[block.id] = Outcome(block, None, None, "no ffmpeg binary on PATH")
            continue
        venv = installed_venv(base, EXTRAS) if block.needs else plain
        suffix = ".py" if block.lang == "python" else ".sh"
        script = scripts / f"block_{block.line}{suffix}"
        script.write_text(block.code)
        if block.lang == "python":
            args: list[str | Path] = [venv.python, script]
        else:
            args = ["bash", "-e", "-o", "pipefail", script]
        outcomes[block.id] = Outcome(block, venv, venv.run(args, cwd=work, timeout=600))
    return work, outcomes


def test_every_block_is_run_or_listed() -> None:
    assert BLOCKS, "README.md has no code blocks"
    assert {b.lang for b in BLOCKS} <= LANGUAGES, [b.id for b in BLOCKS if b.lang not in LANGUAGES]
    with open(CHECKOUT / "pyproject.toml", "rb") as f:
        extras = set(tomllib.load(f)["project"]["optional-dependencies"])
    assert set(filter(None, EXTRAS.split(","))) <= extras, EXTRAS
    marked = {b.not_run for b in BLOCKS if b.not_run is not None}
    assert marked == set(NOT_RUN), "README <!-- not run --> markers and NOT_RUN differ"
    for block in BLOCKS:
        if block.lang in FILES:
            assert block.file, f"{block.id}: an input file's block must say which file it is"
        if block.lang == "json":
            json.loads(block.code)
        if block.lang == "text":  # prose or a tree, never commands that would go untested
            assert not COMMAND.search(block.code), block.id


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.not_run and b.lang == "python"], ids=lambda b: b.id
)
def test_not_run_python_blocks_compile(block: Block) -> None:
    compile(block.code, block.id, "exec")


@pytest.mark.parametrize("block", RUN, ids=lambda b: b.id)
def test_readme_block_runs(block: Block, readme_run: tuple[Path, dict[str, Outcome]]) -> None:
    outcome = readme_run[1][block.id]
    if outcome.skipped:
        pytest.skip(outcome.skipped)
    assert outcome.proc is not None and outcome.venv is not None
    where = f"venv with [{block.needs}]" if block.needs else "plain install"
    assert outcome.proc.returncode == 0, (
        f"{block.id} failed ({where}):\n{block.code}\n--- output ---\n"
        f"{outcome.proc.stdout}{outcome.proc.stderr}"
    )


def test_readme_outputs_show_the_masks(readme_run: tuple[Path, dict[str, Outcome]]) -> None:
    work, outcomes = readme_run
    assert all(
        o.proc is not None and o.proc.returncode == 0 for o in outcomes.values() if not o.skipped
    )
    # The main job and the first Python example: the solid window over the textured picture.
    original = gray_frames(work / "cam.mp4")
    assert float(np.std(region(original[0], WINDOW))) > 20
    for name in ("masked.mp4", "masked/a.mp4", "masked/b.mp4"):
        frames = gray_frames(work / name)
        assert len(frames) == (DAY_FRAMES if "/" in name else CLIP_FRAMES), name
        assert max(float(np.std(region(f, WINDOW))) for f in frames) < 4, name
    if (work / "piped.mp4").exists():
        piped = gray_frames(work / "piped.mp4")
        assert len(piped) == CLIP_FRAMES
        assert max(float(np.std(region(f, WINDOW))) for f in piped) < 4
    # The timeline: the board is masked from the switch (08:30:01, one second in) on.
    switch = CLIP_FPS
    for name in ("cam7-masked.mp4",):
        frames = gray_frames(work / name)
        before = [float(np.std(region(f, BOARD))) for f in frames[: switch - 1]]
        after = [region(f, BOARD) for f in frames[switch + 1 :]]
        assert min(before) > 20, name
        # A mosaic: few distinct block values where there were 8x8 blocks of noise.
        assert all(np.std(a) < min(before) for a in after), name
    # PTZ: the pose log covers the clip, so no frame failed closed (a black frame).
    for name in ("ptz-masked.mp4", "ptz-out.mp4"):
        frames = gray_frames(work / name)
        assert len(frames) == CLIP_FRAMES
        assert min(float(np.mean(f)) for f in frames) > 40, name
    # The encrypted export and its manifest, the audit log, the redaction sidecars.
    manifest = json.loads((work / "case-4711.mp4.enc.manifest.json").read_text())
    assert manifest["frames"] == CLIP_FRAMES and manifest["encryption"]
    assert (work / "audit.jsonl").read_text().count("\n") >= 2
    assert json.loads((work / "out.mp4.tracks.json").read_text())
    assert sorted(p.name for p in (work / "redacted").glob("*.mp4")) == ["a.mp4", "b.mp4"]
