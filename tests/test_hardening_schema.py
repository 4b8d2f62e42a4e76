"""Hardening, mask configurations: specific errors for hostile documents,
types as strict as the published schema and limits equal to the core's, ambiguous
values refused naming both readings, and hashes that are functions of the canonical
serialisation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import privmask as pm
from privmask import _native
from privmask.masks import styles
from privmask.masks.schema import json_schema

ROOT = Path(__file__).resolve().parent.parent
SQUARE = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]


def mask_doc(**fields: Any) -> str:
    mask = {"polygon": SQUARE, **fields}
    return json.dumps({"privmask": 1, "masks": [mask]})


# --- item 16: specific errors -----------------------------------------------------------------


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_json_is_a_mask_config_error(depth: int) -> None:
    doc = '{"privmask": 1, "masks": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(pm.MaskConfigError, match="nested too deeply"):
        pm.MaskSet.from_json(doc)
    with pytest.raises(pm.MaskConfigError, match="nested too deeply"):
        pm.MaskTimeline.from_json(doc.replace('"masks"', '"timeline"'))
    with pytest.raises(pm.MaskConfigError, match="nested too deeply"):
        pm.PoseTrack.from_json(doc.replace('"masks"', '"poses"'))


def test_a_5000_digit_number_is_a_mask_config_error_with_its_path() -> None:
    huge = "1" + "0" * 4999
    doc = json.dumps({"privmask": 1, "masks": [{"polygon": SQUARE}]}).replace("0.4", huge, 1)
    with pytest.raises(pm.MaskConfigError, match=r"^masks\[0\]\.polygon\[1\]\[0\]: .*5000 digits"):
        pm.MaskSet.from_json(doc)
    frac = doc.replace(huge, "0." + "3" * 5000)  # no coordinate needs 5,000 digits either
    with pytest.raises(pm.MaskConfigError, match=r"^masks\[0\]\.polygon\[1\]\[0\]: "):
        pm.MaskSet.from_json(frac)
    shorter = doc.replace(huge, "0." + "3" * 300)  # 300 digits: an ordinary float
    assert pm.MaskSet.from_json(shorter)[0].shape.points[1][0] == pytest.approx(1 / 3)
    with pytest.raises(pm.MaskConfigError, match=r"^privmask: schema version"):
        pm.MaskSet.from_json('{"privmask": ' + huge + ', "masks": []}')
    poses = '{"privmask": 1, "poses": [{"t": 0, "pan": ' + huge + ', "tilt": 0, "hfov": 30}]}'
    with pytest.raises(pm.MaskConfigError, match=r"^poses\[0\]\.pan: "):
        pm.PoseTrack.from_json(poses)


def test_numbers_beyond_a_double_are_geometry_errors_not_overflow() -> None:
    with pytest.raises(pm.InvalidGeometryError, match="vertex 0 x"):
        pm.Polygon([(10**400, 0), (1, 0), (1, 1)])
    with pytest.raises(pm.InvalidGeometryError, match="rect w"):
        pm.Polygon.rect(0, 0, 10**400, 1)
    with pytest.raises(pm.InvalidGeometryError):
        pm.ScenePolygon([(10**400, 0), (5, 0), (5, 5)])
    with pytest.raises(pm.InvalidGeometryError):
        pm.PTZPose(0, 0, 10**400)
    with pytest.raises(pm.MaskConfigError):
        pm.Mosaic(block_px=10**400)
    doc = json.dumps({"privmask": 1, "masks": [{"polygon": SQUARE}]}).replace("0.4", "1e400", 1)
    with pytest.raises(pm.MaskConfigError, match=r"^masks\[0\]\.polygon\[1\]\[0\]: "):
        pm.MaskSet.from_json(doc)


# --- item 17: strict types, schema limits = core limits ----------------------------------------


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        (mask_doc(liftable="yes"), r"masks\[0\]\.liftable"),
        (mask_doc(liftable=1), r"masks\[0\]\.liftable"),
        (mask_doc(name=7), r"masks\[0\]\.name"),
        (
            json.dumps({"privmask": 1, "masks": [{"polygon": [["0.1", "0.1"], [1, 0], [1, 1]]}]}),
            r"masks\[0\]\.polygon\[0\]\[0\]",
        ),
        (
            json.dumps({"privmask": 1, "masks": [{"polygon": [[True, 0], [1, 0], [1, 1]]}]}),
            r"masks\[0\]\.polygon\[0\]\[0\]",
        ),
        (mask_doc(style={"type": "mosaic", "block_px": "16"}), r"masks\[0\]\.style\.block_px"),
        (mask_doc(style={"type": "blur", "sigma": "0.01"}), r"masks\[0\]\.style\.sigma"),
        (json.dumps({"privmask": True, "masks": []}), "privmask"),
        (json.dumps({"privmask": 1.0, "masks": []}), "privmask"),
        (json.dumps({"privmask": "1", "masks": []}), "privmask"),
    ],
)
def test_values_of_the_wrong_json_type_are_refused(doc: str, path: str) -> None:
    with pytest.raises(pm.MaskConfigError, match=rf"^{path}: "):
        pm.MaskSet.from_json(doc)


def test_pose_and_timeline_fields_are_strict_too() -> None:
    pose = {"t": 0, "pan": 0, "tilt": 0, "hfov": 30}
    for field, value in (("t", "0"), ("pan", "0"), ("hfov", True)):
        doc = json.dumps({"privmask": 1, "poses": [{**pose, field: value}]})
        with pytest.raises(pm.MaskConfigError, match=rf"^poses\[0\]\.{field}: "):
            pm.PoseTrack.from_json(doc)
    doc = json.dumps({"privmask": 1, "max_age": "1", "poses": [pose]})
    with pytest.raises(pm.MaskConfigError, match=r"^max_age: "):
        pm.PoseTrack.from_json(doc)
    doc = json.dumps(
        {"privmask": True, "timeline": [{"since": "2026-01-01T00:00:00Z", "masks": []}]}
    )
    with pytest.raises(pm.MaskConfigError, match=r"^privmask: "):
        pm.MaskTimeline.from_json(doc)


def test_the_python_api_refuses_strings_and_bools_as_coordinates() -> None:
    with pytest.raises(pm.InvalidGeometryError, match="pair of numbers"):
        pm.Polygon([("0.1", "0.1"), (1, 0), (1, 1)])  # type: ignore[list-item]
    with pytest.raises(pm.InvalidGeometryError, match="pair of numbers"):
        pm.Polygon([(True, 0), (1, 0), (1, 1)])
    with pytest.raises(pm.InvalidGeometryError, match="must be a number"):
        pm.Polygon.rect("0", 0, 1, 1)  # type: ignore[arg-type]


def _schema_bounds(style: str, field: str) -> tuple[float, float]:
    published = json.loads((ROOT / "schema" / "maskset.schema.json").read_text())
    model = published["$defs"][f"{style.capitalize()}Model"]["properties"][field]
    (number,) = [s for s in model["anyOf"] if s.get("type") == "number"]
    return number["minimum"], number["maximum"]


@pytest.mark.parametrize(
    ("style", "field", "kind", "minimum"),
    [
        ("mosaic", "block_px", "mosaic_px", "MIN_BLOCK_PX"),
        ("blur", "sigma_px", "blur_px", "MIN_SIGMA_PX"),
    ],
)
def test_published_pixel_limits_are_the_cores(
    style: str, field: str, kind: str, minimum: str
) -> None:
    low, high = _schema_bounds(style, field)
    # The core's limits as privmask states them (the core does not export its constants) ...
    assert (low, high) == (getattr(styles, minimum), styles.MAX_LENGTH_PX)
    # ... and as the core itself (privmask._native) applies them: exactly the published range.
    _native.validate_style(kind, [float(low)])
    _native.validate_style(kind, [float(high)])
    for outside in (math.nextafter(low, -math.inf), math.nextafter(high, math.inf)):
        with pytest.raises(pm.MaskConfigError):
            _native.validate_style(kind, [outside])
    # And a document at the published maximum loads while one just above is refused.
    assert pm.MaskSet.from_json(mask_doc(style={"type": style, field: high}))
    with pytest.raises(pm.MaskConfigError, match=rf"^masks\[0\]\.style\.{field}: "):
        pm.MaskSet.from_json(mask_doc(style={"type": style, field: high + 1}))
    assert json.loads((ROOT / "schema" / "maskset.schema.json").read_text()) == json_schema()


def _ring(n: int) -> list[list[float]]:
    """``n`` vertices on a circle (a valid polygon of exactly ``n`` distinct vertices)."""
    return [
        [0.5 + 0.4 * math.cos(2 * math.pi * i / n), 0.5 + 0.4 * math.sin(2 * math.pi * i / n)]
        for i in range(n)
    ]


def test_the_published_vertex_limit_is_the_cores() -> None:
    published = json.loads((ROOT / "schema" / "maskset.schema.json").read_text())
    polygon = published["$defs"]["MaskModel"]["properties"]["polygon"]
    (array,) = [s for s in polygon["anyOf"] if s.get("type") == "array"]
    limit = array["maxItems"]
    assert limit == 10_000
    # The core itself (privmask._native) takes exactly that many and refuses one more.
    _native.validate_polygon([tuple(p) for p in _ring(limit)])
    with pytest.raises(pm.InvalidGeometryError, match=f"at most {limit} vertices"):
        _native.validate_polygon([tuple(p) for p in _ring(limit + 1)])
    # A document at the limit loads; one vertex more is refused at validation, with the path.
    doc = {"privmask": 1, "masks": [{"name": "a", "polygon": SQUARE}, {"polygon": _ring(limit)}]}
    assert len(pm.MaskSet.from_json(json.dumps(doc))[1].shape.points) == limit
    doc["masks"][1]["polygon"] = _ring(limit + 1)
    with pytest.raises(pm.MaskConfigError, match=r"^masks\[1\]\.polygon: .*10000") as e:
        pm.MaskSet.from_json(json.dumps(doc))
    assert e.value.path == "masks[1].polygon"
    # The timeline schema carries the same limit.
    timeline = json.loads((ROOT / "schema" / "timeline.schema.json").read_text())
    polygon = timeline["$defs"]["MaskModel"]["properties"]["polygon"]
    assert [s.get("maxItems") for s in polygon["anyOf"] if s.get("type") == "array"] == [limit]


# --- item 18: ambiguous values, canonical hashes -----------------------------------------------


@pytest.mark.parametrize(
    ("make", "readings"),
    [
        (lambda: pm.Mosaic(block=16), ["16 frame heights", "block_px=16"]),
        (lambda: pm.Blur(sigma=8), ["8 frame heights", "sigma_px=8"]),
    ],
)
def test_a_relative_length_above_one_names_both_readings(make: Any, readings: list[str]) -> None:
    with pytest.raises(pm.MaskConfigError, match="ambiguous") as info:
        make()
    for reading in readings:
        assert reading in str(info.value)


def test_a_relative_length_above_one_in_json_names_both_readings() -> None:
    doc = mask_doc(style={"type": "mosaic", "block": 16})
    with pytest.raises(pm.MaskConfigError, match=r"^masks\[0\]\.style\.block: .*ambiguous") as e:
        pm.MaskSet.from_json(doc)
    assert "16 frame heights" in str(e.value) and "'block_px': 16" in str(e.value)


def test_equal_mask_sets_have_one_content_hash() -> None:
    def square(zero: float) -> pm.MaskSet:
        return pm.MaskSet([pm.Mask(pm.Polygon([(zero, zero), (0.5, zero), (0.5, 0.5)]))])

    plus, minus = square(0.0), square(-0.0)
    assert plus == minus
    assert minus.content_hash == plus.content_hash
    assert minus.to_json() == plus.to_json()
    # The hash is the SHA-256 of the canonical JSON (sorted keys, no spaces), whatever the
    # spelling of the document it was read from.
    import hashlib

    canonical = json.dumps(plus.to_dict(), sort_keys=True, separators=(",", ":"))
    assert plus.content_hash == hashlib.sha256(canonical.encode()).hexdigest()
    respelled = pm.MaskSet.from_json(
        '{"masks": [{"style": {"color": "#000000", "type": "solid"}, "polygon": '
        '[[0, -0.0], [5e-1, 0], [0.50, 0.5]]}], "privmask": 1}'
    )
    assert respelled.content_hash == plus.content_hash
    scene = pm.ScenePolygon([(-0.0, 0), (-360.0, 5), (5, 5)])
    assert scene.points[0] == (0.0, 0.0) and math.copysign(1, scene.points[1][0]) == 1
