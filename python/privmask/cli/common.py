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
import os
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, Protocol

from privmask._outputs import process_pool
from privmask.errors import PrivmaskError

if TYPE_CHECKING:
    from privmask.redaction.audit import AuditHead, AuditLog

__all__ = [
    "AUDIT_KEY_ENV",
    "EXIT_FAILED",
    "EXIT_FAILED_CLOSED",
    "EXIT_OK",
    "EXIT_STATUSES",
    "HELP_FORMATTER",
    "PROG",
    "USER_ERRORS",
    "FileOutcome",
    "Subparsers",
    "add_audit_key_option",
    "add_file_arguments",
    "add_masks_option",
    "add_start_option",
    "audit_key",
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
    "outcome_json",
    "outputs",
    "positive_int",
    "print_json",
    "print_outcome",
    "progress_wanted",
    "report_files",
    "run_files",
    "timestamp",
    "usage_error",
    "verified_audit_log",
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


def add_masks_option(p: argparse.ArgumentParser) -> None:
    """``--masks FILE``, required: the mask file, in any format :mod:`privmask.masks.sniff`
    tells apart."""
    p.add_argument(
        "--masks",
        required=True,
        type=Path,
        metavar="FILE",
        help="mask file: privmask JSON, Frigate YAML or ONVIF XML",
    )


def add_start_option(p: argparse.ArgumentParser) -> None:
    """``--start ISO8601``: the recording start, placing frames on a timeline of several
    versions."""
    p.add_argument(
        "--start",
        type=timestamp,
        metavar="ISO8601",
        help="recording start, with a UTC offset (default: the file's creation_time)",
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


# --- audit logs --------------------------------------------------------------------------------

AUDIT_KEY_ENV = "PRIVMASK_AUDIT_KEY"
"""The environment variable that may hold an audit log's HMAC key (instead of
``--audit-key-file``)."""


def add_audit_key_option(p: argparse.ArgumentParser) -> None:
    """``--audit-key-file FILE``: where a command that reads or writes an audit log gets its
    HMAC key. There is no option taking the key itself: command lines are visible to every
    user (``ps``)."""
    p.add_argument(
        "--audit-key-file",
        type=Path,
        metavar="FILE",
        help="the audit log's HMAC key, one line of text of at least 16 bytes (e.g. from "
        f"'openssl rand -hex 32'); or set {AUDIT_KEY_ENV}. A keyed log is checked with it "
        "before any work",
    )


def audit_key(key_file: Path | None) -> bytes | None:
    """The audit HMAC key from ``key_file`` or :data:`AUDIT_KEY_ENV` (``None``: neither).

    The key is text, so a file and the variable give the same key for the same characters: the
    file's one line (its final newline is not part of it), or the variable's value, as UTF-8
    bytes. Refused with ``ValueError`` rather than guessed at: both sources at once, an empty
    key, several lines, surrounding white space, bytes that are not UTF-8, fewer than 16 bytes.
    """
    env = os.environ.get(AUDIT_KEY_ENV)
    if key_file is not None and env is not None:
        raise ValueError(
            f"both --audit-key-file and {AUDIT_KEY_ENV} give an audit key; unset one, so it "
            "is clear which key checks the log"
        )
    if key_file is not None:
        source = f"the audit key file {key_file}"
        try:
            text = key_file.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                f"{source} is not UTF-8 text; write the key as one line of text (e.g. "
                "openssl rand -hex 32 > FILE)"
            ) from None
        text = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    elif env is not None:
        source, text = f"the environment variable {AUDIT_KEY_ENV}", env
    else:
        return None
    if not text:
        raise ValueError(f"{source} is empty")
    if any(c in text for c in "\r\n\0") or text != text.strip():
        raise ValueError(
            f"{source} must hold the key as one line of text, without surrounding white space"
        )
    try:
        key = text.encode("utf-8")
    except UnicodeEncodeError:  # an environment variable of bytes that are not UTF-8
        raise ValueError(f"{source} is not UTF-8 text") from None
    if len(key) < 16:
        raise ValueError(f"{source} holds a key of {len(key)} bytes; an audit key has 16 or more")
    return key


def verified_audit_log(
    log: Path, key_file: Path | None, *, missing_ok: bool
) -> tuple[AuditLog, AuditHead | None]:
    """The audit log at ``log``, opened with the key from ``key_file`` or :data:`AUDIT_KEY_ENV`,
    and its head (``None``: missing or empty), after checking its whole chain
    (:meth:`~privmask.redaction.audit.AuditLog.head`), so that a wrong key or an edited log
    stops a command before it does any work.

    ``missing_ok``: a log that does not exist yet is fine (the command creates it); otherwise
    ``FileNotFoundError``. Raises ``ValueError`` for a bad key (see :func:`audit_key`) and
    :class:`~privmask.errors.AuditIntegrityError` (the message names the log and the record,
    and says whether the key or the log is wrong), with a note naming where the key came from.
    """
    from privmask.errors import AuditIntegrityError
    from privmask.redaction.audit import AuditLog, KeyRequiredError, WrongKeyError

    key = audit_key(key_file)
    audit = AuditLog(log, key=key)
    try:
        head = audit.head()
    except FileNotFoundError:
        if not missing_ok:
            raise
        head = None
    except KeyRequiredError as e:
        e.add_note(f"give its key with --audit-key-file FILE or {AUDIT_KEY_ENV}")
        raise
    except AuditIntegrityError as e:
        if isinstance(e, WrongKeyError):
            source = key_file if key_file is not None else AUDIT_KEY_ENV
            e.add_note(f"the key was read from {source}")
        raise
    return audit, head


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

    with (
        process_pool(jobs) as pool,
        tqdm(total=len(pairs), unit="file", disable=not progress, leave=False) as bar,
    ):
        futures = {pool.submit(work, src, dst): i for i, (src, dst) in enumerate(pairs)}
        for fut in as_completed(futures):
            finish(futures[fut], fut.result)
            bar.update(1)
    return [outcomes[i] for i in range(len(pairs))]


def print_outcome(args: argparse.Namespace) -> Callable[[FileOutcome], None]:
    """The ``done`` callback of :func:`run_files` for a command with ``--quiet`` and ``--json``:
    a failed file's error line on stderr, else its report's ``summary()`` line on stdout
    (neither line with ``--json``; no summary with ``--quiet``)."""

    def done(outcome: FileOutcome) -> None:
        if outcome.error is not None:
            fail(outcome.error)
        elif not (args.quiet or args.json):
            print(outcome.result.summary(), flush=True)

    return done


def outcome_json(
    outcome: FileOutcome, fields: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One file of a ``--json`` summary: ``{"ok": true, ...}`` with the report's fields as
    :func:`jsonable` gives them (passed through ``fields`` when given), or ``{"src", "dst",
    "ok": false, "error"}`` for a file that failed."""
    if outcome.result is None:
        return {
            "src": str(outcome.src),
            "dst": str(outcome.dst),
            "ok": False,
            "error": outcome.error,
        }
    doc: dict[str, Any] = jsonable(outcome.result)
    return {"ok": True, **(doc if fields is None else fields(doc))}


def report_files(
    args: argparse.Namespace,
    command: str,
    outcomes: Sequence[FileOutcome],
    *,
    verb: str,
    status: int = EXIT_OK,
    to_json: Callable[[FileOutcome], dict[str, Any]] = outcome_json,
    detail: str = "",
    note: str = "",
) -> int:
    """Ends a many-files command: with ``--json`` prints ``{"command", "status", "files"}``
    (each file through ``to_json``); otherwise, for several files and no ``--quiet``, one line
    ``K of N files VERB DETAIL, F failed NOTE``. Returns the exit status:
    :data:`EXIT_FAILED` when a file failed, else ``status``."""
    failed = sum(o.error is not None for o in outcomes)
    status = EXIT_FAILED if failed else status
    if args.json:
        print_json({"command": command, "status": status, "files": [to_json(o) for o in outcomes]})
    elif not args.quiet and len(outcomes) > 1:
        print(
            f"{len(outcomes) - failed} of {len(outcomes)} files {verb}{detail}"
            + (f", {failed} failed" if failed else "")
            + note,
            flush=True,
        )
    return status


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
