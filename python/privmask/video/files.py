"""Masking whole recordings: files in, masked files out, with the masks in force at recording time.

:func:`mask_file` decodes a video with PyAV, masks every frame in place (``Frame.from_av``: the
decoder's own buffers, no copy to numpy and back) with the mask set that was in force when the
frame was recorded, and encodes the result, on the one transcode path
(:mod:`privmask.video.transcode`) with the one per-frame rule (:mod:`privmask.engine.planner`).
:func:`mask_files` runs many such jobs on any ``concurrent.futures.Executor`` (a local process
pool, or a Dask cluster's executor).

What is kept and what is dropped: the output has the same frames (count and ``pts``), time base
(where the container and encoder allow it: Matroska always counts in milliseconds, MPEG-1/2/4
Part 2 in frame periods), frame rate, resolution, pixel format, colour tags, sample aspect
ratio, display matrix (rotation and mirroring) and field order. Container and stream metadata,
chapters, data and subtitle streams, attachments and any further video streams are dropped, so
an exported clip carries no links back to its source, and every dropped stream is listed in
:attr:`MaskReport.dropped`; audio streams are copied unchanged only with ``keep_audio=True``
(those the output container cannot carry are listed as dropped). The output is written to a
temporary file beside ``dst`` and renamed into place only when complete: on failure no
partial file remains.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from typing import Any, Protocol, TypeVar

from tqdm import tqdm

from privmask._outputs import process_pool
from privmask.engine.apply import geometry_of
from privmask.engine.frame import Frame
from privmask.engine.planner import FramePlanner, VersionUse, check_lift
from privmask.errors import FrameFormatError, VideoError
from privmask.masks.maskset import MaskSet
from privmask.masks.poses import PoseTrack
from privmask.masks.timeline import MaskTimeline
from privmask.video.orient import displayed_masks
from privmask.video.transcode import FrameCallback, SourceInfo, transcode_file

__all__ = [
    "FileJob",
    "MaskJob",
    "MaskReport",
    "Masks",
    "VersionUse",
    "mask_file",
    "mask_files",
    "run_job",
    "run_jobs",
]

Masks = MaskSet | MaskTimeline


@dataclass(frozen=True)
class MaskReport:
    """What :func:`mask_file` did; the versions list says which masks each frame got."""

    src: str
    dst: str
    frames: int
    versions: tuple[VersionUse, ...]
    start: datetime | None
    """The recording start the frame times were counted from (``None`` when not needed)."""
    codec: str
    audio_streams: int
    seconds: float
    worker: str
    """``host:pid`` of the process that did the work (useful when it ran on a cluster)."""
    failed_closed: tuple[int, ...] = ()
    """Frames masked whole because scene-locked masks had no current pose (PTZ, issue 6)."""
    dropped: tuple[str, ...] = ()
    """The source's streams not in the output (a dash cam's rear camera, subtitles, ...), each
    with the reason."""
    damage: tuple[str, ...] = ()
    """What damaged input cost (only with ``accept_damage=True``; otherwise damage raises)."""
    converted: str | None = None
    """The pixel-format conversion done for masking, in words (``None``: masked as decoded)."""
    orientation: str | None = None
    """The display rotation/mirroring the masks were mapped through and the output keeps."""

    def summary(self) -> str:
        """One line per file, as the CLI prints it."""
        uses = ", ".join(
            f"{u.content_hash[:12]} (frames {u.first_frame}-{u.last_frame}"
            + (f", since {u.since.isoformat()}" if u.since is not None else "")
            + ")"
            for u in self.versions
        )
        rate = self.frames / self.seconds if self.seconds > 0 else 0.0
        closed = (
            f"; {len(self.failed_closed)} frames masked whole (no current PTZ pose)"
            if self.failed_closed
            else ""
        )
        notes = "".join(
            f"; {note}"
            for note in (
                self.orientation,
                self.converted,
                f"{len(self.dropped)} streams dropped" if self.dropped else None,
                f"DAMAGED INPUT: {'; '.join(self.damage)}" if self.damage else None,
            )
            if note
        )
        return (
            f"{self.src} -> {self.dst}: {self.frames} frames ({self.codec}) in "
            f"{self.seconds:.1f} s ({rate:.0f} fps); masks {uses or 'none'}{closed}{notes}"
        )


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def mask_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    masks: Masks,
    *,
    start: datetime | None = None,
    lifted: bool = False,
    codec: str | None = None,
    quality: int | None = None,
    keep_audio: bool = False,
    progress: bool = True,
    encoder_options: Mapping[str, str] | None = None,
    poses: PoseTrack | None = None,
    lift_id: str | None = None,
    accept_damage: bool = False,
) -> MaskReport:
    """Masks the video ``src`` into ``dst`` and returns what was done.

    ``masks`` is a :class:`MaskSet` (applied to every frame) or a :class:`MaskTimeline`: each
    frame gets the set in force when it was recorded, at ``start + pts * time_base`` (exact
    fractions). ``start`` (timezone-aware) defaults to the file's ``creation_time``; without
    either, a timeline of more than one version is refused, and a frame recorded before the
    timeline's first version raises :class:`NoMasksInForceError` (never "no masks").

    ``lifted=True`` skips liftable masks, and only for a lift that was checked and audited:
    ``lift_id`` names it (:func:`privmask.export` with ``lift=`` does both and passes it);
    without one, :class:`LiftDeniedError` is raised before anything is read.

    ``codec`` is an FFmpeg encoder name (default: the
    source's codec if this FFmpeg can encode it and the container can carry it, else the
    container's default); ``quality`` its CRF (default for libx264/libx265: CRF 16/18 capped at
    1.3x the source's bit rate, see :mod:`privmask.video.encode`); ``encoder_options`` further
    encoder options (``{"preset": "ultrafast"}``). Pixel formats the engine does not mask
    (``yuvj422p``, 10-bit 4:2:2/4:4:4, ...) are converted for masking and back, as
    :mod:`privmask.video.formats` lists; :attr:`MaskReport.converted` says so. Audio is
    copied unchanged with ``keep_audio=True``, else dropped; see the module docstring for what
    else is kept and dropped. ``progress`` shows a progress bar on a terminal.

    Errors: ``FileNotFoundError`` (no ``src``, or no directory for ``dst``), ``PermissionError``,
    :class:`VideoError` (unreadable or corrupt input, a codec or container FFmpeg cannot handle;
    it names the frame or packet), :class:`FrameFormatError` (a pixel format privmask does not
    mask), :class:`NoMasksInForceError`, ``ValueError`` (bad arguments). On any failure ``dst``
    is left as it was and no temporary file remains.

    Masks are in normalised coordinates of the picture **as displayed**: a rotated or mirrored
    recording (a phone's display matrix) has them mapped onto the coded picture, and the output
    keeps the display matrix. Damaged input (corrupt packets, concealed pictures, a file cut
    short) raises :class:`VideoError` naming where; ``accept_damage=True`` masks what can be
    decoded and lists what was lost in :attr:`MaskReport.damage`.

    ``poses`` places scene-locked masks (PTZ cameras): the pose of each frame is
    ``poses.at(offset)``, the frame's offset after the stream's first frame in seconds. A
    frame whose scene-locked masks have no current pose (no track, or a stale one) is masked
    whole; the report lists those frames in ``failed_closed``.
    """
    t0 = time.perf_counter()
    if poses is not None and not isinstance(poses, PoseTrack):
        raise TypeError(f"poses must be a PoseTrack, got {type(poses).__name__}")
    if not isinstance(masks, (MaskSet, MaskTimeline)):
        raise TypeError(f"masks must be a MaskSet or MaskTimeline, got {type(masks).__name__}")
    if start is not None and (not isinstance(start, datetime) or start.utcoffset() is None):
        raise ValueError(f"start must be a timezone-aware datetime, got {start!r}")
    check_lift(lifted, lift_id)
    src_s = os.fspath(src)
    state: dict[str, Any] = {}

    def prepare(info: SourceInfo) -> tuple[FrameCallback, bool]:
        begin = start if start is not None else info.creation_time
        if isinstance(masks, MaskTimeline) and begin is None and len(masks) > 1:
            raise VideoError(
                f"{src_s} has no creation_time and the timeline has {len(masks)} versions: give "
                "the recording start (start=, or --start) so each frame gets the masks in force "
                "when it was recorded"
            )
        shown = displayed_masks(masks, info.orientation, info.width, info.height, src_s)
        planner = FramePlanner(shown, start=begin, poses=poses, source=src_s)
        state["planner"], state["start"] = planner, begin

        def mask(index: int, av_frame: Any, offset: Fraction | None) -> None:
            if offset is None and planner.needs_time:
                raise VideoError(
                    f"{src_s}: frame {index} has no timestamp and the stream no frame rate, so "
                    "the masks in force when it was recorded cannot be chosen",
                    frame=index,
                )
            try:
                frame = Frame.from_av(av_frame)
            except FrameFormatError as e:
                raise FrameFormatError(f"{src_s}: frame {index}: {e}") from None
            compiled = planner.plan(index, offset, geometry_of(frame), pts=av_frame.pts)
            if compiled is not None:
                # The kernels stay on this thread: decoding and encoding already keep the other
                # cores busy, and a second kernel thread measured slower here.
                compiled.apply_planes(list(frame.planes), lifted=lifted, parallel=False)

        return mask, planner.masks_anything

    result = transcode_file(
        src,
        dst,
        prepare,
        codec=codec,
        quality=quality,
        encoder_options=encoder_options,
        keep_audio=keep_audio,
        progress=progress,
        accept_damage=accept_damage,
    )
    planner: FramePlanner = state["planner"]
    versions = planner.versions_used()
    # The hashes of the masks as given, not of their mapping onto a rotated picture.
    versions = tuple(replace(u, content_hash=_hash_of(masks, u.index)) for u in versions)
    return MaskReport(
        src=src_s,
        dst=os.fspath(dst),
        frames=result.frames,
        versions=versions,
        start=state["start"] if planner.schedule.needs_time else None,
        codec=result.codec,
        audio_streams=result.audio_streams,
        seconds=time.perf_counter() - t0,
        worker=_worker_name(),
        failed_closed=tuple(planner.failed_closed),
        dropped=result.dropped,
        damage=result.damage,
        converted=result.converted,
        orientation=result.orientation,
    )


def _hash_of(masks: Masks, index: int) -> str:
    return masks.content_hash if isinstance(masks, MaskSet) else masks[index].content_hash


# --- batches on any executor -------------------------------------------------------------------


@dataclass(frozen=True)
class MaskJob:
    """One :func:`mask_file` call, as data: picklable, so it can travel to another process or
    machine. Paths must be valid where the job runs (a shared file system on a cluster)."""

    src: str | os.PathLike[str]
    dst: str | os.PathLike[str]
    masks: Masks
    start: datetime | None = None
    lifted: bool = False
    codec: str | None = None
    quality: int | None = None
    keep_audio: bool = False
    encoder_options: Mapping[str, str] | None = field(default=None, hash=False)
    poses: PoseTrack | None = None
    """The camera's pose track for scene-locked (PTZ) masks, on this file's stream clock."""
    accept_damage: bool = False


def run_job(job: MaskJob, *, progress: bool = False) -> MaskReport:
    """Runs one job (by default without a progress bar: it may run where no one watches)."""
    return mask_file(
        job.src,
        job.dst,
        job.masks,
        start=job.start,
        lifted=job.lifted,
        codec=job.codec,
        quality=job.quality,
        keep_audio=job.keep_audio,
        progress=progress,
        encoder_options=job.encoder_options,
        poses=job.poses,
        accept_damage=job.accept_damage,
    )


def mask_files(
    jobs: Iterable[MaskJob], *, executor: Executor | None = None, progress: bool = True
) -> list[MaskReport]:
    """Runs ``jobs`` on ``executor`` and returns their reports, in job order.

    ``executor`` is any ``concurrent.futures.Executor``: by default a local process pool (one
    process per core, ``spawn``ed so no decoder threads are forked), or e.g. a Dask cluster's
    ``distributed.Client(...).get_executor()`` to spread the files over many machines. The
    executor you pass is not shut down.

    Every job runs even when others fail; then an ``ExceptionGroup`` of the failures is raised
    (each with a note naming its job), and the outputs of the jobs that succeeded stay in place.
    """
    return run_jobs(run_job, list(jobs), MaskJob, "masking", executor=executor, progress=progress)


class FileJob(Protocol):
    """A job that reads ``src`` and writes ``dst``."""

    @property
    def src(self) -> str | os.PathLike[str]: ...
    @property
    def dst(self) -> str | os.PathLike[str]: ...


J = TypeVar("J", bound=FileJob)
R = TypeVar("R")


def run_jobs(
    fn: Callable[[J], R],
    jobs: list[J],
    kind: type,
    what: str,
    *,
    executor: Executor | None = None,
    progress: bool = True,
) -> list[R]:
    """Runs ``fn(job)`` for every job on ``executor`` (default: a spawned process pool), every
    job even when others fail; returns the results in job order or raises an ``ExceptionGroup``
    of the failures, each noted with its job (``what`` names the kind of job in its message).
    Jobs are instances of ``kind``; two jobs writing one ``dst`` are refused before any runs
    (``ValueError``)."""
    seen: dict[str, int] = {}
    for i, job in enumerate(jobs):
        if not isinstance(job, kind):
            raise TypeError(f"jobs[{i}] must be a {kind.__name__}, got {type(job).__name__}")
        key = os.path.abspath(os.fspath(job.dst))
        if key in seen:
            raise ValueError(f"jobs[{seen[key]}] and jobs[{i}] both write {job.dst}")
        seen[key] = i
    if not jobs:
        return []
    results: list[R | None] = [None] * len(jobs)
    failures: list[tuple[int, Exception]] = []
    with contextlib.ExitStack() as stack:
        pool: Executor = (
            executor
            if executor is not None
            else stack.enter_context(process_pool(min(len(jobs), os.cpu_count() or 1)))
        )
        futures: dict[Future[R], int] = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
        with tqdm(
            total=len(jobs), unit="file", disable=None if progress else True, leave=False
        ) as bar:
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except Exception as e:
                    job = jobs[i]
                    e.add_note(f"in job {i}: {os.fspath(job.src)} -> {os.fspath(job.dst)}")
                    failures.append((i, e))
                bar.update(1)
    if failures:
        failures.sort(key=lambda f: f[0])
        raise ExceptionGroup(
            f"{len(failures)} of {len(jobs)} {what} jobs failed",
            [e for _, e in failures],
        )
    return [r for r in results if r is not None]
