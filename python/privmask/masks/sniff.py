"""Mask files in the formats people already have, told apart by their content.

privmask reads three kinds of mask file, whatever their names:

- **privmask JSON**: a mask set (``{"privmask": 1, "masks": [...]}``) or a timeline
  (``{"privmask": 1, "timeline": [...]}``), see :mod:`privmask.masks.schema`;
- **Frigate configuration** (YAML, or the same structure in JSON): a whole ``config.yml`` with
  ``cameras:``, or one camera's section. Its ``motion.mask`` polygons and its ``zones`` become
  solid masks, named ``motion.mask[0]`` (or the mask's id) and ``zones.<name>``; disabled masks
  are skipped. Every Frigate form is read: one polygon string, a list of polygon strings, a list
  of ``"x,y"`` points, and the named masks of newer releases (``mask: {id: {coordinates: ...,
  enabled: ...}}``). Pixel coordinates (older releases) are scaled by the camera's
  ``detect.width`` and ``detect.height``;
- **ONVIF Media2 XML**: a ``GetMasksResponse`` (or any document of ``Mask``/``Masks`` elements,
  a SOAP envelope included), see :func:`privmask.masks.interop.masks_from_onvif`.

Anything else is refused with a :class:`~privmask.errors.MaskConfigError` that says which formats
are read. PyYAML is imported only for a file that is neither JSON nor XML.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from privmask.errors import InvalidGeometryError, MaskConfigError
from privmask.masks.interop import masks_from_frigate, masks_from_onvif, masks_to_frigate
from privmask.masks.maskset import Mask, MaskSet
from privmask.masks.timeline import MaskTimeline, parse_masks

__all__ = [
    "FORMATS_READ",
    "MaskFile",
    "MaskFileKind",
    "frigate_yaml",
    "load_mask_file",
    "masks_from_frigate_config",
    "parse_mask_file",
]

MaskFileKind = Literal["json", "frigate", "onvif"]

FORMATS_READ = (
    "privmask JSON (a mask set or a timeline), a Frigate config in YAML (a camera's motion.mask "
    "and zones) or ONVIF GetMasksResponse XML"
)
"""The formats, in words, as error messages and ``--help`` name them."""

_FRIGATE_KEYS = ("cameras", "motion", "zones")
_ONVIF_ELEMENTS = frozenset({"GetMasksResponse", "SetMask", "CreateMask", "Masks", "Mask"})


@dataclass(frozen=True)
class MaskFile:
    """What :func:`load_mask_file` found: the ``masks``, the ``kind`` of file they came from and,
    for a Frigate config, the ``camera`` they belong to."""

    masks: MaskSet | MaskTimeline
    kind: MaskFileKind
    camera: str | None = None

    def describe(self) -> str:
        """A few words for a summary: ``privmask JSON``, ``a Frigate config (camera front)``,
        ``ONVIF XML``."""
        if self.kind == "json":
            return "privmask JSON"
        if self.kind == "onvif":
            return "ONVIF XML"
        return "a Frigate config" + (f" (camera {self.camera})" if self.camera else "")


def load_mask_file(path: str | Path, *, camera: str | None = None) -> MaskFile:
    """Reads a mask file of any kind privmask knows (see the module docs), told apart by its
    content, not its name. ``camera`` picks a camera of a Frigate config that has several.

    Errors: ``FileNotFoundError`` and other ``OSError``; :class:`MaskConfigError` for a file of
    none of the kinds, or a bad one (naming the field, with the file in a note);
    ``ImportError`` for a YAML file without PyYAML installed.
    """
    p = Path(path)
    data = p.read_bytes()
    try:
        return parse_mask_file(data, camera=camera)
    except (MaskConfigError, InvalidGeometryError) as e:
        e.add_note(f"in {p}")
        raise


def parse_mask_file(data: bytes | str, *, camera: str | None = None) -> MaskFile:
    """:func:`load_mask_file` on the bytes of a file."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.removeprefix("\ufeff")
    head = text.lstrip()[:1]
    if head == "<":
        return MaskFile(_onvif(text), "onvif")
    if head in ("{", "["):
        try:
            doc = json.loads(text)
        except ValueError:
            return MaskFile(parse_masks(text), "json")  # the parser's own error, with the line
        return _from_document(doc, text, camera)
    return _from_document(_yaml(text), None, camera)


