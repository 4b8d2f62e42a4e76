"""What one editor run works on: the picture source, the mask file, and the operations the page
asks for (render, validate, save, convert). No HTTP here: :mod:`privmask.editor.server` calls
these from worker threads and turns their errors into status codes.

The page sends masks as mask-set JSON (the file format, ``{"privmask": 1, "masks": [...]}``),
and everything it sends goes through :meth:`MaskSet.from_json`, the same validation every
reader of the file applies.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from privmask.editor.files import MaskFile, Opened
from privmask.editor.source import Picture, Source, png_bytes, to_rgb
from privmask.engine.apply import apply
from privmask.errors import MaskConfigError
from privmask.masks.maskset import MaskSet
from privmask.masks.ptz import ScenePolygon
from privmask.masks.styles import Solid, Style

__all__ = ["Session", "parse_since"]

GRID_SIZES = range(8, 65)
"""Grid editors offer 8 x 8 up to 64 x 64 cells."""


def parse_since(text: object) -> datetime:
    """A timeline version's ``since`` from the page: ISO 8601 with a UTC offset, else
    :class:`MaskConfigError` (path ``since``)."""
    if not isinstance(text, str):
        raise MaskConfigError("must be an ISO 8601 time with an offset", "since")
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise MaskConfigError(f"{text!r} is not an ISO 8601 time", "since") from None
    if t.utcoffset() is None:
        raise MaskConfigError(f"{text!r} has no UTC offset (add Z or +01:00)", "since")
    return t


def _masks_of(doc: Any) -> MaskSet:
    """A mask set from the page's JSON (a parsed document), validated like a file."""
    if not isinstance(doc, dict):
        raise MaskConfigError("expected a mask-set document {'privmask': 1, 'masks': [...]}")
    return MaskSet.from_json(json.dumps(doc))


def _image_locked(masks: MaskSet) -> tuple[MaskSet, int]:
    """The set without scene-locked (PTZ) masks, which need a camera pose to be placed, and how
    many were left out."""
    kept = [m for m in masks if not isinstance(m.shape, ScenePolygon)]
    return MaskSet(kept), len(masks) - len(kept)


def _style_of(doc: Any) -> Style:
    triangle = [[0, 0], [1, 0], [0, 1]]
    masks = _masks_of({"privmask": 1, "masks": [{"polygon": triangle, "style": doc}]})
    return masks[0].style


@dataclass(frozen=True)
class Rendered:
    """A PNG of the picture and what it shows: ``time`` (s after the first frame),
    ``recorded`` (recording time), ``content_hash`` of the masks applied, ``skipped`` masks
    (scene-locked ones, which need a pose)."""

    png: bytes
    time: Fraction | None
    recorded: datetime | None
    content_hash: str | None = None
    skipped: int = 0

    def headers(self) -> dict[str, str]:
        """The facts as response headers (``X-Privmask-*``)."""
        out = {}
        if self.time is not None:
            out["X-Privmask-Time"] = str(float(self.time))
        if self.recorded is not None:
            out["X-Privmask-Recorded"] = self.recorded.isoformat()
        if self.content_hash is not None:
            out["X-Privmask-Content-Hash"] = self.content_hash
        out["X-Privmask-Skipped"] = str(self.skipped)
        return out


