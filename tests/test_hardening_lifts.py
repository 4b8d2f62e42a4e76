"""Hardening, lifts: deadlines on a monotonic clock, instants across a
daylight-saving change and canonical identities for the self-approval rule."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import privmask as pm
from privmask.redaction.audit import AuditLog
from privmask.redaction.lifts import LiftManager, LiftPolicy

T0 = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
DIRECTORY = {"alice": {"lift"}, "bob": {"approve"}, "carol": set()}


def can(user: str, permission: str) -> bool:
    """A directory that ignores case and surrounding spaces, as most do."""
    return permission in DIRECTORY.get(user.strip().casefold(), set())


class WallClock:
    """A wall clock the test sets by hand (as NTP or an operator would)."""

    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


class Ticks:
    """A monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        self.s = 1000.0

    def __call__(self) -> float:
        return self.s


def test_a_wall_clock_set_back_does_not_extend_a_lift_real_monotonic_clock(
    tmp_path: Path,
) -> None:
    wall = WallClock(T0)
    log = AuditLog(tmp_path / "audit.jsonl")
    lifts = LiftManager(LiftPolicy(timeout=timedelta(seconds=0.3)), can, log, wall)
    lift = lifts.request("alice", "incident 1")
    assert lifts.is_lifted("alice", "cam1")
    wall.t = T0 - timedelta(hours=1)  # the wall clock is set back an hour and stays there
    time.sleep(0.45)  # 0.45 real seconds: past the 0.3 s timeout
    assert not lifts.is_lifted("alice", "cam1")
    assert lifts.active() == []
    with pytest.raises(pm.LiftDeniedError):
        lifts.check(lift, "cam1")
    expire = list(log.records())[-1]
    assert (expire["event"], expire["lift"]) == ("expire", lift.id)
    assert "monotonic" in expire["detail"]["ended_by"]
    log.verify()


def test_a_30_minute_lift_ends_after_30_monotonic_minutes_whatever_the_wall_clock(
    tmp_path: Path,
) -> None:
    wall, ticks = WallClock(T0), Ticks()
    log = AuditLog(tmp_path / "audit.jsonl")
    lifts = LiftManager(LiftPolicy(), can, log, wall, monotonic=ticks)
    lifts.request("alice", "incident 2")
    wall.t = T0 - timedelta(hours=1)
    ticks.s += 29 * 60 + 59
    assert lifts.is_lifted("alice", "cam1")
    ticks.s += 1  # 30:00 of real time since the grant
    assert not lifts.is_lifted("alice", "cam1")
    # A wall clock run ahead still ends a lift early (the safe side).
    wall.t = T0
    lifts.request("alice", "incident 3")
    wall.t = T0 + timedelta(hours=2)
    assert not lifts.is_lifted("alice", "cam1")
    broken = LiftManager(LiftPolicy(), can, log, wall, monotonic=lambda: "soon")  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="monotonic"):
        broken.is_lifted("alice", "cam1")


def test_lift_times_are_instants_across_the_autumn_change(tmp_path: Path) -> None:
    # A clock that reads local time in Berlin on 2026-10-25, when 02:00-03:00 happens twice.
    wall = WallClock(datetime(2026, 10, 25, 2, 45, fold=0, tzinfo=BERLIN))  # 00:45 UTC
    lifts = LiftManager(LiftPolicy(), can, AuditLog(tmp_path / "audit.jsonl"), wall)
    lift = lifts.request("alice", "incident 4")
    assert lift.expires_at == datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 30 real minutes
    assert lift.expires_at - lift.granted_at == timedelta(minutes=30)
    # 35 real minutes later the local clock reads 02:20 (the second, winter-time pass).
    wall.t = datetime(2026, 10, 25, 2, 20, fold=1, tzinfo=BERLIN)  # 01:20 UTC
    assert not lifts.is_lifted("alice", "cam1")
    assert lifts.now() == datetime(2026, 10, 25, 1, 20, tzinfo=UTC)


@pytest.mark.parametrize("spelling", ["Bob ", "BOB", " bob", "\uff42\uff4f\uff42", "Bob\u00a0"])
def test_nobody_approves_their_own_lift_under_another_spelling(
    tmp_path: Path, spelling: str
) -> None:
    # bob may approve, not lift; with a directory that ignores case, "Bob " is bob.
    log = AuditLog(tmp_path / "audit.jsonl")
    lifts = LiftManager(LiftPolicy(), can, log, WallClock(T0))
    with pytest.raises(pm.LiftDeniedError, match="cannot approve their own lift"):
        lifts.request("bob", "incident 5", approver=spelling)
    assert not lifts.is_lifted("bob", "cam1")
    assert [r["event"] for r in log.records()] == ["request", "deny"]
    from privmask.redaction.lifts import canonical_identity

    assert canonical_identity(spelling) == canonical_identity("bob") == "bob"


def test_reapply_and_logout_end_lifts_under_any_spelling(tmp_path: Path) -> None:
    lifts = LiftManager(LiftPolicy(), can, AuditLog(tmp_path / "audit.jsonl"), WallClock(T0))
    lifts.request("alice", "incident 6")
    assert not lifts.is_lifted("Alice ", "cam1")  # a spelling never gains a lift ...
    assert lifts.logout("ALICE") == 1  # ... but always ends one
    assert not lifts.is_lifted("alice", "cam1")
    lifts.request("alice", "incident 7")
    assert lifts.reapply(" Alice") == 1
    assert lifts.active() == []
