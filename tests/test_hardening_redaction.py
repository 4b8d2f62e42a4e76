"""Hardening, redaction: decrypting a crafted header within a memory budget
and audit logs edited with hostile values."""

from __future__ import annotations

import json
import os
import struct
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import privmask as pm
from privmask.errors import AuditIntegrityError
from privmask.redaction import crypto
from privmask.redaction.audit import AuditLog

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def crafted(path: Path, log2_n: int, r: int, p: int) -> Path:
    """An encrypted-export header as an attacker writes it: valid magic and version, chosen
    scrypt parameters, and a MAC nobody can check before deriving the key."""
    fields = struct.pack(
        ">8sBBBBI16s7s", b"PRIVMASK", 1, log2_n, r, p, 1 << 20, os.urandom(16), os.urandom(7)
    )
    path.write_bytes(fields + os.urandom(32) + os.urandom(64))
    return path


def test_decrypt_refuses_scrypt_parameters_beyond_the_memory_budget_before_deriving(
    tmp_path: Path,
) -> None:
    # Cheapest first: on a privmask without the budget, the first case alone derives 512 MiB.
    for log2_n, r, p, mib in [(19, 8, 1, 512), (18, 8, 2, 512), (17, 32, 1, 512), (22, 8, 1, 4096)]:
        src = crafted(tmp_path / f"crafted-{log2_n}-{r}-{p}.enc", log2_n, r, p)
        started = time.perf_counter()
        with pytest.raises(crypto.DecryptionError, match=rf"need {mib} MiB, above the 256 MiB"):
            pm.decrypt(src, tmp_path / "out.mp4", "any password")
        assert time.perf_counter() - started < 1.0, "refused before the key derivation"
        assert not (tmp_path / "out.mp4").exists()
    assert crypto.scrypt_cost(17, 8, 1) == 128 << 20  # the default stays within the budget
    assert crypto.scrypt_cost(17, 8, 1) <= crypto.SCRYPT_MAX_BYTES


def test_encrypt_never_writes_what_decrypt_refuses(tmp_path: Path) -> None:
    src = tmp_path / "plain.bin"
    src.write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="scrypt_log2_n must be 10 to 18"):
        pm.encrypt(src, tmp_path / "out.enc", "pw", scrypt_log2_n=19)
    assert not (tmp_path / "out.enc").exists()


def filled(path: Path) -> AuditLog:
    log = AuditLog(path)
    for i in range(4):
        log.append("grant", time=T0 + timedelta(seconds=i), user=f"user{i}", detail={"n": i})
    return log


def edit_record(log: AuditLog, index: int, old: bytes, new: bytes) -> None:
    lines = log.path.read_bytes().splitlines(keepends=True)
    assert old in lines[index]
    lines[index] = lines[index].replace(old, new, 1)
    log.path.write_bytes(b"".join(lines))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'{"n":1}', b'{"n":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),  # was RecursionError
        (b'{"n":1}', b'{"n":' + b"9" * 5000 + b"}"),  # was ValueError (int digit limit)
        (b'{"n":1}', b'{"n":NaN}'),  # was ValueError from the canonical form
        (b'{"n":1}', b'{"n":1e999}'),  # infinity: likewise
        (b'"seq":1', b'"seq":1.0'),
        (b'"seq":1', b'"seq":[' + b"[" * 500 + b"]" * 500 + b"]"),
        (b'"alg":"sha256"', b'"alg":"hmac-sha256"'),  # sent the auditor looking for a key
        (b'"hash":"', b'"hash":7,"x":"'),
    ],
    ids=["nested", "5000 digits", "NaN", "1e999", "seq float", "seq nested", "alg", "hash"],
)
def test_an_edited_record_is_an_integrity_error_saying_it_was_edited(
    tmp_path: Path, old: bytes, new: bytes
) -> None:
    log = filled(tmp_path / "audit.jsonl")
    edit_record(log, 1, old, new)
    with pytest.raises(AuditIntegrityError, match=r"^record 1 .*edited") as info:
        log.verify()
    assert "key=" not in str(info.value)
    # Appending refuses too when the edited record is the last one.
    tail = filled(tmp_path / "tail.jsonl")
    edit_record(tail, 3, old.replace(b"1", b"3"), new.replace(b"1", b"3", 1))
    with pytest.raises(AuditIntegrityError, match="edited"):
        tail.append("grant", user="mallory")
    with pytest.raises(AuditIntegrityError, match="edited"):
        tail.verify()


def test_a_keyed_log_opened_without_its_key_says_both_readings(tmp_path: Path) -> None:
    path = tmp_path / "keyed.jsonl"
    AuditLog(path, key=b"k" * 32).append("grant", user="alice")
    with pytest.raises(AuditIntegrityError, match=r"key=.*if this log was never keyed") as info:
        AuditLog(path).verify()
    assert isinstance(info.value, ValueError)  # as before, for callers that caught ValueError
    assert json.loads(path.read_bytes())["alg"] == "hmac-sha256"
