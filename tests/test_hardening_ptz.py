"""Hardening, PTZ between position reports: after the last report, while the
pose is still used (within ``max_age``), the camera may have gone on moving, so scene-locked masks
must grow by its speed times the time since the report, or the frame fails closed."""

from __future__ import annotations

import numpy as np
import pytest

import privmask as pm
from privmask.masks.ptz import resolve

W, H = 320, 180
HFOV = 60.0
SPEED = 50.0  # degrees per second, a fast but ordinary pan
WINDOW = pm.MaskSet([pm.Mask(pm.ScenePolygon([(62, -5), (70, -5), (70, 5), (62, 5)]), name="w")])


def true_pose(t: float) -> pm.PTZPose:
    return pm.PTZPose(SPEED * t, 0.0, HFOV)


def cover(masks: pm.MaskSet, pose: pm.PTZPose) -> np.ndarray:
    return pm.coverage(resolve(masks, pose, W, H), W, H)


def test_a_camera_panning_at_50_deg_per_s_never_shows_the_window_between_reports() -> None:
    # Reports every 0.2 s up to t = 1.0 s; frames at 30 fps go on for max_age = 0.5 s after it.
    reports = [(i / 5, true_pose(i / 5)) for i in range(6)]
    track = pm.PoseTrack(reports, max_age=0.5)
    checked = 0
    for k in range(1, 16):
        t = 1.0 + k / 30
        pose = track.at(t)
        assert pose is not None, f"t={t}: still within max_age"
        window = cover(WINDOW, true_pose(t))  # where the window really is on this frame
        assert window.any(), "the window is in view (else the test shows nothing)"
        shown = cover(WINDOW, pose)  # what privmask masks from the last report
        leaked = int((window & ~shown).sum())
        assert leaked == 0, f"t={t:.3f} s: {leaked} window pixels visible"
        checked += 1
    assert checked == 15
    # Past max_age the pose is unknown: the frame fails closed (apply masks it whole).
    assert track.at(1.0 + 0.5 + 1 / 30) is None


def test_the_growth_is_speed_times_the_time_since_the_report() -> None:
    track = pm.PoseTrack([(0.0, true_pose(0.0)), (0.2, true_pose(0.2))], latency=0.05)
    at_report = track.at(0.2)
    later = track.at(0.45)
    assert at_report is not None and later is not None
    assert at_report.speed == later.speed == pytest.approx(SPEED)
    assert at_report.latency == 0.05
    assert later.latency == pytest.approx(0.05 + 0.25)  # the report's lag plus its age
    # Between reports the interpolated pose is current: no age is added.
    between = track.at(0.1)
    assert between is not None and between.latency == 0.05
