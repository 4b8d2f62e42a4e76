"""Scene-locked masks for PTZ cameras: directions on the viewing sphere, camera poses, and the
projection between them.

An image-locked :class:`~privmask.masks.geometry.Polygon` covers the same image area whatever the
camera
does, so on a PTZ camera it drifts off the neighbour's window as soon as the camera pans. A
:class:`ScenePolygon` stores directions (pan, tilt) instead; for each frame it is projected through
the frame's :class:`PTZPose` into an image ``Polygon`` and rasterised by the Rust core like any
other mask. The projection is pure Python: a few hundred vertices a frame cost microseconds next to
the rasteriser and the compositors.

Conventions (normative): world x right, y up, z forward at pan = tilt = 0; pan turns
right, tilt turns up. A direction (p, t) is ``(cos t sin p, sin t, cos t cos p)``. A camera at
(P, T) has right ``(cos P, 0, -sin P)``, up ``(-sin T sin P, cos T, -sin T cos P)`` and forward
``(cos T sin P, sin T, cos T cos P)``; with ``k = 2 tan(hfov / 2)`` and square pixels,
``x = 0.5 + (X/Z)/k`` and ``y = 0.5 - (Y/Z)(W/H)/k``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from privmask.errors import InvalidGeometryError
from privmask.masks.geometry import Polygon, coordinate

if TYPE_CHECKING:
    from privmask.masks.maskset import MaskSet

__all__ = [
    "ApplyResult",
    "PTZPose",
    "ScenePolygon",
    "direction",
    "fail_closed_masks",
    "has_scene_masks",
    "project_points",
    "resolve",
    "resolve_for_frame",
    "unproject_points",
    "wrap_pan",
]

Direction = tuple[float, float]
M = TypeVar("M")
_Vec = npt.NDArray[np.float64]

# Camera-space depth below which geometry is cut away before the perspective division. Small
# enough that clipped vertices land far outside any frame (x ~ 1e6), large enough to stay finite.
_NEAR = 1e-6
# Slerp step for edges: the spec's bound, so clipping against the near plane follows the arc.
_MAX_STEP_DEG = 1.0
# Margins are computed from the gnomonic scale at this angle off-axis at most, so a polygon that
# reaches behind the camera does not blow the margin up to the whole frame.
_MAX_SCALE_ANGLE_DEG = 85.0


def wrap_pan(p: float) -> float:
    """Pan in (-180, 180]: pan is periodic, and one spelling per direction keeps JSON (and the
    content hash) stable; ``-0.0`` is spelled ``0.0``."""
    w = math.fmod(p, 360.0)
    if w <= -180.0:
        w += 360.0
    elif w > 180.0:
        w -= 360.0
    return w + 0.0


def direction(pan_deg: float, tilt_deg: float) -> _Vec:
    """The unit vector of the direction ``(pan_deg, tilt_deg)``: ``(cos t sin p, sin t,
    cos t cos p)`` (world x right, y up, z forward)."""
    p, t = math.radians(pan_deg), math.radians(tilt_deg)
    return np.array([math.cos(t) * math.sin(p), math.sin(t), math.cos(t) * math.cos(p)])


def _camera_axes(pan_deg: float, tilt_deg: float) -> tuple[_Vec, _Vec, _Vec]:
    p, t = math.radians(pan_deg), math.radians(tilt_deg)
    sp, cp, st, ct = math.sin(p), math.cos(p), math.sin(t), math.cos(t)
    right = np.array([cp, 0.0, -sp])
    up = np.array([-st * sp, ct, -st * cp])
    fwd = np.array([ct * sp, st, ct * cp])
    return right, up, fwd


@dataclass(frozen=True, slots=True)
class PTZPose:
    """Where a PTZ camera looks: ``pan`` and ``tilt`` in degrees, ``hfov`` its horizontal field
    of view in degrees (0 < hfov < 180).

    ``zoom`` is the camera's own zoom value when known (compared against a mask's ``min_zoom``);
    ``speed`` (degrees per second, how fast the view moves) and ``latency`` (seconds the position
    report lags the picture) widen scene-locked masks by ``speed * latency`` so a fast pan never
    uncovers a masked area for a frame. :class:`~privmask.masks.poses.PoseTrack` fills both
    in (its ``latency`` then includes the time since the last position report).
    """

    pan: float
    tilt: float
    hfov: float
    zoom: float | None = None
    speed: float = 0.0
    latency: float = 0.0

    def __post_init__(self) -> None:
        pan = wrap_pan(coordinate(self.pan, "pan"))
        tilt = coordinate(self.tilt, "tilt")
        hfov = coordinate(self.hfov, "hfov")
        if not -90.0 <= tilt <= 90.0:
            raise InvalidGeometryError(f"tilt must be within [-90, 90] degrees, got {tilt}")
        if not 0.0 < hfov < 180.0:
            raise InvalidGeometryError(f"hfov must be within (0, 180) degrees, got {hfov}")
        zoom = None if self.zoom is None else coordinate(self.zoom, "zoom")
        speed = coordinate(self.speed, "speed")
        latency = coordinate(self.latency, "latency")
        if speed < 0 or latency < 0:
            raise InvalidGeometryError(
                f"speed and latency must not be negative, got {speed} and {latency}"
            )
        for name, v in (("pan", pan), ("tilt", tilt), ("hfov", hfov), ("zoom", zoom)):
            object.__setattr__(self, name, v)
        object.__setattr__(self, "speed", speed)
        object.__setattr__(self, "latency", latency)

    @property
    def k(self) -> float:
        """Image width in units of the focal length: ``2 tan(hfov / 2)``."""
        return 2.0 * math.tan(math.radians(self.hfov) / 2.0)


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise InvalidGeometryError(f"frame size must be positive, got {width} x {height}")


def _to_camera(dirs: _Vec, pose: PTZPose) -> _Vec:
    r, u, c = _camera_axes(pose.pan, pose.tilt)
    return np.stack([dirs @ r, dirs @ u, dirs @ c], axis=-1)


def _camera_to_image(cam: _Vec, pose: PTZPose, width: int, height: int) -> _Vec:
    k = pose.k
    x = 0.5 + (cam[:, 0] / cam[:, 2]) / k
    y = 0.5 - (cam[:, 1] / cam[:, 2]) * (width / height) / k
    return np.stack([x, y], axis=-1)


def project_points(
    directions: Iterable[Direction], pose: PTZPose, width: int, height: int
) -> list[tuple[float, float]]:
    """Image positions (normalised, top-left origin) of scene directions ``(pan, tilt)`` seen
    from ``pose`` on a ``width`` x ``height`` frame. Directions at or behind the camera's image
    plane have no position and raise :class:`InvalidGeometryError`; polygons are clipped instead
    (:meth:`ScenePolygon.project`)."""
    _check_size(width, height)
    dirs = np.array([direction(p, t) for p, t in directions], dtype=np.float64).reshape(-1, 3)
    cam = _to_camera(dirs, pose)
    if np.any(cam[:, 2] < _NEAR):
        raise InvalidGeometryError("a direction lies behind the camera and has no image position")
    return [(float(x), float(y)) for x, y in _camera_to_image(cam, pose, width, height)]


def unproject_points(
    points: Iterable[tuple[float, float]], pose: PTZPose, width: int, height: int
) -> list[Direction]:
    """Scene directions ``(pan, tilt)`` of image positions seen from ``pose``: the inverse of
    :func:`project_points`, exact to about 1e-12."""
    _check_size(width, height)
    r, u, c = _camera_axes(pose.pan, pose.tilt)
    k = pose.k
    out: list[Direction] = []
    for x, y in points:
        fx = (coordinate(x, "x") - 0.5) * k
        fy = (0.5 - coordinate(y, "y")) * k * (height / width)
        d = fx * r + fy * u + c
        d /= np.linalg.norm(d)
        tilt = math.degrees(math.asin(max(-1.0, min(1.0, float(d[1])))))
        pan = math.degrees(math.atan2(float(d[0]), float(d[2])))
        out.append((wrap_pan(pan), tilt))
    return out


def _slerp_edges(dirs: _Vec) -> _Vec:
    """The closed polygon with every edge cut into arcs of at most ``_MAX_STEP_DEG``, so clipping
    the chords against the near plane follows the great-circle edges."""
    out: list[_Vec] = []
    n = len(dirs)
    for i in range(n):
        a, b = dirs[i], dirs[(i + 1) % n]
        omega = math.acos(max(-1.0, min(1.0, float(a @ b))))
        steps = max(1, math.ceil(math.degrees(omega) / _MAX_STEP_DEG))
        so = math.sin(omega)
        out.append(a)
        for s in range(1, steps):
            f = s / steps
            out.append((math.sin((1 - f) * omega) * a + math.sin(f * omega) * b) / so)
    return np.array(out)


def _clip_near(cam: _Vec) -> _Vec:
    """Sutherland-Hodgman against ``Z >= _NEAR``: what is behind the camera vanishes instead of
    flipping through the centre of projection onto the image."""
    out: list[_Vec] = []
    n = len(cam)
    for i in range(n):
        a, b = cam[i], cam[(i + 1) % n]
        a_in, b_in = a[2] >= _NEAR, b[2] >= _NEAR
        if a_in:
            out.append(a)
        if a_in != b_in:
            f = (_NEAR - a[2]) / (b[2] - a[2])
            p = a + f * (b - a)
            p[2] = _NEAR
            out.append(p)
    return np.array(out).reshape(-1, 3)


def _grow(points: _Vec, width: int, height: int, r_px: float) -> _Vec:
    """Offsets a closed image polygon outward by ``r_px`` pixels. Corners get two points a
    square's corner away, which contain the round corner of the true dilation; the orientation
    is detected so either winding grows."""
    scale = np.array([float(width), float(height)])
    pts = points * scale  # pixels: square, so the margin is the same in x and y
    n = len(pts)
    area = 0.5 * float(
        np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
    )
    sign = 1.0 if area > 0 else -1.0
    out: list[_Vec] = []
    for i in range(n):
        prev, cur, nxt = pts[i - 1], pts[i], pts[(i + 1) % n]
        e1, e2 = cur - prev, nxt - cur
        l1, l2 = float(np.hypot(*e1)), float(np.hypot(*e2))
        if l1 == 0 or l2 == 0:
            continue
        t1, t2 = e1 / l1, e2 / l2
        n1 = sign * np.array([t1[1], -t1[0]])
        n2 = sign * np.array([t2[1], -t2[0]])
        cross = float(t1[0] * t2[1] - t1[1] * t2[0]) * sign
        if cross < -1e-9 or (cross <= 1e-9 and float(t1 @ t2) > 0):
            # Reflex or straight: the mitre point lies on both offset lines (capped, so a
            # needle-sharp notch throws its point inward a bounded way, covering more, not less).
            m = n1 + n2
            out.append(cur + r_px * m / max(float(m @ n1), 1e-3))
        else:
            out.append(cur + r_px * (n1 + t1))
            out.append(cur + r_px * (n2 - t2))
    grown: _Vec = np.array(out, dtype=np.float64).reshape(-1, 2) / scale
    return grown


@dataclass(frozen=True, slots=True)
class ScenePolygon:
    """A polygon locked to the scene: vertices are directions ``(pan_deg, tilt_deg)`` on the
    viewing sphere and edges are great-circle arcs, so the mask stays on the same part of the
    scene while the camera pans, tilts and zooms.

    ``margin_deg`` widens the mask by that angle on every side (position reports and pictures are
    never perfectly in step); the pose adds ``speed * latency`` while the camera moves.
    ``min_zoom`` shows the mask only when the pose's ``zoom`` is at least that value, like a
    camera's zoom-threshold option (a pose without a zoom value shows it: unknown is unsafe).

    Pan wraps at +-180 (stored in (-180, 180]); tilt is within [-90, 90]. Raises
    :class:`InvalidGeometryError` for non-finite values, fewer than three distinct directions, or
    two consecutive vertices that are opposite (no unique arc joins them).
    """

    points: tuple[Direction, ...]
    margin_deg: float = 0.0
    min_zoom: float | None = None

    def __init__(
        self,
        points: Iterable[Iterable[float]],
        *,
        margin_deg: float = 0.0,
        min_zoom: float | None = None,
    ) -> None:
        pts: list[Direction] = []
        for i, p in enumerate(points):
            try:
                pan, tilt = p
            except (TypeError, ValueError) as e:
                raise InvalidGeometryError(
                    f"vertex {i} must be a pair (pan_deg, tilt_deg), got {p!r}"
                ) from e
            pan_f = coordinate(pan, f"vertex {i} pan")
            tilt_f = coordinate(tilt, f"vertex {i} tilt")
            if not -90.0 <= tilt_f <= 90.0:
                raise InvalidGeometryError(
                    f"vertex {i} tilt must be within [-90, 90] degrees, got {tilt_f}"
                )
            pts.append((wrap_pan(pan_f), tilt_f))
        vecs = [direction(p, t) for p, t in pts]
        distinct: list[_Vec] = []
        for v in vecs:
            if all(float(v @ w) < 1 - 1e-15 for w in distinct):
                distinct.append(v)
        if len(distinct) < 3:
            raise InvalidGeometryError(
                f"a scene polygon needs at least 3 distinct directions, got {len(distinct)}"
            )
        for i in range(len(vecs)):
            if float(vecs[i] @ vecs[(i + 1) % len(vecs)]) < -1 + 1e-12:
                raise InvalidGeometryError(
                    f"vertices {i} and {(i + 1) % len(vecs)} are opposite directions; "
                    "no unique arc joins them"
                )
        margin = coordinate(margin_deg, "margin_deg")
        if not 0.0 <= margin < 45.0:
            raise InvalidGeometryError(f"margin_deg must be within [0, 45), got {margin}")
        zoom = None if min_zoom is None else coordinate(min_zoom, "min_zoom")
        object.__setattr__(self, "points", tuple(pts))
        object.__setattr__(self, "margin_deg", margin)
        object.__setattr__(self, "min_zoom", zoom)

    @classmethod
    def from_image(
        cls,
        polygon: Polygon,
        pose: PTZPose,
        width: int,
        height: int,
        *,
        margin_deg: float = 0.0,
        min_zoom: float | None = None,
    ) -> ScenePolygon:
        """The scene directions of a polygon drawn on the current image: how an operator's mask
        drawn in live view becomes scene-locked. Straight image edges are great-circle arcs, so
        the shape is kept exactly."""
        return cls(
            unproject_points(polygon.points, pose, width, height),
            margin_deg=margin_deg,
            min_zoom=min_zoom,
        )

    def visible_at(self, pose: PTZPose) -> bool:
        """False only when the pose's zoom is known and below ``min_zoom``."""
        return self.min_zoom is None or pose.zoom is None or pose.zoom >= self.min_zoom

    def project(self, pose: PTZPose, width: int, height: int) -> Polygon | None:
        """The image polygon this mask covers on a ``width`` x ``height`` frame seen from
        ``pose``, grown by the margin; None when nothing of it is in front of the camera (or the
        zoom is below ``min_zoom``). The polygon may reach far outside the frame; the
        rasteriser clips it."""
        _check_size(width, height)
        if not self.visible_at(pose):
            return None
        dirs = np.array([direction(p, t) for p, t in self.points])
        cam = _clip_near(_to_camera(_slerp_edges(dirs), pose))
        if len(cam) < 3:
            return None
        img = _camera_to_image(cam, pose, width, height)
        margin = self.margin_deg + pose.speed * pose.latency
        if margin > 0:
            # The image magnifies angles by at most 1/cos^2(off-axis angle). A direction within
            # the margin of the mask that lands on the frame, and the arc to it, stay within
            # min(mask's largest off-axis angle, frame corner) + margin of the axis (spherical
            # caps are convex), so growing by the margin at that magnification covers them all.
            # Beyond 85 degrees (views wider than ~165 degrees) the bound is capped.
            norms = np.linalg.norm(cam, axis=1)
            off_axis = float(np.degrees(np.arccos(np.clip(cam[:, 2] / norms, -1, 1))).max())
            half_diag = math.degrees(math.atan(pose.k / 2 * math.hypot(1.0, height / width)))
            theta = min(min(off_axis, half_diag) + margin, _MAX_SCALE_ANGLE_DEG)
            r_plane = math.radians(margin) / math.cos(math.radians(theta)) ** 2
            img = _grow(img, width, height, r_plane / pose.k * width)
        try:
            return Polygon(img.tolist())
        except InvalidGeometryError:
            return None  # seen edge-on: no area on the image

    def __repr__(self) -> str:
        extra = ""
        if self.margin_deg:
            extra += f", margin_deg={self.margin_deg!r}"
        if self.min_zoom is not None:
            extra += f", min_zoom={self.min_zoom!r}"
        return f"ScenePolygon({list(self.points)!r}{extra})"


