"""The audit log: a real file edited, cut and reordered by hand, and real processes
appending at once."""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from privmask.errors import AuditIntegrityError
from privmask.redaction.audit import GENESIS, AuditHead, AuditLog, KeyRequiredError, WrongKeyError

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
KEY = b"k" * 32


def fill(log: AuditLog, n: int = 6) -> None:
    for i in range(n):
        log.append(
            ("request", "grant", "reapply")[i % 3],
            time=T0 + timedelta(seconds=i),
            user=f"user{i}",
            approver="bob" if i % 2 else None,
            reason=f"incident {i}",
            cameras={"lobby", "gate"} if i % 2 else None,
            lift=f"lift{i}",
            masks=["ab" * 32],
            detail={"n": i},
        )


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    fill(log)
    return log


def test_records_are_chained_json_lines(log: AuditLog) -> None:
    assert log.verify() == 6
    records = [json.loads(line) for line in lines(log.path)]
    assert [r["seq"] for r in records] == list(range(6))
    assert records[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(records):
        assert after["prev"] == before["hash"]
    first = records[0]
    body = {k: v for k, v in first.items() if k != "hash"}
    assert first["hash"] == hashlib.sha256(canonical(body)).hexdigest()
    assert (first["event"], first["user"], first["cameras"]) == ("request", "user0", None)
    assert records[1]["cameras"] == ["gate", "lobby"]
    assert records[1]["approver"] == "bob"
    assert first["time"] == "2026-11-02T09:00:00.000000+00:00"
    assert log.head() == AuditHead(6, records[-1]["hash"])
    assert (log.path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("index", [0, 3, 5])
def test_an_edited_record_is_caught(log: AuditLog, index: int) -> None:
    raw = lines(log.path)
    record = json.loads(raw[index])
    record["reason"] = "nothing to see here"
    raw[index] = canonical(record) + b"\n"
    log.path.write_bytes(b"".join(raw))
    with pytest.raises(AuditIntegrityError, match=rf"^record {index} .*was edited"):
        log.verify()


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(log: AuditLog) -> None:
    raw = lines(log.path)
    record = json.loads(raw[2])
    record["user"] = "mallory"
    record["hash"] = hashlib.sha256(
        canonical({k: v for k, v in record.items() if k != "hash"})
    ).hexdigest()
    raw[2] = canonical(record) + b"\n"
    log.path.write_bytes(b"".join(raw))
    with pytest.raises(AuditIntegrityError, match=r"^record 3 .*does not follow record 2"):
        log.verify()


def test_a_whitespace_edit_is_caught(log: AuditLog) -> None:
    raw = lines(log.path)
    raw[1] = raw[1].replace(b'"event":', b'"event": ')
    log.path.write_bytes(b"".join(raw))
    with pytest.raises(AuditIntegrityError, match=r"^record 1 .*canonical form"):
        log.verify()


def test_a_deleted_record_is_caught(log: AuditLog) -> None:
    raw = lines(log.path)
    del raw[2]
    log.path.write_bytes(b"".join(raw))
    with pytest.raises(AuditIntegrityError, match=r"^record 2 .*says it is record 3"):
        log.verify()


def test_reordered_records_are_caught(log: AuditLog) -> None:
    raw = lines(log.path)
    raw[3], raw[4] = raw[4], raw[3]
    log.path.write_bytes(b"".join(raw))
    with pytest.raises(AuditIntegrityError, match=r"^record 3 .*out of place"):
        log.verify()


def test_a_torn_last_record_is_reported_and_blocks_appends_until_repaired(log: AuditLog) -> None:
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-40])  # a crash in the middle of the last write
    with pytest.raises(AuditIntegrityError, match=r"^record 5 .*incomplete"):
        log.verify()
    with pytest.raises(AuditIntegrityError, match="torn"):
        log.append("grant", user="alice")
    assert log.path.read_bytes() == data[:-40]  # nothing was written after the torn line
    torn = len(lines(log.path)[-1])
    assert log.repair() == torn
    assert log.repair() == 0
    assert log.verify() == 6  # five whole records and the repair record
    repair = list(log.records())[-1]
    assert repair["event"] == "repair"
    assert repair["detail"]["discarded_bytes"] == torn


def test_records_cut_from_the_end_are_caught_against_an_anchor(log: AuditLog) -> None:
    anchor = log.head()
    assert anchor is not None
    log.path.write_bytes(b"".join(lines(log.path)[:4]))
    assert log.verify() == 4  # no chain can see a clean cut alone ...
    with pytest.raises(AuditIntegrityError, match="had at least 6: records were cut"):
        log.verify(anchor=anchor)  # ... an anchor kept elsewhere does
    fill(log, 3)
    with pytest.raises(AuditIntegrityError, match=r"record 5 .* not the anchored one"):
        log.verify(anchor=anchor)


