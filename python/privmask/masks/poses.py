"""Where a PTZ camera looked, frame by frame: its zoom calibration (:class:`ZoomMap`) and its
position reports by time (:class:`PoseTrack`, also read from a pose-track file).

:mod:`privmask.masks.ptz` projects scene-locked masks through one :class:`PTZPose`; this module
says which pose a frame was seen from. Between two reports the pose is interpolated; after the
last one it is held, and the masks grow by the camera's last speed times the time since (a fast
pan must not uncover a masked window between reports); beyond ``max_age`` the pose is unknown and
frames fail closed.
"""

from __future__ import annotations

import bisect
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from privmask.errors import InvalidGeometryError, MaskConfigError
from privmask.masks.geometry import coordinate
from privmask.masks.ptz import PTZPose, direction, wrap_pan

__all__ = ["PoseTrack", "ZoomMap"]


def _focal(hfov_deg: float) -> float:
    return 1.0 / math.tan(math.radians(hfov_deg) / 2.0)


def _hfov(focal: float) -> float:
    return math.degrees(2.0 * math.atan(1.0 / focal))


@dataclass(frozen=True, slots=True)
class ZoomMap:
    """A camera's zoom value -> horizontal field of view, from calibration points
    ``[(zoom, hfov_deg), ...]`` (at least two, zoom strictly increasing).

    Between points the focal length (``1 / tan(hfov / 2)``) is interpolated linearly, because
    optical zoom moves the focal length, not the angle; ONVIF's normalised zoom 0..1 is the usual
    input. Zoom values outside the calibrated range raise :class:`InvalidGeometryError`:
    extrapolating a lens is a guess, and a wrong field of view puts masks in the wrong place.
    """

    points: tuple[tuple[float, float], ...]

    def __init__(self, points: Iterable[tuple[float, float]]) -> None:
        pts: list[tuple[float, float]] = []
        for i, p in enumerate(points):
            try:
                z, h = p
            except (TypeError, ValueError) as e:
                raise InvalidGeometryError(f"point {i} must be (zoom, hfov), got {p!r}") from e
            zf, hf = coordinate(z, f"point {i} zoom"), coordinate(h, f"point {i} hfov")
            if not 0.0 < hf < 180.0:
                raise InvalidGeometryError(f"point {i} hfov must be within (0, 180), got {hf}")
            if pts and zf <= pts[-1][0]:
                raise InvalidGeometryError(f"point {i} zoom must be larger than the one before")
            pts.append((zf, hf))
        if len(pts) < 2:
            raise InvalidGeometryError("a zoom map needs at least two (zoom, hfov) points")
        object.__setattr__(self, "points", tuple(pts))

    def hfov(self, zoom: float) -> float:
        """The horizontal field of view (degrees) at ``zoom``."""
        z = coordinate(zoom, "zoom")
        zs = [p[0] for p in self.points]
        if not zs[0] <= z <= zs[-1]:
            raise InvalidGeometryError(
                f"zoom {z} is outside the calibrated range [{zs[0]}, {zs[-1]}]"
            )
        i = min(max(bisect.bisect_right(zs, z) - 1, 0), len(zs) - 2)
        (z0, h0), (z1, h1) = self.points[i], self.points[i + 1]
        f = (z - z0) / (z1 - z0)
        return _hfov(_focal(h0) + f * (_focal(h1) - _focal(h0)))

    def pose(self, pan: float, tilt: float, zoom: float) -> PTZPose:
        """The pose of a camera reporting ``pan``, ``tilt`` (degrees) and ``zoom``."""
        return PTZPose(pan, tilt, self.hfov(zoom), zoom=float(zoom))


def _angle_between(a: PTZPose, b: PTZPose) -> float:
    da, db = direction(a.pan, a.tilt), direction(b.pan, b.tilt)
    return math.degrees(math.acos(max(-1.0, min(1.0, float(da @ db)))))


