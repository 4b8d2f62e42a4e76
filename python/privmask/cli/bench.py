"""``privmask bench``: how fast privmask masks frames on this machine, next to its peers (the
benchmark itself is :mod:`privmask.tools.bench`). Also ``python -m privmask.tools.bench``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from privmask import _native
from privmask.cli.common import Subparsers, positive_int
from privmask.engine.frame import FORMATS
from privmask.tools.bench.cases import (
    BENCH_FORMATS,
    PEER_FORMAT,
    RESOLUTIONS,
    STYLES,
    resolution_size,
)

__all__ = ["DESCRIPTION", "add_parser", "configure", "main", "run"]

DESCRIPTION = (
    "Time privmask against the numpy reference and OpenCV (if installed) on this machine: "
    "per style, format, resolution and coverage; the bandwidth floor; rasterising; threads; "
    "per-call overhead. Prints a Markdown table; progress goes to stderr."
)


def _csv(choices: Sequence[str] | None, what: str) -> Callable[[str], list[str]]:
    """An argparse type for comma-separated lists, checked against ``choices`` when given (else
    each item must be a resolution)."""

    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"give at least one {what}")
        for item in items:
            if choices is not None and item not in choices:
                raise argparse.ArgumentTypeError(
                    f"unknown {what} {item!r}; one of {', '.join(choices)}"
                )
            if choices is None:
                try:
                    resolution_size(item)
                except ValueError as e:
                    raise argparse.ArgumentTypeError(str(e)) from None
        return items

    return parse


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the benchmark's options to ``parser``."""
    parser.add_argument(
        "--quick", action="store_true", help="1080p only and fewer repeats (under 15 s)"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="also write the report as JSON to FILE"
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="threads for privmask and OpenCV in the table (default 1; the threads section "
        "always compares 1 and 2)",
    )
    parser.add_argument(
        "--simd",
        choices=_native.simd_levels(),
        metavar="LEVEL",
        help=f"force a SIMD level (one of {', '.join(_native.simd_levels())}; default: the "
        f"best this CPU supports, {_native.simd_level()})",
    )
    parser.add_argument(
        "--formats",
        type=_csv(FORMATS, "format"),
        default=[PEER_FORMAT],
        metavar="F,...",
        help=f"pixel formats (default {PEER_FORMAT}; the peers run on {PEER_FORMAT} only; "
        f"e.g. {','.join(BENCH_FORMATS)})",
    )
    parser.add_argument(
        "--resolutions",
        type=_csv(None, "resolution"),
        metavar="R,...",
        help=f"resolutions: {', '.join(RESOLUTIONS)} or WxH (default 1080p,4k; --quick 1080p)",
    )
    parser.add_argument(
        "--styles",
        type=_csv(tuple(STYLES), "style"),
        default=list(STYLES),
        metavar="S,...",
        help=f"styles (default all: {','.join(STYLES)})",
    )
    parser.add_argument(
        "--no-opencv", action="store_true", help="leave OpenCV out even if it is installed"
    )


def add_parser(subparsers: Subparsers) -> None:
    """Registers ``privmask bench``."""
    configure(subparsers.add_parser("bench", description=DESCRIPTION))


def run(args: argparse.Namespace) -> int:
    """Runs the benchmark for parsed arguments (from :func:`add_parser` or :func:`main`)."""
    # Looked up on the package at run time, so the settings can be swapped (tests do).
    from privmask.tools import bench

    settings = bench.QUICK if args.quick else bench.DEFAULT
    resolutions = args.resolutions or (["1080p"] if args.quick else ["1080p", "4k"])

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = bench.run_bench(
        styles=args.styles,
        formats=args.formats,
        resolutions=resolutions,
        settings=settings,
        threads=args.threads,
        simd=args.simd,
        opencv=not args.no_opencv,
        log=log,
    )
    print(bench.format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
        log(f"wrote {args.json}")
    log(f"{report['elapsed_s']:.0f} s in all")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m privmask.tools.bench``: the same as ``privmask bench``, on a parser of its
    own; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m privmask.tools.bench", description=DESCRIPTION)
    configure(parser)
    return run(parser.parse_args(argv))