def test_garbage_in_the_middle_is_caught(log: AuditLog) -> None:
    raw = lines(log.path)
    raw.insert(2, b"not json\n")
    log.path.write_bytes(b"".join(raw))
    with pytest.raises(AuditIntegrityError, match=r"^record 2 .*not valid JSON"):
        log.verify()


def test_a_keyed_log_cannot_be_rewritten_without_the_key(tmp_path: Path) -> None:
    path = tmp_path / "keyed.jsonl"
    fill(AuditLog(path, key=KEY))
    assert AuditLog(path, key=KEY).verify() == 6
    with pytest.raises(ValueError, match="keyed"):
        AuditLog(path).verify()
    # An editor rebuilds the whole chain with a key of their own: the right key sees it.
    forged = AuditLog(tmp_path / "forged.jsonl", key=b"m" * 32)
    for r in AuditLog(path, key=KEY).records():
        forged.append(r["event"], user=r["user"], reason="rewritten", detail=r["detail"])
    with pytest.raises(AuditIntegrityError, match=r"^record 0 .*wrong key"):
        AuditLog(forged.path, key=KEY).verify()
    with pytest.raises(ValueError, match="at least 16"):
        AuditLog(path, key=b"short")


def test_check_appendable_finds_what_an_append_would_refuse_without_writing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keyed.jsonl"
    assert AuditLog(path, key=KEY).check_appendable() is None  # missing: the append creates it
    fill(AuditLog(path, key=KEY))
    assert AuditLog(path, key=KEY).check_appendable() == AuditLog(path, key=KEY).head()
    written = path.read_bytes()
    with pytest.raises(WrongKeyError, match=r"^record 0 .*nor does record 1: this is the wrong"):
        AuditLog(path, key=b"m" * 32).check_appendable()
    raw = lines(path)
    path.write_bytes(b"".join([*raw[:-1], raw[-1].replace(b'"user5"', b'"mallory"')]))
    with pytest.raises(AuditIntegrityError, match=r"^record 5 .*edited.*record 0 verifies") as info:
        AuditLog(path, key=KEY).check_appendable()
    assert not isinstance(info.value, WrongKeyError)
    path.write_bytes(written)
    with pytest.raises(KeyRequiredError):
        AuditLog(path).check_appendable()
    plain = tmp_path / "plain.jsonl"
    fill(AuditLog(plain))
    with pytest.raises(WrongKeyError, match="plain SHA-256 log, but a key was given"):
        AuditLog(plain, key=KEY).check_appendable()
    with open(path, "ab") as f:
        f.write(b'{"torn')
    with pytest.raises(AuditIntegrityError, match="torn"):
        AuditLog(path, key=KEY).check_appendable()
    assert path.read_bytes() == written + b'{"torn'


def test_a_missing_log_is_not_an_empty_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        AuditLog(tmp_path / "gone.jsonl").verify()
    (tmp_path / "empty.jsonl").touch()
    assert AuditLog(tmp_path / "empty.jsonl").verify() == 0
    assert AuditLog(tmp_path / "empty.jsonl").head() is None


def test_bad_fields_are_refused_before_writing(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    with pytest.raises(TypeError, match="not a single string"):
        log.append("grant", cameras="lobby")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        log.append("grant", detail={"when": object()})
    with pytest.raises(ValueError, match="aware"):
        log.append("grant", time=datetime(2026, 1, 1))
    assert not log.path.exists()


def _append_many(path: str, worker: int, count: int, start: Any) -> None:
    log = AuditLog(path)
    start.wait()
    for i in range(count):
        log.append("export", user=f"process{worker}", detail={"n": i})


def test_four_processes_appending_1000_records_each(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_append_many, args=(str(path), w, 1000, start)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    log = AuditLog(path)
    assert log.verify() == 4000
    records = list(log.records())
    for w in range(4):
        mine = [r["detail"]["n"] for r in records if r["user"] == f"process{w}"]
        assert mine == list(range(1000))
    # They really ran at once: the records of different processes alternate many times.
    switches = sum(a["user"] != b["user"] for a, b in itertools.pairwise(records))
    assert switches > 3


def test_threads_sharing_one_log_and_another_instance_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    shared, other = AuditLog(path), AuditLog(path)
    errors: list[BaseException] = []

    def work(log: AuditLog, name: str) -> None:
        try:
            for i in range(100):
                log.append("grant", user=name, detail={"n": i})
        except BaseException as e:
            errors.append(e)

    threads = [
        threading.Thread(target=work, args=(log, f"t{i}"))
        for i, log in enumerate([shared, shared, shared, other])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert shared.verify() == 400
