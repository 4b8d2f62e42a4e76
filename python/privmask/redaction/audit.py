"""A tamper-evident audit log: append-only JSON Lines, hash-chained, safe across processes.

Every lift request, grant, denial, expiry, reapply, logout and export is one record. An auditor
has to be able to trust that the log is complete and unedited, and a VMS runs many processes
(viewers, exporters) that all write to it, so:

- **Chain.** Each record carries ``prev``, the hash of the record before it (64 zeros for the
  first), and ``hash``, the SHA-256 of its own canonical JSON without ``hash``. Editing a record
  breaks its own hash; removing, inserting or reordering records breaks ``prev`` and ``seq``.
  With ``key=`` the hashes are HMAC-SHA256 instead, so only a holder of the key can rewrite the
  chain consistently; without a key anyone who can write the file can rebuild a whole new chain,
  so keep a key, or an anchor (:meth:`AuditLog.head`) somewhere the editor cannot reach.
- **Tail truncation.** Dropping whole records from the end leaves a valid, shorter chain; no
  chain can see that alone. :meth:`AuditLog.verify` takes an ``anchor`` (a head saved earlier,
  e.g. in an export manifest or another system) and checks the log still holds it.
- **Durability.** Each append is one ``write`` of one line, then ``fsync``. A crash mid-write
  leaves a torn last line: :meth:`AuditLog.verify` reports it and appends refuse to continue the
  chain after it (fail closed: no lift can be granted unaudited) until :meth:`AuditLog.repair`
  cuts it off and logs that it did, with the size and SHA-256 of what it discarded.
- **Concurrency.** Appends hold ``fcntl.flock(LOCK_EX)`` on the log file while they read the
  last record and write the next, so processes never interleave or fork the chain. The file is
  opened per append (a descriptor inherited across ``fork`` would share its lock with the
  parent), and a thread lock orders threads of one process.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from privmask.errors import AuditIntegrityError

__all__ = ["EVENTS", "GENESIS", "AuditHead", "AuditLog", "KeyRequiredError", "WrongKeyError"]

GENESIS = "0" * 64
"""The ``prev`` of the first record."""

EVENTS = frozenset({"request", "grant", "deny", "expire", "reapply", "logout", "export", "repair"})
"""The event names privmask writes. :meth:`AuditLog.append` accepts others too, so an
integrator can keep its own related events in the same chain."""

_FIELDS = (
    "seq",
    "time",
    "event",
    "user",
    "approver",
    "reason",
    "cameras",
    "lift",
    "masks",
    "detail",
    "alg",
    "prev",
    "hash",
)
_ALG_PLAIN = "sha256"
_ALG_KEYED = "hmac-sha256"
_TAIL_STEP = 8192


class KeyRequiredError(AuditIntegrityError, ValueError):
    """A log whose first record says it is keyed (HMAC-SHA256), opened without a key. Either it
    is keyed (open it with ``AuditLog(path, key=...)``) or its first record was edited; the
    chain cannot be checked without the key in either case."""


class WrongKeyError(AuditIntegrityError, ValueError):
    """The key given does not fit the log: the log's records do not verify under it (another
    key wrote them), or the log's first record says it is plain SHA-256 (it was never keyed, or
    that record was edited). An edited record of a log opened with its own key is a plain
    :class:`~privmask.errors.AuditIntegrityError` saying the record was edited."""


def _shown(value: object) -> str:
    """A short, safe rendering of a value read from an edited record (its repr may be huge or
    too deeply nested to build)."""
    if value is None or type(value) in (int, str):
        text = repr(value)
        return text if len(text) <= 40 else text[:40] + "..."
    return f"a {type(value).__name__}"


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _parse_line(line: bytes) -> Any:
    """One line as JSON, refusing what ``_canonical`` cannot write back (``NaN``, ``Infinity``,
    numbers beyond a double): such a line was not written by privmask. Raises ``ValueError``
    (invalid JSON, UTF-8 or number) or ``RecursionError`` (nesting)."""
    return json.loads(line, parse_constant=_refuse_constant)


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last record of a log: how many records it had, and that record's hash.

    Saved outside the log (a manifest, a ticket, a SIEM), it lets :meth:`AuditLog.verify` prove
    later that no record up to it was removed from the end.
    """

    count: int
    hash: str


