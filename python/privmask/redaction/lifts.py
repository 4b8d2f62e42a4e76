"""Lifting liftable masks for an investigation: who may, for which cameras, and for how long.

The rules are those of the leading VMS, as a library: a user with the ``"lift"`` permission may
lift; a user without it may lift only with a second user who has ``"approve"``; a reason is
always required; a lift covers every camera the user can see, or the set asked for; it ends at
the policy's timeout, when the user reapplies, or when the user logs out. Permanent masks never
lift: a lift only decides what the viewer passes as ``apply(..., lifted=...)``, which skips
liftable masks alone.

Every request, grant, denial, expiry, reapply and logout is written to an :class:`AuditLog`
*before* it takes effect, so an audit failure refuses the lift instead of granting it unlogged.

**Time.** :meth:`LiftManager.is_lifted` compares against the clocks on every call, so a lift never
outlives its timeout even if nothing else is called. A lift's deadline is kept on a monotonic
clock (``time.monotonic``), which no one can set: a wall clock stepped back (NTP, an operator, a
daylight-saving change read as local time) cannot extend a lift. The wall clock still ends a lift
at its ``expires_at`` if it runs ahead (a clock stepped forward only ends lifts early, the safe
side), and gives the times written to the audit log, which are instants in UTC and never run
backwards. Both clocks are injectable (tests). Expiries are
logged lazily: the first call of any method that finds a lift past its end writes its ``expire``
record (``time`` when it was noticed, ``detail.expired_at`` when it ended). A timer thread would
log on time even when the manager is idle, but it cannot follow an injected clock and adds a
thread to every integrator's process; call :meth:`LiftManager.expire_due` from a periodic job to
have expiry records written promptly in an idle system.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from privmask.errors import LiftDeniedError
from privmask.redaction.audit import AuditLog

__all__ = [
    "Clock",
    "Lift",
    "LiftManager",
    "LiftPolicy",
    "MonotonicClock",
    "PermissionCheck",
    "VisibleCameras",
    "canonical_identity",
]

_log = logging.getLogger(__name__)

PermissionCheck = Callable[[str, str], bool]
"""``can(user, permission) -> bool``, the integrator's check; permissions are ``"lift"`` and
``"approve"``."""
Clock = Callable[[], datetime]
"""Returns the current time as an aware ``datetime``."""
MonotonicClock = Callable[[], float]
"""Returns seconds from an arbitrary origin that never goes backwards (``time.monotonic``)."""
VisibleCameras = Callable[[str], Collection[str]]
"""``visible(user) -> cameras`` the user may see."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LiftPolicy:
    """How long a lift lasts unless reapplied first (30 minutes by default)."""

    timeout: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if not isinstance(self.timeout, timedelta) or self.timeout <= timedelta(0):
            raise ValueError(f"timeout must be a positive timedelta, got {self.timeout!r}")


@dataclass(frozen=True, slots=True, eq=False)
class Lift:
    """A granted lift. Only the :class:`LiftManager` that granted it can vouch for it: a ``Lift``
    built by hand, or one that expired or was reapplied, is refused wherever a lift is checked
    (e.g. :func:`privmask.redaction.export`).

    ``cameras`` is ``None`` for every camera the user can see; ``approver`` is the second user
    who approved it, if one was needed.
    """

    id: str
    user: str
    reason: str
    approver: str | None
    cameras: frozenset[str] | None
    granted_at: datetime
    expires_at: datetime
    _manager: LiftManager | None = field(default=None, repr=False)

    def covers(self, camera: str) -> bool:
        """Whether the lift's camera scope includes ``camera`` (ignoring time and visibility)."""
        return self.cameras is None or camera in self.cameras

    @property
    def manager(self) -> LiftManager | None:
        """The manager that granted this lift (``None`` for one built by hand)."""
        return self._manager

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "a Lift is valid only in the process and LiftManager that granted it; it cannot be "
            "pickled into another process"
        )


