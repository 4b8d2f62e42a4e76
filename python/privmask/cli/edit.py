"""``privmask edit``: draw masks on a camera picture in the browser.

    privmask edit cam.mp4 --masks masks.json --at 12.5
    privmask edit snapshot.jpg --masks masks.json
    privmask edit rtsp://camera.local/stream1 --masks timeline.json --no-browser

Registered in :data:`privmask.cli.main.COMMANDS` like every command: ``add_parser(subparsers)``
and ``run(args)``. Needs the ``editor`` extra (Starlette, uvicorn,
PyAV); without it the command says what to install.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import webbrowser
from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from privmask._extras import install_hint

__all__ = ["add_parser", "main", "parse_at", "run"]


_NEEDS = ("av", "starlette", "uvicorn")

_CLOCK = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d+)?)$")


def parse_at(text: str) -> Fraction | datetime:
    """Reads ``--at``: seconds after the first frame (``12.5``, ``1:02.5``, ``1:00:02``) as an
    exact :class:`Fraction`, or an ISO 8601 instant with a UTC offset (``2026-03-01T12:00:05Z``)
    naming a recording time. Raises ``ValueError`` for anything else, including a naive instant
    (it would mean a different moment in every time zone)."""
    m = _CLOCK.match(text.strip())
    if m:
        hours, minutes, seconds = m.group(1), m.group(2), m.group(3)
        return Fraction(int(hours or 0) * 3600 + int(minutes or 0) * 60) + Fraction(seconds)
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither seconds into the video (12.5, 1:02.5) nor an ISO 8601 time "
            "with an offset (2026-03-01T12:00:05+01:00)"
        ) from None
    if t.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset; add one (+01:00, or Z for UTC)")
    return t


def _at(text: str) -> Fraction | datetime:
    try:
        return parse_at(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0: any free)")
    return int(text)


def add_parser(subparsers: Any) -> None:
    """Adds ``edit`` to the ``privmask`` subcommands."""
    p = subparsers.add_parser(
        "edit",
        description=(
            "Open a local web page showing a picture of SOURCE (a video file at --at, an image, "
            "or a live stream URL's current frame) to draw masks on, previewed by the real "
            "engine. It listens on 127.0.0.1 only, behind a random token in its address; "
            "stop it with Ctrl+C."
        ),
    )
    p.add_argument("source", metavar="SOURCE", help="video file, image file, or stream URL")
    p.add_argument(
        "--masks",
        type=Path,
        metavar="FILE",
        help="mask-set or timeline JSON to open and save (created on the first save if missing)"
        "; without it the page offers downloads",
    )
    p.add_argument(
        "--at",
        type=_at,
        metavar="TIME",
        help="where to look: seconds into the video (12.5, 1:02.5), or a recording time "
        "(ISO 8601 with offset) that also picks the timeline version in force",
    )
    p.add_argument(
        "--port", type=_port, default=0, metavar="N", help="port on 127.0.0.1 (default: any free)"
    )
    p.add_argument(
        "--no-browser", action="store_true", help="print the address instead of opening a browser"
    )


def _fail(message: str) -> int:
    print(f"privmask edit: error: {message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    """Runs ``privmask edit``; returns the exit status (1 for a source or mask file that cannot
    be opened, after one line on stderr)."""
    missing = [m for m in _NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        return _fail(f"needs {', '.join(missing)}: {install_hint('editor')}")
    from privmask.editor.files import MaskFile
    from privmask.editor.server import EditorServer
    from privmask.editor.session import Session
    from privmask.editor.source import open_source
    from privmask.errors import PrivmaskError

    try:
        source = open_source(args.source)
    except (OSError, PrivmaskError) as e:
        return _fail(_describe(e))
    try:
        mask_file = None if args.masks is None else MaskFile(args.masks)
        if mask_file is not None and not mask_file.path.parent.is_dir():
            return _fail(f"{mask_file.path.parent}: the mask file's directory does not exist")
        session = Session(source, mask_file, args.at)
        server = EditorServer(session, port=args.port)
    except (OSError, PrivmaskError, ValueError) as e:
        source.close()
        return _fail(_describe(e))
    print(f"privmask edit: {source.name} at {server.url}", flush=True)
    print("privmask edit: press Ctrl+C to stop", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
    return 0


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    notes = getattr(error, "__notes__", None) or []
    return " ".join([text, *(f"({n})" for n in notes)])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m privmask.editor``: the ``edit`` command on its own."""
    parser = argparse.ArgumentParser(prog="privmask")
    add_parser(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(["edit", *(sys.argv[1:] if argv is None else argv)])
    return run(args)