class Session:
    """One editor run: ``source`` (the picture), ``mask_file`` (``None``: nothing to save to,
    the page offers downloads instead), and ``at``, the ``--at`` value (seconds into a video,
    or a recording time)."""

    def __init__(
        self, source: Source, mask_file: MaskFile | None, at: Fraction | datetime | None = None
    ) -> None:
        self.source = source
        self.mask_file = mask_file
        self.start_time, self.when = self._placement(at)
        self.opened: Opened | None = None
        if mask_file is not None:
            self.opened = mask_file.open(self.when)

    def _placement(self, at: Fraction | datetime | None) -> tuple[Fraction | None, datetime | None]:
        """The video time to show first, and the recording time that picks a timeline version."""
        src = self.source
        if isinstance(at, datetime):
            if src.kind == "video":
                if src.start is None:
                    raise MaskConfigError(
                        f"{src.name} has no creation_time, so a recording time cannot be placed "
                        "in it; give --at in seconds",
                        "at",
                    )
                d = at - src.start
                return Fraction(d // timedelta(microseconds=1), 1_000_000), at
            return None, at
        if src.kind == "video":
            pic = src.picture(at or Fraction(0))
            return pic.time, pic.recorded
        return None, src.picture().recorded

    def state(self) -> dict[str, Any]:
        """Everything the page needs to start: source, first time, masks and file facts."""
        masks = self.opened.masks if self.opened is not None else MaskSet()
        return {
            "source": self.source.describe(),
            "time": None if self.start_time is None else float(self.start_time),
            "recorded": None if self.when is None else self.when.isoformat(),
            "masks": masks.to_dict(),
            "file": None
            if self.mask_file is None
            else {
                "name": self.mask_file.path.name,
                **(self.opened.describe() if self.opened else {}),
            },
            "grid_sizes": [GRID_SIZES.start, GRID_SIZES.stop - 1],
        }

    def _picture(self, t: Fraction | None, refresh: bool = False) -> Picture:
        return self.source.picture(t, refresh=refresh)

    def frame(self, t: Fraction | None, *, refresh: bool = False) -> Rendered:
        """The unmasked picture at ``t`` (a new live frame with ``refresh``) as PNG."""
        pic = self._picture(t, refresh)
        return Rendered(png_bytes(to_rgb(pic.frame)), pic.time, pic.recorded)

    def preview(self, t: Fraction | None, doc: Any, *, lifted: bool = False) -> Rendered:
        """The picture at ``t`` masked by the real engine (:func:`privmask.apply` on a copy of
        the decoded samples, chroma included), as PNG; ``lifted`` applies permanent masks
        only."""
        masks, skipped = _image_locked(_masks_of(doc))
        pic = self._picture(t)
        frame = pic.frame.copy()
        apply(frame, masks, lifted=lifted)
        return Rendered(
            png_bytes(to_rgb(frame)), pic.time, pic.recorded, masks.content_hash, skipped
        )

    def check(self, doc: Any) -> dict[str, Any]:
        """Validates the page's masks; returns them as the file will hold them, with the
        content hash and each mask's irreversibility grade."""
        masks = _masks_of(doc)
        return {
            "masks": masks.to_dict(),
            "content_hash": masks.content_hash,
            "grades": [m.style.grade.value for m in masks],
        }

    def save(self, doc: Any, since: Any = None) -> dict[str, Any]:
        """Saves the masks to the mask file (a new timeline version from ``since``)."""
        if self.mask_file is None:
            raise FileNotFoundError("the editor was started without --masks FILE; download instead")
        masks = _masks_of(doc)
        when = None if since is None else parse_since(since)
        saved = self.mask_file.save(masks, when)
        self.opened = self.mask_file.opened
        return {**saved.describe(), "file": self.state()["file"]}

    def reopen(self) -> dict[str, Any]:
        """Reads the mask file again (after it changed on disk); returns :meth:`state`."""
        if self.mask_file is not None:
            self.opened = self.mask_file.open(self.when)
        return self.state()

    def grid(self, cells: Any, grid: Any, template: Any) -> dict[str, Any]:
        """Masks from painted grid cells (``MaskSet.from_grid``: one mask per connected area),
        each with the style, name and liftability of ``template`` (a mask object)."""
        if not isinstance(grid, list) or len(grid) != 2:
            raise MaskConfigError("must be [cols, rows]", "grid")
        for v in grid:
            if isinstance(v, bool) or not isinstance(v, int) or v not in GRID_SIZES:
                raise MaskConfigError(
                    f"grids have {GRID_SIZES.start} to {GRID_SIZES.stop - 1} cells a side", "grid"
                )
        if not isinstance(template, dict):
            raise MaskConfigError("must be a mask object", "template")
        style = _style_of(template.get("style", {"type": "solid"}))
        if not isinstance(cells, list):
            raise MaskConfigError("must be a list of [col, row] pairs", "cells")
        pairs = [tuple(c) if isinstance(c, list) else c for c in cells]
        masks = MaskSet.from_grid(pairs, (grid[0], grid[1]), style=style)
        out = []
        for m in masks:
            d = m.to_dict()
            d["name"] = str(template.get("name", ""))
            d["liftable"] = template.get("liftable", False)
            out.append(d)
        return self.check({"privmask": 1, "masks": out})

    def import_text(self, fmt: str, text: str) -> dict[str, Any]:
        """Masks from another system's configuration: ``frigate`` (polygon strings, one a line;
        pixel values are read against this picture's size) or ``onvif`` (Media2 XML)."""
        if fmt == "frigate":
            lines = []
            for line in text.splitlines():
                s = line.strip().removeprefix("-").strip().strip("'\"")
                if s and not s.startswith("#"):
                    lines.append(s.removeprefix("mask:").strip().strip("'\""))
            masks = MaskSet.from_frigate(lines, frame_size=(self.source.width, self.source.height))
        elif fmt == "onvif":
            masks = MaskSet.from_onvif(text)
        else:
            raise MaskConfigError(f"unknown format {fmt!r}; frigate or onvif", "format")
        return self.check(masks.to_dict())

    def export_text(self, fmt: str, doc: Any) -> dict[str, Any]:
        """The masks as ``frigate`` polygon strings or ``onvif`` XML, with ``notes`` on what the
        other format cannot carry."""
        masks = _masks_of(doc)
        notes: list[str] = []
        if fmt == "frigate":
            text = "\n".join(masks.to_frigate()) + "\n"
            if any(not isinstance(m.style, Solid) or m.liftable for m in masks):
                notes.append("Frigate masks have no style or liftability: only the shapes are kept")
            return {"text": text, "notes": notes, "filename": "frigate-masks.txt"}
        if fmt == "onvif":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                text = masks.to_onvif()
            notes += [str(w.message) for w in caught]
            return {"text": text, "notes": notes, "filename": "onvif-masks.xml"}
        raise MaskConfigError(f"unknown format {fmt!r}; frigate or onvif", "format")

    def default_name(self) -> str:
        """The file name a download of the masks gets."""
        if self.mask_file is not None:
            return self.mask_file.path.name
        return f"{Path(self.source.name).stem or 'camera'}-masks.json"