def _from_document(doc: Any, json_text: str | None, camera: str | None) -> MaskFile:
    if isinstance(doc, dict):
        if "poses" in doc and "masks" not in doc and "timeline" not in doc:
            raise MaskConfigError(
                "this is a PTZ pose track (give it with --poses), not a mask file"
            )
        if json_text is not None and ("privmask" in doc or "masks" in doc or "timeline" in doc):
            return MaskFile(parse_masks(json_text), "json")
        if any(k in doc for k in _FRIGATE_KEYS):
            masks, name = masks_from_frigate_config(doc, camera=camera)
            return MaskFile(masks, "frigate", name)
    if json_text is not None:
        return MaskFile(parse_masks(json_text), "json")  # names what the JSON lacks
    raise MaskConfigError(f"not a mask file privmask reads: expected {FORMATS_READ}")


def _yaml(text: str) -> Any:
    try:
        import yaml
    except ImportError as e:  # pragma: no cover - PyYAML is a dependency
        raise ImportError("reading a Frigate YAML config needs PyYAML: pip install pyyaml") from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise MaskConfigError(
            f"not a mask file privmask reads: expected {FORMATS_READ} (as YAML: "
            f"{' '.join(str(e).split())})"
        ) from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _onvif(text: str) -> MaskSet:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise MaskConfigError(f"not well-formed XML: {e}") from e
    if not any(_local(el.tag) in _ONVIF_ELEMENTS for el in root.iter()):
        raise MaskConfigError(
            f"an XML document with no ONVIF masks (root <{_local(root.tag)}>): expected a "
            "GetMasksResponse, or Mask/Masks elements"
        )
    return masks_from_onvif(text)


# --- Frigate ---------------------------------------------------------------------------------


def _message(error: MaskConfigError) -> str:
    """The message of an error without its own field path (which is re-rooted by the caller)."""
    text = str(error)
    return text[len(error.path) + 2 :] if error.path and text.startswith(error.path) else text


