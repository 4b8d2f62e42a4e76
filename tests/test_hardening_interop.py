"""Hardening, interchange: Frigate strings as Frigate reads them, ONVIF
numbers in strict xs:float form and bounded time, specific errors and
ambiguous Frigate values refused with both readings."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import privmask as pm


def frigate_reading(polygon: str, width: int, height: int) -> list[tuple[float, float]]:
    """Where Frigate puts a polygon string's vertices, in relative coordinates: the rule of
    Frigate itself (blakeblackshear/frigate, commit e3fa7018, frigate/util/config.py
    ``get_relative_coordinates`` and frigate/util/image.py ``add_mask``), restated: the string
    holds legacy pixel coordinates when any comma-separated value is greater than ``"1.0"``
    compared *as text*, and each value is then read with ``int()`` (a ``ValueError`` rejects
    the configuration); otherwise values are relative and read with ``float()``."""
    points = polygon.split(",")
    if any(x > "1.0" for x in points):
        pixels = [int(x) for x in points]  # raises for "5e-06": Frigate refuses the config
        return [(pixels[i] / width, pixels[i + 1] / height) for i in range(0, len(pixels), 2)]
    return [(float(points[i]), float(points[i + 1])) for i in range(0, len(points), 2)]


def test_frigate_reads_tiny_coordinates_as_relative() -> None:
    ms = pm.MaskSet([pm.Mask(pm.Polygon([(5e-06, 0.0), (1.0, 1e-300), (0.5, 1.0)]))])
    (text,) = ms.to_frigate()
    assert "e" not in text
    assert frigate_reading(text, 1920, 1080) == [(5e-06, 0.0), (1.0, 1e-300), (0.5, 1.0)]
    assert pm.MaskSet.from_frigate(text) == ms


unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False, allow_subnormal=True)


@given(st.lists(st.tuples(unit, unit), min_size=3, max_size=8))
def test_every_exported_vertex_is_where_frigate_puts_it(points: list[tuple[float, float]]) -> None:
    try:
        ms = pm.MaskSet([pm.Mask(pm.Polygon(points))])
    except pm.InvalidGeometryError:
        return  # no area: nothing to export
    (text,) = ms.to_frigate()
    assert frigate_reading(text, 1280, 720) == [(x + 0.0, y + 0.0) for x, y in points]
    assert pm.MaskSet.from_frigate(text) == ms


@pytest.mark.parametrize(
    ("polygon", "readings"),
    [
        ("5e-06,0,1,0,1,1", ["0.000005", "legacy pixel"]),  # Frigate: pixels, and refused
        ("0.5,0.5,640,0,640,360", ["legacy pixel", "'0.5' is not a whole pixel"]),
        ("0,0,09,0,0,1", ["'09' is above 1", "relative"]),
        ("0,0,1.00,0,0,1", ["legacy pixel", "'1.00' is not a whole pixel"]),
    ],
)
def test_frigate_values_read_two_ways_are_refused_naming_both(
    polygon: str, readings: list[str]
) -> None:
    with pytest.raises(pm.MaskConfigError, match=r"^mask\[0\]: .*ambiguous") as info:
        pm.MaskSet.from_frigate(polygon, frame_size=(1280, 720))
    for reading in readings:
        assert reading in str(info.value)


def test_frigate_input_that_is_not_strings_is_a_mask_config_error() -> None:
    with pytest.raises(pm.MaskConfigError, match=r"^mask\[0\]: must be a Frigate polygon"):
        pm.MaskSet.from_frigate([5])  # type: ignore[list-item]
    with pytest.raises(pm.MaskConfigError, match=r"^mask\[1\]: must be a Frigate polygon"):
        pm.MaskSet.from_frigate(["0,0,1,0,1,1", None])  # type: ignore[list-item]
    with pytest.raises(pm.MaskConfigError, match=r"^mask: must be a string or a list"):
        pm.MaskSet.from_frigate(5)  # type: ignore[arg-type]
    with pytest.raises(pm.MaskConfigError, match=r"^frame_size: "):
        pm.MaskSet.from_frigate("0,0,640,0,640,360", frame_size=(True, 720))  # type: ignore[arg-type]
    with pytest.raises(pm.MaskConfigError, match=r"^mask\[0\]: value 2 is not a number"):
        pm.MaskSet.from_frigate("0,0,1_0,0,1,1")


def onvif(x: str) -> str:
    return (
        f'<M><Mask token="m"><Polygon><Point x="{x}" y="0"/><Point x="1" y="0"/>'
        '<Point x="1" y="1"/></Polygon><Type>Color</Type></Mask></M>'
    )


@pytest.mark.parametrize(
    "x",
    [
        "1e400",  # beyond a double: was an OverflowError
        "-1e400",
        "1e99999999999999999999999",  # beyond what Decimal holds
        "1_0",  # Python's Decimal reads 10; not xs:float
        "\u0661",  # an Arabic-Indic digit one
        "Infinity",
        "NaN",
        "0x1p3",
        "1e-30000000",  # took 44 s: exact expansion of the exponent
    ],
)
def test_onvif_numbers_outside_xs_float_are_refused_at_once_with_the_element_path(
    x: str,
) -> None:
    started = time.perf_counter()
    with pytest.raises(pm.MaskConfigError, match=r"^Mask\[0\]\.Polygon\.Point\[0\]@x: "):
        pm.MaskSet.from_onvif(onvif(x))
    assert time.perf_counter() - started < 2.0  # was 44 s for 1e-30000000


@pytest.mark.parametrize(
    ("x", "expected"),
    [("-1", 0.0), ("-1.", 0.0), (" -.5 ", 0.25), ("+0E0", 0.5), ("-1.0e-0", 0.0), ("1e-340", 0.5)],
)
def test_onvif_numbers_in_xs_float_form_still_read(x: str, expected: float) -> None:
    (mask,) = pm.MaskSet.from_onvif(onvif(x))
    assert isinstance(mask.shape, pm.Polygon)
    assert mask.shape.points[0][0] == expected


def test_xml_entities_cannot_read_files_or_expand_without_bound() -> None:
    external = (
        '<?xml version="1.0"?><!DOCTYPE M [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<M><Mask token="&x;"><Polygon><Point x="0" y="0"/><Point x="1" y="0"/>'
        '<Point x="1" y="1"/></Polygon><Type>Color</Type></Mask></M>'
    )
    with pytest.raises(pm.MaskConfigError, match="not well-formed XML"):
        pm.MaskSet.from_onvif(external)
    levels = ['<!ENTITY a0 "lol">'] + [
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    bomb = f'<?xml version="1.0"?><!DOCTYPE M [{"".join(levels)}]><M><Type>&a9;</Type></M>'
    started = time.perf_counter()
    with pytest.raises(pm.MaskConfigError, match="not well-formed XML"):
        pm.MaskSet.from_onvif(bomb)
    assert time.perf_counter() - started < 5.0  # 10**9 expansions would take minutes