def _canonical(record: Mapping[str, Any]) -> bytes:
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _timestamp(t: datetime | None) -> str:
    if t is None:
        t = datetime.now(UTC)
    if not isinstance(t, datetime) or t.utcoffset() is None:
        raise ValueError(f"audit times must be aware datetimes (with a UTC offset), got {t!r}")
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def _optional_str(value: object, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string or None, got {type(value).__name__}")
    return value


def _names(values: Iterable[str], name: str) -> list[str]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a collection of strings, not a single string")
    out = list(values)
    for v in out:
        if not isinstance(v, str):
            raise TypeError(f"{name} must hold strings, got {v!r}")
    return out


class AuditLog:
    """An append-only, hash-chained JSON Lines audit log at ``path`` (created on first append).

    ``key`` (bytes) switches the chain from SHA-256 to HMAC-SHA256, so an editor without the key
    cannot rebuild a consistent chain. Appends from threads and processes are serialised by a
    file lock; every append is flushed and fsync'd before it returns.
    """

    def __init__(self, path: str | os.PathLike[str], *, key: bytes | None = None) -> None:
        if key is not None and (not isinstance(key, bytes) or len(key) < 16):
            raise ValueError("key must be bytes, at least 16 of them")
        self._path = Path(path)
        self._key = key
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """Where the log is."""
        return self._path

    @property
    def keyed(self) -> bool:
        """Whether the chain is HMAC-SHA256 under a key (``False``: plain SHA-256)."""
        return self._key is not None

    def __repr__(self) -> str:
        return f"AuditLog({str(self._path)!r}{', keyed' if self._key else ''})"

    # --- hashing ---------------------------------------------------------------------------------

    def _digest(self, body: bytes) -> str:
        if self._key is None:
            return hashlib.sha256(body).hexdigest()
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def _check_record(
        self,
        index: int,
        line: bytes,
        prev: str,
        *,
        first_alg: object = None,
        key_proven: bool = False,
    ) -> dict[str, Any]:
        """Parses line ``index`` and checks its place in the chain; returns the record.
        ``first_alg``: the ``alg`` of record 0, when this is a later record (a plain log whose
        later record claims a key was edited, not keyed). ``key_proven``: an earlier record
        already verified under this log's key, so a hash that does not match is an edit."""
        where = f"record {index} (line {index + 1} of {self._path})"
        try:
            record = _parse_line(line)
        except (ValueError, RecursionError) as e:
            # UnicodeDecodeError and JSONDecodeError are ValueErrors; so are NaN, numbers of
            # more digits than Python converts, and nesting deeper than the parser goes.
            reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)[:200]
            raise AuditIntegrityError(
                f"{where} is not valid JSON: it was edited ({reason})"
            ) from None
        if not isinstance(record, dict) or set(record) != set(_FIELDS):
            raise AuditIntegrityError(
                f"{where} does not have the fields of an audit record: it was edited"
            )
        alg = record["alg"]
        expected = _ALG_PLAIN if self._key is None else _ALG_KEYED
        if alg == _ALG_KEYED and self._key is None:
            if index == 0 or first_alg == _ALG_KEYED:
                raise KeyRequiredError(
                    f"{where} says {self._path} is keyed (HMAC-SHA256): open it with "
                    "AuditLog(path, key=...); if this log was never keyed, the record was edited"
                )
            raise AuditIntegrityError(
                f"{where} was edited: it claims an HMAC chain in a log whose first record is "
                "plain SHA-256"
            )
        if alg == _ALG_PLAIN and self._key is not None and (index == 0 or first_alg == _ALG_PLAIN):
            raise WrongKeyError(
                f"{where} says {self._path} is a plain SHA-256 log, but a key was given: if it "
                "was never keyed, open it without a key; if it was keyed, the record was edited"
            )
        if alg != expected:
            what = "HMAC-chained in a keyed log" if self._key else "a plain SHA-256 record"
            raise AuditIntegrityError(
                f"{where} is not {what}: it was edited, or written by someone without the key"
            )
        if type(record["seq"]) is not int or record["seq"] != index:
            raise AuditIntegrityError(
                f"{where} is out of place: it says it is record {_shown(record['seq'])}; "
                "records were removed, inserted or reordered"
            )
        if record["prev"] != prev:
            raise AuditIntegrityError(
                f"{where} does not follow record {index - 1}: its prev hash does not match; "
                "records were removed, inserted, reordered or edited"
            )
        body = {k: v for k, v in record.items() if k != "hash"}
        try:
            digest = self._digest(_canonical(body))
            canonical = _canonical(record)
        except (ValueError, TypeError, RecursionError):
            raise AuditIntegrityError(
                f"{where} holds values privmask never writes (non-finite numbers?): it was edited"
            ) from None
        if not isinstance(record["hash"], str) or not hmac.compare_digest(
            record["hash"].encode(), digest.encode()
        ):
            raise self._hash_mismatch(where, index, key_proven)
        if canonical != line:
            raise AuditIntegrityError(f"{where} is not in canonical form: it was edited by hand")
        return record

    def _fits(self, line: bytes) -> bool:
        """Whether ``line`` is a record whose hash is this log's digest of its contents,
        whatever its place in the chain."""
        try:
            record = _parse_line(line)
            if not isinstance(record, dict) or not isinstance(record.get("hash"), str):
                return False
            body = {k: v for k, v in record.items() if k != "hash"}
            digest = self._digest(_canonical(body))
        except (ValueError, TypeError, RecursionError):
            return False
        return hmac.compare_digest(record["hash"].encode(), digest.encode())

    def _other_fits(self, index: int) -> tuple[int, bool] | None:
        """Another record than ``index`` (record 0, or record 1 when ``index`` is 0) and whether
        it verifies under this key on its own; ``None`` when the log holds no such complete
        record. Reads only the first two lines, without the lock: complete records before the
        last are never rewritten by privmask."""
        other = 1 if index == 0 else 0
        try:
            with open(self._path, "rb") as f:
                for i, raw in enumerate(f):
                    if i == other:
                        if not raw.endswith(b"\n"):
                            return None
                        return other, self._fits(raw[:-1])
        except OSError:
            return None
        return None

    def _hash_mismatch(self, where: str, index: int, key_proven: bool) -> AuditIntegrityError:
        """The error for a record whose hash does not match its contents, saying which is wrong.

        Without a key the record was edited. With one, an edit breaks only the records it
        touches, while another key breaks every record: a second record that verifies under the
        key proves the key right (so this record was edited); one that does not says the key is
        wrong (or both were edited, which is then named too)."""
        edited = f"{where} was edited: its hash does not match its contents"
        if self._key is None:
            return AuditIntegrityError(edited)
        if key_proven:
            return AuditIntegrityError(edited + " (earlier records verify under this key)")
        other = self._other_fits(index)
        if other is None:
            return WrongKeyError(
                f"{where} does not verify under this key: either it is the wrong key for "
                f"{self._path}, or the record was edited (the log has no other complete record "
                "to tell which)"
            )
        if other[1]:
            return AuditIntegrityError(edited + f" (record {other[0]} verifies under this key)")
        return WrongKeyError(
            f"{where} does not verify under this key, nor does record {other[0]}: this is the "
            f"wrong key for {self._path} (an edit breaks only the records it touches; if the "
            "key is right, both were edited)"
        )

    # --- appending ------------------------------------------------------------------------------

    def append(
        self,
        event: str,
        *,
        time: datetime | None = None,
        user: str | None = None,
        approver: str | None = None,
        reason: str | None = None,
        cameras: Iterable[str] | None = None,
        lift: str | None = None,
        masks: Sequence[str] | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Appends one record and returns it (with its ``seq`` and ``hash``).

        ``time`` defaults to now (UTC); ``cameras`` is stored sorted (``None``: not limited);
        ``masks`` are mask-set content hashes; ``detail`` holds anything else, JSON-serialisable.
        Raises :class:`AuditIntegrityError` (and writes nothing) when the log's last record is
        torn or edited: continuing a broken chain would hide the break.
        """
        record = self._new_record(
            event,
            time=time,
            user=user,
            approver=approver,
            reason=reason,
            cameras=cameras,
            lift=lift,
            masks=masks,
            detail=detail,
        )
        with self._exclusive() as fd:
            self._write_record(fd, record)
        return record

    def _new_record(
        self,
        event: str,
        *,
        time: datetime | None = None,
        user: str | None = None,
        approver: str | None = None,
        reason: str | None = None,
        cameras: Iterable[str] | None = None,
        lift: str | None = None,
        masks: Sequence[str] | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A record's fields, checked, before it is chained (``seq``, ``prev``, ``hash``)."""
        if not isinstance(event, str) or not event:
            raise ValueError(f"event must be a non-empty string, got {event!r}")
        record: dict[str, Any] = {
            "time": _timestamp(time),
            "event": event,
            "user": _optional_str(user, "user"),
            "approver": _optional_str(approver, "approver"),
            "reason": _optional_str(reason, "reason"),
            "cameras": None if cameras is None else sorted(_names(cameras, "cameras")),
            "lift": _optional_str(lift, "lift"),
            "masks": None if masks is None else list(_names(masks, "masks")),
            "detail": dict(detail) if detail is not None else {},
            "alg": _ALG_PLAIN if self._key is None else _ALG_KEYED,
        }
        try:
            _canonical(record)
        except (TypeError, ValueError) as e:
            raise TypeError(f"audit record is not JSON-serialisable: {e}") from e
        return record

    @contextmanager
    def _exclusive(self) -> Iterator[int]:
        """The log's descriptor, held under the thread lock and an exclusive flock."""
        with self._lock:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield fd
            finally:
                os.close(fd)  # also releases the flock

    def _write_record(self, fd: int, record: dict[str, Any]) -> None:
        """Chains ``record`` to the last one and writes it (caller holds :meth:`_exclusive`)."""
        size = os.fstat(fd).st_size
        seq, prev = self._tail(fd, size)
        record["seq"] = seq
        record["prev"] = prev
        record["hash"] = self._digest(_canonical(record))
        line = _canonical(record) + b"\n"
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            # A short write (disk full) must not leave a torn record for the next writer:
            # roll the file back to where this append started.
            os.ftruncate(fd, size)
            os.fsync(fd)
            raise

    def _open(self) -> int:
        created = not self._path.exists()
        fd = os.open(self._path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if created:
            # A new file's directory entry is durable only once the directory is synced.
            dfd = os.open(self._path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        return fd

    def _tail(self, fd: int, size: int) -> tuple[int, str]:
        """The next ``seq`` and ``prev``: read from the last record, which is re-checked."""
        if size == 0:
            return 0, GENESIS
        last = os.pread(fd, 1, size - 1)
        if last != b"\n":
            raise AuditIntegrityError(
                f"the last record of {self._path} is torn (the file ends mid-record, a crash "
                "during a write?); nothing more is appended until AuditLog.repair() cuts it off"
            )
        start = self._line_start(fd, size - 1)
        line = os.pread(fd, size - 1 - start, start)
        try:
            claimed = _parse_line(line)
            seq = claimed["seq"]
            if type(seq) is not int or seq < 0:
                raise TypeError
        except (ValueError, TypeError, KeyError, RecursionError):
            raise AuditIntegrityError(
                f"the last record of {self._path} is not a valid audit record: the log was "
                "edited or damaged; run AuditLog.verify() to find where"
            ) from None
        # The tail alone cannot see record 0, so it is checked as if it were its own first alg:
        # a plain log holding a keyed tail is refused either way.
        alg = claimed.get("alg")
        record = self._check_record(seq, line, str(claimed.get("prev")), first_alg=alg)
        return seq + 1, str(record["hash"])

    @staticmethod
    def _line_start(fd: int, end: int) -> int:
        """The offset of the line that ends at ``end`` (the newline at ``end`` excluded)."""
        pos = end
        while pos > 0:
            step = min(_TAIL_STEP, pos)
            chunk = os.pread(fd, step, pos - step)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                return pos - step + nl + 1
            pos -= step
        return 0

    # --- reading --------------------------------------------------------------------------------

    def _lines(self) -> Iterator[tuple[int, bytes, bool]]:
        """(index, line without newline, complete) of the records written so far.

        The size is read under a shared lock, so every append counted in it has finished (appends
        write and fsync under the exclusive lock); reading then goes on without the lock, so a
        caller that appends while iterating does not deadlock, and later appends are not seen.
        """
        with open(self._path, "rb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH)
            size = os.fstat(f.fileno()).st_size
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            done = 0
            index = 0
            while done < size:
                raw = f.readline(size - done)
                if not raw:
                    break
                done += len(raw)
                complete = raw.endswith(b"\n")
                yield index, raw[:-1] if complete else raw, complete
                index += 1

    def records(self) -> Iterator[dict[str, Any]]:
        """The records, oldest first, each checked as it is read (see :meth:`verify`).

        Raises ``FileNotFoundError`` when the log does not exist: a deleted log is not an empty
        one."""
        prev = GENESIS
        first_alg: object = None
        for i, line, complete in self._lines():
            if not complete:
                raise AuditIntegrityError(
                    f"record {i} (line {i + 1} of {self._path}) is incomplete: the file ends "
                    "mid-record (a crash during a write?); AuditLog.repair() cuts it off and "
                    "logs that it did"
                )
            record = self._check_record(i, line, prev, first_alg=first_alg, key_proven=i > 0)
            if i == 0:
                first_alg = record["alg"]
            prev = record["hash"]
            yield record

    def verify(self, *, anchor: AuditHead | None = None) -> int:
        """Checks the whole chain; returns the number of records.

        Raises :class:`AuditIntegrityError` naming the first bad record when a record was
        edited, removed, inserted or reordered, or the last one is torn. With ``anchor`` (an
        earlier :meth:`head`), also raises when records up to it were cut from the end.
        """
        count = 0
        for record in self.records():
            count += 1
            if anchor is not None and count == anchor.count and record["hash"] != anchor.hash:
                raise AuditIntegrityError(
                    f"record {count - 1} of {self._path} is not the anchored one: the log was "
                    "rewritten from there on"
                )
        if anchor is not None and count < anchor.count:
            raise AuditIntegrityError(
                f"{self._path} has {count} records but the anchor says it had at least "
                f"{anchor.count}: records were cut from the end"
            )
        return count

    def head(self) -> AuditHead | None:
        """The count and last hash of the log (``None`` when it is empty), after checking the
        chain; save it elsewhere to detect later truncation (``verify(anchor=...)``)."""
        last: dict[str, Any] | None = None
        for last in self.records():  # noqa: B007 - only the last one is wanted
            pass
        return None if last is None else AuditHead(last["seq"] + 1, last["hash"])

    def check_appendable(self) -> AuditHead | None:
        """Raises now what :meth:`append` would raise, writing nothing: record 0 is checked (a
        key that does not fit, a keyed log opened without its key or a plain one with a key)
        and so is the last record (torn, edited). Call it before work whose end is an append,
        so that a wrong key or a damaged tail stops the work before it starts. It reads two
        records whatever the log's length; :meth:`verify` reads them all and finds edits
        anywhere.

        Returns the head as the last record states it, or ``None`` when the log is missing or
        empty (the next append creates it). Raises :class:`WrongKeyError`,
        :class:`KeyRequiredError` or :class:`~privmask.errors.AuditIntegrityError`."""
        try:
            f = open(self._path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            return None
        with f:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH)  # appends finish before it is read
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return None
            first = f.readline(size)
            if first.endswith(b"\n"):
                self._check_record(0, first[:-1], GENESIS)
            seq, last = self._tail(f.fileno(), size)
        return AuditHead(seq, last)

    def repair(self) -> int:
        """Cuts a torn last record off (what a crash mid-append leaves) and, in the same locked
        step, logs a ``repair`` record with the number of bytes discarded and their SHA-256.

        Returns that number: 0 when the log was whole, and then nothing is logged. Only a torn
        tail is repairable; an edited record stays an integrity error for good.
        """
        with self._exclusive() as fd:
            size = os.fstat(fd).st_size
            if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
                return 0
            start = self._line_start(fd, size)
            torn = os.pread(fd, size - start, start)
            os.ftruncate(fd, start)
            os.fsync(fd)
            record = self._new_record(
                "repair",
                detail={
                    "discarded_bytes": len(torn),
                    "discarded_sha256": hashlib.sha256(torn).hexdigest(),
                },
            )
            self._write_record(fd, record)
        return len(torn)
