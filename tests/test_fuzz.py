"""Fuzzing every parser with hostile values: whatever a configuration, pose file,
camera document, audit log or encrypted header holds, privmask answers with its own documented
errors (subclasses of ``PrivmaskError``), never a crash, an ``OverflowError``, a
``RecursionError``, an ``AttributeError`` or a hang.

Each test runs as many examples as the hypothesis profile says (``dev`` 60, ``ci`` 200; see
conftest.py); the module takes well under 30 s in the ``ci`` profile.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import privmask as pm
from privmask.redaction import crypto
from privmask.redaction.audit import AuditLog

# --- hostile values ---------------------------------------------------------------------------

# JSON number tokens no coordinate needs, next to ordinary ones, written as text so that
# nothing is converted (or refused) before privmask reads it.
HOSTILE_NUMBERS = [
    "0",
    "-0",
    "-0.0",
    "0.5",
    "1",
    "16384",
    "16385",
    "1e400",
    "-1e400",
    "1e-400",
    "1e308",
    "2.5e-324",
    "1" + "0" * 5000,
    "-" + "9" * 4301,
    "0." + "3" * 5000,
    "NaN",
    "Infinity",
    "-Infinity",
    "true",
    "false",
    "null",
    '"0.5"',
    '"yes"',
    '"\\ud800"',
    "[]",
    "{}",
    "[0.5]",
    "[0.5, 0.5, 0.5]",
    "[" * 3000 + "]" * 3000,
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' * 2000 + "1" + "}" * 2000,
]

json_tokens = st.one_of(
    st.sampled_from(HOSTILE_NUMBERS),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=20).map(json.dumps),
)

PRIVMASK_ERRORS = (pm.PrivmaskError,)


def fill(template: str, tokens: list[str]) -> str:
    out = template
    for token in tokens:
        out = out.replace("@", token, 1)
    return out


MASK_SET = (
    '{"privmask": @, "masks": [{"name": @, "liftable": @, '
    '"polygon": [[@, @], [@, 0.1], [0.5, @], @], "style": {"type": "mosaic", "block": @, '
    '"block_px": @}}, {"scene": [[@, @], [10, 0], [10, @]], "margin_deg": @, "min_zoom": @, '
    '"style": {"type": "blur", "sigma_px": @}}, {"polygon": [[0, 0], [1, 0], [1, 1]], '
    '"style": {"type": "solid", "color": @, "yuv": @}}]}'
)
TIMELINE = (
    '{"privmask": 1, "timeline": [{"since": @, "content_hash": @, "masks": []}, '
    '{"since": "2026-01-01T00:00:00+00:00", "masks": [{"polygon": [[0, 0], [@, 0], [1, @]], '
    '"liftable": @}]}]}'
)
POSES = (
    '{"privmask": 1, "max_age": @, "latency": @, "zoom_map": [[0, 60], [@, @]], '
    '"poses": [{"t": @, "pan": @, "tilt": @, "hfov": @}, {"t": @, "pan": 0, "tilt": 0, '
    '"zoom": @}]}'
)


def run_parser(parse: Any, text: str | bytes) -> None:
    with contextlib.suppress(PRIVMASK_ERRORS):
        parse(text)


@given(st.lists(json_tokens, min_size=20, max_size=20))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_mask_set_json(tokens: list[str]) -> None:
    run_parser(pm.MaskSet.from_json, fill(MASK_SET, tokens))


@given(st.lists(json_tokens, min_size=8, max_size=8))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_timeline_json(tokens: list[str]) -> None:
    text = fill(TIMELINE, tokens)
    run_parser(pm.MaskTimeline.from_json, text)
    from privmask.masks.timeline import parse_masks

    run_parser(parse_masks, text.encode("utf-8", "surrogatepass"))


@given(st.lists(json_tokens, min_size=12, max_size=12))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_pose_track_json(tokens: list[str]) -> None:
    run_parser(pm.PoseTrack.from_json, fill(POSES, tokens))


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_arbitrary_bytes_and_text_as_every_json_document(data: str | bytes) -> None:
    for parse in (pm.MaskSet.from_json, pm.MaskTimeline.from_json, pm.PoseTrack.from_json):
        run_parser(parse, data)


xml_numbers = st.one_of(
    st.sampled_from(
        ["1e400", "1e-30000000", "1_0", "\u0661", "INF", "NaN", "0x10", "1e99999999999999999999"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789+-.eE _", max_size=30),
    st.text(max_size=12).filter(lambda s: all(c.isprintable() for c in s)),
)


@given(st.lists(xml_numbers, min_size=9, max_size=9), st.sampled_from(["Color", "Pixelated", "?"]))
def test_onvif_documents(values: list[str], kind: str) -> None:
    v = [quoteattr(x) for x in values]
    xml = (
        f"<M><Masks token={v[0]}><Polygon><Point x={v[1]} y={v[2]}/><Point x={v[3]} y={v[4]}/>"
        f"<Point x={v[5]} y={v[6]}/></Polygon><Type>{kind}</Type>"
        f'<Color X={v[7]} Y={v[8]} Z="0"/><Enabled>true</Enabled></Masks></M>'
    )
    run_parser(pm.MaskSet.from_onvif, xml)


@given(st.binary(max_size=400))
def test_onvif_arbitrary_bytes(data: bytes) -> None:
    run_parser(pm.MaskSet.from_onvif, data)
    run_parser(pm.OnvifMaskOptions.from_xml, data)


frigate_values = st.one_of(
    st.text(alphabet="0123456789.,-e+ _", max_size=40),
    st.lists(
        st.one_of(
            st.sampled_from(["5e-06", "1.0", "1.00", "09", "640", "0.5", "1_0", "inf", ""]),
            st.floats(min_value=-2, max_value=2000).map(repr),
        ),
        min_size=0,
        max_size=10,
    ).map(",".join),
)


@given(
    st.one_of(
        frigate_values,
        st.lists(st.one_of(frigate_values, st.integers(), st.none(), st.floats()), max_size=4),
        st.integers(),
        st.binary(max_size=20),
    ),
    st.one_of(
        st.none(),
        st.tuples(st.integers(-5, 4000), st.integers(-5, 4000)),
        st.just((True, 720)),
    ),
)
def test_frigate_strings(polygons: Any, frame_size: Any) -> None:
    with contextlib.suppress(PRIVMASK_ERRORS):
        pm.MaskSet.from_frigate(polygons, frame_size=frame_size)


coordinates = st.one_of(
    st.floats(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.fractions(),
    st.just(Fraction(10**400, 3)),
    st.sampled_from(["0.5", b"1", True, None, np.float32(0.5), np.float64("nan"), 10**400]),
)


@given(st.lists(st.tuples(coordinates, coordinates), max_size=6))
def test_polygons_and_scene_polygons(points: list[tuple[Any, Any]]) -> None:
    for make in (pm.Polygon, pm.ScenePolygon):
        with contextlib.suppress(pm.InvalidGeometryError):
            make(points)


@given(coordinates, coordinates, coordinates, coordinates)
def test_rectangles_styles_and_poses(a: Any, b: Any, c: Any, d: Any) -> None:
    for make in (
        lambda: pm.Polygon.rect(a, b, c, d),
        lambda: pm.PTZPose(a, b, c, zoom=d),
        lambda: pm.Mosaic(a),
        lambda: pm.Mosaic(block_px=b),
        lambda: pm.Blur(c),
        lambda: pm.Blur(sigma_px=d),
    ):
        with contextlib.suppress(PRIVMASK_ERRORS):
            make()


@pytest.fixture(scope="module")
def audit_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    log = AuditLog(tmp_path_factory.mktemp("audit") / "audit.jsonl")
    for i in range(4):
        log.append("grant", user=f"user{i}", cameras={"gate"}, detail={"n": i})
    return log.path.read_bytes().splitlines(keepends=True)


edits = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), json_tokens),
    st.tuples(st.just("replace"), st.integers(0, 10**6), json_tokens),
    st.tuples(st.just("drop"), st.integers(0, 10**6), st.integers(1, 40)),
)


@given(st.integers(0, 3), st.lists(edits, min_size=1, max_size=3))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_audit_logs_edited_at_random(
    audit_lines: list[bytes], tmp_path: Path, index: int, changes: list[Any]
) -> None:
    lines = list(audit_lines)
    line = bytearray(lines[index])
    for kind, at, what in changes:
        pos = at % len(line)
        if kind == "flip":
            line[pos] ^= what
        elif kind == "insert":
            line[pos:pos] = what.encode()
        elif kind == "replace":
            # Replace the value after some ':' with the token.
            colon = line.find(b":", pos)
            if colon >= 0:
                end = colon + 1
                while end < len(line) and line[end : end + 1] not in (b",", b"}"):
                    end += 1
                line[colon + 1 : end] = what.encode()
        else:
            del line[pos : pos + what]
    assume(bytes(line) != audit_lines[index])
    lines[index] = bytes(line)
    path = tmp_path / f"edited-{os.getpid()}-{index}.jsonl"
    path.write_bytes(b"".join(lines))
    try:
        with pytest.raises(pm.AuditIntegrityError):
            AuditLog(path).verify()
    finally:
        path.unlink()


@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 2**32 - 1),
    st.binary(max_size=200),
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_decrypt_headers(
    tmp_path: Path, version: int, log2_n: int, r: int, p: int, chunk: int, tail: bytes
) -> None:
    # Parameters a file may ask for and that fit the budget are derived for real: keep those
    # cheap (the cost bound itself is tested in test_hardening_redaction.py).
    fits = log2_n in range(10, 23) and r in range(1, 33) and p in range(1, 17)
    assume(not (version == 1 and fits and crypto.scrypt_cost(log2_n, r, p) > 1 << 22))
    header = struct.pack(
        ">8sBBBBI16s7s", b"PRIVMASK", version, log2_n, r, p, chunk, b"s" * 16, b"n" * 7
    )
    src = tmp_path / "fuzz.enc"
    src.write_bytes(header + tail)
    dst = tmp_path / "fuzz.out"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(src, dst, "password")
    assert not dst.exists()
