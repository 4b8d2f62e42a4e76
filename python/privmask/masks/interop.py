"""Mask configurations from and to other systems: ONVIF Media2 masks, Frigate polygon strings and
grid-cell editors (:mod:`privmask.masks.grid`, whose ``masks_from_grid`` is re-exported here).

Every converter keeps geometry exact across any number of save/load cycles: ONVIF coordinates
are written with as many digits as it takes for the read-back value to be the same double
(``2x - 1`` is not exact in floating point, so the shortest ``repr`` is not always enough), and
read back with exact rational arithmetic. A configuration that drifts by an ulp on every save
ends up, after a year of edits, off the window it was drawn on.

XML is parsed with ``xml.etree.ElementTree`` (it refuses external entities and, with expat >=
2.4.1, entity-expansion bombs); elements match by local name, whatever the namespace prefixes.
"""

from __future__ import annotations

import math
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from privmask.errors import InvalidGeometryError, MaskConfigError
from privmask.masks.geometry import Polygon
from privmask.masks.grid import masks_from_grid
from privmask.masks.maskset import Mask, MaskSet
from privmask.masks.ptz import ScenePolygon
from privmask.masks.styles import Blur, Fill, Mosaic, Solid, Style

__all__ = [
    "MaskCheck",
    "OnvifMaskOptions",
    "masks_from_frigate",
    "masks_from_grid",
    "masks_from_onvif",
    "masks_to_frigate",
    "masks_to_onvif",
]

TR2 = "http://www.onvif.org/ver20/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"
YCBCR = "http://www.onvif.org/ver10/colorspace/YCbCr"
RGB = "http://www.onvif.org/ver10/colorspace/RGB"

_ONVIF_TYPES = ("Color", "Pixelated", "Blurred")


# --- ONVIF ----------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _child(el: ET.Element, name: str, path: str, *, required: bool = True) -> ET.Element | None:
    found = _children(el, name)
    if len(found) > 1:
        raise MaskConfigError(f"more than one <{name}>", path)
    if not found:
        if required:
            raise MaskConfigError(f"missing <{name}>", path)
        return None
    return found[0]


# A finite xs:float / xs:double (XML Schema 1.1 Part 2, 3.3.5-6) in ASCII digits: not "1_0"
# (Decimal reads 10), Unicode digits, "INF" or "NaN"; whiteSpace "collapse" strips only _XML_SPACE.
# Magnitudes far beyond a coordinate (-1..1) or colour (0..255) are refused before the exact
# conversion, which would overflow a double (1e400) or take minutes (1e-30000000).
_XS_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_XML_SPACE = " \t\r\n"
_MIN_EXPONENT, _MAX_EXPONENT, _MAX_NUMBER_CHARS = -340, 300, 1000


def _number(text: str | None, path: str) -> Fraction:
    """An xs:float/xs:double attribute as an exact rational (the decimal text is exact; a
    float would round before the ``(v + 1) / 2`` conversion and drift).

    Only the strict lexical form is read, and only magnitudes a double holds: anything else is
    :class:`MaskConfigError` at ``path``, at once (no exact expansion of a huge exponent)."""
    if text is None:
        raise MaskConfigError("missing attribute", path)
    t = text.strip(_XML_SPACE)
    shown = repr(t if len(t) <= 40 else t[:40] + "...")
    if len(t) > _MAX_NUMBER_CHARS or not _XS_DECIMAL.fullmatch(t):
        raise MaskConfigError(f"not a finite xs:float number: {shown}", path)
    try:
        d = Decimal(t)
        if d and not _MIN_EXPONENT <= d.adjusted() <= _MAX_EXPONENT:
            raise ArithmeticError
    except ArithmeticError:  # also an exponent beyond what Decimal holds
        raise MaskConfigError(f"{shown} is out of range for a coordinate or colour", path) from None
    return Fraction(d)


