"""Masks, mask sets and their compilation for a frame geometry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from privmask import _native
from privmask.errors import InvalidGeometryError, MaskConfigError
from privmask.masks.geometry import Polygon
from privmask.masks.ptz import PTZPose, ScenePolygon, resolve
from privmask.masks.styles import Blur, Fill, Mosaic, Solid, Style, style_from_dict

if TYPE_CHECKING:
    from privmask.engine.frame import Frame
    from privmask.masks.schema import MaskModel

__all__ = ["CompiledMasks", "Mask", "MaskSet"]

CompiledMasks = _native.CompiledMasks

JSON_VERSION = 1
"""The ``"privmask"`` schema version of mask sets and timelines written by this version (the
schema module checks documents against the same number)."""


@dataclass(frozen=True, slots=True)
class Mask:
    """One privacy mask: an area, a style, and whether authorised viewers may lift it.

    Permanent masks (``liftable=False``) are applied always; liftable ones are skipped by
    ``apply(..., lifted=True)``. ``shape`` is a :class:`Polygon` (image-locked) or a
    :class:`~privmask.masks.ptz.ScenePolygon` (scene-locked, for PTZ cameras; needs a pose to
    apply).
    """

    shape: Polygon | ScenePolygon
    style: Style = field(default_factory=Solid)
    liftable: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.shape, (Polygon, ScenePolygon)):
            raise InvalidGeometryError(
                f"shape must be a privmask.Polygon or ScenePolygon, got {self.shape!r}"
            )
        if not isinstance(self.style, (Solid, Mosaic, Blur, Fill)):
            raise MaskConfigError(f"style must be Solid, Mosaic, Blur or Fill, got {self.style!r}")
        if not isinstance(self.liftable, bool):
            raise MaskConfigError(f"liftable must be True or False, got {self.liftable!r}")
        if not isinstance(self.name, str):
            raise MaskConfigError(f"name must be a string, got {self.name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the mask."""
        out: dict[str, Any] = {"name": self.name}
        if isinstance(self.shape, ScenePolygon):
            out["scene"] = [list(p) for p in self.shape.points]
            if self.shape.margin_deg:
                out["margin_deg"] = self.shape.margin_deg
            if self.shape.min_zoom is not None:
                out["min_zoom"] = self.shape.min_zoom
        else:
            out["polygon"] = [list(p) for p in self.shape.points]
        out["style"] = self.style.to_dict()
        out["liftable"] = self.liftable
        return out

    @staticmethod
    def _from_model(m: MaskModel) -> Mask:
        style = style_from_dict(m.style.model_dump())
        shape: Polygon | ScenePolygon
        if m.scene is not None:
            shape = ScenePolygon(m.scene, margin_deg=m.margin_deg or 0.0, min_zoom=m.min_zoom)
        else:
            assert m.polygon is not None
            shape = Polygon(m.polygon)
        return Mask(shape, style, m.liftable, m.name)


