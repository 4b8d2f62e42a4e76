"""Lift rules, one test each, on an injected clock and a real audit log file."""

from __future__ import annotations

import pickle
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import privmask as pm
from privmask.redaction.audit import AuditLog
from privmask.redaction.lifts import Lift, LiftManager, LiftPolicy

T0 = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)

PERMISSIONS = {
    "alice": {"lift"},  # an investigator
    "bob": {"approve"},  # a supervisor
    "carol": set(),  # an operator
    "dave": {"lift", "approve"},
}


def can(user: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(user, set())


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, t: datetime = T0) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kwargs: float) -> None:
        self.t += timedelta(**kwargs)


@dataclass
class Env:
    lifts: LiftManager
    clock: FakeClock
    log: AuditLog

    def events(self) -> list[tuple[str, str | None]]:
        return [(r["event"], r["user"]) for r in self.log.records()]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    clock = FakeClock()
    log = AuditLog(tmp_path / "audit.jsonl")
    yield Env(LiftManager(LiftPolicy(), can, log, clock), clock, log)
    log.verify()  # whatever a test did, the log stays a valid chain


def test_user_with_lift_permission_is_granted(env: Env) -> None:
    lift = env.lifts.request("alice", "incident 4711: stolen bicycle")
    assert isinstance(lift, Lift)
    assert (lift.user, lift.approver, lift.cameras) == ("alice", None, None)
    assert lift.expires_at == T0 + timedelta(minutes=30)
    assert env.lifts.is_lifted("alice", "cam1")
    assert not env.lifts.is_lifted("carol", "cam1")  # a lift is per user
    assert env.events() == [("request", "alice"), ("grant", "alice")]
    grant = list(env.log.records())[1]
    assert grant["lift"] == lift.id
    assert grant["reason"] == "incident 4711: stolen bicycle"
    assert grant["time"] == "2026-11-02T09:00:00.000000+00:00"


def test_user_without_permission_is_denied_without_an_approver(env: Env) -> None:
    with pytest.raises(pm.LiftDeniedError, match="'approve' permission must approve"):
        env.lifts.request("carol", "curious")
    assert not env.lifts.is_lifted("carol", "cam1")
    assert env.events() == [("request", "carol"), ("deny", "carol")]
    assert "does not have the 'lift' permission" in list(env.log.records())[1]["detail"]["why"]
    assert issubclass(pm.LiftDeniedError, PermissionError)


def test_second_user_with_approve_permission_grants(env: Env) -> None:
    lift = env.lifts.request("carol", "incident 4712", approver="bob")
    assert lift.approver == "bob"
    assert env.lifts.is_lifted("carol", "cam1")
    grant = list(env.log.records())[1]
    assert (grant["event"], grant["user"], grant["approver"]) == ("grant", "carol", "bob")
    # An approver without "approve" (alice may lift, but not approve) does not count.
    with pytest.raises(pm.LiftDeniedError, match="approver 'alice' does not have"):
        env.lifts.request("carol", "incident 4712", approver="alice")


def test_self_approval_is_refused(env: Env) -> None:
    # bob may approve others' lifts, but not lift himself by approving his own.
    with pytest.raises(pm.LiftDeniedError, match="cannot approve their own lift"):
        env.lifts.request("bob", "incident 4713", approver="bob")
    assert not env.lifts.is_lifted("bob", "cam1")
    assert env.events()[-1] == ("deny", "bob")


def test_reason_is_required(env: Env) -> None:
    for reason in ("", "   \n"):
        with pytest.raises(pm.LiftDeniedError, match="reason is required"):
            env.lifts.request("alice", reason)
    with pytest.raises(TypeError, match="reason must be a string"):
        env.lifts.request("alice", None)  # type: ignore[arg-type]
    assert not env.lifts.is_lifted("alice", "cam1")
    assert [e for e, _ in env.events()] == ["request", "deny", "request", "deny"]


def test_lift_expires_at_the_timeout_to_the_second(env: Env) -> None:
    lift = env.lifts.request("alice", "incident 4714")
    env.clock.advance(minutes=29, seconds=59)
    assert env.lifts.is_lifted("alice", "cam1")
    assert [e for e, _ in env.events()] == ["request", "grant"]
    env.clock.advance(seconds=1)  # exactly 30:00 after the grant
    assert not env.lifts.is_lifted("alice", "cam1")
    expire = list(env.log.records())[-1]
    assert (expire["event"], expire["lift"]) == ("expire", lift.id)
    assert expire["detail"]["expired_at"] == (T0 + timedelta(minutes=30)).isoformat()
    assert env.lifts.active() == []


