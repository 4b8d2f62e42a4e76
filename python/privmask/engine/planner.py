"""One decision per frame: which compiled masks a frame gets.

Every path that masks frames — :func:`privmask.apply`, :func:`privmask.video.mask_file`,
:func:`privmask.video.mask_raw`, :func:`privmask.redact_file` and :func:`privmask.export` —
goes through this module, so the rule that keeps video private lives in one place:

1. **Version.** The mask set in force when the frame was recorded: a :class:`MaskSet` applies to
   every frame; a :class:`MaskTimeline` is looked up at the frame's offset after the recording
   start (exact :class:`~fractions.Fraction` seconds). A frame before the first version raises
   :class:`NoMasksInForceError`: "no masks" is never assumed.
2. **Pose.** Scene-locked (PTZ) masks are projected for the frame's pose. Without a current pose
   the frame **fails closed**: it is masked whole (one permanent solid-black mask), and the frame
   is recorded in :attr:`FramePlanner.failed_closed`.
3. **Compile.** The set is rasterised for the frame's geometry (size, pixel format, colour
   coding). Static versions are compiled once per planner and kept for the whole stream (and in
   :meth:`MaskSet.compile`'s process-wide cache); per-frame projections are compiled without the
   shared cache, so a moving camera never evicts the static plans.

Nothing here writes a sample: a plan is built completely (and every error raised) before the
caller applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from privmask.errors import InvalidGeometryError, LiftDeniedError, NoMasksInForceError
from privmask.masks.geometry import Polygon
from privmask.masks.maskset import CompiledMasks, MaskSet
from privmask.masks.poses import PoseTrack
from privmask.masks.ptz import ApplyResult, PTZPose, fail_closed_masks, resolve
from privmask.masks.timeline import MaskSchedule, MaskTimeline

__all__ = [
    "FramePlanner",
    "Geometry",
    "VersionUse",
    "check_in_frame",
    "check_lift",
    "outside_frame",
    "plan_masks",
]

NO_POSE = "scene-locked masks but no current pose"
_APPLIED = ApplyResult()


class Geometry(NamedTuple):
    """What a compiled plan depends on besides the masks: the frame's size in pixels, its pixel
    format, and its colour coding (``matrix`` ``"bt601"``/``"bt709"`` or ``None`` for the
    height's usual one; ``full_range`` or ``None`` for the format's usual range)."""

    width: int
    height: int
    format: str
    matrix: str | None = None
    full_range: bool | None = None


def _clip_to_frame(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The part of a polygon inside the frame ``[0, 1] x [0, 1]`` (Sutherland-Hodgman)."""
    out = points
    for axis, bound, keep_below in (
        (0, 0.0, False),
        (0, 1.0, True),
        (1, 0.0, False),
        (1, 1.0, True),
    ):
        if not out:
            break
        src, out = out, []
        for i, cur in enumerate(src):
            prev = src[i - 1]
            cur_in = cur[axis] <= bound if keep_below else cur[axis] >= bound
            prev_in = prev[axis] <= bound if keep_below else prev[axis] >= bound
            if cur_in != prev_in:
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                x, y = prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])
                out.append((bound, y) if axis == 0 else (x, bound))  # exactly on the edge
            if cur_in:
                out.append(cur)
    return out


def _flat(points: list[tuple[float, float]]) -> bool:
    """True when the points enclose no area: fewer than three, or all on one line."""
    distinct = list(dict.fromkeys(points))
    if len(distinct) < 3:
        return True
    (ax, ay) = distinct[0]
    far = max(distinct, key=lambda p: abs(p[0] - ax) + abs(p[1] - ay))
    dx, dy = far[0] - ax, far[1] - ay
    # Exact: a doubt (rounding) counts as area, so it never refuses a mask that covers a pixel.
    return all(dx * (y - ay) - dy * (x - ax) == 0.0 for x, y in distinct)


