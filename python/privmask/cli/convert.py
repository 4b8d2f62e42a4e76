"""``privmask convert``: mask files from one format to another (privmask JSON, a Frigate camera
section in YAML, ONVIF ``GetMasksResponse`` XML)."""

from __future__ import annotations

import argparse
import warnings
from datetime import datetime
from pathlib import Path

from privmask._outputs import refuse_source, write_atomic
from privmask.cli.common import (
    HELP_FORMATTER,
    USER_ERRORS,
    Subparsers,
    describe,
    fail,
    help_text,
    timestamp,
    usage_error,
    warn,
)
from privmask.errors import MaskConfigError

__all__ = ["TARGETS", "add_parser", "run"]

TARGETS: dict[str, str] = {"json": ".json", "frigate": ".yml", "onvif": ".xml"}
"""The ``--to`` formats and the extension each is chosen by when ``--to`` is not given."""
_BY_SUFFIX = {".json": "json", ".yml": "frigate", ".yaml": "frigate", ".xml": "onvif"}


def add_parser(subparsers: Subparsers) -> None:
    """Registers ``privmask convert``."""
    p = subparsers.add_parser(
        "convert",
        formatter_class=HELP_FORMATTER,
        description=help_text(
            "Convert a mask file: IN is privmask JSON (a mask set or a timeline), a Frigate "
            "config (YAML) or ONVIF GetMasksResponse XML, told apart by its content; OUT is "
            "written in the --to format (default: by OUT's extension, .json, .yml/.yaml or "
            ".xml).",
            "Frigate and ONVIF hold one set of image-locked masks: a timeline needs --at to "
            "choose the version, and their masks carry no privmask style (Frigate: none; "
            "ONVIF: Color, Pixelated or Blurred, without a strength). Masks read from them "
            "are solid, or ONVIF's type at privmask's default strength. From a Frigate config "
            "the camera's motion.mask and zones are read (--camera picks one of several).",
        ),
        epilog=help_text(
            "examples:\n"
            "  privmask convert config.yml masks.json --camera front\n"
            "  privmask convert masks.json masks.xml\n"
            "  privmask convert timeline.json now.yml --at 2026-03-01T12:00:00+01:00",
        ),
    )
    p.add_argument("src", type=Path, metavar="IN")
    p.add_argument("dst", type=Path, metavar="OUT")
    p.add_argument(
        "--to", choices=tuple(TARGETS), help="output format (default: by OUT's extension)"
    )
    p.add_argument(
        "--camera", metavar="NAME", help="the camera of a Frigate config to read or write"
    )
    p.add_argument(
        "--at",
        type=timestamp,
        metavar="ISO8601",
        help="for a timeline going to Frigate or ONVIF: the version in force at this time",
    )


def _one_set(masks: object, at: datetime | None, src: Path) -> object:
    from privmask.masks.timeline import MaskTimeline

    if not isinstance(masks, MaskTimeline):
        return masks
    if at is not None:
        return masks.at(at)
    if len(masks) == 1:
        return masks[0].masks
    raise MaskConfigError(
        f"{src} is a timeline of {len(masks)} versions, and Frigate and ONVIF hold one mask "
        "set: choose the version in force at a time with --at (e.g. --at "
        f"{masks[-1].since.isoformat()})"
    )


def run(args: argparse.Namespace) -> int:
    """Runs ``privmask convert``; returns the exit status."""
    from privmask.masks.maskset import MaskSet
    from privmask.masks.sniff import frigate_yaml, load_mask_file

    target = args.to or _BY_SUFFIX.get(args.dst.suffix.lower())
    if target is None:
        usage_error(
            args,
            f"convert: cannot tell the format from {args.dst.name!r}; give --to "
            f"({', '.join(TARGETS)}) or name it .json, .yml or .xml",
        )
    try:
        refuse_source(args.src, args.dst, "the converted masks")
        loaded = load_mask_file(args.src, camera=args.camera)
        if target == "json":
            if args.at is not None:
                warn("--at only applies when converting a timeline to Frigate or ONVIF")
            text = loaded.masks.to_json() + "\n"
            what = (
                f"{len(loaded.masks)} masks"
                if isinstance(loaded.masks, MaskSet)
                else f"a timeline of {len(loaded.masks)} versions"
            )
        else:
            masks = _one_set(loaded.masks, args.at, args.src)
            assert isinstance(masks, MaskSet)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if target == "frigate":
                    text = frigate_yaml(masks, camera=args.camera)
                else:
                    text = masks.to_onvif()
            for w in caught:
                warn(str(w.message))
            what = f"{len(masks)} masks"
        write_atomic(args.dst, text.encode("utf-8"))
    except USER_ERRORS as e:
        return fail(describe(e))
    print(f"{args.src} -> {args.dst}: {what} from {loaded.describe()}, written as {target}")
    return 0
