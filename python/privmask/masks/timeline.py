"""Time-versioned mask sets: the masks that were in force when a frame was recorded.

Playback and export must hide what was configured *at recording time*, even after the
configuration changed. A :class:`MaskTimeline` is an append-only history of
``(since, MaskSet)`` versions; :meth:`MaskTimeline.at` answers "which set was in force at ``t``".
Before the first version nothing was configured, and that is an error
(:class:`~privmask.errors.NoMasksInForceError`), never "no masks".

Frame times are exact: a frame's recording time is the recording start plus ``pts * time_base``,
and :class:`MaskSchedule` compares it with each ``since`` as a :class:`~fractions.Fraction` of
seconds, so a frame exactly on a boundary lands on the right side of it whatever the time base.

Times are instants: every comparison and subtraction is done in UTC. Python compares two
datetimes that share a ``tzinfo`` (``ZoneInfo("Europe/Berlin")``) by their wall clocks, which is
an hour off across a daylight-saving change; privmask never does.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from privmask.errors import InvalidGeometryError, MaskConfigError, NoMasksInForceError
from privmask.masks.maskset import JSON_VERSION, MaskSet

if TYPE_CHECKING:
    from privmask.masks.schema import TimelineModel

__all__ = [
    "MaskSchedule",
    "MaskTimeline",
    "TimelineVersion",
    "instant",
    "load_masks",
    "parse_masks",
    "seconds_between",
]


def _aware(t: object, what: str) -> datetime:
    if not isinstance(t, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(
            f"{what} must be timezone-aware (a naive {t.isoformat()} means a different instant "
            "in every time zone); use e.g. datetime(..., tzinfo=timezone.utc)"
        )
    return t


def instant(t: datetime) -> datetime:
    """The aware datetime ``t`` as the same instant in UTC: what privmask compares and subtracts
    (two datetimes that share a ``tzinfo`` compare and subtract by wall clock in Python)."""
    return t.astimezone(UTC)


def seconds_between(earlier: datetime, later: datetime) -> Fraction:
    """``later - earlier`` in seconds, exactly (datetimes are whole microseconds), between the
    two instants: a daylight-saving change between them does not count."""
    d = instant(later) - instant(earlier)
    return Fraction(d // timedelta(microseconds=1), 1_000_000)


@dataclass(frozen=True, slots=True, eq=False)
class TimelineVersion:
    """One entry of a timeline: ``masks`` in force from ``since`` until the next version.

    Two versions are equal when their ``since`` is the same instant and their masks are equal,
    whatever zone each ``since`` is written in (Python's own ``==`` calls a time in a
    daylight-saving fold unequal to every time of another zone)."""

    since: datetime
    masks: MaskSet

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TimelineVersion):
            return NotImplemented
        return instant(self.since) == instant(other.since) and self.masks == other.masks

    def __hash__(self) -> int:
        return hash((instant(self.since), self.masks))

    @property
    def content_hash(self) -> str:
        """The mask set's content hash: what an export records to say which masks it used."""
        return self.masks.content_hash

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the version (the mask objects are those of a mask-set file)."""
        return {
            "since": self.since.isoformat(),
            "content_hash": self.content_hash,
            "masks": self.masks.to_dict()["masks"],
        }


class MaskTimeline:
    """An append-only history of mask sets keyed to recording time.

    ``add(since, masks)`` appends a version; ``since`` must be timezone-aware and a later instant
    than the newest version's (history is never rewritten: an export made yesterday must be
    reproducible today). ``at(t)`` returns the set in force at ``t``. Instants are compared in
    UTC, whatever zone each datetime carries. Each version keeps its ``content_hash``; equal
    sets share one compiled plan per geometry (``MaskSet.compile`` is cached by content and
    geometry), so frequent changes stay cheap.

    Thread-safe: ``add`` from several threads appends in order or refuses (a lock covers the
    check and the append), and readers see either the old or the new history, never a mix.
    """

    __slots__ = ("_lock", "_sinces", "_versions")

    def __init__(self, versions: Iterable[tuple[datetime, MaskSet]] = ()) -> None:
        self._lock = threading.Lock()
        # Both lists are replaced, never mutated, so a reader holding one pair sees a consistent
        # history without taking the lock.
        self._versions: tuple[TimelineVersion, ...] = ()
        self._sinces: tuple[datetime, ...] = ()  # UTC instants
        for since, masks in versions:
            self.add(since, masks)

    def add(self, since: datetime, masks: MaskSet) -> TimelineVersion:
        """Appends ``masks``, in force from ``since`` on; returns the new version.

        Raises :class:`MaskConfigError` for a naive ``since`` or one not a later instant than
        the newest version (path ``timeline[n].since``), and ``TypeError`` for anything but a
        ``MaskSet``.
        """
        if not isinstance(masks, MaskSet):
            raise TypeError(f"masks must be a privmask.MaskSet, got {type(masks).__name__}")
        with self._lock:
            where = f"timeline[{len(self._versions)}]"
            try:
                since = _aware(since, "since")
            except ValueError as e:
                raise MaskConfigError(str(e), f"{where}.since") from None
            at = instant(since)
            if self._sinces and at <= self._sinces[-1]:
                newest = self._versions[-1].since
                raise MaskConfigError(
                    f"{since.isoformat()} is not later than the newest version "
                    f"({newest.isoformat()}) as an instant ({at.isoformat()} vs "
                    f"{self._sinces[-1].isoformat()} in UTC); a timeline is append-only",
                    f"{where}.since",
                )
            version = TimelineVersion(since, masks)
            self._versions = (*self._versions, version)
            self._sinces = (*self._sinces, at)
            return version

    def index_at(self, t: datetime) -> int:
        """The index of the version in force at ``t`` (a version applies from its ``since``,
        inclusive). Raises :class:`NoMasksInForceError` before the first version."""
        t = _aware(t, "t")
        i = bisect_right(self._sinces, instant(t)) - 1
        if i < 0:
            raise NoMasksInForceError(self._before_first(t.isoformat()))
        return i

    def version_at(self, t: datetime) -> TimelineVersion:
        """The version (``since``, ``masks``, ``content_hash``) in force at ``t``."""
        versions, sinces = self._versions, self._sinces
        t = _aware(t, "t")
        i = bisect_right(sinces, instant(t)) - 1
        if i < 0:
            raise NoMasksInForceError(self._before_first(t.isoformat()))
        return versions[i]

    def at(self, t: datetime) -> MaskSet:
        """The mask set in force at ``t``; :class:`NoMasksInForceError` before the first
        version (nothing was configured then, which is not the same as "no masks")."""
        return self.version_at(t).masks

    def _before_first(self, when: str) -> str:
        if not self._versions:
            return f"{when}: the timeline has no versions, so no masks are in force at any time"
        return (
            f"{when} is before the timeline's first version (since "
            f"{self._versions[0].since.isoformat()}): no masks were configured then"
        )

    @property
    def versions(self) -> tuple[TimelineVersion, ...]:
        """All versions, oldest first."""
        return self._versions

    def __len__(self) -> int:
        return len(self._versions)

    def __iter__(self) -> Iterator[TimelineVersion]:
        return iter(self._versions)

    def __getitem__(self, i: int) -> TimelineVersion:
        return self._versions[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MaskTimeline) and self._versions == other._versions

    __hash__ = None  # type: ignore[assignment]  # append-only, hence mutable

    def __repr__(self) -> str:
        inner = ", ".join(f"({v.since.isoformat()!r}, {v.content_hash[:12]}…)" for v in self)
        return f"MaskTimeline([{inner}])"

    def __getstate__(self) -> dict[str, Any]:
        return {"versions": [(v.since, v.masks) for v in self._versions]}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self._versions, self._sinces = (), ()
        for since, masks in state["versions"]:
            self.add(since, masks)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the timeline, with its schema version."""
        if not self._versions:
            raise MaskConfigError(
                "an empty timeline cannot be saved (it would mask nothing, ever): add a version",
                "timeline",
            )
        return {"privmask": JSON_VERSION, "timeline": [v.to_dict() for v in self._versions]}

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialises the timeline (schema version 1), each version with its content hash."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> MaskTimeline:
        """Parses and validates timeline JSON. Errors name the field path
        (``timeline[1].since: ...``, ``timeline[0].masks[2].polygon: ...``); a recorded
        ``content_hash`` that does not match its masks is refused."""
        from privmask.masks.schema import load_json, parse_timeline  # pydantic: on first use

        return _build_timeline(parse_timeline(text), load_json(text))


