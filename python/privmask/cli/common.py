"""What the ``privmask`` commands share: argument types, one-line errors, exit statuses, input and
output pairs, running files one or several at a time, progress bars and JSON summaries.

Importing this module loads neither PyAV nor OpenCV: every command's parser is built from it, and
a command pays for its heavy dependencies only when it runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import multiprocessing
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import IO, Any, NoReturn, Protocol

from privmask.errors import PrivmaskError

__all__ = [
    "EXIT_FAILED",
    "EXIT_FAILED_CLOSED",
    "EXIT_OK",
    "EXIT_STATUSES",
    "HELP_FORMATTER",
    "PROG",
    "USER_ERRORS",
    "FileOutcome",
    "Subparsers",
    "add_file_arguments",
    "describe",
    "fail",
    "frame_ranges",
    "frame_rate",
    "frame_size",
    "help_text",
    "jsonable",
    "key_value",
    "make_out_dir",
    "nonnegative_int",
    "outputs",
    "positive_int",
    "print_json",
    "progress_wanted",
    "run_files",
    "timestamp",
    "usage_error",
    "warn",
]

PROG = "privmask"

EXIT_OK = 0
EXIT_FAILED = 1
"""A failure the user can fix (a missing file, a bad mask file, a corrupt video): one line on
stderr. Usage errors exit with 2, as argparse does."""
EXIT_FAILED_CLOSED = 3
"""The output was written, but some frames were masked whole because scene-locked (PTZ) masks had
no current pose: the pose track does not cover the whole video."""

EXIT_STATUSES = (
    "exit status: 0 done; 1 failed (one line on stderr says why; with several files, the "
    "others are still done); 2 usage error; 3 done, but some frames were masked whole because "
    "the pose track (--poses) does not cover them (the summary says how many)."
)
"""The paragraph each command's ``--help`` ends with."""

USER_ERRORS: tuple[type[Exception], ...] = (
    PrivmaskError,
    OSError,
    ValueError,
    ImportError,
)
"""Errors a user can cause and fix (an optional package not installed included): printed as one
line, never as a traceback."""


def help_text(*paragraphs: str) -> str:
    """Paragraphs for a ``description`` or ``epilog`` shown with :data:`HELP_FORMATTER`: each
    wrapped to 79 columns, except those with lines starting with two spaces (examples), kept
    as written."""
    out = []
    for p in paragraphs:
        if p.startswith("  ") or "\n  " in p:
            out.append(p)
        else:
            out.append(textwrap.fill(" ".join(p.split()), width=79))
    return "\n\n".join(out)


HELP_FORMATTER = argparse.RawDescriptionHelpFormatter
"""Keeps the examples in descriptions and epilogs as written (see :func:`help_text`)."""


class Subparsers(Protocol):
    """What a command module's ``add_parser`` is given: ``ArgumentParser.add_subparsers()``'s
    result, or :mod:`privmask.cli.main`'s wrapper that fills in each command's one-line help."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


# --- messages ----------------------------------------------------------------------------------


def describe(error: BaseException) -> str:
    """One line for an error a user can cause: the message and any notes, no traceback."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    notes = getattr(error, "__notes__", None) or []
    return " ".join([text, *(f"({n})" for n in notes)])


def fail(message: str) -> int:
    """Prints ``privmask: error: MESSAGE`` on stderr and returns :data:`EXIT_FAILED`."""
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return EXIT_FAILED


def warn(message: str) -> None:
    """Prints ``privmask: warning: MESSAGE`` on stderr."""
    print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)


def usage_error(args: argparse.Namespace, message: str) -> NoReturn:
    """Reports a usage error the way argparse does (usage line, message, exit status 2), with the
    parser of the command that was run (``args.command_parser``, which :mod:`privmask.cli.main`
    sets)."""
    parser: argparse.ArgumentParser | None = getattr(args, "command_parser", None)
    if parser is None:
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(2)
    parser.error(message)


# --- argument types ----------------------------------------------------------------------------


def timestamp(text: str) -> datetime:
    """An argparse type: an ISO 8601 instant with a UTC offset (``2026-03-01T12:00:00+01:00``)."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (like 2026-03-01T12:00:00+01:00)"
        ) from None
    if t.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset; add one (+01:00, or Z for UTC) so it names one instant"
        )
    return t


def frame_size(text: str) -> tuple[int, int]:
    """An argparse type: ``WxH`` in pixels, both at least 1."""
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame size like 1920x1080")
    return int(m.group(1)), int(m.group(2))


def frame_rate(text: str) -> Fraction:
    """An argparse type: a positive frame rate, exact (``25``, ``29.97``, ``30000/1001``)."""
    try:
        r = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a frame rate (25, 29.97 or 30000/1001)"
        ) from None
    if r <= 0:
        raise argparse.ArgumentTypeError(f"the frame rate must be positive, got {text}")
    return r


def nonnegative_int(text: str) -> int:
    """An argparse type: a whole number from 0 (CRF, hold counts)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer")
    return int(text)


