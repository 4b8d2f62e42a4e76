"""Masks, mask sets and their compilation for a frame geometry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from privmask import _native
from privmask.errors import InvalidGeometryError, MaskConfigError
from privmask.geometry import Polygon
from privmask.schema import SCHEMA_VERSION, MaskModel, parse_mask_set
from privmask.styles import Blur, Fill, Mosaic, Solid, Style

__all__ = ["CompiledMasks", "Mask", "MaskSet"]

CompiledMasks = _native.CompiledMasks


@dataclass(frozen=True, slots=True)
class Mask:
    """One privacy mask: an area, a style, and whether authorised viewers may lift it.

    Permanent masks (``liftable=False``) are applied always; liftable ones are skipped by
    ``apply(..., lifted=True)``.
    """

    shape: Polygon
    style: Style = field(default_factory=Solid)
    liftable: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.shape, Polygon):
            raise InvalidGeometryError(f"shape must be a privmask.Polygon, got {self.shape!r}")
        if not isinstance(self.style, (Solid, Mosaic, Blur, Fill)):
            raise MaskConfigError(f"style must be Solid, Mosaic, Blur or Fill, got {self.style!r}")
        if not isinstance(self.liftable, bool):
            raise MaskConfigError(f"liftable must be True or False, got {self.liftable!r}")
        if not isinstance(self.name, str):
            raise MaskConfigError(f"name must be a string, got {self.name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the mask."""
        style: dict[str, Any]
        if isinstance(self.style, Solid):
            style = {"type": "solid"}
            if self.style.yuv is not None:
                style["yuv"] = list(self.style.yuv)
            else:
                assert self.style.color is not None
                style["color"] = "#{:02x}{:02x}{:02x}".format(*self.style.color)
        elif isinstance(self.style, Mosaic):
            style = {"type": "mosaic"}
            if self.style.block_px is not None:
                style["block_px"] = self.style.block_px
            else:
                style["block"] = self.style.block
        elif isinstance(self.style, Blur):
            style = {"type": "blur"}
            if self.style.sigma_px is not None:
                style["sigma_px"] = self.style.sigma_px
            else:
                style["sigma"] = self.style.sigma
        else:
            style = {"type": "fill"}
            if self.style.outline is not None:
                style["outline"] = "#{:02x}{:02x}{:02x}".format(*self.style.outline)
        return {
            "name": self.name,
            "polygon": [list(p) for p in self.shape.points],
            "style": style,
            "liftable": self.liftable,
        }

    @staticmethod
    def _from_model(m: MaskModel) -> Mask:
        st = m.style
        style: Style
        if st.type == "solid":
            style = Solid(st.color, yuv=st.yuv) if st.yuv is not None else Solid(st.color)
        elif st.type == "mosaic":
            style = Mosaic(st.block, block_px=st.block_px)
        elif st.type == "blur":
            style = Blur(st.sigma, sigma_px=st.sigma_px)
        else:
            style = Fill(st.outline)
        return Mask(Polygon(m.polygon), style, m.liftable, m.name)


@dataclass(frozen=True, slots=True, eq=False)
class MaskSet:
    """An immutable, ordered list of masks: masks apply in list order, each reading the result
    of the ones before it.

    ``content_hash`` identifies the configuration (the SHA-256 of its canonical JSON), so
    outputs can record which masks were in force; :meth:`compile` caches its result by hash and
    frame geometry.
    """

    masks: tuple[Mask, ...]

    def __init__(self, masks: Iterable[Mask] = ()) -> None:
        items = tuple(masks)
        for i, m in enumerate(items):
            if not isinstance(m, Mask):
                raise MaskConfigError(f"must be a privmask.Mask, got {m!r}", f"masks[{i}]")
        object.__setattr__(self, "masks", items)

    def __len__(self) -> int:
        return len(self.masks)

    def __iter__(self) -> Iterator[Mask]:
        return iter(self.masks)

    def __getitem__(self, i: int) -> Mask:
        return self.masks[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MaskSet) and self.masks == other.masks

    def __hash__(self) -> int:
        return hash(self.masks)

    def __repr__(self) -> str:
        return f"MaskSet({list(self.masks)!r})"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the set, with its schema version."""
        return {"privmask": SCHEMA_VERSION, "masks": [m.to_dict() for m in self.masks]}

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialises the set (schema version 1)."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> MaskSet:
        """Parses and validates mask-set JSON. Errors are :class:`MaskConfigError` (or
        :class:`InvalidGeometryError` for a polygon with no area) naming the field path."""
        model = parse_mask_set(text)
        out = []
        for i, m in enumerate(model.masks):
            try:
                out.append(Mask._from_model(m))
            except InvalidGeometryError as e:
                raise InvalidGeometryError(f"masks[{i}].polygon: {e}") from e
            except MaskConfigError as e:
                raise MaskConfigError(str(e), f"masks[{i}].style") from e
        return cls(out)

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "masks", MaskSet.from_json(json.dumps(state)).masks)

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the set."""
        return _hash_of(self)

    def exclusion_map(self, width: int, height: int) -> npt.NDArray[np.bool_]:
        """The cover of the permanent masks on a ``width`` x ``height`` frame (bool, ``(h, w)``).

        Motion detection and other analytics should ignore these areas: nobody may see them,
        so events there must not be reported either. Liftable masks are not included.
        """
        return self.compile(width, height, "gray").coverage(lifted=True)

    def compile(
        self,
        width: int,
        height: int,
        format: str = "yuv420p",
        *,
        matrix: str | None = None,
        full_range: bool | None = None,
    ) -> CompiledMasks:
        """Rasterises the masks for one frame geometry (cached by hash and geometry).

        ``matrix`` (``"bt601"``/``"bt709"``) and ``full_range`` default to the frame height's
        usual matrix and the format's range; they only affect RGB solid colours.
        """
        return _compile_cached(self, int(width), int(height), str(format), matrix, full_range)


def _canonical(ms: MaskSet) -> str:
    return json.dumps(ms.to_dict(), sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=256)
def _hash_of(ms: MaskSet) -> str:
    return hashlib.sha256(_canonical(ms).encode()).hexdigest()


@lru_cache(maxsize=64)
def _compile_cached(
    ms: MaskSet, width: int, height: int, fmt: str, matrix: str | None, full_range: bool | None
) -> CompiledMasks:
    specs = []
    for m in ms.masks:
        kind, params = m.style._native_spec()
        specs.append((list(m.shape.points), kind, params, m.liftable))
    return _native.compile(specs, width, height, fmt, matrix, full_range)