@dataclass(frozen=True, slots=True, eq=False)
class MaskSet:
    """An immutable, ordered list of masks: masks apply in list order, each reading the result
    of the ones before it.

    ``content_hash`` identifies the configuration (the SHA-256 of its canonical JSON), so
    outputs can record which masks were in force; :meth:`compile` caches its result by hash and
    frame geometry.
    """

    masks: tuple[Mask, ...]
    # Worked out once: `apply` asks for both on every frame.
    _hash: int = field(init=False, repr=False, compare=False)
    _scene_locked: bool = field(init=False, repr=False, compare=False)

    def __init__(self, masks: Iterable[Mask] = ()) -> None:
        items = tuple(masks)
        for i, m in enumerate(items):
            if not isinstance(m, Mask):
                raise MaskConfigError(f"must be a privmask.Mask, got {m!r}", f"masks[{i}]")
        object.__setattr__(self, "masks", items)
        object.__setattr__(self, "_hash", hash(items))
        scene = any(isinstance(m.shape, ScenePolygon) for m in items)
        object.__setattr__(self, "_scene_locked", scene)

    def __reduce__(self) -> tuple[type[MaskSet], tuple[tuple[Mask, ...]]]:
        # Rebuilt through __init__: string hashes differ between processes, so a cached hash
        # must not travel to a worker.
        return (MaskSet, (self.masks,))

    def __len__(self) -> int:
        return len(self.masks)

    def __iter__(self) -> Iterator[Mask]:
        return iter(self.masks)

    def __getitem__(self, i: int) -> Mask:
        return self.masks[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MaskSet) and self.masks == other.masks

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"MaskSet({list(self.masks)!r})"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the set, with its schema version."""
        return {"privmask": JSON_VERSION, "masks": [m.to_dict() for m in self.masks]}

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialises the set (schema version 1)."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> MaskSet:
        """Parses and validates mask-set JSON. Errors are :class:`MaskConfigError` (or
        :class:`InvalidGeometryError` for a polygon with no area) naming the field path."""
        from privmask.masks.schema import parse_mask_set  # pydantic: loaded on first use

        model = parse_mask_set(text)
        out = []
        for i, m in enumerate(model.masks):
            try:
                out.append(Mask._from_model(m))
            except InvalidGeometryError as e:
                where = "scene" if m.scene is not None else "polygon"
                raise InvalidGeometryError(f"masks[{i}].{where}: {e}") from e
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

    def compile_for(self, frame: Frame) -> CompiledMasks:
        """:meth:`compile` for the geometry and colour coding of ``frame`` (cached likewise)."""
        return self.compile(
            frame.width,
            frame.height,
            frame.format,
            matrix=frame.matrix,
            full_range=frame.full_range,
        )

    def compile(
        self,
        width: int,
        height: int,
        format: str = "yuv420p",
        *,
        matrix: str | None = None,
        full_range: bool | None = None,
        cached: bool = True,
    ) -> CompiledMasks:
        """Rasterises the masks for one frame geometry (cached by hash and geometry).

        ``matrix`` (``"bt601"``/``"bt709"``) and ``full_range`` default to the frame height's
        usual matrix and the format's range; they only affect RGB solid colours. ``cached=False``
        compiles without touching the process-wide cache (for sets made for one frame only, such
        as PTZ projections, which would otherwise evict the plans that are used again).
        """
        for i, m in enumerate(self.masks if self._scene_locked else ()):
            if isinstance(m.shape, ScenePolygon):
                raise MaskConfigError(
                    "a scene-locked mask needs the camera's pose: use apply(frame, masks, "
                    "pose=...) or MaskSet.for_pose(pose, width, height)",
                    f"masks[{i}]",
                )
        compile_fn = _compile_cached if cached else _compile_uncached
        return compile_fn(self, int(width), int(height), str(format), matrix, full_range)

    def for_pose(self, pose: PTZPose, width: int, height: int) -> MaskSet:
        """The image-locked set this set amounts to on a ``width`` x ``height`` frame seen from
        ``pose``: scene-locked masks projected and grown by their margins, the rest unchanged."""
        return resolve(self, pose, width, height)

    @property
    def scene_locked(self) -> bool:
        """True when any mask is scene-locked (applying the set then needs a pose)."""
        return self._scene_locked

    @classmethod
    def from_onvif(cls, xml: str | bytes, *, include_disabled: bool = False) -> MaskSet:
        """Masks from an ONVIF Media2 ``GetMasksResponse`` (or any document holding ``Mask``
        elements); see :func:`privmask.masks.interop.masks_from_onvif`."""
        from privmask.masks import interop

        return interop.masks_from_onvif(xml, include_disabled=include_disabled)

    def to_onvif(self, configuration_token: str = "") -> str:
        """This set as ONVIF Media2 ``Masks`` elements; see
        :func:`privmask.masks.interop.masks_to_onvif`."""
        from privmask.masks import interop

        return interop.masks_to_onvif(self, configuration_token)

    @classmethod
    def from_frigate(
        cls,
        polygons: str | Iterable[str],
        *,
        frame_size: tuple[int, int] | None = None,
        style: Style | None = None,
    ) -> MaskSet:
        """Masks from Frigate polygon strings; see
        :func:`privmask.masks.interop.masks_from_frigate`."""
        from privmask.masks import interop

        return interop.masks_from_frigate(polygons, frame_size=frame_size, style=style)

    def to_frigate(self) -> list[str]:
        """One Frigate polygon string per mask; see
        :func:`privmask.masks.interop.masks_to_frigate`."""
        from privmask.masks import interop

        return interop.masks_to_frigate(self)

    @classmethod
    def from_grid(cls, cells: Any, grid: tuple[int, int], *, style: Style | None = None) -> MaskSet:
        """Masks from a grid-cell selection, adjacent cells merged into one polygon per
        connected area; see :func:`privmask.masks.grid.masks_from_grid`."""
        from privmask.masks import grid as grids

        return grids.masks_from_grid(cells, grid, style=style)


def _canonical(ms: MaskSet) -> str:
    return json.dumps(ms.to_dict(), sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=256)
def _hash_of(ms: MaskSet) -> str:
    return hashlib.sha256(_canonical(ms).encode()).hexdigest()


def _compile_uncached(
    ms: MaskSet, width: int, height: int, fmt: str, matrix: str | None, full_range: bool | None
) -> CompiledMasks:
    specs = []
    for m in ms.masks:
        kind, params = m.style.native_spec()
        specs.append((list(m.shape.points), kind, params, m.liftable))
    return _native.compile(specs, width, height, fmt, matrix, full_range)


_compile_cached = lru_cache(maxsize=64)(_compile_uncached)
