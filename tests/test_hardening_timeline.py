"""Hardening, timelines: instants across daylight-saving changes and appends
from several threads.

Europe/Berlin changes on 2026-03-29 (02:00 CET -> 03:00 CEST) and on 2026-10-25 (03:00 CEST ->
02:00 CET, so 02:00-03:00 happens twice: ``fold=0`` is the first, summer-time pass).
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

import privmask as pm
from privmask.masks.timeline import MaskSchedule, seconds_between

BERLIN = ZoneInfo("Europe/Berlin")
A = pm.MaskSet([pm.Mask(pm.Polygon.rect(0.1, 0.1, 0.2, 0.2), name="old window")])
B = pm.MaskSet([pm.Mask(pm.Polygon.rect(0.5, 0.5, 0.3, 0.3), name="new window")])


def test_zoneinfo_has_the_berlin_rules() -> None:
    # The tests below are only meaningful if the zone data says what they assume.
    assert datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN).utcoffset() == timedelta(hours=1)
    assert datetime(2026, 3, 29, 3, 15, tzinfo=BERLIN).utcoffset() == timedelta(hours=2)
    assert datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=BERLIN).utcoffset() == timedelta(hours=2)
    assert datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=BERLIN).utcoffset() == timedelta(hours=1)


def test_spring_change_a_frame_after_the_new_mask_gets_the_new_mask() -> None:
    start = datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN)  # 00:30 UTC: recording starts
    since = datetime(2026, 3, 29, 3, 15, tzinfo=BERLIN)  # 01:15 UTC: 45 real minutes later
    timeline = pm.MaskTimeline([(start, A), (since, B)])
    assert seconds_between(start, since) == 45 * 60  # not the 105 wall-clock minutes
    schedule = MaskSchedule(timeline, start)
    # A frame recorded one hour into the recording is 15 minutes after B came into force.
    assert schedule.index(Fraction(3600)) == 1
    assert schedule.index(Fraction(44 * 60)) == 0
    assert schedule.time_of(Fraction(3600)) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert schedule.time_of(Fraction(3600)).isoformat() == "2026-03-29T03:30:00+02:00"  # type: ignore[union-attr]


def test_autumn_change_versions_are_ordered_by_instant() -> None:
    summer = datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=BERLIN)  # 00:30 UTC
    winter = datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=BERLIN)  # 01:15 UTC: 45 min later
    # The later instant has the earlier wall clock: it is accepted ...
    timeline = pm.MaskTimeline([(summer, A)])
    timeline.add(winter, B)
    assert timeline.at(datetime(2026, 10, 25, 2, 45, fold=0, tzinfo=BERLIN)) == A  # 00:45 UTC
    assert timeline.at(datetime(2026, 10, 25, 2, 20, fold=1, tzinfo=BERLIN)) == B  # 01:20 UTC
    # ... the file it writes loads back, the same history ...
    again = pm.MaskTimeline.from_json(timeline.to_json())
    assert again == timeline
    # (Python calls a time in a fold unequal to any time of another zone: compare instants.)
    assert [v.since.isoformat() for v in again] == [summer.isoformat(), winter.isoformat()]
    assert [v.since.astimezone(UTC) for v in again] == [
        summer.astimezone(UTC),
        winter.astimezone(UTC),
    ]
    # ... and the earlier instant with the later wall clock is refused as out of order.
    backwards = pm.MaskTimeline([(winter, A)])
    with pytest.raises(pm.MaskConfigError, match=r"^timeline\[1\]\.since: .*append-only"):
        backwards.add(summer, B)
    assert len(backwards) == 1
    # Frames of a recording started before the change land on the right version.
    start = datetime(2026, 10, 25, 2, 0, fold=0, tzinfo=BERLIN)  # 00:00 UTC
    schedule = MaskSchedule(timeline, start)
    assert schedule.index(Fraction(74 * 60)) == 0  # 01:14 UTC
    assert schedule.index(Fraction(75 * 60)) == 1  # 01:15 UTC, exactly on the boundary


def test_concurrent_adds_keep_the_history_ordered_and_loadable() -> None:
    """Four threads append interleaved instants; each add is either in order or refused."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        for _trial in range(20):
            timeline = pm.MaskTimeline()
            start = threading.Barrier(4)
            failures: list[BaseException] = []

            def writer(
                k: int,
                timeline: pm.MaskTimeline,
                start: threading.Barrier,
                failures: list[BaseException],
            ) -> None:
                start.wait()
                for i in range(150):
                    try:
                        timeline.add(t0 + timedelta(seconds=4 * i + k), A if k % 2 else B)
                    except pm.MaskConfigError:
                        pass  # out of order: refused, which is right
                    except BaseException as e:  # pragma: no cover - reported below
                        failures.append(e)

            threads = [
                threading.Thread(target=writer, args=(k, timeline, start, failures))
                for k in range(4)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert failures == []
            sinces = [v.since for v in timeline]
            assert sinces == sorted(sinces)
            assert len(set(sinces)) == len(sinces)
            # Every lookup finds the version whose since is the newest at or before it.
            for i, v in enumerate(timeline):
                assert timeline.index_at(v.since) == i
            assert pm.MaskTimeline.from_json(timeline.to_json()) == timeline
    finally:
        sys.setswitchinterval(switch)
