"""Scene-locked masks on PTZ cameras: the normative projection checked against an
independent formulation, the inverse, margins, zoom, pose tracks, failing closed, and a synthetic
pan over a textured scene."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import privmask as pm
import privmask.video
from privmask.masks.ptz import project_points, unproject_points
from tests.test_video import decode, expected, make_clip, planes

W, H = 1920, 1080


def rotate_into_camera(pan: float, tilt: float, p: float, t: float) -> tuple[float, float, float]:
    """Independent of privmask: yaw the world by -pan about y, then pitch it by -tilt about x."""
    P, T, pr, tr = (math.radians(v) for v in (pan, tilt, p, t))
    x, y, z = math.cos(tr) * math.sin(pr), math.sin(tr), math.cos(tr) * math.cos(pr)
    x1, z1 = x * math.cos(P) - z * math.sin(P), x * math.sin(P) + z * math.cos(P)
    y2, z2 = y * math.cos(T) - z1 * math.sin(T), y * math.sin(T) + z1 * math.cos(T)
    return x1, y2, z2


def expected_xy(
    pose: tuple[float, float, float], d: tuple[float, float], w: int = W, h: int = H
) -> tuple[float, float]:
    X, Y, Z = rotate_into_camera(pose[0], pose[1], *d)
    f = 0.5 / math.tan(math.radians(pose[2]) / 2)  # focal length in image widths
    return 0.5 + f * X / Z, 0.5 - f * (Y / Z) * w / h


def test_the_issues_check_values() -> None:
    pose = pm.PTZPose(0, 0, 60)
    (x1, y1), (x2, y2) = project_points([(15, 0), (0, 10)], pose, W, H)
    assert (round(x1, 6), round(y1, 6)) == (0.732051, 0.5)
    assert (round(x2, 6), round(y2, 6)) == (0.5, 0.228527)


@pytest.mark.parametrize(
    ("pose", "direction"),
    [
        ((30, 20, 45), (40, 25)),
        ((-75, -10, 30), (-70, -5)),
        ((179, 5, 50), (-175, 0)),  # across pan +-180
        ((-170, 60, 70), (170, 75)),
        ((10, 0, 1.5), (10.4, 0.2)),  # high zoom
        ((0, 89, 60), (90, 80)),  # looking almost straight up
    ],
)
def test_projection_matches_an_independent_formulation(
    pose: tuple[float, float, float], direction: tuple[float, float]
) -> None:
    got = project_points([direction], pm.PTZPose(*pose), W, H)[0]
    assert got == pytest.approx(expected_xy(pose, direction), abs=1e-12)


poses = st.builds(
    pm.PTZPose,
    st.floats(-360, 360),
    st.floats(-89, 89),
    st.floats(0.5, 120),
)
image_points = st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5))


@given(poses, st.lists(image_points, min_size=1, max_size=6), st.sampled_from([(W, H), (640, 480)]))
def test_unproject_then_project_is_exact(
    pose: pm.PTZPose, pts: list[tuple[float, float]], size: tuple[int, int]
) -> None:
    back = project_points(unproject_points(pts, pose, *size), pose, *size)
    for (x, y), (bx, by) in zip(pts, back, strict=True):
        assert abs(x - bx) < 1e-9 and abs(y - by) < 1e-9


def test_from_image_keeps_a_drawn_polygon_in_place_and_follows_the_scene() -> None:
    drawn = pm.Polygon([(0.4, 0.4), (0.6, 0.45), (0.55, 0.7), (0.42, 0.6)])
    at = pm.PTZPose(20, 10, 50)
    scene = pm.ScenePolygon.from_image(drawn, at, W, H)
    same = scene.project(at, W, H)
    assert same is not None
    np.testing.assert_allclose(
        pm.coverage(pm.MaskSet([pm.Mask(same)]), 192, 108),
        pm.coverage(pm.MaskSet([pm.Mask(drawn)]), 192, 108),
    )
    # panning right by 5 degrees moves the mask left, by the independent formula
    moved = pm.PTZPose(25, 10, 50)
    for d in scene.points:
        x, y = project_points([d], moved, W, H)[0]
        assert (x, y) == pytest.approx(expected_xy((25, 10, 50), d), abs=1e-12)
    assert min(p[0] for p in scene.project(moved, W, H).points) < 0.4  # type: ignore[union-attr]


def test_a_mask_across_pan_180_projects_as_one_piece() -> None:
    scene = pm.ScenePolygon([(175, -5), (-175, -5), (-175, 5), (175, 5)])
    assert scene.points[1] == (-175.0, -5.0)
    poly = scene.project(pm.PTZPose(180, 0, 40), W, H)
    assert poly is not None
    xs = [p[0] for p in poly.points]
    ex_left = expected_xy((180, 0, 40), (175, 0))[0]
    ex_right = expected_xy((180, 0, 40), (-175, 0))[0]
    assert min(xs) == pytest.approx(ex_left, abs=1e-9)
    assert max(xs) == pytest.approx(ex_right, abs=1e-9)
    assert ex_right - ex_left < 0.3  # the short way across 180, not round the back


def test_a_mask_partly_behind_the_camera_is_clipped_not_flipped() -> None:
    # From pan -30 (in view) round to pan 150 (behind): only the part in front may show.
    scene = pm.ScenePolygon([(-30, -10), (60, -10), (150, -10), (150, 10), (60, 10), (-30, 10)])
    pose = pm.PTZPose(0, 0, 90)
    cov = pm.coverage(pm.MaskSet([pm.Mask(scene.project(pose, 400, 300))]), 400, 300)  # type: ignore[arg-type]
    x_edge = expected_xy((0, 0, 90), (-30, 0), 400, 300)[0]
    cols = np.flatnonzero(cov[150])
    assert cols.min() == math.floor(x_edge * 400)
    assert cols.max() == 399  # runs off the right edge
    assert not cov[:, : math.floor(x_edge * 400) - 1].any()  # nothing flipped onto the left
    # wholly behind: nothing at all
    behind = pm.ScenePolygon([(170, -5), (-170, -5), (-170, 5), (170, 5)])
    assert behind.project(pose, 400, 300) is None


def test_high_zoom_magnifies() -> None:
    scene = pm.ScenePolygon([(10, 0), (10.1, 0), (10.1, 0.1), (10, 0.1)])
    poly = scene.project(pm.PTZPose(10.05, 0.05, 1.0), W, H)
    assert poly is not None
    xs = [p[0] for p in poly.points]
    assert max(xs) - min(xs) == pytest.approx(0.1, rel=1e-3)  # a tenth of a 1-degree view


def test_margin_contains_every_direction_within_it() -> None:
    m = 1.5
    pose = pm.PTZPose(5, 5, 60)
    scene = pm.ScenePolygon([(10, 0), (25, 2), (20, 15), (12, 12)], margin_deg=m)
    w, h = 480, 270
    cov = pm.coverage(pm.MaskSet([pm.Mask(scene.project(pose, w, h))]), w, h)  # type: ignore[arg-type]
    # directions at just under the margin from the vertices and edge midpoints, every way round
    pts = list(scene.points)
    probes = pts + [
        ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in zip(pts, pts[1:] + pts[:1], strict=True)
    ]
    for p, t in probes:
        for k in range(24):
            a = 2 * math.pi * k / 24
            d = (p + 0.99 * m * math.cos(a) / math.cos(math.radians(t)), t + 0.99 * m * math.sin(a))
            x, y = project_points([d], pose, w, h)[0]
            if 0 <= x < 1 and 0 <= y < 1:
                assert cov[int(y * h), int(x * w)], (d, x, y)
    # and the margin is not wildly more than asked for
    plain = pm.coverage(
        pm.MaskSet([pm.Mask(pm.ScenePolygon(scene.points).project(pose, w, h))]),  # type: ignore[arg-type]
        w,
        h,
    )
    assert plain.sum() < cov.sum() < 2.0 * plain.sum()


def test_zoom_map_interpolates_focal_length() -> None:
    zm = pm.ZoomMap([(0.0, 60.0), (1.0, 6.0)])
    f0, f1 = 1 / math.tan(math.radians(30)), 1 / math.tan(math.radians(3))
    assert zm.hfov(0.5) == pytest.approx(math.degrees(2 * math.atan(2 / (f0 + f1))), abs=1e-12)
    assert zm.hfov(0.0) == pytest.approx(60.0) and zm.hfov(1.0) == pytest.approx(6.0)
    pose = zm.pose(10, 5, 0.25)
    assert pose.zoom == 0.25 and pose.hfov == pytest.approx(zm.hfov(0.25))
    with pytest.raises(pm.InvalidGeometryError, match="outside the calibrated range"):
        zm.hfov(1.5)
    with pytest.raises(pm.InvalidGeometryError, match="larger than the one before"):
        pm.ZoomMap([(0.0, 60.0), (0.0, 30.0)])


def test_zoom_threshold_shows_a_mask_only_when_zoomed_in() -> None:
    scene = pm.ScenePolygon([(-5, -5), (5, -5), (5, 5), (-5, 5)], min_zoom=0.5)
    zm = pm.ZoomMap([(0.0, 60.0), (1.0, 20.0)])
    assert scene.project(zm.pose(0, 0, 0.2), 320, 180) is None
    assert scene.project(zm.pose(0, 0, 0.5), 320, 180) is not None
    assert scene.project(pm.PTZPose(0, 0, 60), 320, 180) is not None  # zoom unknown: shown


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pan": math.nan, "tilt": 0, "hfov": 60}, "pan must be finite"),
        ({"pan": 0, "tilt": 91, "hfov": 60}, "tilt must be within"),
        ({"pan": 0, "tilt": 0, "hfov": 180}, "hfov must be within"),
        ({"pan": 0, "tilt": 0, "hfov": 60, "speed": -1}, "must not be negative"),
        ({"pan": "0", "tilt": 0, "hfov": 60}, "pan must be a number"),
    ],
)
def test_bad_poses(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(pm.InvalidGeometryError, match=message):
        pm.PTZPose(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(0, 0), (1, 0)], "at least 3 distinct"),
        ([(0, 0), (360, 0), (720, 0), (1, 1)], "at least 3 distinct"),
        ([(0, 0), (1, 95), (1, 1)], "vertex 1 tilt"),
        ([(0, 0), (180, 0), (1, 1)], "opposite directions"),
        ([(0, 0), (1, math.inf), (1, 1)], "vertex 1 tilt must be finite"),
        ([(0, 0), (1,), (1, 1)], "pair"),
    ],
)
def test_bad_scene_polygons(points: list[object], message: str) -> None:
    with pytest.raises(pm.InvalidGeometryError, match=message):
        pm.ScenePolygon(points)  # type: ignore[arg-type]


def test_pose_track_interpolates_wraps_and_goes_stale() -> None:
    track = pm.PoseTrack(
        [(0.0, pm.PTZPose(170, 0, 40)), (1.0, pm.PTZPose(-170, 10, 40))],
        max_age=0.6,
        latency=0.1,
    )
    mid = track.at(0.5)
    assert mid is not None
    assert mid.pan == pytest.approx(180.0) and mid.tilt == pytest.approx(5.0)
    assert mid.latency == 0.1
    arc = math.degrees(math.acos(math.cos(math.radians(10)) * math.cos(math.radians(20))))
    assert mid.speed == pytest.approx(arc, rel=1e-9)  # 20 degrees of pan at tilt 0..10
    assert track.at(0.2) is not None
    assert track.at(-0.01) is None  # before the first report
    assert track.at(1.55) is not None and track.at(1.61) is None  # stale
    gappy = pm.PoseTrack(list(zip(track.times, track.poses, strict=True)), max_age=0.3)
    assert gappy.at(0.5) is None  # no report within 0.3 s: the camera could be anywhere
    with pytest.raises(pm.InvalidGeometryError, match="later than the one before"):
        pm.PoseTrack([(1.0, mid), (1.0, mid)])


def test_scene_masks_in_json_with_field_paths() -> None:
    sp = pm.ScenePolygon([(170, 0), (-170, 0), (-170, 10)], margin_deg=0.5, min_zoom=0.3)
    ms = pm.MaskSet([pm.Mask(sp, pm.Blur(), name="neighbour")])
    doc = json.loads(ms.to_json())
    assert doc["masks"][0]["scene"] == [[170.0, 0.0], [-170.0, 0.0], [-170.0, 10.0]]
    assert doc["masks"][0]["margin_deg"] == 0.5 and "polygon" not in doc["masks"][0]
    assert pm.MaskSet.from_json(ms.to_json()) == ms
    base = {"privmask": 1, "masks": [{"scene": [[0, 0], [5, 0], [5, 5]]}]}

    def load(**change: object) -> pm.MaskSet:
        doc = json.loads(json.dumps(base))
        doc["masks"][0].update(change)
        return pm.MaskSet.from_json(json.dumps(doc))

    assert isinstance(load()[0].shape, pm.ScenePolygon)
    with pytest.raises(pm.MaskConfigError, match=r"masks\[0\]: .*exactly one of 'polygon'"):
        load(polygon=[[0, 0], [1, 0], [1, 1]])
    with pytest.raises(
        pm.MaskConfigError, match=r"masks\[0\].scene\[1\]\[1\]: .*less than or equal"
    ):
        load(scene=[[0, 0], [5, 95], [5, 5]])
    with pytest.raises(pm.MaskConfigError, match=r"masks\[0\].margin_deg"):
        load(margin_deg=-1)
    with pytest.raises(pm.InvalidGeometryError, match=r"masks\[0\].scene: .*opposite"):
        load(scene=[[0, 0], [180, 0], [5, 5]])
    img = {"privmask": 1, "masks": [{"polygon": [[0, 0], [1, 0], [1, 1]], "min_zoom": 1}]}
    with pytest.raises(pm.MaskConfigError, match="scene-locked masks only"):
        pm.MaskSet.from_json(json.dumps(img))
    with pytest.raises(pm.MaskConfigError, match=r"masks\[0\]: a scene-locked mask needs"):
        ms.compile(64, 36)


# --- applying, failing closed, and a synthetic pan -----------------------------------------

SW, SH, HFOV = 320, 180, 40.0
PATCH = (8.0, 12.0, 2.0, 6.0)  # pan from, pan to, tilt from, tilt to: the neighbour's window


def render(pose: pm.PTZPose) -> npt.NDArray[np.uint8]:
    """A textured scene seen through the camera model: every pixel centre unprojected to its
    direction, independently of privmask; the window patch is the only place with value 255."""
    k = 2 * math.tan(math.radians(pose.hfov) / 2)
    xs = (np.arange(SW) + 0.5) / SW
    ys = (np.arange(SH) + 0.5) / SH
    fx, fy = np.meshgrid((xs - 0.5) * k, (0.5 - ys) * k * SH / SW)
    P, T = math.radians(pose.pan), math.radians(pose.tilt)
    r = np.array([math.cos(P), 0, -math.sin(P)])
    u = np.array([-math.sin(T) * math.sin(P), math.cos(T), -math.sin(T) * math.cos(P)])
    c = np.array([math.cos(T) * math.sin(P), math.sin(T), math.cos(T) * math.cos(P)])
    d = fx[..., None] * r + fy[..., None] * u + c
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    pan = np.degrees(np.arctan2(d[..., 0], d[..., 2]))
    tilt = np.degrees(np.arcsin(d[..., 1]))
    img = np.where((np.floor(pan) + np.floor(tilt)) % 2 == 0, 60, 160).astype(np.uint8)
    window = (pan >= PATCH[0]) & (pan <= PATCH[1]) & (tilt >= PATCH[2]) & (tilt <= PATCH[3])
    img[window] = 255
    return img


def window_mask(margin: float = 0.25) -> pm.MaskSet:
    p0, p1, t0, t1 = PATCH
    scene = pm.ScenePolygon([(p0, t0), (p1, t0), (p1, t1), (p0, t1)], margin_deg=margin)
    return pm.MaskSet([pm.Mask(scene, name="window")])


def test_a_scene_locked_mask_stays_on_the_window_while_the_camera_pans() -> None:
    masks = window_mask()
    first = pm.PTZPose(0.0, 3.0, HFOV)
    drawn = masks.for_pose(first, SW, SH)[0].shape
    image_locked = pm.MaskSet([pm.Mask(drawn)])
    leaked = 0
    for i in range(13):
        pose = pm.PTZPose(-2.0 + 2.0 * i, 3.0 + 0.25 * i, HFOV)
        frame = render(pose)
        assert (frame == 255).any()  # the window is in view
        scene_frame = frame.copy()
        pm.apply(pm.Frame("gray", [scene_frame]), masks, pose=pose)
        assert not (scene_frame == 255).any(), f"window uncovered at pan {pose.pan}"
        # it covers the window and its margin, not the rest of the scene
        cov = pm.coverage(masks.for_pose(pose, SW, SH), SW, SH)
        assert cov.sum() < 2.0 * (frame == 255).sum()
        img_frame = frame.copy()
        pm.apply(pm.Frame("gray", [img_frame]), image_locked)
        leaked += int((img_frame == 255).any())
    assert leaked >= 10  # the image-locked mask drifts off the window


def test_latency_margin_keeps_a_fast_pan_covered() -> None:
    masks = window_mask(margin=0.0)
    fps, speed, lag = 25.0, 40.0, 0.1  # 40 deg/s, reports 100 ms late

    def true_pose(t: float) -> pm.PTZPose:
        return pm.PTZPose(-5.0 + speed * t, 4.0, HFOV)

    reports = [(i / fps + lag, true_pose(i / fps)) for i in range(20)]
    with_latency = pm.PoseTrack(reports, latency=lag)
    without = pm.PoseTrack(reports)
    uncovered_without = 0
    for i in range(4, 18):
        t = i / fps
        frame = render(true_pose(t))
        safe = frame.copy()
        pm.apply(pm.Frame("gray", [safe]), masks, pose=with_latency.at(t))
        assert not (safe == 255).any(), f"window uncovered at t={t}"
        naive = frame.copy()
        pm.apply(pm.Frame("gray", [naive]), masks, pose=without.at(t))
        uncovered_without += int((naive == 255).any())
    assert uncovered_without > 0  # the margin is what keeps it covered


def test_a_dropped_pose_masks_the_whole_frame() -> None:
    masks = window_mask()
    pose = pm.PTZPose(0.0, 3.0, HFOV)
    track = pm.PoseTrack([(0.0, pose)], max_age=0.2)
    ok = render(pose)
    result = pm.apply_report(pm.Frame("gray", [ok]), masks, pose=track.at(0.1))
    assert result == pm.ApplyResult(False, "")
    assert (ok > 0).mean() > 0.9
    for p in (None, track.at(0.5)):  # missing, then stale
        frame = render(pose)
        result = pm.apply_report(pm.Frame("gray", [frame]), masks, pose=p)
        assert result.failed_closed and "no current pose" in result.reason
        assert (frame == frame.flat[0]).all() and frame.flat[0] < 60  # solid black everywhere
    # plain apply fails closed the same way, even with liftable masks lifted
    frame = render(pose)
    pm.apply(pm.Frame("gray", [frame]), masks, lifted=True)
    assert (frame == frame.flat[0]).all()
    # a set with no scene-locked masks needs no pose
    plain = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5))])
    assert not pm.apply_report(pm.Frame("gray", [render(pose)]), plain).failed_closed


@settings(max_examples=30)
@given(poses, st.floats(0.0, 3.0))
def test_projected_masks_always_compile(pose: pm.PTZPose, margin: float) -> None:
    scene = pm.ScenePolygon([(-20, -5), (30, -5), (100, 40), (-20, 20)], margin_deg=margin)
    out = pm.MaskSet([pm.Mask(scene)]).for_pose(pose, 64, 36)
    out.compile(64, 36, "yuv420p")


def test_mask_file_places_scene_masks_per_frame_and_fails_closed_without_a_pose(
    tmp_path: Path,
) -> None:
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mkv"
    make_clip(src, frames=12, size=(64, 48))  # 25 fps, pts from 0
    scene = pm.ScenePolygon([(-4, -4), (4, -4), (4, 4), (-4, 4)])
    masks = pm.MaskSet([pm.Mask(scene)])
    # the camera pans right at 25 deg/s; reports stop after 0.2 s and go stale at 0.25 s
    track = pm.PoseTrack([(i / 25, pm.PTZPose(i * 1.0, 0, 40)) for i in range(6)], max_age=0.05)
    report = pm.video.mask_file(src, dst, masks, codec="ffv1", poses=track, progress=False)
    assert report.failed_closed == (7, 8, 9, 10, 11)
    assert "5 frames masked whole (no current PTZ pose)" in report.summary()
    want = expected(decode(src), masks.for_pose(track.at(0.0), 64, 48))  # type: ignore[arg-type]
    got = decode(dst)
    np.testing.assert_array_equal(planes(got[0])[0], want[0].planes[0])
    for i in range(6):  # the mask moves left as the camera pans right
        pose = track.at(i / 25)
        assert pose is not None
        one = expected([decode(src)[i]], masks.for_pose(pose, 64, 48))[0]
        np.testing.assert_array_equal(planes(got[i])[0], one.planes[0], err_msg=f"frame {i}")
    for i in report.failed_closed:
        assert (planes(got[i])[0] == 16).all()  # solid black, limited range
    with pytest.raises(TypeError, match="poses must be a PoseTrack"):
        pm.video.mask_file(src, dst, masks, poses=[(0.0, pose)])  # type: ignore[arg-type]
    # no track at all: every frame fails closed
    assert pm.video.mask_file(src, dst, masks, codec="ffv1", progress=False).failed_closed == tuple(
        range(12)
    )


def test_cli_validate_names_scene_locked_masks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from privmask.cli.main import main

    sp = pm.ScenePolygon([(0, 0), (5, 0), (5, 5)], margin_deg=0.5)
    path = tmp_path / "ptz.json"
    path.write_text(pm.MaskSet([pm.Mask(sp, name="window")]).to_json())
    assert main(["validate", str(path)]) == 0
    assert "3-point scene-locked polygon  'window'" in capsys.readouterr().out


# --- pose-track files, the CLI and batch jobs ---------------------------------------------------


def test_pose_track_json_round_trip_zoom_map_and_pickle() -> None:
    import pickle

    track = pm.PoseTrack(
        [(0.0, pm.PTZPose(170.25, -5, 40, 0.2)), (0.4, pm.PTZPose(-175, -4.5, 31.5))],
        max_age=0.3,
        latency=0.1,
    )
    again = pm.PoseTrack.from_json(track.to_json())
    assert again == track
    assert pickle.loads(pickle.dumps(again)) == again
    zooms = pm.ZoomMap([(0.0, 60.0), (1.0, 6.0)])
    doc = {
        "privmask": 1,
        "zoom_map": [[0.0, 60.0], [1.0, 6.0]],
        "poses": [
            {"t": 0.0, "pan": 10, "tilt": 2, "zoom": 0.5},
            {"t": 0.1, "pan": 11, "tilt": 2, "hfov": 30, "zoom": 0.9},
        ],
    }
    read = pm.PoseTrack.from_json(json.dumps(doc))
    assert read.poses[0] == zooms.pose(10, 2, 0.5)  # hfov from the zoom map
    assert read.poses[1].hfov == 30  # an explicit hfov wins
    assert (read.max_age, read.latency) == (0.5, 0.0)  # the defaults


@pytest.mark.parametrize(
    ("doc", "error", "message"),
    [
        ("{", pm.MaskConfigError, "not valid JSON"),
        ('{"privmask": 1, "poses": []}', pm.MaskConfigError, "^poses: "),
        ('{"privmask": 2, "poses": []}', pm.MaskConfigError, "schema version 2"),
        (
            '{"privmask": 1, "poses": [{"t": 0, "pan": 1, "tilt": 2, "zoom": 0.5}]}',
            pm.MaskConfigError,
            r"^poses\[0\]\.hfov: .*zoom_map",
        ),
        (
            '{"privmask": 1, "poses": [{"t": 0, "pan": 1, "tilt": 2}]}',
            pm.MaskConfigError,
            r"^poses\[0\]: .*'hfov'",
        ),
        (
            '{"privmask": 1, "poses": [{"t": 1, "pan": 0, "tilt": 0, "hfov": 30},'
            ' {"t": 1, "pan": 0, "tilt": 0, "hfov": 30}]}',
            pm.MaskConfigError,
            r"^poses\[1\]\.t: 1\.0 is not later",
        ),
        (
            '{"privmask": 1, "poses": [{"t": 0, "pan": 0, "tilt": 91, "hfov": 30}]}',
            pm.MaskConfigError,
            r"^poses\[0\]\.tilt",
        ),
        (
            '{"privmask": 1, "poses": [{"t": NaN, "pan": 0, "tilt": 0, "hfov": 30}]}',
            pm.MaskConfigError,
            r"^poses\[0\]\.t: .*finite",
        ),
        (
            '{"privmask": 1, "max_age": -1, "poses": [{"t": 0, "pan": 0, "tilt": 0, "hfov": 30}]}',
            pm.MaskConfigError,
            "^max_age",
        ),
        (
            '{"privmask": 1, "zoom_map": [[0, 60], [1, 6]],'
            ' "poses": [{"t": 0, "pan": 0, "tilt": 0, "zoom": 3}]}',
            pm.InvalidGeometryError,
            "outside the calibrated range",
        ),
        (
            '{"privmask": 1, "extra": 1, "poses": [{"t": 0, "pan": 0, "tilt": 0, "hfov": 30}]}',
            pm.MaskConfigError,
            "^extra",
        ),
    ],
)
def test_bad_pose_files_name_the_field(doc: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        pm.PoseTrack.from_json(doc)


def test_published_pose_track_schema_is_current() -> None:
    from privmask.masks.schema import pose_track_json_schema

    root = Path(__file__).resolve().parent.parent
    published = json.loads((root / "schema" / "poses.schema.json").read_text())
    assert published == pose_track_json_schema(), "run `make schema` to regenerate schema/"


def _ptz_job(tmp_path: Path) -> tuple[Path, pm.MaskSet, pm.PoseTrack]:
    src = tmp_path / "in.mp4"
    make_clip(src, frames=10, size=(64, 48))  # 25 fps, pts from 0
    masks = pm.MaskSet([pm.Mask(pm.ScenePolygon([(-4, -4), (4, -4), (4, 4), (-4, 4)]))])
    track = pm.PoseTrack([(i / 25, pm.PTZPose(i * 1.5, 0, 40)) for i in range(6)], max_age=0.05)
    return src, masks, track


def test_cli_mask_places_scene_masks_from_a_pose_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from privmask.cli.main import main

    src, masks, track = _ptz_job(tmp_path)
    (tmp_path / "masks.json").write_text(masks.to_json())
    (tmp_path / "poses.json").write_text(track.to_json())
    want = tmp_path / "api.mkv"
    report = pm.video.mask_file(src, want, masks, codec="ffv1", poses=track, progress=False)
    assert report.failed_closed == (7, 8, 9)  # reports stop after 0.2 s, stale from 0.25 s
    got = tmp_path / "cli.mkv"
    argv = ["mask", str(src), str(got), "--masks", str(tmp_path / "masks.json")]
    # Frames 7-9 are masked whole: done, with exit status 3 saying so.
    assert main([*argv, "--poses", str(tmp_path / "poses.json"), "--codec", "ffv1", "-q"]) == 3
    for a, b in zip(decode(want), decode(got), strict=True):
        for pa, pb in zip(planes(a), planes(b), strict=True):
            np.testing.assert_array_equal(pa, pb)
    # Not every frame masked whole: the poses placed the mask.
    assert not (planes(decode(got)[0])[0] == 16).all()
    # One pose file is one recording's: not with several inputs.
    with pytest.raises(SystemExit) as exit_info:
        main([*argv[:2], str(src), "--out-dir", str(tmp_path), *argv[3:], "--poses", "x.json"])
    assert exit_info.value.code == 2
    # A bad pose file: one line naming the file and the field, status 1, nothing written.
    (tmp_path / "bad.json").write_text('{"privmask": 1, "poses": [{"t": 0, "pan": 0, "tilt": 0}]}')
    out = tmp_path / "never.mkv"
    assert main(["mask", str(src), str(out), *argv[3:], "--poses", str(tmp_path / "bad.json")]) == 1
    err = capsys.readouterr().err
    assert "poses[0]" in err and "bad.json" in err and not out.exists()


def test_cli_validate_reads_pose_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from privmask.cli.main import main

    _, _, track = _ptz_job(tmp_path)
    path = tmp_path / "poses.json"
    path.write_text(track.to_json())
    assert main(["validate", str(path)]) == 0
    assert "valid pose track (schema version 1), 6 poses from 0.0 s to 0.2 s" in (
        capsys.readouterr().out
    )
    path.write_text('{"privmask": 1, "poses": [{"t": 0, "pan": 0, "tilt": 99, "hfov": 30}]}')
    assert main(["validate", str(path)]) == 1
    assert "poses[0].tilt" in capsys.readouterr().err


def test_mask_jobs_carry_their_pose_track(tmp_path: Path) -> None:
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    src, masks, track = _ptz_job(tmp_path)
    job = pm.video.MaskJob(src, tmp_path / "job.mkv", masks, codec="ffv1", poses=track)
    assert pickle.loads(pickle.dumps(job)) == job  # travels to a worker process as it is
    with ThreadPoolExecutor(1) as pool:
        (report,) = pm.video.mask_files([job], executor=pool, progress=False)
    assert report.failed_closed == (7, 8, 9)
    direct = pm.video.mask_file(
        src, tmp_path / "direct.mkv", masks, codec="ffv1", poses=track, progress=False
    )
    assert direct.failed_closed == report.failed_closed
    for a, b in zip(decode(tmp_path / "direct.mkv"), decode(tmp_path / "job.mkv"), strict=True):
        np.testing.assert_array_equal(planes(a)[0], planes(b)[0])


def test_raw_pipes_place_scene_masks_from_poses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    from privmask.cli.main import main

    w, h, n = 64, 48, 8
    rng = np.random.default_rng(3)
    shapes = pm.engine.frame.plane_shapes("yuv420p", w, h)
    frames = [[rng.integers(16, 236, s, dtype=np.uint8) for s in shapes] for _ in range(n)]
    raw = b"".join(p.tobytes() for f in frames for p in f)
    masks = pm.MaskSet([pm.Mask(pm.ScenePolygon([(-4, -4), (4, -4), (4, 4), (-4, 4)]))])
    # 10 fps; reports every 0.1 s up to 0.5 s, current for 0.05 s: frames 6 and 7 fail closed
    track = pm.PoseTrack([(i / 10, pm.PTZPose(i * 2.0, 0, 40)) for i in range(6)], max_age=0.05)
    out = io.BytesIO()
    closed: list[int] = []
    src = io.BytesIO(raw)
    count = pm.video.mask_raw(
        src, out, masks, width=w, height=h, fps=Fraction(10), poses=track, failed_closed=closed
    )
    assert (count, closed) == (n, [6, 7])
    size = sum(a * b for a, b in shapes)
    for i in range(n):
        want = pm.Frame("yuv420p", [p.copy() for p in frames[i]])
        pose = track.at(Fraction(i, 10))
        whole = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 1, 1))])  # failing closed: all black
        pm.apply(want, masks.for_pose(pose, w, h) if pose else whole)
        got = np.frombuffer(out.getvalue()[i * size : (i + 1) * size], np.uint8)
        np.testing.assert_array_equal(got, np.concatenate([p.ravel() for p in want.planes]))
    with pytest.raises(ValueError, match="frame rate"):
        pm.video.mask_raw(io.BytesIO(raw), io.BytesIO(), masks, width=w, height=h, poses=track)
    # The command: the same bytes, and a line saying how many frames failed closed.
    (tmp_path / "m.json").write_text(masks.to_json())
    (tmp_path / "p.json").write_text(track.to_json())
    stdout = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(stdout))
    argv = ["pipe", "--size", f"{w}x{h}", "--masks", str(tmp_path / "m.json"), "--fps", "10"]
    assert main([*argv, "--poses", str(tmp_path / "p.json")]) == 3  # some failed closed
    assert stdout.getvalue() == out.getvalue()
    assert "2 frames masked whole (no current PTZ pose)" in capsys.readouterr().err
