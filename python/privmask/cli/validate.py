"""``privmask validate``: check a mask file (privmask JSON, Frigate YAML or ONVIF XML) or a PTZ
pose-track file, and print what it holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from privmask.cli.common import USER_ERRORS, Subparsers, describe, fail
from privmask.errors import InvalidGeometryError, MaskConfigError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> None:
    """Registers ``privmask validate``."""
    p = subparsers.add_parser(
        "validate",
        description="Validate a mask file (privmask JSON mask set or timeline, Frigate config "
        "in YAML, ONVIF GetMasksResponse XML; told apart by content) or a PTZ pose-track file, "
        "and print what it contains.",
    )
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--camera", metavar="NAME", help="the camera of a Frigate config to check")


def _style_text(style: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in style.items() if k != "type")
    return f"{style['type']}({params})"


def _print_masks(masks: Any, indent: str) -> None:
    for i, m in enumerate(masks):
        d = m.to_dict()
        kind = "liftable" if m.liftable else "permanent"
        name = f"  {m.name!r}" if m.name else ""
        print(
            f"{indent}masks[{i}]: {_style_text(d['style'])}, {m.style.grade.value}, {kind}, "
            f"{len(m.shape.points)}-point {'scene-locked ' if 'scene' in d else ''}polygon{name}"
        )


def _validate_poses(path: Path) -> int:
    from privmask.masks.poses import PoseTrack

    try:
        track = PoseTrack.load(path)
    except (MaskConfigError, InvalidGeometryError) as e:
        return fail(f"{path}: {e}")
    except USER_ERRORS as e:
        return fail(describe(e))
    print(
        f"{path}: valid pose track (schema version 1), {len(track.times)} poses from "
        f"{track.times[0]} s to {track.times[-1]} s, max_age {track.max_age} s, "
        f"latency {track.latency} s"
    )
    return 0


def _is_pose_file(path: Path) -> bool:
    """Whether ``path`` holds a pose track (a top-level ``poses``), told apart from mask files
    before validating either, so each gets its own error messages."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "poses" in doc and "masks" not in doc


def run(args: argparse.Namespace) -> int:
    """Runs ``privmask validate``; returns the exit status."""
    from privmask.masks.maskset import MaskSet
    from privmask.masks.sniff import load_mask_file

    if _is_pose_file(args.file):
        return _validate_poses(args.file)
    try:
        loaded = load_mask_file(args.file, camera=args.camera)
    except (MaskConfigError, InvalidGeometryError) as e:
        return fail(f"{args.file}: {e}")
    except USER_ERRORS as e:
        return fail(describe(e))
    found = loaded.masks
    source = " (schema version 1)" if loaded.kind == "json" else f" from {loaded.describe()}"
    if isinstance(found, MaskSet):
        print(
            f"{args.file}: valid mask set{source}, {len(found)} masks, "
            f"content_hash {found.content_hash}"
        )
        _print_masks(found, "  ")
        return 0
    print(f"{args.file}: valid timeline (schema version 1), {len(found)} versions")
    for i, v in enumerate(found):
        print(
            f"  timeline[{i}]: since {v.since.isoformat()}, {len(v.masks)} masks, "
            f"content_hash {v.content_hash}"
        )
        _print_masks(v.masks, "    ")
    return 0