@dataclass(frozen=True, slots=True)
class PoseTrack:
    """Camera poses by time (seconds on the same clock as the frames asked for), interpolated.

    ``at(t)`` interpolates pan (the short way round), tilt, focal length and zoom between the
    samples around ``t``, and sets the pose's ``speed`` (how fast the view moved over that
    interval, including the edge of the view moving as the zoom changes) and ``latency``.
    After the last sample the pose is held and its ``latency`` grows by the time since that
    sample, so masks widen by the last speed for as long as the pose is still used.
    When the nearest sample is more than ``max_age`` seconds from ``t`` (or ``t`` is before the
    first sample) it returns None: the pose is unknown, and ``apply`` then fails closed.
    """

    times: tuple[float, ...]
    poses: tuple[PTZPose, ...]
    max_age: float
    latency: float

    def __init__(
        self,
        samples: Iterable[tuple[float, PTZPose]],
        *,
        max_age: float = 0.5,
        latency: float = 0.0,
    ) -> None:
        ts: list[float] = []
        ps: list[PTZPose] = []
        for i, item in enumerate(samples):
            try:
                t, pose = item
            except (TypeError, ValueError) as e:
                raise InvalidGeometryError(f"sample {i} must be (time, PTZPose)") from e
            tf = coordinate(t, f"sample {i} time")
            if not isinstance(pose, PTZPose):
                raise InvalidGeometryError(f"sample {i} pose must be a PTZPose, got {pose!r}")
            if ts and tf <= ts[-1]:
                raise InvalidGeometryError(f"sample {i} time must be later than the one before")
            ts.append(tf)
            ps.append(pose)
        if not ts:
            raise InvalidGeometryError("a pose track needs at least one sample")
        age, lat = coordinate(max_age, "max_age"), coordinate(latency, "latency")
        if age < 0 or lat < 0:
            raise InvalidGeometryError("max_age and latency must not be negative")
        object.__setattr__(self, "times", tuple(ts))
        object.__setattr__(self, "poses", tuple(ps))
        object.__setattr__(self, "max_age", age)
        object.__setattr__(self, "latency", lat)

    @classmethod
    def from_json(cls, text: str | bytes) -> PoseTrack:
        """A track from a pose-track file (see :mod:`privmask.masks.schema`): the camera's position
        reports by time on the video stream's clock. Raises :class:`MaskConfigError` naming the
        field for a malformed file, :class:`InvalidGeometryError` (with the field in a note) for
        a zoom the ``zoom_map`` does not cover."""
        from privmask.masks.schema import parse_pose_track

        model = parse_pose_track(text)
        zoom_map = ZoomMap(model.zoom_map) if model.zoom_map is not None else None
        samples = []
        for i, p in enumerate(model.poses):
            try:
                hfov = p.hfov
                if hfov is None:
                    if zoom_map is None or p.zoom is None:  # the parser refuses such files
                        raise MaskConfigError("needs 'hfov' or 'zoom' and a 'zoom_map'")
                    hfov = zoom_map.hfov(p.zoom)
                samples.append((p.t, PTZPose(p.pan, p.tilt, hfov, p.zoom)))
            except InvalidGeometryError as e:
                e.add_note(f"at poses[{i}]")
                raise
        return cls(samples, max_age=model.max_age, latency=model.latency)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PoseTrack:
        """:meth:`from_json` on a file (``FileNotFoundError`` when it is missing); errors get a
        note naming the file."""
        text = Path(path).read_bytes()
        try:
            return cls.from_json(text)
        except (MaskConfigError, InvalidGeometryError) as e:
            e.add_note(f"in {path}")
            raise

    def to_json(self, *, indent: int | None = 2) -> str:
        """The track as a pose-track file (each pose with its ``hfov``; ``from_json`` reads it
        back exactly)."""
        poses: list[dict[str, float]] = []
        for t, p in zip(self.times, self.poses, strict=True):
            d = {"t": t, "pan": p.pan, "tilt": p.tilt, "hfov": p.hfov}
            if p.zoom is not None:
                d["zoom"] = p.zoom
            poses.append(d)
        doc = {"privmask": 1, "max_age": self.max_age, "latency": self.latency, "poses": poses}
        return json.dumps(doc, indent=indent)

    def at(self, t: float | Fraction) -> PTZPose | None:
        """The pose at time ``t``, or None when it is unknown or stale.

        After the last report (within ``max_age``) the camera may have gone on moving: the pose
        is the last one, with its ``latency`` grown by the time since that report, so
        scene-locked masks widen by the last known ``speed`` x (``latency`` + age). A track of
        one report has no speed (it describes a camera that does not move)."""
        tf = coordinate(t, "time")
        i = bisect.bisect_right(self.times, tf) - 1
        if i < 0:
            return None
        t0, p0 = self.times[i], self.poses[i]
        if i == len(self.times) - 1:
            age = tf - t0
            if age > self.max_age:
                return None
            speed = self._speed(i - 1) if i > 0 else 0.0
            return PTZPose(p0.pan, p0.tilt, p0.hfov, p0.zoom, speed, self.latency + age)
        t1, p1 = self.times[i + 1], self.poses[i + 1]
        if min(tf - t0, t1 - tf) > self.max_age:
            return None
        f = (tf - t0) / (t1 - t0)
        dpan = wrap_pan(p1.pan - p0.pan)
        hfov = _hfov(_focal(p0.hfov) + f * (_focal(p1.hfov) - _focal(p0.hfov)))
        zoom = None
        if p0.zoom is not None and p1.zoom is not None:
            zoom = p0.zoom + f * (p1.zoom - p0.zoom)
        return PTZPose(
            p0.pan + f * dpan,
            p0.tilt + f * (p1.tilt - p0.tilt),
            hfov,
            zoom,
            self._speed(i),
            self.latency,
        )

    def _speed(self, i: int) -> float:
        a, b = self.poses[i], self.poses[i + 1]
        dt = self.times[i + 1] - self.times[i]
        return (_angle_between(a, b) + abs(b.hfov - a.hfov) / 2.0) / dt