def _to_onvif_coord(v: float, sign: int) -> str:
    """The ONVIF spelling of normalised ``v`` (x: ``2v - 1``; y: ``1 - 2v``) that reads back as
    exactly ``v``: the shortest of increasingly precise decimals of the exact value."""
    exact = (2 * Fraction(v) - 1) * sign
    guess = repr(float(exact))
    if _from_onvif_coord(Fraction(Decimal(guess)), sign) == v:
        return guess
    with localcontext() as ctx:
        ctx.prec = 20
        while True:
            d = Decimal(exact.numerator) / Decimal(exact.denominator)
            if _from_onvif_coord(Fraction(d), sign) == v:
                return str(d)
            ctx.prec += 10


def _from_onvif_coord(c: Fraction, sign: int) -> float:
    return float((c * sign + 1) / 2)


def _style_from_onvif(el: ET.Element, path: str) -> Style:
    type_el = _child(el, "Type", path)
    assert type_el is not None
    kind = (type_el.text or "").strip()
    if kind == "Pixelated":
        return Mosaic()
    if kind == "Blurred":
        return Blur()
    if kind != "Color":
        raise MaskConfigError(
            f"unknown mask type {kind!r}; ONVIF has Color, Pixelated and Blurred", f"{path}.Type"
        )
    color = _child(el, "Color", path, required=False)
    if color is None:
        return Solid()
    cpath = f"{path}.Color"
    comps = []
    for a in ("X", "Y", "Z"):
        v = _number(color.get(a), f"{cpath}@{a}")
        if v.denominator != 1 or not 0 <= v <= 255:
            raise MaskConfigError(f"must be an integer 0-255, got {color.get(a)!r}", f"{cpath}@{a}")
        comps.append(int(v))
    triple = (comps[0], comps[1], comps[2])
    space = (color.get("Colorspace") or YCBCR).strip()
    if space == YCBCR:
        return Solid(yuv=triple)
    if space == RGB:
        return Solid(triple)
    raise MaskConfigError(f"unsupported colour space {space!r}", f"{cpath}@Colorspace")


def _is_true(text: str | None, path: str) -> bool:
    t = (text or "").strip().lower()
    if t in ("true", "1"):
        return True
    if t in ("false", "0"):
        return False
    raise MaskConfigError(f"must be true or false, got {text!r}", path)


def _onvif_mask_elements(root: ET.Element) -> Iterator[ET.Element]:
    """``Mask`` elements (a ``SetMask``/``CreateMask`` body) and ``Masks`` elements (a
    ``GetMasksResponse``), in document order."""
    for el in root.iter():
        if _local(el.tag) in ("Mask", "Masks") and _children(el, "Polygon"):
            yield el