@lru_cache(maxsize=256)
def outside_frame(masks: MaskSet) -> tuple[int, ...]:
    """Indices of the image-locked masks that meet no pixel of any frame: their polygon and the
    frame ``[0, 1] x [0, 1]`` share no area. Under conservative coverage (a pixel is covered iff
    its square meets the polygon with positive area), a polygon that shares area with the frame
    covers at least one pixel at every size, so the answer holds for every geometry. Such a
    mask is almost always written in pixels by mistake (``[[100, 50], [300, 50], ...]``)."""
    found = []
    for i, m in enumerate(masks):
        if isinstance(m.shape, Polygon) and _flat(_clip_to_frame(list(m.shape.points))):
            found.append(i)
    return tuple(found)


def check_in_frame(masks: MaskSet) -> None:
    """Raises :class:`InvalidGeometryError` when an image-locked mask covers no pixel of the
    frame (see :func:`outside_frame`), naming the mask and how to fix it."""
    found = outside_frame(masks)
    if found:
        i = found[0]
        pts = list(masks[i].shape.points)[:3]
        raise InvalidGeometryError(
            f"masks[{i}] ({masks[i].name or 'unnamed'}) covers no pixel of the frame: its "
            f"vertices {pts}... lie outside [0, 1] x [0, 1]. Coordinates are normalised (0..1 "
            "across the picture), not pixels: divide x by the width and y by the height. If a "
            "mask outside the picture is intended, pass allow_outside=True"
        )


def check_lift(lifted: object, lift_id: str | None) -> bool:
    """The ``lifted`` flag of a file, pipe or live job, checked: a real ``bool``, and ``True``
    only with the id of a lift that was checked and audited (:func:`privmask.export` with
    ``lift=`` does both). Raises ``TypeError`` or :class:`LiftDeniedError` (a
    ``PermissionError``) before anything is read or written."""
    if not isinstance(lifted, bool):
        raise TypeError(f"lifted must be True or False, got {lifted!r}")
    if lifted and not (isinstance(lift_id, str) and lift_id):
        raise LiftDeniedError(
            "liftable masks are left out only under an authorised, audited lift: use "
            "privmask.export(src, dst, masks, lift=..., camera=...); masking alone never lifts"
        )
    return lifted


def _compile(masks: MaskSet, g: Geometry, *, cached: bool) -> CompiledMasks:
    return masks.compile(
        g.width, g.height, g.format, matrix=g.matrix, full_range=g.full_range, cached=cached
    )


def plan_masks(
    masks: MaskSet | CompiledMasks,
    pose: PTZPose | None,
    geometry: Geometry,
    *,
    allow_outside: bool = False,
) -> tuple[CompiledMasks, ApplyResult]:
    """Steps 2 and 3 for one mask set and one frame: the compiled masks to apply, and whether the
    frame failed closed. A :class:`CompiledMasks` is taken as it is (it must match the frame).

    Raises :class:`InvalidGeometryError` for a ``pose`` that is not a :class:`PTZPose`,
    ``TypeError`` for ``masks`` of another type; :class:`InvalidGeometryError` for an
    image-locked mask that covers no pixel of the frame, unless ``allow_outside``."""
    if pose is not None and not isinstance(pose, PTZPose):
        raise InvalidGeometryError(f"pose must be a PTZPose or None, got {pose!r}")
    if isinstance(masks, CompiledMasks):
        return masks, _APPLIED
    if not isinstance(masks, MaskSet):
        raise TypeError(f"masks must be a MaskSet or CompiledMasks, got {type(masks).__name__}")
    if not allow_outside:
        check_in_frame(masks)
    if not masks.scene_locked:
        return _compile(masks, geometry, cached=True), _APPLIED
    if pose is None:
        return _compile(fail_closed_masks(), geometry, cached=True), ApplyResult(True, NO_POSE)
    projected = resolve(masks, pose, geometry.width, geometry.height)
    return _compile(projected, geometry, cached=False), _APPLIED


@dataclass(frozen=True)
class VersionUse:
    """Which mask set masked which frames: the record of what was hidden, by content hash."""

    index: int
    """The version's index in the timeline (0 for a plain ``MaskSet``)."""
    since: datetime | None
    """When the version came into force (``None`` for a plain ``MaskSet``)."""
    content_hash: str
    first_frame: int
    last_frame: int
    frames: int