def has_scene_masks(masks: MaskSet) -> bool:
    """True when any mask of the set is scene-locked."""
    return masks.scene_locked


def resolve(masks: MaskSet, pose: PTZPose, width: int, height: int) -> MaskSet:
    """The image-locked mask set equivalent to ``masks`` for one frame seen from ``pose``:
    scene-locked masks projected (and grown by their margin), those out of view or below their
    zoom threshold dropped, image-locked masks unchanged. Order is kept."""
    from privmask.masks.maskset import Mask, MaskSet

    out: list[Mask] = []
    for m in masks:
        if isinstance(m.shape, ScenePolygon):
            poly = m.shape.project(pose, width, height)
            if poly is not None:
                out.append(Mask(poly, m.style, m.liftable, m.name))
        else:
            out.append(m)
    return MaskSet(out)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What :func:`privmask.apply_report` did to a frame beyond the masks themselves.

    ``failed_closed`` is True when the frame was masked whole because its scene-locked masks
    could not be placed (``reason`` says why), so pipelines can count, log or flag such frames.
    """

    failed_closed: bool = False
    reason: str = ""


_APPLIED = ApplyResult()
"""The result of every frame that did not fail closed (results are immutable)."""

_FAIL_CLOSED: list[MaskSet] = []


def fail_closed_masks() -> MaskSet:
    """One permanent solid-black mask over the whole frame: what a frame gets when its
    scene-locked masks cannot be placed. Showing nothing is the only safe guess."""
    if not _FAIL_CLOSED:
        from privmask.masks.maskset import Mask, MaskSet
        from privmask.masks.styles import Solid

        whole = Polygon.rect(0.0, 0.0, 1.0, 1.0)
        _FAIL_CLOSED.append(MaskSet([Mask(whole, Solid(), name="fail-closed")]))
    return _FAIL_CLOSED[0]


def resolve_for_frame(
    masks: M, pose: PTZPose | None, width: int, height: int
) -> tuple[M | MaskSet, ApplyResult]:
    """The masks to rasterise for one frame: ``masks`` itself when it has no scene-locked masks
    (or is already compiled), the set projected for ``pose``, or the whole-frame mask when a
    scene-locked set has no pose (unknown or stale): privmask fails closed."""
    if pose is not None and not isinstance(pose, PTZPose):
        raise InvalidGeometryError(f"pose must be a PTZPose or None, got {pose!r}")
    from privmask.masks.maskset import MaskSet

    if not isinstance(masks, MaskSet) or not masks.scene_locked:
        return masks, _APPLIED
    if pose is None:
        return fail_closed_masks(), ApplyResult(True, "scene-locked masks but no current pose")
    return resolve(masks, pose, width, height), ApplyResult()