def _polygon_text(value: Any, path: str) -> str:
    """One Frigate polygon: ``"x1,y1,x2,y2,..."``, or a list of ``"x,y"`` points."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, (str, int, float)) for v in value):
        return ",".join(str(v) for v in value)
    raise MaskConfigError(
        f"expected a polygon string like '0.1,0.1,0.4,0.1,0.4,0.3', got {value!r}", path
    )


def _is_point(value: Any) -> bool:
    return isinstance(value, str) and len(value.split(",")) == 2


def _motion_masks(value: Any, path: str) -> Iterator[tuple[str, str, str]]:
    """``(name, polygon text, field path)`` for each enabled mask of ``motion.mask``."""
    if value is None or value == "" or value == []:
        return
    if isinstance(value, str):
        yield path, value, path
    elif isinstance(value, list):
        if all(_is_point(v) for v in value):  # one polygon as a list of "x,y" points
            yield path, ",".join(value), path
            return
        for i, v in enumerate(value):
            yield f"{path}[{i}]", _polygon_text(v, f"{path}[{i}]"), f"{path}[{i}]"
    elif isinstance(value, Mapping):  # named masks: {id: {coordinates, enabled, friendly_name}}
        for key, entry in value.items():
            where = f"{path}.{key}"
            if entry is None:
                continue
            if not isinstance(entry, Mapping):
                raise MaskConfigError("expected coordinates, enabled and friendly_name", where)
            if entry.get("enabled", True) is False:
                continue
            coords = entry.get("coordinates")
            if coords in (None, "", []):
                continue
            name = str(entry.get("friendly_name") or key)
            yield name, _polygon_text(coords, f"{where}.coordinates"), f"{where}.coordinates"
    else:
        raise MaskConfigError(f"expected polygon strings, got {type(value).__name__}", path)


def _zones(value: Any, path: str) -> Iterator[tuple[str, str, str]]:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise MaskConfigError("expected zones by name", path)
    for name, zone in value.items():
        where = f"{path}.{name}"
        if zone is None:
            continue
        if not isinstance(zone, Mapping) or "coordinates" not in zone:
            raise MaskConfigError("a zone needs 'coordinates'", where)
        coords = zone["coordinates"]
        yield f"zones.{name}", _polygon_text(coords, f"{where}.coordinates"), f"{where}.coordinates"


def _camera(
    doc: Mapping[str, Any], camera: str | None
) -> tuple[Mapping[str, Any], str, str | None]:
    """The camera section, its field path prefix and its name."""
    if "cameras" not in doc:
        return doc, "", camera  # one camera's section: ``camera`` can only name it
    cameras = doc["cameras"]
    if not isinstance(cameras, Mapping) or not cameras:
        raise MaskConfigError("expected cameras by name", "cameras")
    names = [str(n) for n in cameras]
    if camera is None:
        if len(names) > 1:
            raise MaskConfigError(
                f"a Frigate config with {len(names)} cameras ({', '.join(names)}): choose one: "
                f"--camera {names[0]} for validate and convert ('privmask convert FILE "
                f"{names[0]}.json --camera {names[0]}' makes a file the other commands take)"
            )
        camera = names[0]
    if camera not in cameras:
        raise MaskConfigError(f"no camera {camera!r}; the config has {', '.join(names)}", "cameras")
    section = cameras[camera]
    if not isinstance(section, Mapping):
        raise MaskConfigError("expected the camera's settings", f"cameras.{camera}")
    return section, f"cameras.{camera}.", camera


def masks_from_frigate_config(
    doc: Mapping[str, Any], *, camera: str | None = None
) -> tuple[MaskSet, str | None]:
    """The masks of one camera of a parsed Frigate configuration (a whole config with
    ``cameras:``, or one camera's section): its ``motion.mask`` polygons then its ``zones``, as
    solid masks, in file order. Returns the set and the camera's name (for a bare section,
    ``camera`` as given). A config with several cameras needs ``camera``. Raises
    :class:`MaskConfigError` naming the field (``cameras.front.zones.door.coordinates: value 1
    is not a number``)."""
    section, prefix, name = _camera(doc, camera)
    frame: tuple[int, int] | None = None
    detect = section.get("detect")
    if isinstance(detect, Mapping):
        w, h = detect.get("width"), detect.get("height")
        if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
            frame = (w, h)
    motion = section.get("motion")
    if motion is not None and not isinstance(motion, Mapping):
        raise MaskConfigError("expected motion settings", f"{prefix}motion")
    found = [
        *_motion_masks((motion or {}).get("mask"), f"{prefix}motion.mask"),
        *_zones(section.get("zones"), f"{prefix}zones"),
    ]
    if not found:
        raise MaskConfigError(
            "no motion.mask and no zones: nothing to mask", prefix.rstrip(".") or "motion"
        )
    masks: list[Mask] = []
    for label, polygon, path in found:
        label = label.removeprefix(prefix)
        try:
            (m,) = masks_from_frigate(polygon, frame_size=frame)
        except MaskConfigError as e:
            raise MaskConfigError(_message(e), path) from None
        masks.append(Mask(m.shape, m.style, name=label))
    return MaskSet(masks), name


def frigate_yaml(masks: MaskSet, *, camera: str | None = None) -> str:
    """``masks`` as a Frigate camera section in YAML: ``motion: mask:`` with one relative
    polygon string per mask (the list form every Frigate release reads), each mask's name as a
    comment; under ``cameras: CAMERA:`` when ``camera`` is given. Frigate has no mask styles:
    they are dropped. Raises :class:`MaskConfigError` for masks Frigate cannot hold
    (scene-locked, or vertices outside the frame)."""
    polygons = masks_to_frigate(masks)
    pad = "    " if camera is not None else ""
    lines = [f"# {len(masks)} masks from privmask (content_hash {masks.content_hash})"]
    if camera is not None:
        lines += ["cameras:", f"  {json.dumps(camera)}:"]
    lines += [f"{pad}motion:", f"{pad}  mask:" + ("" if polygons else " []")]
    for m, polygon in zip(masks, polygons, strict=True):
        if m.name:
            lines.append(f"{pad}    # {' '.join(m.name.split())}")
        lines.append(f'{pad}    - "{polygon}"')
    return "\n".join(lines) + "\n"