class FramePlanner:
    """The per-frame rule for one stream: version in force, pose, fail-closed, compile cache.

    ``masks`` is a :class:`MaskSet` or a :class:`MaskTimeline`; ``start`` (timezone-aware) is the
    recording time of the stream's first frame, needed for a timeline of more than one version;
    ``poses`` places scene-locked masks, looked up at the frame's offset in seconds on the
    stream's clock. ``source`` names the stream in error messages. An image-locked mask that
    covers no pixel of the frame is refused (:func:`check_in_frame`) unless ``allow_outside``.

    Raises ``ValueError`` when a timeline of several versions has no ``start``,
    :class:`NoMasksInForceError` for an empty timeline, ``TypeError`` for arguments of the wrong
    type.
    """

    def __init__(
        self,
        masks: MaskSet | MaskTimeline,
        *,
        start: datetime | None = None,
        poses: PoseTrack | None = None,
        source: str = "",
        allow_outside: bool = False,
    ) -> None:
        if poses is not None and not isinstance(poses, PoseTrack):
            raise TypeError(f"poses must be a PoseTrack, got {type(poses).__name__}")
        if not isinstance(masks, (MaskSet, MaskTimeline)):
            raise TypeError(f"masks must be a MaskSet or MaskTimeline, got {type(masks).__name__}")
        self.schedule = MaskSchedule(masks, start)
        if not allow_outside:  # every version is checked before the first frame is written
            for i in range(len(self.schedule.versions)):
                check_in_frame(self.schedule.masks(i))
        self.poses = poses
        self.source = source
        self.failed_closed: list[int] = []
        """Indices of the frames masked whole because their scene-locked masks had no pose."""
        self._static: dict[tuple[int, Geometry], CompiledMasks] = {}
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._count: dict[int, int] = {}

    @property
    def needs_time(self) -> bool:
        """Whether frames must carry a time (a timeline of several versions, or a pose track)."""
        return self.schedule.needs_time or self.poses is not None

    @property
    def masks_anything(self) -> bool:
        """False only when every version is an explicitly empty set (nothing is ever written)."""
        return any(len(self.schedule.masks(i)) for i in range(len(self.schedule.versions)))

    def plan(
        self,
        index: int,
        offset: Fraction | None,
        geometry: Geometry,
        *,
        pts: int | None = None,
    ) -> CompiledMasks | None:
        """The compiled masks for frame ``index`` recorded ``offset`` seconds after the stream's
        first frame (``None`` when the frame has no time), or ``None`` when the version in force
        is an explicitly empty set. ``pts`` only serves error messages.

        Raises :class:`NoMasksInForceError` (before the first version) and ``ValueError`` (no
        time where one is needed), naming the frame."""
        where = f"{self.source}: frame {index}" if self.source else f"frame {index}"
        if pts is not None:
            where += f" (pts {pts})"
        if offset is None and self.schedule.needs_time:
            raise ValueError(
                f"{where} has no timestamp, so the masks in force when it was recorded cannot "
                "be chosen"
            )
        try:
            version = self.schedule.index(offset)
        except NoMasksInForceError as e:
            raise NoMasksInForceError(f"{where}: {e}; refusing to write it unmasked") from None
        self._first.setdefault(version, index)
        self._last[version] = index
        self._count[version] = self._count.get(version, 0) + 1
        masks = self.schedule.masks(version)
        if not len(masks):
            return None
        if masks.scene_locked:
            pose = None if self.poses is None or offset is None else self.poses.at(offset)
            compiled, result = plan_masks(masks, pose, geometry)
            if result.failed_closed:
                self.failed_closed.append(index)
            return compiled
        key = (version, geometry)
        compiled_static = self._static.get(key)
        if compiled_static is None:
            compiled_static = self._static[key] = _compile(masks, geometry, cached=True)
        return compiled_static

    def versions_used(self) -> tuple[VersionUse, ...]:
        """The versions that masked frames so far, in the order they were first used."""
        return tuple(
            VersionUse(
                i,
                self.schedule.since(i),
                self.schedule.content_hash(i),
                self._first[i],
                self._last[i],
                self._count[i],
            )
            for i in sorted(self._first, key=self._first.__getitem__)
        )
