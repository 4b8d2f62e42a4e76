"""Mask interchange: ONVIF Media2 masks and mask options, Frigate polygon strings, grid
cells; round trips that never drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import privmask as pm

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "onvif"
MASK_FIXTURES = sorted(p for p in FIXTURES.glob("*.xml") if "options" not in p.name)

# --- ONVIF ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MASK_FIXTURES, ids=lambda p: p.name)
def test_every_onvif_fixture_parses(path: Path) -> None:
    ms = pm.MaskSet.from_onvif(path.read_bytes())
    assert len(ms) >= 1
    for m in ms:
        assert isinstance(m.shape, pm.Polygon)


def test_onvif_coordinates_and_types_map_onto_privmask() -> None:
    ms = pm.MaskSet.from_onvif((FIXTURES / "get_masks_response.xml").read_text())
    assert [m.name for m in ms] == ["window", "door", "garden"]  # "old" is disabled
    # -1..1 with y up and the origin at the centre -> 0..1 from the top-left, y down
    assert ms[0].shape.points == ((0.25, 0.25), (0.5, 0.25), (0.5, 0.5), (0.25, 0.5))
    assert ms[1].shape.points == ((0.625, 0.625), (0.875, 0.625), (0.75, 1.0))
    assert ms[0].style == pm.Solid(yuv=(16, 128, 128))
    assert ms[1].style == pm.Mosaic()
    assert ms[2].style == pm.Blur()
    every = pm.MaskSet.from_onvif(
        (FIXTURES / "get_masks_response.xml").read_text(), include_disabled=True
    )
    assert [m.name for m in every] == ["window", "door", "garden", "old"]
    rgb = pm.MaskSet.from_onvif((FIXTURES / "create_mask_rgb.xml").read_bytes())
    assert rgb[0].style == pm.Solid("#ff0000")
    assert rgb[0].shape.points == ((0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6))


def test_onvif_export_reads_back_and_fill_becomes_color_with_a_note() -> None:
    ms = pm.MaskSet(
        [
            pm.Mask(
                pm.Polygon([(0.1, 0.2), (0.3, 0.2), (0.3, 0.5)]), pm.Solid("#00ff00"), name="a"
            ),
            pm.Mask(pm.Polygon.rect(0.5, 0.5, 0.2, 0.2), pm.Solid(yuv=(235, 128, 128)), name="b"),
            pm.Mask(pm.Polygon.rect(0.1, 0.6, 0.2, 0.1), pm.Blur(), name="c"),
            pm.Mask(pm.Polygon.rect(0.6, 0.1, 0.2, 0.1), pm.Fill(), name="d"),
        ]
    )
    with pytest.warns(UserWarning, match=r"masks\[3\]: Fill has no ONVIF type"):
        xml = ms.to_onvif("vsc1")
    assert "privmask: Fill exported as Color" in xml
    back = pm.MaskSet.from_onvif(xml)
    assert [m.shape for m in back] == [m.shape for m in ms]
    assert [m.name for m in back] == ["a", "b", "c", "d"]
    assert back[0].style == pm.Solid("#00ff00")
    assert back[1].style == pm.Solid(yuv=(235, 128, 128))
    assert back[3].style == pm.Solid((128, 128, 128))


def test_onvif_refuses_scene_locked_masks() -> None:
    scene = pm.ScenePolygon([(0, 0), (5, 0), (5, 5)])
    with pytest.raises(pm.MaskConfigError, match=r"masks\[0\]: a scene-locked mask"):
        pm.MaskSet([pm.Mask(scene)]).to_onvif()


@pytest.mark.parametrize(
    ("xml", "path"),
    [
        ("<Masks><Masks><Polygon>", ""),  # not well-formed
        (
            '<M><Mask><Polygon><Point x="0" y="0"/><Point x="1" y="0"/><Point x="1" y="one"/>'
            "</Polygon><Type>Color</Type></Mask></M>",
            "Mask[0].Polygon.Point[2]@y",
        ),
        (
            '<M><Mask><Polygon><Point x="0" y="0"/><Point x="1" y="0"/><Point y="1"/>'
            "</Polygon><Type>Color</Type></Mask></M>",
            "Mask[0].Polygon.Point[2]@x",
        ),
        (
            '<M><Mask><Polygon><Point x="0" y="0"/><Point x="1" y="0"/><Point x="1" y="1"/>'
            "</Polygon></Mask></M>",
            "Mask[0]",
        ),
        (
            '<M><Mask><Polygon><Point x="0" y="0"/><Point x="1" y="0"/><Point x="1" y="1"/>'
            "</Polygon><Type>Smudged</Type></Mask></M>",
            "Mask[0].Type",
        ),
        (
            '<M><Mask><Polygon><Point x="0" y="0"/><Point x="1" y="0"/><Point x="1" y="1"/>'
            '</Polygon><Type>Color</Type><Color X="300" Y="0" Z="0"/></Mask></M>',
            "Mask[0].Color@X",
        ),
        (
            '<M><Masks/><Masks><Polygon><Point x="0" y="0"/><Point x="1" y="0"/>'
            "</Polygon><Type>Color</Type></Masks></M>",
            "Masks[0].Polygon",
        ),
        (
            '<M><Mask><Polygon><Point x="0" y="0"/><Point x="1" y="0"/><Point x="1" y="1"/>'
            "</Polygon><Type>Color</Type><Enabled>maybe</Enabled></Mask></M>",
            "Mask[0].Enabled",
        ),
    ],
)
def test_malformed_onvif_names_the_element(xml: str, path: str) -> None:
    with pytest.raises(pm.MaskConfigError) as info:
        pm.MaskSet.from_onvif(xml)
    assert info.value.path == path


def test_mask_options_say_which_masks_a_camera_takes() -> None:
    opts = pm.OnvifMaskOptions.from_xml((FIXTURES / "get_mask_options.xml").read_text())
    assert opts == pm.OnvifMaskOptions(4, 4, True, ("Color", "Pixelated"))
    ms = pm.MaskSet(
        [
            pm.Mask(pm.Polygon.rect(0.1, 0.1, 0.2, 0.2)),
            pm.Mask(pm.Polygon([(0.1, 0.1), (0.3, 0.1), (0.2, 0.3)]), pm.Mosaic()),
            pm.Mask(pm.Polygon.rect(0.5, 0.5, 0.2, 0.2), pm.Blur()),
            pm.Mask(pm.ScenePolygon([(0, 0), (5, 0), (5, 5)])),
            pm.Mask(pm.Polygon.rect(0.0, 0.0, 0.1, 0.1)),
        ]
    )
    checks = opts.check(ms)
    assert [c.ok for c in checks] == [True, False, False, False, False]
    assert "rectangles only" in checks[1].reasons[0]
    assert checks[2].reasons == ("the camera has no Blurred masks",)
    assert "scene-locked" in checks[3].reasons[0]
    assert checks[4].reasons == ("the camera holds at most 4 masks",)
    many = pm.MaskSet([pm.Mask(pm.Polygon([(0, 0), (1, 0), (1, 1), (0.5, 1), (0, 1)]))])
    assert "5 points" in pm.OnvifMaskOptions(24, 4).check(many)[0].reasons[0]


def test_mask_options_errors_name_the_element() -> None:
    with pytest.raises(pm.MaskConfigError, match=r"Options.MaxMasks: must be an integer"):
        pm.OnvifMaskOptions.from_xml(
            "<Options><MaxMasks>many</MaxMasks><MaxPoints>4</MaxPoints></Options>"
        )
    with pytest.raises(pm.MaskConfigError, match=r"Options: missing <MaxPoints>"):
        pm.OnvifMaskOptions.from_xml("<Options><MaxMasks>4</MaxMasks></Options>")


# --- Frigate --------------------------------------------------------------------------------


def test_frigate_strings_relative_and_legacy_pixels() -> None:
    ms = pm.MaskSet.from_frigate(["0.1,0.2,0.5,0.2,0.5,0.6", "0,0,0.25,0,0.25,1,0,1"])
    assert ms[0].shape.points == ((0.1, 0.2), (0.5, 0.2), (0.5, 0.6))
    assert ms.to_frigate() == ["0.1,0.2,0.5,0.2,0.5,0.6", "0.0,0.0,0.25,0.0,0.25,1.0,0.0,1.0"]
    legacy = pm.MaskSet.from_frigate("0,0,640,0,640,360", frame_size=(1280, 720))
    assert legacy[0].shape.points == ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5))
    with pytest.raises(pm.MaskConfigError, match=r"mask\[0\]: pixel coordinates"):
        pm.MaskSet.from_frigate("0,0,640,0,640,360")
    with pytest.raises(pm.MaskConfigError, match=r"mask\[1\]: needs x,y pairs"):
        pm.MaskSet.from_frigate(["0,0,1,0,1,1", "0,0,1"])
    with pytest.raises(pm.MaskConfigError, match=r"mask\[0\]: value 2 is not a number"):
        pm.MaskSet.from_frigate("0,0,x,0,1,1")
    with pytest.raises(pm.MaskConfigError, match=r"mask\[0\]: .*zero area"):
        pm.MaskSet.from_frigate("0,0,0.5,0.5,1,1")
    outside = pm.MaskSet([pm.Mask(pm.Polygon([(0, 0), (1.5, 0), (1, 1)]))])
    with pytest.raises(pm.MaskConfigError, match=r"masks\[0\]: Frigate coordinates are 0..1"):
        outside.to_frigate()


# --- grids ----------------------------------------------------------------------------------


def test_grid_cells_merge_into_polygons_with_holes() -> None:
    ring = [(0, 0), (1, 0), (2, 0), (0, 1), (2, 1), (0, 2), (1, 2), (2, 2)]
    ms = pm.MaskSet.from_grid([*ring, (5, 5), (6, 5), (6, 4)], grid=(8, 6))
    assert len(ms) == 2  # the ring (with its hole) and the L
    expected = np.zeros((6, 8), dtype=bool)
    for c, r in [*ring, (5, 5), (6, 5), (6, 4)]:
        expected[r, c] = True
    np.testing.assert_array_equal(pm.coverage(ms, 8, 6), expected)
    # at a finer resolution the cells are still exact
    big = pm.coverage(ms, 80, 60)
    np.testing.assert_array_equal(big, np.kron(expected, np.ones((10, 10), dtype=bool)))
    assert len(ms[1].shape.points) == 6  # merged: an L has six corners
    same = pm.MaskSet.from_grid(expected, grid=(8, 6))
    assert same == ms


@settings(max_examples=40)
@given(st.lists(st.lists(st.booleans(), min_size=7, max_size=7), min_size=5, max_size=5))
def test_any_grid_selection_covers_exactly_its_cells(rows: list[list[bool]]) -> None:
    cells = np.array(rows, dtype=bool)
    ms = pm.MaskSet.from_grid(cells, grid=(7, 5))
    got = pm.coverage(ms, 70, 50) if len(ms) else np.zeros((50, 70), dtype=bool)
    np.testing.assert_array_equal(got, np.kron(cells, np.ones((10, 10), dtype=bool)))


def test_grid_errors() -> None:
    with pytest.raises(pm.MaskConfigError, match=r"cells\[1\]: \(9, 0\) is outside"):
        pm.MaskSet.from_grid([(0, 0), (9, 0)], grid=(8, 6))
    with pytest.raises(pm.MaskConfigError, match="grid: must be two positive integers"):
        pm.MaskSet.from_grid([(0, 0)], grid=(0, 6))


# --- no drift -------------------------------------------------------------------------------

unit = st.floats(-0.25, 1.25, allow_nan=False, allow_infinity=False, allow_subnormal=True)


@st.composite
def image_sets(draw: st.DrawFn, coord: st.SearchStrategy[float] = unit) -> pm.MaskSet:
    masks = []
    for _ in range(draw(st.integers(1, 3))):
        pts = draw(st.lists(st.tuples(coord, coord), min_size=3, max_size=6))
        try:
            poly = pm.Polygon(pts)
        except pm.InvalidGeometryError:
            poly = pm.Polygon.rect(0.1, 0.1, 0.2, 0.3)
        style = draw(st.sampled_from([pm.Solid(), pm.Solid("#123456"), pm.Mosaic(), pm.Blur()]))
        masks.append(pm.Mask(poly, style, name=f"m{len(masks)}"))
    return pm.MaskSet(masks)


@settings(max_examples=25)
@given(image_sets())
def test_onvif_round_trips_never_drift(ms: pm.MaskSet) -> None:
    current = ms
    for _ in range(100):
        current = pm.MaskSet.from_onvif(current.to_onvif())
    assert current == ms


@settings(max_examples=25)
@given(image_sets(st.floats(0, 1)))
def test_frigate_round_trips_never_drift(ms: pm.MaskSet) -> None:
    current = ms
    for _ in range(100):
        current = pm.MaskSet.from_frigate(current.to_frigate())
    assert [m.shape for m in current] == [m.shape for m in ms]


@settings(max_examples=25)
@given(image_sets(), st.lists(st.tuples(st.floats(-540, 540), st.floats(-90, 90)), min_size=3))
def test_json_round_trips_never_drift(ms: pm.MaskSet, scene: list[tuple[float, float]]) -> None:
    try:
        sp = pm.ScenePolygon(scene, margin_deg=0.5, min_zoom=0.25)
        ms = pm.MaskSet([*ms, pm.Mask(sp, pm.Mosaic(block_px=8), True, "ptz")])
    except pm.InvalidGeometryError:
        pass
    current = ms
    for _ in range(100):
        current = pm.MaskSet.from_json(current.to_json())
    assert current == ms
    assert current.content_hash == ms.content_hash
