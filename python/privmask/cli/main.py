"""The ``privmask`` command: a registry of subcommands, each in a module of its own.

    privmask mask cam.mp4 masked.mp4 --masks timeline.json
    privmask mask day1/*.mp4 --out-dir masked/ --masks frigate.yml --jobs 2
    ffmpeg -i cam.mp4 -f rawvideo -pix_fmt yuv420p - \\
      | privmask pipe --size 1920x1080 --masks masks.json \\
      | ffmpeg -f rawvideo -pix_fmt yuv420p -s 1920x1080 -r 25 -i - out.mp4
    privmask preview snapshot.png --masks masks.json -o preview.png
    privmask convert frigate.yml masks.json
    privmask validate timeline.json

argparse (the standard library) rather than a CLI framework: the commands need nothing more, and
the command keeps working in the smallest install. Only the chosen command's module is imported
(:data:`COMMANDS` maps each name to its module), so ``privmask validate`` never loads PyAV and
``privmask --help`` loads no command at all. Each command module has ``add_parser(subparsers)``
and ``run(args) -> int``; shared helpers live in :mod:`privmask.cli.common`.

Exit statuses: 0 done, 1 a failure the user can fix (one line on stderr), 2 a usage error (as
argparse), 3 done but frames were masked whole for want of a PTZ pose.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from privmask import __version__
from privmask._outputs import Stopped, stop_on_signals
from privmask.cli.common import EXIT_STATUSES, HELP_FORMATTER, PROG, help_text

__all__ = ["COMMANDS", "Command", "build_parser", "main", "run"]


@dataclass(frozen=True)
class Command:
    """A subcommand: the module that defines it and its line in ``privmask --help``."""

    module: str
    summary: str


COMMANDS: dict[str, Command] = {
    "mask": Command("privmask.cli.mask", "mask video files"),
    "pipe": Command("privmask.cli.pipe", "mask raw video frames from stdin to stdout"),
    "preview": Command("privmask.cli.preview", "write one masked still of an image or a video"),
    "validate": Command(
        "privmask.cli.validate", "check a mask file (any format) or a pose-track file"
    ),
    "convert": Command(
        "privmask.cli.convert", "convert mask files between privmask JSON, Frigate and ONVIF"
    ),
    "redact": Command(
        "privmask.cli.redact", "mask people in a video (faces, motion), all or chosen tracks"
    ),
    "export": Command(
        "privmask.cli.export", "write a redacted, optionally encrypted copy of a recording"
    ),
    "decrypt": Command("privmask.cli.export", "decrypt an encrypted export"),
    "audit": Command("privmask.cli.audit", "verify an audit log's hash chain, keyed or plain"),
    "bench": Command("privmask.cli.bench", "benchmark privmask on this machine"),
    "edit": Command("privmask.cli.edit", "draw masks on a camera picture in the browser"),
}
"""Every subcommand, in ``--help`` order. A module may define several (``export`` and
``decrypt``); its ``add_parser`` then registers all of them."""


class _WithSummaries:
    """The subparsers action, handing each command its one-line help from :data:`COMMANDS` (so
    the text lives in one place) and remembering each command's parser in its arguments
    (``args.command_parser``, for usage errors found after parsing)."""

    def __init__(self, action: Any) -> None:
        self._action = action

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("help", COMMANDS[name].summary)
        parser: argparse.ArgumentParser = self._action.add_parser(name, **kwargs)
        parser.set_defaults(command_parser=parser)  # for usage errors found after parsing
        return parser


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The ``privmask`` argument parser. ``commands`` are the subcommands whose modules are
    imported and whose options are defined (default: all, as docs and tests want them); the
    others are listed by name and summary only."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=HELP_FORMATTER,
        description="Burn privacy masks into video: files, raw-video pipes, batches, stills.",
        epilog=help_text(
            "Mask files (--masks) may be privmask JSON (a mask set or a timeline), a Frigate "
            "config (YAML) or ONVIF GetMasksResponse XML, told apart by their content; "
            "'privmask validate FILE' shows what one holds. 'privmask COMMAND --help' for each "
            "command.",
            EXIT_STATUSES,
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    action = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = set(COMMANDS) if commands is None else set(commands)
    modules = {COMMANDS[c].module for c in wanted if c in COMMANDS}
    # Each command in registry order: a full parser from its module (once per module), or a
    # stub that only lists it.
    added: set[str] = set()
    for name, command in COMMANDS.items():
        if command.module in modules:
            if command.module not in added:
                importlib.import_module(command.module).add_parser(_WithSummaries(action))
                added.add(command.module)
        else:
            action.add_parser(name, help=command.summary, add_help=False)
    return parser


def _chosen(argv: Sequence[str]) -> list[str]:
    """The subcommand named in ``argv`` (the first argument that is not an option), if any."""
    for arg in argv:
        if not arg.startswith("-"):
            return [arg] if arg in COMMANDS else []
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (0 done, 1 failed, 2 usage, 3 frames
    failed closed)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_chosen(args_list))
    args = parser.parse_args(args_list)
    module = importlib.import_module(COMMANDS[args.command].module)
    return int(module.run(args))


def run() -> NoReturn:
    """Console-script entry point."""
    try:
        # SIGTERM (docker stop, systemd) and SIGHUP unwind like Ctrl+C: every temporary output
        # is removed, and the command says so in one line. (Live sources install their own
        # handlers, which finish the segment in progress first.)
        with stop_on_signals():
            code = main()
    except (Stopped, KeyboardInterrupt) as e:
        name = e.signal_name if isinstance(e, Stopped) else "SIGINT"
        print(f"{PROG}: stopped by {name}; nothing half-written was left", file=sys.stderr)
        code = e.code if isinstance(e, Stopped) and isinstance(e.code, int) else 130
    except BrokenPipeError:
        # The reader of our output went away (``privmask validate f.json | head``): not an
        # error worth a traceback. Point stdout at /dev/null so the exit-time flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)