def _mask_set_at(raw_masks: Any, path: str) -> MaskSet:
    """Builds one version's ``MaskSet`` through ``MaskSet.from_json`` (the one source of the
    mask-set semantics) and prefixes the errors it raises with the version's path."""
    doc = json.dumps({"privmask": JSON_VERSION, "masks": raw_masks})
    try:
        return MaskSet.from_json(doc)
    except MaskConfigError as e:
        message = str(e)
        if e.path and message.startswith(f"{e.path}: "):
            message = message[len(e.path) + 2 :]
        raise MaskConfigError(message, f"{path}.{e.path}" if e.path else path) from e
    except InvalidGeometryError as e:
        raise InvalidGeometryError(f"{path}.{e}") from e


def _build_timeline(model: TimelineModel, raw: dict[str, Any]) -> MaskTimeline:
    """The timeline of a validated document (``model``) and its raw JSON (``raw``, whose mask
    objects go through ``MaskSet.from_json``)."""
    timeline = MaskTimeline()
    for i, (entry, version) in enumerate(zip(raw["timeline"], model.timeline, strict=True)):
        masks = _mask_set_at(entry["masks"], f"timeline[{i}]")
        if version.content_hash is not None and version.content_hash != masks.content_hash:
            raise MaskConfigError(
                f"{version.content_hash} does not match the masks of this version (their hash "
                f"is {masks.content_hash}): the masks were edited after the hash was recorded",
                f"timeline[{i}].content_hash",
            )
        offset = version.since.utcoffset()
        assert offset is not None  # AwareDatetime
        timeline.add(version.since.replace(tzinfo=timezone(offset)), masks)
    return timeline


