"""A fresh virtual environment with this checkout installed by plain ``pip install``, shared by
tests/test_install.py and tests/test_readme.py, and the README's code blocks, parsed.

``installed_venv(base, extras)`` runs ``python -m venv`` and ``pip install <checkout>[extras]``
once per test session (pip builds the Rust core with maturin in an isolated build environment:
minutes from a cold cargo cache, seconds from a warm one). Every command and its trimmed output
goes to ``base/transcript.txt``, so a failure shows what a newcomer would have seen.

``readme_blocks()`` returns every fenced block of README.md with the HTML comment right before
it, which says how the README tests treat it: ``<!-- not run: REASON -->`` (listed by the tests,
never skipped silently), ``<!-- needs: EXTRA,... -->`` (run in a venv with those extras) or
``<!-- file: NAME -->`` (a JSON block that is the file NAME the blocks after it read).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
README = CHECKOUT / "README.md"
DISTRIBUTION = "privmask-video"
"""The name this project installs under (PyPI's ``privmask`` is an unrelated project)."""

INSTALL_TIMEOUT_S = 1500.0
"""A cold release build of the Rust core on a loaded 2-core machine took 3.5 minutes."""


def project_version() -> str:
    """The version in the Cargo workspace, which maturin gives the wheel and ``__version__``."""
    with open(CHECKOUT / "Cargo.toml", "rb") as f:
        version: str = tomllib.load(f)["workspace"]["package"]["version"]
    return version


def _trim(text: str, lines: int = 12) -> str:
    rows = text.rstrip().splitlines()
    if len(rows) <= 2 * lines:
        return "\n".join(rows)
    return "\n".join([*rows[:lines], f"... ({len(rows) - 2 * lines} lines)", *rows[-lines:]])


@dataclass
class Venv:
    """A virtual environment made by :func:`installed_venv`; ``wheel`` is the file name pip
    built (``privmask_video-<version>-<python tag>-<abi tag>-<platform>.whl``)."""

    root: Path
    transcript: Path
    wheel: str = ""
    install_seconds: float = 0.0
    extras: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of an activated venv: its bin first on PATH, nothing of the test
        runner's own environment (PYTHONPATH, VIRTUAL_ENV) leaking in."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PRIVMASK_REVIEW_DIR"] = str(self.root / "review")  # not the user's cache
        env.update(extra or {})
        return env

    def run(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        cwd: Path,
        timeout: float = 300.0,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Runs ``args`` in ``cwd`` as a user of this venv would, and logs it to the
        transcript. Returns the finished process (its status is the caller's to check)."""
        shown = " ".join(shlex.quote(str(a)) for a in args)
        t0 = time.monotonic()
        proc = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
        )
        took = time.monotonic() - t0
        entry = f"$ {shown}    # in {cwd}, {took:.1f} s, exit {proc.returncode}\n" + _trim(
            proc.stdout + proc.stderr
        )
        self.log.append(entry)
        with open(self.transcript, "a") as f:
            f.write(entry.rstrip() + "\n\n")
        return proc


_VENVS: dict[tuple[Path, str], Venv] = {}


def installed_venv(base: Path, extras: str = "") -> Venv:
    """A fresh venv under ``base`` with ``pip install <checkout>[extras]`` done, made once per
    process for each ``extras``. Raises ``AssertionError`` with the transcript when a step
    fails."""
    key = (base, extras)
    if key in _VENVS:
        return _VENVS[key]
    base.mkdir(parents=True, exist_ok=True)
    root = base / (f"venv-{extras.replace(',', '-')}" if extras else "venv")
    venv = Venv(root=root, transcript=base / "transcript.txt", extras=extras)
    made = venv.run([sys.executable, "-m", "venv", root], cwd=base, timeout=120)
    assert made.returncode == 0, venv.log[-1]
    target = f"{CHECKOUT}[{extras}]" if extras else str(CHECKOUT)
    t0 = time.monotonic()
    # Not -q: pip's own lines name the wheel it built, which the tests check.
    done = venv.run(
        [venv.python, "-m", "pip", "install", "--progress-bar", "off", target],
        cwd=base,
        timeout=INSTALL_TIMEOUT_S,
        env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    venv.install_seconds = time.monotonic() - t0
    assert done.returncode == 0, venv.log[-1]
    built = re.search(r"filename=(privmask_video-\S+\.whl)", done.stdout)
    venv.wheel = built.group(1) if built else ""
    _VENVS[key] = venv
    return venv


# --- the README's code blocks ------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One fenced block of README.md: ``line`` is the 1-based line of its opening fence."""

    line: int
    lang: str
    code: str
    not_run: str | None = None
    needs: str = ""
    file: str | None = None

    @property
    def id(self) -> str:
        return f"README.md:{self.line}:{self.lang}"


_FENCE = re.compile(r"^( *)```(\w*)\s*$")
_MARK = re.compile(r"^\s*<!--\s*(not run|needs|file):\s*(.*?)\s*-->\s*$")


def readme_blocks(text: str | None = None) -> list[Block]:
    """Every fenced block of the README, in order, with its marker comment (if any)."""
    lines = (README.read_text() if text is None else text).splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang = m.group(1), m.group(2)
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        marks: dict[str, str] = {}
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and (mark := _MARK.match(lines[j])):
            marks[mark.group(1)] = mark.group(2)
        blocks.append(
            Block(
                line=start + 1,
                lang=lang,
                code="\n".join(body) + "\n",
                not_run=marks.get("not run"),
                needs=marks.get("needs", ""),
                file=marks.get("file"),
            )
        )
    return blocks


# --- inputs the README's blocks name -----------------------------------------------------------

CLIP_SIZE = (640, 360)
"""The test recordings' size: the README's pipe example gives FFmpeg and ``privmask pipe`` this
size (a camera's substream)."""
CLIP_FPS = 25
CLIP_FRAMES = 40


def write_clip(path: Path, *, seed: int, frames: int = CLIP_FRAMES) -> None:
    """Writes a real H.264 recording, ``CLIP_SIZE`` at ``CLIP_FPS``, with no ``creation_time``
    (like most clips): a textured still background (8x8 blocks of random colour, so masked areas
    are easy to tell from unmasked ones) and a light square moving left to right across the
    middle (so motion detection has something to find)."""
    import av
    import numpy as np

    w, h = CLIP_SIZE
    rng = np.random.default_rng(seed)
    blocks = rng.integers(30, 226, (h // 8, w // 8, 3), dtype=np.uint8)
    background = np.repeat(np.repeat(blocks, 8, axis=0), 8, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=CLIP_FPS, options={"crf": "16", "preset": "fast"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            img = background.copy()
            x = 20 + i * (w - 120) // max(frames - 1, 1)
            img[h // 2 - 40 : h // 2 + 40, x : x + 80] = (250, 240, 230)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def gray_frames(path: Path) -> list[object]:
    """Every decoded frame of ``path`` as a ``(H, W)`` uint8 luma array."""
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="gray") for f in c.decode(video=0)]


def region(frame: object, box: tuple[float, float, float, float], inset: int = 2) -> object:
    """The pixels of ``frame`` (H, W) inside the normalised ``box`` (x0, y0, x1, y1), ``inset``
    pixels in from each edge (codec ringing at a mask's border is not the mask's)."""
    import numpy as np

    a = np.asarray(frame)
    h, w = a.shape[:2]
    x0, y0, x1, y1 = box
    return a[
        round(y0 * h) + inset : round(y1 * h) - inset, round(x0 * w) + inset : round(x1 * w) - inset
    ]
