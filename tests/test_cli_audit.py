"""Keyed audit logs on the command line: ``privmask export --audit LOG --audit-key-file FILE``
(or ``PRIVMASK_AUDIT_KEY``) and ``privmask audit verify``, on real PyAV clips and real logs.

A wrong key or an edited log must stop an export before anything is decoded, and leave nothing
behind."""

from __future__ import annotations

import json
import statistics
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import privmask as pm
from privmask.cli.main import main
from privmask.redaction.audit import AuditLog, KeyRequiredError, WrongKeyError

KEY = "k3y-for-the-lobby-audit-log-2026"  # 32 bytes of text, as 'openssl rand -hex 16' gives
OTHER = "another-key-of-thirty-two-bytes!"
W, H, FRAMES = 320, 240, 48


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """An FFV1 clip of noise: 48 frames of 320x240, enough that transcoding it is measurable."""
    path = tmp_path / "cam.mkv"
    rng = np.random.default_rng(7)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(
                rng.integers(0, 256, (H, W, 3), dtype=np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = i, Fraction(1, 24)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.fixture
def masks(tmp_path: Path) -> Path:
    path = tmp_path / "masks.json"
    path.write_text(pm.MaskSet([pm.Mask(pm.Polygon.rect(0.25, 0.25, 0.5, 0.5))]).to_json())
    return path


def keyed_log(path: Path, key: str = KEY, records: int = 4) -> Path:
    log = AuditLog(path, key=key.encode())
    for i in range(records):
        log.append("grant", user=f"user{i}", reason="incident 4711")
    return path


def key_file(path: Path, key: str) -> Path:
    path.write_text(key + "\n", encoding="utf-8")
    return path


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def export_args(clip: Path, masks: Path, dst: Path, log: Path, *extra: str) -> list[str]:
    return ["export", str(clip), str(dst), "--masks", str(masks), "--audit", str(log), *extra]


def test_a_wrong_key_stops_the_export_before_any_decoding(
    clip: Path, masks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = keyed_log(tmp_path / "audit.jsonl")
    wrong = key_file(tmp_path / "wrong.key", OTHER)
    right = key_file(tmp_path / "right.key", KEY)
    before = files(tmp_path)
    dst = tmp_path / "out.mkv"
    refused: list[float] = []
    exported: list[float] = []
    for _ in range(3):  # interleaved: a refusal, then a whole export with the right key
        t = time.perf_counter()
        status = main(export_args(clip, masks, dst, log, "--audit-key-file", str(wrong), "-q"))
        refused.append(time.perf_counter() - t)
        assert status == 1
        err = capsys.readouterr().err
        assert f"wrong key for {log}" in err and f"read from {wrong}" in err
        assert files(tmp_path) == before  # no output, no manifest, the log unchanged
        t = time.perf_counter()
        assert main(export_args(clip, masks, dst, log, "--audit-key-file", str(right), "-q")) == 0
        exported.append(time.perf_counter() - t)
        assert dst.exists() and AuditLog(log, key=KEY.encode()).verify() == 5
        dst.unlink()
        (tmp_path / (dst.name + ".manifest.json")).unlink()
        log.write_bytes(before[log.name])  # the next round starts from the same log
    # The refusal reads the log and nothing else; the export transcodes 48 frames.
    assert statistics.median(refused) * 5 < statistics.median(exported), (refused, exported)


def test_the_key_is_checked_before_the_source_is_opened(
    masks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A source that is not a video at all: the error is still the key's, so the key was
    checked first."""
    log = keyed_log(tmp_path / "audit.jsonl")
    garbage = tmp_path / "cam.mkv"
    garbage.write_bytes(b"not a video" * 100)
    wrong = key_file(tmp_path / "wrong.key", OTHER)
    before = files(tmp_path)
    args = export_args(garbage, masks, tmp_path / "out.mkv", log, "--audit-key-file", str(wrong))
    assert main(args) == 1
    assert "wrong key" in capsys.readouterr().err
    assert files(tmp_path) == before


def test_the_right_key_records_the_export_and_the_log_verifies(
    clip: Path,
    masks: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = keyed_log(tmp_path / "audit.jsonl")
    right = key_file(tmp_path / "right.key", KEY)
    dst = tmp_path / "out.mkv"
    args = export_args(clip, masks, dst, log, "--audit-key-file", str(right), "--user", "carol")
    assert main([*args, "-q"]) == 0
    records = list(AuditLog(log, key=KEY.encode()).records())
    assert len(records) == 5 and records[-1]["event"] == "export"
    assert records[-1]["user"] == "carol" and records[-1]["alg"] == "hmac-sha256"
    assert main(["audit", "verify", str(log), "--audit-key-file", str(right)]) == 0
    assert capsys.readouterr().out == f"{log}: 5 records, HMAC-SHA256 chain intact\n"
    # The environment variable gives the same key as the file's line.
    monkeypatch.setenv("PRIVMASK_AUDIT_KEY", KEY)
    assert main(["audit", "verify", str(log), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["records"], doc["chain"]) == (5, "HMAC-SHA256")
    assert doc["last_hash"] == records[-1]["hash"]
    dst.unlink()
    assert main(export_args(clip, masks, dst, log, "-q")) == 0
    assert AuditLog(log, key=KEY.encode()).verify() == 6


def test_a_new_log_is_created_keyed(clip: Path, masks: Path, tmp_path: Path) -> None:
    log = tmp_path / "new.jsonl"
    right = key_file(tmp_path / "right.key", KEY)
    args = export_args(clip, masks, tmp_path / "o.mkv", log, "--audit-key-file", str(right))
    assert main([*args, "-q"]) == 0
    assert AuditLog(log, key=KEY.encode()).verify() == 1
    with pytest.raises(KeyRequiredError):
        AuditLog(log).verify()


def test_a_keyed_log_read_without_its_key_says_both_readings(
    clip: Path, masks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = keyed_log(tmp_path / "audit.jsonl")
    before = files(tmp_path)
    assert main(export_args(clip, masks, tmp_path / "out.mkv", log)) == 1
    err = capsys.readouterr().err
    assert f"{log} is keyed" in err and "if this log was never keyed, the record was edited" in err
    assert "--audit-key-file" in err
    assert files(tmp_path) == before
    assert main(["audit", "verify", str(log)]) == 1
    assert "if this log was never keyed" in capsys.readouterr().err


def test_a_plain_log_given_a_key_says_both_readings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "plain.jsonl"
    AuditLog(log).append("grant", user="alice")
    right = key_file(tmp_path / "right.key", KEY)
    assert main(["audit", "verify", str(log), "--audit-key-file", str(right)]) == 1
    err = capsys.readouterr().err
    assert f"{log} is a plain SHA-256 log, but a key was given" in err
    assert "open it without a key" in err and "the record was edited" in err
    assert main(["audit", "verify", str(log)]) == 0
    assert capsys.readouterr().out == f"{log}: 1 record, SHA-256 chain intact\n"


def test_an_edited_log_stops_the_export_naming_the_record(
    clip: Path, masks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = keyed_log(tmp_path / "audit.jsonl")
    lines = log.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"user2"', b'"mallory"')
    log.write_bytes(b"".join(lines))
    right = key_file(tmp_path / "right.key", KEY)
    before = files(tmp_path)
    args = export_args(clip, masks, tmp_path / "out.mkv", log, "--audit-key-file", str(right))
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"record 2 (line 3 of {log}) was edited" in err and "wrong key" not in err
    assert files(tmp_path) == before
    assert main(["audit", "verify", str(log), "--audit-key-file", str(right)]) == 1
    assert f"record 2 (line 3 of {log}) was edited" in capsys.readouterr().err


def test_an_edited_first_record_is_told_from_a_wrong_key(tmp_path: Path) -> None:
    log = keyed_log(tmp_path / "audit.jsonl")
    lines = log.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"user0"', b'"mallory"')
    log.write_bytes(b"".join(lines))
    with pytest.raises(pm.AuditIntegrityError, match=r"^record 0 .* was edited") as info:
        AuditLog(log, key=KEY.encode()).verify()
    assert not isinstance(info.value, WrongKeyError)
    with pytest.raises(WrongKeyError, match=r"^record 0 .*nor does record 1: this is the wrong"):
        AuditLog(log, key=OTHER.encode()).verify()
    # One record alone cannot say which: both readings.
    single = keyed_log(tmp_path / "single.jsonl", records=1)
    with pytest.raises(WrongKeyError, match=r"wrong key for .* or the record was edited"):
        AuditLog(single, key=OTHER.encode()).verify()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"short-key\n", "a key of 9 bytes"),
        (b"first-line-of-the-key\nsecond-line-of-it\n", "one line of text"),
        (b" " + KEY.encode() + b"\n", "without surrounding white space"),
        (b"\xff\xfe" + b"k" * 30, "is not UTF-8 text"),
    ],
)
def test_bad_key_files_are_refused_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    log = keyed_log(tmp_path / "audit.jsonl")
    bad = tmp_path / "bad.key"
    bad.write_bytes(content)
    assert main(["audit", "verify", str(log), "--audit-key-file", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"the audit key file {bad}" in err and message in err


def test_a_key_from_both_places_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = keyed_log(tmp_path / "audit.jsonl")
    right = key_file(tmp_path / "right.key", KEY)
    monkeypatch.setenv("PRIVMASK_AUDIT_KEY", KEY)
    assert main(["audit", "verify", str(log), "--audit-key-file", str(right)]) == 1
    assert "both --audit-key-file and PRIVMASK_AUDIT_KEY" in capsys.readouterr().err


def test_no_option_takes_the_key_itself(capsys: pytest.CaptureFixture[str]) -> None:
    """Every key option names a file: a key on the command line would show in ``ps``."""
    for command in (["export"], ["audit", "verify"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr().out
        options = {w.strip(",[]") for w in text.split() if w.startswith(("--", "[--"))}
        keyed = {o for o in options if "key" in o}
        assert keyed == {"--audit-key-file"}, keyed
        assert "--audit-key-file FILE" in text


def test_a_missing_log_is_an_error_for_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", str(tmp_path / "gone.jsonl")]) == 1
    assert "gone.jsonl" in capsys.readouterr().err


def test_the_library_export_checks_its_log_before_decoding(masks: Path, tmp_path: Path) -> None:
    """``pm.export`` with a wrong key finds it before opening the source (not a video here)."""
    log = keyed_log(tmp_path / "audit.jsonl")
    garbage = tmp_path / "cam.mkv"
    garbage.write_bytes(b"not a video" * 100)
    before = files(tmp_path)
    mask_set = pm.MaskSet.from_json(masks.read_text())
    with pytest.raises(WrongKeyError, match="wrong key"):
        pm.export(garbage, tmp_path / "o.mkv", mask_set, audit=AuditLog(log, key=OTHER.encode()))
    with pytest.raises(KeyRequiredError):
        pm.export(garbage, tmp_path / "o.mkv", mask_set, audit=AuditLog(log))
    assert files(tmp_path) == before