def canonical_identity(name: str) -> str:
    """The identity ``name`` stands for when user names are compared: Unicode NFKC, case-folded,
    surrounding white space removed. A directory that ignores case (most do) and a login form
    that keeps a trailing space make ``"alice"`` and ``"Alice "`` the same person, and
    the full-width spelling of ``alice`` is that person too."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _cameras(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"cameras must be a set of camera names, not a single string ({value!r}); "
            f"write cameras={{{value!r}}}"
        )
    out = frozenset(value)
    for c in out:
        _name(c, "each camera")
    return out


class LiftManager:
    """Grants, checks and ends lifts, and writes each step to ``audit``.

    ``can(user, permission)`` is the integrator's permission check (``"lift"``, ``"approve"``);
    it must return a real ``bool`` (anything else is a ``TypeError``: a truthy ``"no"`` must not
    grant). ``clock`` returns aware datetimes (default: UTC wall time) and ``monotonic`` seconds
    that never go backwards (default ``time.monotonic``): a lift ends when either says its
    timeout has passed. ``visible(user)``, when
    given, lists the cameras a user can see: a lift is then limited to those, checked at every
    query; without it the viewer is trusted to ask only about cameras it shows the user.

    Users are compared as :func:`canonical_identity` wherever comparing more strictly would
    grant more: nobody approves their own lift under another spelling, and reapply or logout
    under any spelling ends the user's lifts. Checking a lift (:meth:`is_lifted`) matches the
    exact name the lift was granted to, so a spelling never gains someone else's lift.

    Thread-safe: viewer threads may call :meth:`is_lifted` while others request and reapply.
    Changes (and their audit records) are serialised by one lock; queries take a second, short
    one that is never held across a callback or a disk write.
    """

    def __init__(
        self,
        policy: LiftPolicy,
        can: PermissionCheck,
        audit: AuditLog,
        clock: Clock | None = None,
        *,
        visible: VisibleCameras | None = None,
        monotonic: MonotonicClock | None = None,
    ) -> None:
        if not isinstance(policy, LiftPolicy):
            raise TypeError(f"policy must be a LiftPolicy, got {type(policy).__name__}")
        if not callable(can):
            raise TypeError("can must be a callable can(user, permission) -> bool")
        if not isinstance(audit, AuditLog):
            raise TypeError(f"audit must be an AuditLog, got {type(audit).__name__}")
        self._policy = policy
        self._can = can
        self._audit = audit
        if monotonic is not None and not callable(monotonic):
            raise TypeError("monotonic must be a callable returning seconds as a float")
        self._clock: Clock = clock if clock is not None else _utc_now
        self._monotonic: MonotonicClock = monotonic if monotonic is not None else time.monotonic
        self._visible = visible
        self._changes = threading.Lock()  # request/reapply/logout/expiry + their audit records
        self._state = threading.Lock()  # the tables below and the latest time seen
        self._lifts: dict[str, Lift] = {}  # by id, the lifts not yet ended
        self._deadlines: dict[str, float] = {}  # by id, the end on the monotonic clock
        self._latest: datetime | None = None
        self._latest_tick: float | None = None

    @property
    def policy(self) -> LiftPolicy:
        return self._policy

    @property
    def audit(self) -> AuditLog:
        return self._audit

    # --- time ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The manager's time, in UTC: the clock, but never earlier than a time already seen."""
        t = self._clock()
        if not isinstance(t, datetime) or t.utcoffset() is None:
            raise TypeError(f"clock() must return an aware datetime, got {t!r}")
        t = t.astimezone(UTC)  # an instant: local times compare by wall clock in Python
        with self._state:
            if self._latest is not None and t < self._latest:
                return self._latest
            self._latest = t
            return t

    def _tick(self) -> float:
        """The monotonic clock (checked, and never earlier than a reading already seen)."""
        m = self._monotonic()
        if isinstance(m, bool) or not isinstance(m, (int, float)) or m != m:
            raise TypeError(f"monotonic() must return seconds as a float, got {m!r}")
        with self._state:
            if self._latest_tick is not None and m < self._latest_tick:
                return self._latest_tick
            self._latest_tick = float(m)
            return float(m)

    def _ended(self, lift: Lift, now: datetime, tick: float) -> bool:
        """Whether ``lift`` is over at wall time ``now`` or monotonic time ``tick`` (caller holds
        ``_state``): whichever clock reaches the end first ends it."""
        return now >= lift.expires_at or tick >= self._deadlines.get(lift.id, float("-inf"))

    # --- permission checks ----------------------------------------------------------------------

    def _may(self, user: str, permission: str) -> bool:
        answer = self._can(user, permission)
        if not isinstance(answer, bool):
            raise TypeError(
                f"can({user!r}, {permission!r}) returned {answer!r}; it must return True or False"
            )
        return answer

    def _sees(self, user: str, camera: str) -> bool:
        return self._visible is None or camera in self._visible(user)

    def _refusal(
        self, user: str, reason: str, approver: str | None, cameras: frozenset[str] | None
    ) -> str | None:
        """Why the request is refused, or ``None`` to grant it."""
        if not reason.strip():
            return "a reason is required to lift masks"
        if cameras is not None and not cameras:
            return "the camera set is empty; pass cameras=None for every camera the user can see"
        if approver is not None and canonical_identity(approver) == canonical_identity(user):
            same = "" if approver == user else f" ({approver!r} is {user!r} spelled differently)"
            return f"{user!r} cannot approve their own lift{same}; a second user must approve"
        if cameras is not None and self._visible is not None:
            unseen = sorted(c for c in cameras if not self._sees(user, c))
            if unseen:
                return f"{user!r} cannot see camera(s) {', '.join(map(repr, unseen))}"
        if self._may(user, "lift"):
            return None
        if approver is None:
            return (
                f"{user!r} does not have the 'lift' permission; a second user with the "
                "'approve' permission must approve the lift"
            )
        if not self._may(approver, "approve"):
            return f"approver {approver!r} does not have the 'approve' permission"
        return None

    # --- requests --------------------------------------------------------------------------------

    def request(
        self,
        user: str,
        reason: str,
        *,
        approver: str | None = None,
        cameras: Iterable[str] | None = None,
    ) -> Lift:
        """Lifts the liftable masks for ``user``, logging the request and the outcome.

        Granted when ``user`` may lift, or else when ``approver`` (another user) may approve;
        otherwise raises :class:`LiftDeniedError` saying why. ``reason`` is required.
        ``cameras=None`` covers every camera the user can see; a set limits the lift to those.
        The lift lasts until the policy's timeout, :meth:`reapply` or :meth:`logout`.
        """
        _name(user, "user")
        if not isinstance(reason, str):
            raise TypeError(f"reason must be a string, got {type(reason).__name__}")
        if approver is not None:
            _name(approver, "approver")
        scope = _cameras(cameras)
        with self._changes:
            now, tick = self.now(), self._tick()
            self._expire_locked(now, tick)
            fields: dict[str, Any] = {
                "time": now,
                "user": user,
                "approver": approver,
                "reason": reason,
                "cameras": scope,
            }
            self._audit.append("request", **fields)
            try:
                refusal = self._refusal(user, reason, approver, scope)
            except Exception as e:
                # A failing permission check refuses (fail closed) and is itself on record.
                self._audit.append("deny", **fields, detail={"why": f"permission check: {e!r}"})
                raise
            if refusal is not None:
                self._audit.append("deny", **fields, detail={"why": refusal})
                raise LiftDeniedError(refusal)
            lift = Lift(
                id=uuid.uuid4().hex,
                user=user,
                reason=reason,
                approver=approver,
                cameras=scope,
                granted_at=now,
                expires_at=now + self._policy.timeout,
                _manager=self,
            )
            self._audit.append(
                "grant", **fields, lift=lift.id, detail={"expires_at": lift.expires_at.isoformat()}
            )
            with self._state:
                self._lifts[lift.id] = lift
                self._deadlines[lift.id] = tick + self._policy.timeout.total_seconds()
            return lift

    # --- queries --------------------------------------------------------------------------------

    def is_lifted(self, user: str, camera: str) -> bool:
        """Whether ``user``'s viewer may skip liftable masks on ``camera`` now: pass it as
        ``apply(frame, masks, lifted=...)``. Checked against the clock on every call."""
        now, tick = self.now(), self._tick()
        with self._state:
            lifted = any(
                lift.user == user and lift.covers(camera) and not self._ended(lift, now, tick)
                for lift in self._lifts.values()
            )
            due = any(self._ended(lift, now, tick) for lift in self._lifts.values())
        # Viewer threads must not queue behind a request's disk writes: if a change is in
        # progress, it (or the next call) logs the expiry instead.
        if due and self._changes.acquire(blocking=False):
            try:
                self._expire_locked(now, tick)
            except Exception:
                # The answer above is already right (an expired lift is not lifted); a viewer must
                # not fail because the log cannot be written. The next request, reapply or
                # logout retries the record and fails closed if the log is still unwritable.
                _log.exception("could not write the expiry of a lift to the audit log")
            finally:
                self._changes.release()
        return lifted and self._sees(user, camera)

    def active(self, user: str | None = None) -> list[Lift]:
        """The lifts in force now (of ``user``, or everyone's), soonest to expire first."""
        now, tick = self.now(), self._tick()
        with self._state:
            lifts = [
                lift
                for lift in self._lifts.values()
                if not self._ended(lift, now, tick) and (user is None or lift.user == user)
            ]
        return sorted(lifts, key=lambda lift: lift.expires_at)

    def check(self, lift: Lift, camera: str) -> datetime:
        """Raises :class:`LiftDeniedError` unless ``lift`` was granted here and is in force now
        for ``camera``; returns the time of the check. Used before an export leaves liftable
        masks out."""
        if not isinstance(lift, Lift):
            raise TypeError(f"lift must be a privmask.Lift, got {type(lift).__name__}")
        _name(camera, "camera")
        now, tick = self.now(), self._tick()
        with self._state:
            known = self._lifts.get(lift.id) is lift
            ended = known and self._ended(lift, now, tick)
        if lift.manager is not self or not known:
            raise LiftDeniedError(
                f"lift {lift.id} was not granted by this LiftManager, or has been reapplied"
            )
        if ended:
            raise LiftDeniedError(f"lift {lift.id} expired at {lift.expires_at.isoformat()}")
        if not lift.covers(camera):
            raise LiftDeniedError(f"lift {lift.id} does not cover camera {camera!r}")
        if not self._sees(lift.user, camera):
            raise LiftDeniedError(f"{lift.user!r} cannot see camera {camera!r}")
        return now

    # --- ending lifts ----------------------------------------------------------------------------

    def _end(self, user: str, event: str) -> int:
        _name(user, "user")
        who = canonical_identity(user)
        with self._changes:
            now, tick = self.now(), self._tick()
            with self._state:
                ending = sorted(
                    (lift for lift in self._lifts.values() if canonical_identity(lift.user) == who),
                    key=lambda lift: lift.granted_at,
                )
                over = {lift.id for lift in ending if self._ended(lift, now, tick)}
                for lift in ending:
                    del self._lifts[lift.id]
                    self._deadlines.pop(lift.id, None)
            # The lifts end before anything is written: a log that cannot be written must never
            # keep masks lifted. (The write error is still raised to the caller.)
            ended = [lift for lift in ending if lift.id not in over]
            self._expire_locked(now, tick, also=[lift for lift in ending if lift.id in over])
            if not ended:
                self._audit.append(event, time=now, user=user)
            for lift in ended:
                self._audit.append(event, time=now, user=user, lift=lift.id, cameras=lift.cameras)
            return len(ended)

    def reapply(self, user: str) -> int:
        """Ends all of ``user``'s lifts now; returns how many were in force. Logged even when
        none were (the user asked). The lifts end even if the audit log cannot be written (the
        error is raised after): reapplying is never refused."""
        return self._end(user, "reapply")

    def logout(self, user: str) -> int:
        """Records that ``user`` logged out, which reapplies their masks; returns how many lifts
        it ended."""
        return self._end(user, "logout")

    def expire_due(self) -> int:
        """Logs and forgets the lifts past their timeout; returns how many. Every other method
        does this as it goes; call it from a periodic job to have expiries logged on time even
        when nobody is using the manager."""
        with self._changes:
            return self._expire_locked(self.now(), self._tick())

    def _expire_locked(self, now: datetime, tick: float, also: Iterable[Lift] = ()) -> int:
        """Logs an ``expire`` record for each lift that ended by ``now`` or ``tick`` (caller
        holds ``_changes``), oldest first, then drops it. ``also``: lifts already taken out of
        the table that had expired too."""
        also = list(also)
        with self._state:
            due = sorted(
                [*also, *(lift for lift in self._lifts.values() if self._ended(lift, now, tick))],
                key=lambda lift: lift.expires_at,
            )
        if not due:
            return 0
        for lift in due:
            detail = {"expired_at": lift.expires_at.isoformat()}
            if now < lift.expires_at:
                # The wall clock was set back: the monotonic clock ended the lift on time.
                detail["ended_by"] = "monotonic clock (the wall clock was set back)"
            self._audit.append(
                "expire",
                time=now,
                user=lift.user,
                approver=lift.approver,
                cameras=lift.cameras,
                lift=lift.id,
                detail=detail,
            )
            with self._state:
                self._lifts.pop(lift.id, None)
                self._deadlines.pop(lift.id, None)
        return len(due)