def masks_from_onvif(xml: str | bytes, *, include_disabled: bool = False) -> MaskSet:
    """Masks from ONVIF Media2 XML.

    Coordinates go from ONVIF's -1..1 (origin at the centre, y up) to privmask's 0..1 (origin
    top-left, y down). ``Color`` becomes :class:`Solid` (YCbCr colours as raw ``yuv``, RGB as
    ``color``), ``Pixelated`` :class:`Mosaic` and ``Blurred`` :class:`Blur` at their default
    strengths (ONVIF has no strength). The ``token`` becomes the mask's name. Disabled masks are
    skipped unless ``include_disabled``. Errors are :class:`MaskConfigError` with the element
    path (``Masks[1].Polygon.Point[2]@x``).
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise MaskConfigError(f"not well-formed XML: {e}") from e
    out: list[Mask] = []
    for i, el in enumerate(_onvif_mask_elements(root)):
        path = f"{_local(el.tag)}[{i}]"
        enabled_el = _child(el, "Enabled", path, required=False)
        enabled = enabled_el is None or _is_true(enabled_el.text, f"{path}.Enabled")
        poly_el = _child(el, "Polygon", path)
        assert poly_el is not None
        pts = []
        for j, p in enumerate(_children(poly_el, "Point")):
            ppath = f"{path}.Polygon.Point[{j}]"
            x = _from_onvif_coord(_number(p.get("x"), f"{ppath}@x"), 1)
            y = _from_onvif_coord(_number(p.get("y"), f"{ppath}@y"), -1)
            pts.append((x, y))
        try:
            shape = Polygon(pts)
        except InvalidGeometryError as e:
            raise MaskConfigError(str(e), f"{path}.Polygon") from e
        style = _style_from_onvif(el, path)
        if enabled or include_disabled:
            out.append(Mask(shape, style, name=el.get("token", "")))
    return MaskSet(out)


def _style_to_onvif(style: Style, index: int) -> tuple[str, tuple[tuple[int, ...], str] | None]:
    if isinstance(style, (Mosaic, Blur)):
        return style.ONVIF_TYPE, None
    if isinstance(style, Fill):
        warnings.warn(
            f"masks[{index}]: Fill has no ONVIF type; exported as Color (mid-grey), the nearest",
            stacklevel=4,
        )
        return "Color", ((128, 128, 128), RGB)
    if style.yuv is not None:
        return "Color", (style.yuv, YCBCR)
    assert style.color is not None
    return "Color", (style.color, RGB)


def masks_to_onvif(masks: MaskSet, configuration_token: str = "") -> str:
    """The set as an ONVIF Media2 ``GetMasksResponse`` document (one ``Masks`` element per mask,
    all enabled), for a camera's ``CreateMask``/``SetMask`` calls or a VMS import.

    :class:`Fill` becomes ``Color`` (mid-grey) with a warning and an XML comment, since ONVIF has
    nothing closer; mosaic and blur strengths are not carried (ONVIF has none). Scene-locked
    masks raise :class:`MaskConfigError`: Media2 masks are image coordinates (a camera's own
    PTZ masks are configured in its firmware).
    """
    ET.register_namespace("tr2", TR2)
    ET.register_namespace("tt", TT)
    root = ET.Element(f"{{{TR2}}}GetMasksResponse")
    for i, m in enumerate(masks):
        if isinstance(m.shape, ScenePolygon):
            raise MaskConfigError("a scene-locked mask has no ONVIF Media2 form", f"masks[{i}]")
        el = ET.SubElement(root, f"{{{TR2}}}Masks", {"token": m.name or f"mask{i}"})
        if isinstance(m.style, Fill):
            el.append(ET.Comment(" privmask: Fill exported as Color, the nearest ONVIF type "))
        ET.SubElement(el, f"{{{TR2}}}ConfigurationToken").text = configuration_token
        poly = ET.SubElement(el, f"{{{TR2}}}Polygon")
        for x, y in m.shape.points:
            ET.SubElement(
                poly, f"{{{TT}}}Point", {"x": _to_onvif_coord(x, 1), "y": _to_onvif_coord(y, -1)}
            )
        kind, color = _style_to_onvif(m.style, i)
        ET.SubElement(el, f"{{{TR2}}}Type").text = kind
        if color is not None:
            (cx, cy, cz), space = color
            attrs = {"X": str(cx), "Y": str(cy), "Z": str(cz), "Colorspace": space}
            ET.SubElement(el, f"{{{TR2}}}Color", attrs)
        ET.SubElement(el, f"{{{TR2}}}Enabled").text = "true"
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


@dataclass(frozen=True, slots=True)
class MaskCheck:
    """Whether one mask fits a camera: ``index`` in the set, ``ok``, and the reasons it does
    not."""

    index: int
    name: str
    ok: bool
    reasons: tuple[str, ...]


def _is_rectangle(points: tuple[tuple[float, float], ...]) -> bool:
    if len(points) != 4:
        return False
    xs = {p[0] for p in points}
    ys = {p[1] for p in points}
    return len(xs) == 2 and len(ys) == 2 and len(set(points)) == 4


@dataclass(frozen=True, slots=True)
class OnvifMaskOptions:
    """What a camera's masks can be, as ONVIF Media2 ``GetMaskOptions`` reports it: how many
    masks (``max_masks``), how many points each (``max_points``), whether only axis-aligned
    rectangles are allowed, and which types (``Color``, ``Pixelated``, ``Blurred``).
    :meth:`check` says which masks of a set the camera could take."""

    max_masks: int
    max_points: int
    rectangle_only: bool = False
    types: tuple[str, ...] = _ONVIF_TYPES

    def __post_init__(self) -> None:
        for name in ("max_masks", "max_points"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise MaskConfigError(f"must be a non-negative integer, got {v!r}", name)
        for t in self.types:
            if t not in _ONVIF_TYPES:
                raise MaskConfigError(f"unknown mask type {t!r}", "types")

    @classmethod
    def from_xml(cls, xml: str | bytes) -> OnvifMaskOptions:
        """Parses a ``GetMaskOptionsResponse`` (or its ``Options`` element)."""
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as e:
            raise MaskConfigError(f"not well-formed XML: {e}") from e
        opts = next((e for e in root.iter() if _local(e.tag) == "Options"), None)
        if opts is None:
            raise MaskConfigError("missing <Options>")

        def count(name: str) -> int:
            el = _child(opts, name, "Options")
            assert el is not None
            try:
                return int((el.text or "").strip())
            except ValueError as e:
                raise MaskConfigError(
                    f"must be an integer, got {el.text!r}", f"Options.{name}"
                ) from e

        rect = opts.get("RectangleOnly")
        rect_el = _child(opts, "RectangleOnly", "Options", required=False)
        if rect_el is not None:
            rect = rect_el.text
        types = tuple((t.text or "").strip() for t in _children(opts, "Types"))
        for i, t in enumerate(types):
            if t not in _ONVIF_TYPES:
                raise MaskConfigError(f"unknown mask type {t!r}", f"Options.Types[{i}]")
        return cls(
            count("MaxMasks"),
            count("MaxPoints"),
            rect is not None and _is_true(rect, "Options@RectangleOnly"),
            types or _ONVIF_TYPES,
        )

    def check(self, masks: MaskSet) -> list[MaskCheck]:
        """One :class:`MaskCheck` per mask, in order. Masks past ``max_masks`` are refused (the
        camera keeps the first ones), as are scene-locked masks, polygons with too many points,
        non-rectangles on rectangle-only cameras and types the camera lacks."""
        out = []
        for i, m in enumerate(masks):
            reasons = []
            if i >= self.max_masks:
                reasons.append(f"the camera holds at most {self.max_masks} masks")
            if isinstance(m.shape, ScenePolygon):
                reasons.append("scene-locked masks have no ONVIF Media2 form")
            else:
                if len(m.shape.points) > self.max_points:
                    reasons.append(
                        f"{len(m.shape.points)} points; the camera takes at most {self.max_points}"
                    )
                if self.rectangle_only and not _is_rectangle(m.shape.points):
                    reasons.append("the camera takes axis-aligned rectangles only")
            kind = m.style.ONVIF_TYPE
            if kind not in self.types:
                reasons.append(f"the camera has no {kind} masks")
            out.append(MaskCheck(i, m.name, not reasons, tuple(reasons)))
        return out


# --- Frigate --------------------------------------------------------------------------------


# Frigate's own reading (frigate/util/config.py get_relative_coordinates, frigate/util/image.py
# add_mask): a string is legacy pixels, read with int(), when any value > "1.0" *as text*; else
# relative, read with float(). So "5e-06" is pixels to Frigate (and refused), "09" relative.
_PLAIN_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_INTEGER = re.compile(r"-?[0-9]+")


def _frigate_value(token: str, j: int, path: str) -> float:
    t = token.strip(" \t")
    if _PLAIN_DECIMAL.fullmatch(t):
        return float(t)
    try:
        v = float(t) if "_" not in t else math.nan
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise MaskConfigError(f"value {j} is not a number: {token!r}", path)
    if token > "1.0":
        plain = _plain_decimal(v)
        raise MaskConfigError(
            f"value {j} ({token!r}) is ambiguous: as a number it is {plain}, but Frigate compares "
            f"it with '1.0' as text, reads a legacy pixel value and refuses it; write {plain}",
            path,
        )
    return v  # exponent notation that Frigate, too, reads as a relative value ("0e5")


def _frigate_one(text: object, path: str, frame_size: tuple[int, int] | None) -> Polygon:
    if not isinstance(text, str):
        raise MaskConfigError(f"must be a Frigate polygon string 'x1,y1,...', got {text!r}", path)
    tokens = text.split(",")
    values = [_frigate_value(t, j, path) for j, t in enumerate(tokens)]
    if len(values) % 2:
        raise MaskConfigError(f"needs x,y pairs, got {len(values)} values", path)
    pixel_token = next((t for t in tokens if t > "1.0"), None)
    if pixel_token is not None:
        # Frigate reads the whole string as legacy pixels: every value must be whole.
        fraction = next((t for t in tokens if not _INTEGER.fullmatch(t.strip(" \t"))), None)
        if fraction is not None:
            raise MaskConfigError(
                f"ambiguous: Frigate reads legacy pixels ({pixel_token!r} is above '1.0'), but "
                f"{fraction!r} is not a whole pixel: write relative values or pixels, not both",
                path,
            )
        if frame_size is None:
            raise MaskConfigError("pixel coordinates (values above 1) need frame_size=(w, h)", path)
        w, h = frame_size
        pts = [(x / w, y / h) for x, y in zip(values[0::2], values[1::2], strict=True)]
    else:
        above = next((t for t, v in zip(tokens, values, strict=True) if v > 1.0), None)
        if above is not None:
            raise MaskConfigError(
                f"ambiguous: {above!r} is above 1, a pixel value, but Frigate reads the string as "
                "relative (it compares values with '1.0' as text): write plain pixels or <= 1.0",
                path,
            )
        pts = list(zip(values[0::2], values[1::2], strict=True))
    try:
        return Polygon(pts)
    except InvalidGeometryError as e:
        raise MaskConfigError(str(e), path) from e


def masks_from_frigate(
    polygons: str | Iterable[str],
    *,
    frame_size: tuple[int, int] | None = None,
    style: Style | None = None,
) -> MaskSet:
    """Masks from Frigate polygon strings (``"x1,y1,x2,y2,..."``), one string or a list as in a
    ``mask:`` entry, read as Frigate reads them: relative values (0..1 from the top-left,
    plain decimals), unless a value compares above ``"1.0"`` as text, which makes the string
    legacy pixel coordinates of the detect stream (whole numbers; they need ``frame_size``,
    the stream's width and height). Values that the two readings would place differently
    (``"5e-06"``, ``"0.5"`` among pixels, ``"09"``) are refused with both readings named.
    Every mask gets ``style`` (default :class:`Solid`). Errors are :class:`MaskConfigError`
    naming the string (``mask[2]``)."""
    ok = isinstance(frame_size, (tuple, list)) and len(frame_size) == 2
    if frame_size is not None and not (ok and all(type(v) is int and v > 0 for v in frame_size)):
        raise MaskConfigError(f"must be two positive integers, got {frame_size!r}", "frame_size")
    if isinstance(polygons, str):
        items: list[object] = [polygons]
    elif isinstance(polygons, Iterable) and not isinstance(polygons, (bytes, bytearray)):
        items = list(polygons)
    else:
        raise MaskConfigError(f"must be a string or a list of strings, got {polygons!r}", "mask")
    chosen = style if style is not None else Solid()
    return MaskSet(
        Mask(_frigate_one(s, f"mask[{i}]", frame_size), chosen) for i, s in enumerate(items)
    )


def _plain_decimal(v: float) -> str:
    """``v`` positionally, in the shortest digits that read back as ``v`` (5e-06: 0.000005)."""
    text = format(Decimal(repr(v)), "f")
    return text if "." in text else text + ".0"


def masks_to_frigate(masks: MaskSet) -> list[str]:
    """One relative Frigate polygon string per mask, every coordinate a plain decimal in the
    shortest digits that read back exactly (nothing drifts; never exponent notation, which
    Frigate reads as pixels). Vertices must lie within the frame (0..1), for the same reason."""
    out = []
    for i, m in enumerate(masks):
        if isinstance(m.shape, ScenePolygon):
            raise MaskConfigError("a scene-locked mask has no Frigate form", f"masks[{i}]")
        if not all(0.0 <= v <= 1.0 for p in m.shape.points for v in p):
            msg = "Frigate coordinates are 0..1; this polygon has vertices outside the frame"
            raise MaskConfigError(msg, f"masks[{i}]")
        out.append(",".join(f"{_plain_decimal(x)},{_plain_decimal(y)}" for x, y in m.shape.points))
    return out