def test_custom_timeout_and_no_call_in_between(tmp_path: Path) -> None:
    clock = FakeClock()
    log = AuditLog(tmp_path / "audit.jsonl")
    lifts = LiftManager(LiftPolicy(timeout=timedelta(seconds=90)), can, log, clock)
    lifts.request("alice", "incident 4715")
    clock.advance(hours=5)  # nobody called anything meanwhile
    assert not lifts.is_lifted("alice", "cam1")
    assert [r["event"] for r in log.records()] == ["request", "grant", "expire"]
    expire = list(log.records())[-1]
    assert expire["time"] == (T0 + timedelta(hours=5)).isoformat(timespec="microseconds")
    assert expire["detail"]["expired_at"] == (T0 + timedelta(seconds=90)).isoformat()
    with pytest.raises(ValueError, match="positive timedelta"):
        LiftPolicy(timeout=timedelta(0))


def test_clock_stepped_back_does_not_extend_a_lift(env: Env) -> None:
    env.lifts.request("alice", "incident 4716")
    env.clock.advance(minutes=31)
    assert not env.lifts.is_lifted("alice", "cam1")
    env.clock.t = T0 + timedelta(minutes=1)  # NTP (or someone) sets the clock back
    assert not env.lifts.is_lifted("alice", "cam1")
    assert env.lifts.now() == T0 + timedelta(minutes=31)


def test_reapply_ends_the_users_lifts(env: Env) -> None:
    first = env.lifts.request("alice", "incident 4717", cameras={"cam1"})
    second = env.lifts.request("alice", "incident 4718", cameras={"cam2"})
    other = env.lifts.request("dave", "incident 4719")
    env.clock.advance(minutes=5)
    assert env.lifts.reapply("alice") == 2
    assert not env.lifts.is_lifted("alice", "cam1")
    assert not env.lifts.is_lifted("alice", "cam2")
    assert env.lifts.is_lifted("dave", "cam1")
    reapplied = [r for r in env.log.records() if r["event"] == "reapply"]
    assert [r["lift"] for r in reapplied] == [first.id, second.id]
    assert env.lifts.active() == [other]
    assert env.lifts.reapply("alice") == 0  # logged all the same: the user asked
    assert env.events()[-1] == ("reapply", "alice")


def test_reapplying_an_expired_lift_logs_its_expiry_not_a_reapply(env: Env) -> None:
    lift = env.lifts.request("alice", "incident 4731")
    env.clock.advance(hours=1)  # no call in between: the expiry is not logged yet
    assert env.lifts.reapply("alice") == 0
    tail = list(env.log.records())[-2:]
    assert [(r["event"], r["lift"]) for r in tail] == [("expire", lift.id), ("reapply", None)]


def test_logout_reapplies(env: Env) -> None:
    lift = env.lifts.request("carol", "incident 4720", approver="bob")
    assert env.lifts.logout("carol") == 1
    assert not env.lifts.is_lifted("carol", "cam1")
    last = list(env.log.records())[-1]
    assert (last["event"], last["user"], last["lift"]) == ("logout", "carol", lift.id)
    with pytest.raises(pm.LiftDeniedError, match="reapplied"):
        env.lifts.check(lift, "cam1")


def test_camera_scope(env: Env) -> None:
    env.lifts.request("alice", "incident 4721", cameras={"lobby", "gate"})
    assert env.lifts.is_lifted("alice", "lobby")
    assert env.lifts.is_lifted("alice", "gate")
    assert not env.lifts.is_lifted("alice", "car park")
    grant = list(env.log.records())[1]
    assert grant["cameras"] == ["gate", "lobby"]
    with pytest.raises(TypeError, match="not a single string"):
        env.lifts.request("alice", "incident 4721", cameras="lobby")
    with pytest.raises(pm.LiftDeniedError, match="camera set is empty"):
        env.lifts.request("alice", "incident 4721", cameras=set())


def test_every_camera_the_user_can_see(tmp_path: Path) -> None:
    sees = {"alice": {"lobby", "gate"}}
    lifts = LiftManager(
        LiftPolicy(),
        can,
        AuditLog(tmp_path / "audit.jsonl"),
        FakeClock(),
        visible=lambda user: sees.get(user, set()),
    )
    lift = lifts.request("alice", "incident 4722")  # cameras=None: all she can see
    assert lifts.is_lifted("alice", "lobby")
    assert not lifts.is_lifted("alice", "vault")
    sees["alice"] = {"gate"}  # visibility is checked at every query, not only at the grant
    assert not lifts.is_lifted("alice", "lobby")
    assert lifts.is_lifted("alice", "gate")
    with pytest.raises(pm.LiftDeniedError, match="cannot see camera"):
        lifts.check(lift, "lobby")
    with pytest.raises(pm.LiftDeniedError, match=r"cannot see camera.*'vault'"):
        lifts.request("alice", "incident 4722", cameras={"gate", "vault"})


