"""Time-versioned mask sets: append-only history, lookups, exact frame times, JSON on disk."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import privmask as pm
from privmask.masks.schema import json_schema, timeline_json_schema
from privmask.masks.timeline import MaskSchedule, MaskTimeline, load_masks, parse_masks

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _set(x: float, style: pm.Style | None = None, name: str = "") -> pm.MaskSet:
    return pm.MaskSet([pm.Mask(pm.Polygon.rect(x, 0.1, 0.2, 0.3), style or pm.Solid(), name=name)])


A, B, C = _set(0.0, name="a"), _set(0.3, pm.Mosaic(block_px=8)), _set(0.6, pm.Blur(sigma=0.02))


def _timeline() -> MaskTimeline:
    t = MaskTimeline()
    t.add(T0, A)
    t.add(T0 + timedelta(hours=1), B)
    t.add(T0 + timedelta(days=1), C)
    return t


# --- the history ----------------------------------------------------------------------------


def test_at_returns_the_set_in_force_since_is_inclusive() -> None:
    t = _timeline()
    assert t.at(T0) == A
    assert t.at(T0 + timedelta(minutes=59, seconds=59, microseconds=999_999)) == A
    assert t.at(T0 + timedelta(hours=1)) == B
    assert t.at(T0 + timedelta(days=400)) == C
    assert t.version_at(T0 + timedelta(hours=2)).content_hash == B.content_hash
    assert t.index_at(T0 + timedelta(days=1)) == 2
    # The same instant in another zone is the same instant.
    assert t.at(datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=1)))) == B


def test_before_the_first_version_is_an_error_not_no_masks() -> None:
    t = _timeline()
    with pytest.raises(pm.NoMasksInForceError, match="before the timeline's first version"):
        t.at(T0 - timedelta(microseconds=1))
    with pytest.raises(pm.NoMasksInForceError, match="no versions"):
        MaskTimeline().at(T0)
    assert issubclass(pm.NoMasksInForceError, LookupError)


def test_the_history_is_append_only() -> None:
    t = _timeline()
    with pytest.raises(pm.MaskConfigError, match=r"^timeline\[3\]\.since: .*append-only"):
        t.add(T0 + timedelta(hours=2), A)  # earlier than the newest
    with pytest.raises(pm.MaskConfigError, match=r"^timeline\[3\]\.since: .*not later"):
        t.add(T0 + timedelta(days=1), A)  # the same instant as the newest
    assert len(t) == 3  # nothing was added by the failed calls
    with pytest.raises(pm.MaskConfigError, match=r"^timeline\[3\]\.since: .*timezone-aware"):
        t.add(datetime(2030, 1, 1), A)
    with pytest.raises(TypeError, match="MaskSet"):
        t.add(T0 + timedelta(days=9), [pm.Mask(pm.Polygon.rect(0, 0, 1, 1))])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        t.at(datetime(2030, 1, 1))


def test_each_version_keeps_its_content_hash_and_equal_sets_share_a_plan() -> None:
    t = _timeline()
    t.add(T0 + timedelta(days=2), pm.MaskSet.from_json(A.to_json()))  # back to A's config
    assert [v.content_hash for v in t] == [
        A.content_hash,
        B.content_hash,
        C.content_hash,
        A.content_hash,
    ]
    # Compiled plans are cached by (content, geometry): going back to an earlier
    # configuration costs no rasterising.
    assert t[3].masks.compile(64, 48, "yuv420p") is t[0].masks.compile(64, 48, "yuv420p")


def test_json_round_trip_pickle_and_hashes_on_disk() -> None:
    t = _timeline()
    text = t.to_json()
    doc = json.loads(text)
    assert doc["privmask"] == 1
    assert [v["content_hash"] for v in doc["timeline"]] == [v.content_hash for v in t]
    # The mask objects are exactly those of a mask-set file.
    assert doc["timeline"][1]["masks"] == json.loads(B.to_json())["masks"]
    again = MaskTimeline.from_json(text)
    assert again == t and again.versions[1].since == T0 + timedelta(hours=1)
    assert pickle.loads(pickle.dumps(t)) == t
    with pytest.raises(pm.MaskConfigError, match="empty timeline"):
        MaskTimeline().to_json()


def _doc(**changes: object) -> str:
    doc = json.loads(_timeline().to_json())
    for path, value in changes.items():
        target = doc
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        target[int(last) if last.isdigit() else last] = value
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("doc", "error", "message"),
    [
        (
            _doc(timeline__1__since="2026-03-01T13:00:00"),
            pm.MaskConfigError,
            r"^timeline\[1\]\.since: Input should have timezone info",
        ),
        (
            _doc(timeline__1__since=1772370000),
            pm.MaskConfigError,
            r"^timeline\[1\]\.since: .*ISO 8601",
        ),
        (
            _doc(timeline__2__since="2026-03-01T12:30:00Z"),
            pm.MaskConfigError,
            r"^timeline\[2\]\.since: .*not later than timeline\[1\]\.since",
        ),
        (
            _doc(timeline__1__since="2026-03-01T12:00:00+00:00"),
            pm.MaskConfigError,
            r"^timeline\[1\]\.since: .*not later",
        ),
        (_doc(timeline=[]), pm.MaskConfigError, r"^timeline: List should have at least 1"),
        (
            _doc(timeline__0__masks__0__polygon=[[0, 0], [1, 1]]),
            pm.MaskConfigError,
            r"^timeline\[0\]\.masks\[0\]\.polygon: ",
        ),
        (
            _doc(timeline__2__masks__0__style={"type": "mosaic", "block_px": 1}),
            pm.MaskConfigError,
            r"^timeline\[2\]\.masks\[0\]\.style\.block_px: ",
        ),
        (
            _doc(timeline__1__masks__0__style={"type": "mosaic", "block": 0.1, "block_px": 8}),
            pm.MaskConfigError,
            r"^timeline\[1\]\.masks\[0\]\.style: .*not both",
        ),
        (
            _doc(timeline__1__masks__0__polygon=[[0, 0], [0.5, 0.5], [1, 1]]),
            pm.InvalidGeometryError,
            r"^timeline\[1\]\.masks\[0\]\.polygon: .*zero area",
        ),
        (
            _doc(timeline__0__content_hash="0" * 64),
            pm.MaskConfigError,
            r"^timeline\[0\]\.content_hash: .*edited after the hash was recorded",
        ),
        (
            _doc(timeline__0__content_hash="beef"),
            pm.MaskConfigError,
            r"^timeline\[0\]\.content_hash: String should match pattern",
        ),
        (_doc(timeline__0__note="x"), pm.MaskConfigError, r"^timeline\[0\]\.note: "),
        (_doc(privmask=2), pm.MaskConfigError, "^privmask: schema version 2"),
    ],
)
def test_bad_timeline_json_names_the_field(doc: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        MaskTimeline.from_json(doc)
    with pytest.raises(error, match=message):
        parse_masks(doc)  # the CLI's reader reports the same path


def test_a_recorded_hash_is_optional_and_edited_masks_are_caught() -> None:
    doc = json.loads(_timeline().to_json())
    for v in doc["timeline"]:
        del v["content_hash"]
    assert MaskTimeline.from_json(json.dumps(doc)) == _timeline()
    tampered = json.loads(_timeline().to_json())
    tampered["timeline"][1]["masks"][0]["polygon"][0] = [0.31, 0.1]
    with pytest.raises(pm.MaskConfigError, match=r"timeline\[1\]\.content_hash"):
        MaskTimeline.from_json(json.dumps(tampered))


def test_files_of_either_kind_load(tmp_path: Path) -> None:
    (tmp_path / "set.json").write_text(A.to_json())
    (tmp_path / "timeline.json").write_text(_timeline().to_json())
    assert load_masks(tmp_path / "set.json") == A
    assert load_masks(tmp_path / "timeline.json") == _timeline()
    with pytest.raises(FileNotFoundError):
        load_masks(tmp_path / "missing.json")
    (tmp_path / "both.json").write_text(json.dumps({"privmask": 1, "masks": [], "timeline": []}))
    with pytest.raises(pm.MaskConfigError, match="not both") as info:
        load_masks(tmp_path / "both.json")
    assert any("both.json" in n for n in info.value.__notes__)
    (tmp_path / "neither.json").write_text('{"privmask": 1}')
    with pytest.raises(pm.MaskConfigError, match=r"^masks: "):
        load_masks(tmp_path / "neither.json")


def test_published_timeline_schema_is_current_and_shares_the_mask_objects() -> None:
    published = json.loads((ROOT / "schema" / "timeline.schema.json").read_text())
    assert published == timeline_json_schema(), "run `make schema` to regenerate schema/"
    timeline_defs, set_defs = published["$defs"], json_schema()["$defs"]
    for name in ("MaskModel", "SolidModel", "MosaicModel", "BlurModel"):
        assert timeline_defs[name] == set_defs[name], name
    since = timeline_defs["VersionModel"]["properties"]["since"]
    assert since["format"] == "date-time"


# --- frame times --------------------------------------------------------------------------


def test_schedule_places_frames_exactly_on_either_side_of_since() -> None:
    tb = Fraction(1, 90000)
    start = T0 + timedelta(microseconds=123_457)
    pts = 90000 * 7 + 123  # a frame at 7.001366... s: not a whole number of microseconds
    exact = Fraction(pts) * tb
    floor_us = exact * 1_000_000 // 1
    t = MaskTimeline([(T0 - timedelta(days=1), A)])
    t.add(start + timedelta(microseconds=int(floor_us)), B)  # just before the frame
    s = MaskSchedule(t, start)
    assert s.index(exact) == 1
    assert s.index(exact - tb) == 0
    t2 = MaskTimeline([(T0 - timedelta(days=1), A)])
    t2.add(start + timedelta(microseconds=int(floor_us) + 1), B)  # just after the frame
    assert MaskSchedule(t2, start).index(exact) == 0
    assert MaskSchedule(t2, start).index(exact + tb) == 1


def test_schedule_without_a_start() -> None:
    assert MaskSchedule(A, None).index(None) == 0
    assert MaskSchedule(MaskTimeline([(T0, A)]), None).index(None) == 0
    with pytest.raises(ValueError, match="3 versions"):
        MaskSchedule(_timeline(), None)
    with pytest.raises(pm.NoMasksInForceError):
        MaskSchedule(MaskTimeline(), None)
    early = MaskSchedule(MaskTimeline([(T0, A)]), T0 - timedelta(seconds=1))
    assert early.index(Fraction(1)) == 0
    with pytest.raises(pm.NoMasksInForceError, match=r"2026-03-01T11:59:59\.500000"):
        early.index(Fraction(1, 2))


_instants = st.integers(min_value=0, max_value=10**12).map(
    lambda us: T0 + timedelta(microseconds=us)
)


@given(st.lists(_instants, min_size=1, max_size=8, unique=True), _instants)
def test_at_agrees_with_a_linear_scan(sinces: list[datetime], t: datetime) -> None:
    sinces.sort()
    sets = [_set(0.1 * (i % 5), name=str(i)) for i in range(len(sinces))]
    timeline = MaskTimeline(zip(sinces, sets, strict=True))
    in_force = [s for since, s in zip(sinces, sets, strict=True) if since <= t]
    if not in_force:
        with pytest.raises(pm.NoMasksInForceError):
            timeline.at(t)
    else:
        assert timeline.at(t) == in_force[-1]
    # The exact schedule agrees with the datetime lookup, from any start.
    schedule = MaskSchedule(timeline, T0)
    offset = Fraction((t - T0) // timedelta(microseconds=1), 1_000_000)
    if in_force:
        assert schedule.masks(schedule.index(offset)) == in_force[-1]