def positive_int(text: str) -> int:
    """An argparse type: a whole number from 1 (process counts, repeats)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def key_value(text: str) -> tuple[str, str]:
    """An argparse type: ``KEY=VALUE`` (an encoder option)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. preset=veryfast)")
    return key, value


# --- inputs and outputs ------------------------------------------------------------------------


def outputs(args: argparse.Namespace, command: str) -> list[tuple[Path, Path]]:
    """The ``(input, output)`` pairs of ``IN OUT`` or ``IN... --out-dir DIR`` (``args.paths``,
    ``args.out_dir``); usage errors exit with status 2. Nothing is created here: see
    :func:`make_out_dir`."""
    paths: list[Path] = [Path(p) for p in args.paths]
    if args.out_dir is None:
        if len(paths) != 2:
            usage_error(args, f"{command}: give IN OUT, or several inputs with --out-dir DIR")
        return [(paths[0], paths[1])]
    names = Counter(p.name for p in paths)
    clashes = sorted(n for n, k in names.items() if k > 1)
    if clashes:
        usage_error(
            args,
            f"{command}: several inputs are named {', '.join(clashes)}; --out-dir needs "
            "distinct names",
        )
    return [(p, args.out_dir / p.name) for p in paths]


def add_file_arguments(p: argparse.ArgumentParser, verb: str) -> None:
    """The arguments every many-files command shares: ``IN OUT`` or ``IN... --out-dir DIR``, and
    ``--jobs N`` (``verb`` says what a job does: "masked", "redacted")."""
    p.add_argument("paths", nargs="+", metavar="PATH", help="IN OUT, or IN... with --out-dir")
    p.add_argument(
        "--out-dir", type=Path, metavar="DIR", help="write each input to DIR under its own name"
    )
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help=f"files {verb} at once, in separate processes (default 1)",
    )


def make_out_dir(out_dir: Path | None) -> None:
    """Creates ``--out-dir`` (and its parents) if it does not exist yet; called once the inputs
    and settings have been checked, so a command that fails early leaves no empty folder.
    Raises ``NotADirectoryError`` when the path is a file."""
    if out_dir is None:
        return
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(20, "not a directory", str(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)


# --- running files -----------------------------------------------------------------------------


def progress_wanted(quiet: bool) -> bool:
    """Whether to draw progress bars: not with ``--quiet``, and only on a terminal (stderr)."""
    return not quiet and sys.stderr.isatty()


@dataclass(frozen=True)
class FileOutcome:
    """One file of a batch: its ``result`` (the command's report) or the one-line ``error``."""

    src: Path
    dst: Path
    result: Any = None
    error: str | None = None


def run_files(
    work: Callable[[Path, Path], Any],
    pairs: Sequence[tuple[Path, Path]],
    *,
    jobs: int,
    done: Callable[[FileOutcome], None],
    progress: bool = False,
) -> list[FileOutcome]:
    """Runs ``work(src, dst)`` for every pair, ``jobs`` files at once in separate processes
    (``work`` must pickle), and calls ``done`` with each outcome as it finishes; a failing file
    (any of :data:`USER_ERRORS`) becomes an outcome with its error line, and the others go on.
    With several processes and ``progress``, a bar counts the files on stderr. Returns the
    outcomes in ``pairs`` order."""
    outcomes: dict[int, FileOutcome] = {}

    def finish(i: int, get: Callable[[], Any]) -> None:
        src, dst = pairs[i]
        try:
            outcome = FileOutcome(src, dst, result=get())
        except USER_ERRORS as e:
            outcome = FileOutcome(src, dst, error=describe(e))
        outcomes[i] = outcome
        done(outcome)

    if jobs == 1 or len(pairs) == 1:
        for i, (src, dst) in enumerate(pairs):
            finish(i, partial(work, src, dst))
        return [outcomes[i] for i in range(len(pairs))]
    from tqdm import tqdm

    context = multiprocessing.get_context("spawn")  # no decoder threads are forked
    with (
        ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool,
        tqdm(total=len(pairs), unit="file", disable=not progress, leave=False) as bar,
    ):
        futures = {pool.submit(work, src, dst): i for i, (src, dst) in enumerate(pairs)}
        for fut in as_completed(futures):
            finish(futures[fut], fut.result)
            bar.update(1)
    return [outcomes[i] for i in range(len(pairs))]


# --- JSON summaries ----------------------------------------------------------------------------


def frame_ranges(frames: Iterable[int]) -> list[list[int]]:
    """Sorted frame indices as ``[first, last]`` runs (``[3, 4, 5, 9]`` -> ``[[3, 5], [9, 9]]``),
    so a summary of a long video stays short."""
    runs: list[list[int]] = []
    for f in sorted(frames):
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return runs


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: dataclasses become objects, datetimes ISO 8601 text, paths
    and fractions text, enums their values, tuples and sets lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, (Path, Fraction)):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def print_json(doc: dict[str, Any], stream: IO[str] | None = None) -> None:
    """Prints ``doc`` as one line of JSON (stdout by default), for scripts."""
    print(json.dumps(jsonable(doc), allow_nan=False), file=stream or sys.stdout, flush=True)