def test_permanent_masks_are_never_lifted(env: Env) -> None:
    masks = pm.MaskSet(
        [
            pm.Mask(pm.Polygon.rect(0.0, 0.0, 0.5, 1.0), pm.Solid(yuv=(16, 128, 128))),
            pm.Mask(pm.Polygon.rect(0.5, 0.0, 0.5, 1.0), pm.Solid(yuv=(235, 128, 128)), True),
        ]
    )
    env.lifts.request("dave", "incident 4723")
    for user, lifted in (("dave", True), ("carol", False)):
        frame = pm.Frame.blank("gray", 16, 8, value=100)
        pm.apply(frame, masks, lifted=env.lifts.is_lifted(user, "cam1"))
        assert lifted == env.lifts.is_lifted(user, "cam1")
        assert (frame.planes[0][:, :8] == 16).all()  # permanent: always burned in
        right = frame.planes[0][:, 8:]
        assert (right == (100 if lifted else 235)).all()
    assert not masks.exclusion_map(16, 8)[:, 8:].any()
    assert masks.exclusion_map(16, 8)[:, :8].all()


def test_permission_check_must_answer_a_bool(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    sloppy = LiftManager(LiftPolicy(), lambda u, p: "no", log, FakeClock())  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="must return True or False"):
        sloppy.request("alice", "incident 4724")
    assert [r["event"] for r in log.records()] == ["request", "deny"]
    assert not sloppy.is_lifted("alice", "cam1")


def test_an_unwritable_audit_log_refuses_the_lift(env: Env) -> None:
    with open(env.log.path, "ab") as f:
        f.write(b'{"seq": 99, "torn')  # a crash left a torn record
    with pytest.raises(pm.AuditIntegrityError, match="torn"):
        env.lifts.request("alice", "incident 4725")
    assert not env.lifts.is_lifted("alice", "cam1")
    assert env.lifts.active() == []
    env.log.repair()


def test_reapply_works_even_when_the_audit_log_is_broken(env: Env) -> None:
    env.lifts.request("alice", "incident 4730")
    with open(env.log.path, "ab") as f:
        f.write(b'{"seq": 2, "torn')
    with pytest.raises(pm.AuditIntegrityError):
        env.lifts.logout("alice")
    assert not env.lifts.is_lifted("alice", "cam1")  # the masks are back all the same
    assert env.lifts.active() == []
    env.log.repair()


def test_lifts_are_vouched_for_only_by_their_manager(env: Env, tmp_path: Path) -> None:
    lift = env.lifts.request("alice", "incident 4726")
    forged = Lift(lift.id, "alice", "x", None, None, T0, T0 + timedelta(days=1), _manager=env.lifts)
    with pytest.raises(pm.LiftDeniedError, match="not granted by this LiftManager"):
        env.lifts.check(forged, "cam1")
    other = LiftManager(LiftPolicy(), can, AuditLog(tmp_path / "other.jsonl"), env.clock)
    with pytest.raises(pm.LiftDeniedError):
        other.check(lift, "cam1")
    assert env.lifts.check(lift, "cam1") == T0
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(lift)


def test_expire_due_logs_expiries_of_an_idle_manager(env: Env) -> None:
    env.lifts.request("alice", "incident 4727")
    env.lifts.request("dave", "incident 4728")
    env.clock.advance(minutes=30)
    assert env.lifts.expire_due() == 2
    assert env.lifts.expire_due() == 0
    assert [e for e, _ in env.events()][-2:] == ["expire", "expire"]


def test_naive_clock_is_refused(tmp_path: Path) -> None:
    lifts = LiftManager(
        LiftPolicy(), can, AuditLog(tmp_path / "a.jsonl"), lambda: datetime(2026, 1, 1)
    )
    with pytest.raises(TypeError, match="aware datetime"):
        lifts.is_lifted("alice", "cam1")


def test_thread_safety_viewers_query_while_lifts_come_and_go(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    workers = [f"investigator{i}" for i in range(4)]
    lifts = LiftManager(LiftPolicy(), lambda u, p: p == "lift", log, FakeClock())
    rounds = 25
    errors: list[BaseException] = []
    done = threading.Event()
    queries = [0]

    def investigator(user: str) -> None:
        try:
            for _ in range(rounds):
                lifts.request(user, "incident 4729", cameras={"cam"})
                assert lifts.is_lifted(user, "cam")
                assert not lifts.is_lifted(user, "other cam")
                assert lifts.reapply(user) == 1
                assert not lifts.is_lifted(user, "cam")
        except BaseException as e:
            errors.append(e)

    def viewer() -> None:
        try:
            while not done.is_set():
                for user in workers:
                    lifts.is_lifted(user, "cam")
                assert not lifts.is_lifted("nobody", "cam")
                queries[0] += 1
        except BaseException as e:
            errors.append(e)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # interleave threads as often as possible
    try:
        viewers = [threading.Thread(target=viewer) for _ in range(4)]
        changers = [threading.Thread(target=investigator, args=(u,)) for u in workers]
        for t in viewers + changers:
            t.start()
        for t in changers:
            t.join()
        done.set()
        for t in viewers:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
    assert queries[0] > 0
    assert lifts.active() == []
    assert log.verify() == len(workers) * rounds * 3  # request, grant, reapply
    per_user = {u: [r["event"] for r in log.records() if r["user"] == u] for u in workers}
    assert all(ev == ["request", "grant", "reapply"] * rounds for ev in per_user.values())