def parse_masks(text: str | bytes) -> MaskSet | MaskTimeline:
    """Parses a mask-set or a timeline file, told apart by its top-level key."""
    from privmask.masks.schema import MaskSetModel, load_json, parse_document

    model = parse_document(text)
    if isinstance(model, MaskSetModel):
        return MaskSet.from_json(text)
    return _build_timeline(model, load_json(text))


def load_masks(path: str | Path) -> MaskSet | MaskTimeline:
    """Reads a mask-set or timeline file (what the CLI's ``--masks FILE`` takes). A missing file
    is ``FileNotFoundError``; a bad one :class:`MaskConfigError` naming the file and the field."""
    p = Path(path)
    text = p.read_bytes()
    try:
        return parse_masks(text)
    except (MaskConfigError, InvalidGeometryError) as e:
        e.add_note(f"in {p}")
        raise


class MaskSchedule:
    """Which version applies to a frame, from the frame's exact offset after the recording start.

    Built once per recording: each ``since`` becomes a :class:`Fraction` of seconds after
    ``start``, so the per-frame lookup is a bisection on exact numbers (no datetime arithmetic,
    no float accumulation). Without a ``start``, only one version can be meant: a ``MaskSet``,
    or a timeline of exactly one version, applies to every frame; a longer timeline is refused
    because the frames cannot be placed on it.
    """

    __slots__ = ("_bounds", "_start", "_start_utc", "_timeline", "versions")

    versions: tuple[TimelineVersion | MaskSet, ...]

    def __init__(self, masks: MaskSet | MaskTimeline, start: datetime | None) -> None:
        if start is not None:
            start = _aware(start, "start")
        self._start = start
        self._start_utc = None if start is None else instant(start)
        self._timeline: MaskTimeline | None
        if isinstance(masks, MaskSet):
            self._timeline = None
            self.versions = (masks,)
            self._bounds: list[Fraction] | None = None
        elif isinstance(masks, MaskTimeline):
            if len(masks) == 0:
                raise NoMasksInForceError(masks._before_first("any time"))
            self._timeline = masks
            self.versions = masks.versions
            if start is None:
                if len(masks) > 1:
                    raise ValueError(
                        f"the timeline has {len(masks)} versions, so each frame's recording "
                        "time is needed: give the recording start"
                    )
                self._bounds = None
            else:
                self._bounds = [seconds_between(start, v.since) for v in masks.versions]
        else:
            raise TypeError(f"masks must be a MaskSet or MaskTimeline, got {type(masks).__name__}")

    @property
    def needs_time(self) -> bool:
        """Whether lookups need the frame's offset (false when one set applies throughout)."""
        return self._bounds is not None

    def masks(self, index: int) -> MaskSet:
        """The mask set of version ``index``."""
        v = self.versions[index]
        return v if isinstance(v, MaskSet) else v.masks

    def content_hash(self, index: int) -> str:
        """The content hash of version ``index``."""
        return self.masks(index).content_hash

    def since(self, index: int) -> datetime | None:
        """When version ``index`` came into force (``None`` for a plain mask set)."""
        v = self.versions[index]
        return None if isinstance(v, MaskSet) else v.since

    def time_of(self, offset: Fraction) -> datetime | None:
        """The instant ``offset`` seconds after the start (to the microsecond), in the start's
        time zone: the offset is added to the instant, never to the wall clock."""
        if self._start is None or self._start_utc is None:
            return None
        t = self._start_utc + timedelta(microseconds=round(offset * 1_000_000))
        return t.astimezone(self._start.tzinfo)

    def index(self, offset: Fraction | None) -> int:
        """The version in force ``offset`` seconds after the start (inclusive of ``since``).
        Raises :class:`NoMasksInForceError` before the first version."""
        if self._bounds is None:
            return 0
        if offset is None:
            raise ValueError("this frame has no timestamp, so its masks cannot be chosen")
        i = bisect_right(self._bounds, offset) - 1
        if i < 0:
            assert self._timeline is not None
            when = self.time_of(offset)
            raise NoMasksInForceError(
                self._timeline._before_first(when.isoformat() if when else f"{offset} s")
            )
        return i
