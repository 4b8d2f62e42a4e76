"""Masking live streams: cameras (``rtsp://``), network streams (``udp://``, ``http://``,
``srt://``) and capture devices, into rolling segment files or an HLS playlist::

    report = mask_live("rtsp://10.0.0.7/main", "rec/", masks, segment_seconds=60)
    report = mask_live("rtsp://10.0.0.7/main", "www/", masks, segment_seconds=4, hls=True)

The frames run on the one threaded path (:class:`~privmask.video.transcode.Pipeline`: reader ->
masking -> writer) with the one per-frame rule (:class:`~privmask.engine.planner.FramePlanner`).

**Recording time.** A live frame is recorded when it is captured, so timelines are looked up on
the wall clock, not on the stream's clock. The wall clock is read once when the run starts and
then advanced by the monotonic clock, so an NTP step during the run cannot move frames. Within a
connection, the stream's clock ``(pts - first_pts) * time_base`` (exact) keeps frames evenly
spaced and the wall clock places them (:class:`~privmask.video.segments.StreamClock`): a frame's
recording time is ``anchor + stream offset``, with the anchor the latest that puts no frame after
its arrival (decoding) on this machine. So once frames flow in real time they are stamped one
network delay after capture, and the burst FFmpeg buffers while it probes a new connection
(about a second for RTSP) is stamped at its arrival, never in the future. When the two clocks
part by more than :data:`RESYNC_SECONDS` (a camera that reset its timestamps, a long stall) the
connection is re-anchored on the frame in hand. The planner's ``start`` is the instant
:func:`mask_live` was called (``LiveReport.origin``); frame offsets, including those a
:class:`~privmask.masks.ptz.PoseTrack` is looked up at, count from it. Output timestamps follow
the stream's clock (smooth playback).

**Segments.** A segment holds the frames whose times fall in one slot of ``segment_seconds``,
slots aligned on the Unix epoch (60 s segments start on the minute, as NVRs record), and is
named by its first frame's time in UTC: ``cam-20261204T101500Z.mp4``. Each one is a complete,
independently playable file: it has its own encoder, so it starts with a keyframe (forced as
well), and it is written under a ``.part`` name and renamed when complete (the durability policy
of :mod:`privmask._outputs`). A segment ends early at a drop, at a frame that cannot be masked,
or when the picture size changes. Names never overwrite a file: a second segment starting in the
same second gets ``-1``, ``-2``. With ``hls=True`` the segments are MPEG-TS with continuous
timestamps, listed in ``<prefix>.m3u8`` (rewritten atomically after each segment, with
``#EXT-X-PROGRAM-DATE-TIME`` per segment, ``#EXT-X-DISCONTINUITY`` after a gap and
``#EXT-X-ENDLIST`` when the run ends). Old segments are not deleted: retention is the caller's.

**Never unmasked.** A frame is encoded only after its masks were applied; a frame that cannot be
masked (no masks in force yet, an unsupported format, ...) is dropped, the segment it would
have joined is closed, and the frames lost are reported as a ``"masking"`` gap.

**Reconnecting.** When the source drops (end of stream, an error, no data for the read timeout)
the segment is closed and published, and the source is reopened with exponential back-off; the
lost interval is reported as a ``"source"`` gap. Failing to open the source the first time
raises, so a wrong address is not retried forever.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from privmask.engine.apply import geometry_of
from privmask.engine.frame import Frame
from privmask.engine.planner import FramePlanner, VersionUse, check_lift
from privmask.errors import FrameFormatError, PrivmaskError, SettingsError, VideoError
from privmask.masks.maskset import MaskSet
from privmask.masks.poses import PoseTrack
from privmask.masks.timeline import MaskTimeline
from privmask.video.decode import OrientationCheck, video_stream
from privmask.video.encode import close_quietly
from privmask.video.orient import Orientation
from privmask.video.segments import (
    NS,
    RESYNC_SECONDS,
    Capture,
    Gap,
    Segment,
    SegmentRecorder,
    SourceBack,
    SourceLost,
    StreamClock,
    WallClock,
    utc,
)
from privmask.video.transcode import Pipeline

__all__ = [
    "DEFAULT_RECONNECT",
    "RESYNC_SECONDS",
    "Gap",
    "LiveReport",
    "Reconnect",
    "Segment",
    "mask_live",
]

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often a reconnect wait looks at the stop flags


@dataclass(frozen=True)
class Reconnect:
    """How a dropped source is reopened: after ``first_wait`` seconds, then waits doubling up to
    ``max_wait``; ``give_up_after`` seconds after the drop the run ends (``None``: never)."""

    first_wait: float = 0.5
    max_wait: float = 10.0
    give_up_after: float | None = None


DEFAULT_RECONNECT = Reconnect()


@dataclass(frozen=True)
class LiveReport:
    """What :func:`mask_live` did."""

    url: str
    out_dir: str
    frames: int
    """Frames written (every one masked)."""
    dropped: int
    """Frames that could not be masked and were not written."""
    segments: tuple[Segment, ...]
    gaps: tuple[Gap, ...]
    playlist: str | None
    versions: tuple[VersionUse, ...]
    failed_closed: tuple[int, ...]
    """Frames masked whole because scene-locked masks had no current pose."""
    origin: datetime
    """The instant frame offsets count from (the planner's start; pose-track times)."""
    stopped: str
    """Why the run ended: ``"stop"``, ``"max_frames"``, ``"max_seconds"``, ``"source ended"``
    (no reconnecting) or ``"gave up"`` (``Reconnect.give_up_after`` passed)."""
    damaged_packets: int
    """Packets the decoder rejected (their pictures were concealed or skipped, then masked)."""
    seconds: float

    def summary(self) -> str:
        """One line, as the command line prints it."""
        gaps = "; ".join(
            f"{g.kind} gap from {g.start:%H:%M:%S.%f}"[:-3]
            + (f" for {g.seconds:.1f} s" if g.seconds is not None else " to the end")
            + f" ({g.reason})"
            for g in self.gaps
        )
        return (
            f"{self.url} -> {self.out_dir}: {self.frames} frames in {len(self.segments)} "
            f"segments, {self.dropped} dropped unmasked, stopped by {self.stopped}"
            + (f"; {gaps}" if gaps else "")
        )


# --- reading ----------------------------------------------------------------------------------


def _connect(
    url: str, input_format: str | None, options: Mapping[str, str], timeout: tuple[float, float]
) -> Any:
    try:
        return av.open(url, "r", format=input_format, options=dict(options), timeout=timeout)
    except (av.FFmpegError, OSError) as e:
        raise VideoError(f"{url}: cannot open the stream: {e}") from e


# --- the run ----------------------------------------------------------------------------------


def _live_stream(url: str, inp: Any) -> Any:
    """The source's video stream, in a pixel format the engine masks as it is: live sources do
    not take the file path's explicit conversions (yet), so such a source is refused."""
    video, fmt, conversion = video_stream(url, inp)
    if conversion is not None:
        raise FrameFormatError(
            f"{url}: {fmt} live video would need converting to {conversion.masked} to be "
            "masked; live sources are masked only in the formats the engine takes"
        )
    return video


def _positive(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise SettingsError(f"{name} must be a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise SettingsError(f"{name} must be a positive number, got {value!r}")


def _count(value: object, name: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise SettingsError(f"{name} must be a positive integer or None, got {value!r}")


def _check_settings(
    url: object, masks: object, prefix: object, reconnect: object, flags: Mapping[str, object]
) -> None:
    if not isinstance(url, str) or not url:
        raise TypeError(f"url must be a non-empty string, got {url!r}")
    if "://" not in url and Path(url).is_file():
        raise SettingsError(f"{url} is a file, not a live stream: use mask_file for recordings")
    if not isinstance(masks, (MaskSet, MaskTimeline)):
        raise TypeError(f"masks must be a MaskSet or MaskTimeline, got {type(masks).__name__}")
    if not isinstance(prefix, str) or not prefix or "/" in prefix or prefix.startswith("."):
        raise SettingsError(f"prefix must be a plain file-name part, got {prefix!r}")
    if reconnect is not None:
        if not isinstance(reconnect, Reconnect):
            raise TypeError(f"reconnect must be a Reconnect or None, got {reconnect!r}")
        _positive(reconnect.first_wait, "Reconnect.first_wait")
        _positive(reconnect.max_wait, "Reconnect.max_wait")
        if reconnect.give_up_after is not None:
            _positive(reconnect.give_up_after, "Reconnect.give_up_after")
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")


def mask_live(
    url: str,
    out_dir: str | os.PathLike[str],
    masks: MaskSet | MaskTimeline,
    *,
    segment_seconds: float | Fraction = 60,
    hls: bool = False,
    hls_window: int | None = None,
    prefix: str = "cam",
    reconnect: Reconnect | None = DEFAULT_RECONNECT,
    max_frames: int | None = None,
    max_seconds: float | None = None,
    stop: threading.Event | None = None,
    poses: PoseTrack | None = None,
    lifted: bool = False,
    lift_id: str | None = None,
    codec: str = "libx264",
    quality: int | None = None,
    encoder_options: Mapping[str, str] | None = None,
    input_format: str | None = None,
    input_options: Mapping[str, str] | None = None,
    timeout: tuple[float, float] = (10.0, 5.0),
    on_segment: Callable[[Segment], None] | None = None,
) -> LiveReport:
    """Masks the live stream ``url`` into segment files in ``out_dir`` until told to stop.

    ``url`` is anything FFmpeg opens as input (``rtsp://``, ``udp://``, ``http://``,
    ``srt://``, or a device such as ``/dev/video0`` with ``input_format="v4l2"``);
    ``input_options`` go to the demuxer and protocol (``rtsp://`` defaults to
    ``rtsp_transport=tcp``); ``timeout`` is ``(open, read)`` in seconds. ``masks`` is a
    :class:`MaskSet` or a :class:`MaskTimeline` looked up at each frame's wall-clock recording
    time (see the module docstring); ``poses`` places scene-locked masks, at seconds after
    ``LiveReport.origin``; ``lifted=True`` skips liftable masks.

    Segments of ``segment_seconds`` (aligned on the epoch) are named ``<prefix>-<UTC start>.mp4``;
    ``hls=True`` writes ``.ts`` segments and ``<prefix>.m3u8`` (the last ``hls_window`` segments,
    or all). ``codec`` (default H.264, which browsers and NVRs play), ``quality`` (CRF) and
    ``encoder_options`` set the encoder; ``on_segment`` is called on the writer thread with each
    segment as it is published (an exception it raises ends the run).

    The run ends when ``stop`` is set, after ``max_frames`` frames or ``max_seconds`` seconds,
    when ``reconnect`` is ``None`` and the source ends, or when ``reconnect.give_up_after``
    passes; the segment in progress is then finished and published.

    Errors, raised before anything is written: ``TypeError``, :class:`SettingsError` (bad
    settings), ``FileNotFoundError``/``NotADirectoryError`` (``out_dir``), :class:`VideoError`
    (no such encoder; the source cannot be opened the first time, or has no decodable video),
    and :class:`FrameFormatError` (a pixel format privmask does not mask). Encoder options are
    checked when the first segment opens (``ValueError``, before that segment is published).
    During the run, an output that cannot be written raises :class:`VideoError`; published
    segments stay and no ``.part`` file remains.
    """
    t0 = time.monotonic()
    out = Path(out_dir)
    check_lift(lifted, lift_id)
    _check_settings(url, masks, prefix, reconnect, {"hls": hls, "lifted": lifted})
    _positive(segment_seconds, "segment_seconds")
    if max_seconds is not None:
        _positive(max_seconds, "max_seconds")
    _count(max_frames, "max_frames")
    _count(hls_window, "hls_window")
    if not (isinstance(timeout, tuple) and len(timeout) == 2):
        raise SettingsError(f"timeout must be (open seconds, read seconds), got {timeout!r}")
    for t in timeout:
        _positive(t, "timeout")
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int)):
        raise SettingsError(f"quality must be a CRF (an integer) or None, got {quality!r}")
    try:
        if av.codec.Codec(codec, "w").type != "video":
            raise SettingsError(f"{codec!r} is not a video encoder")
    except av.codec.codec.UnknownCodecError as e:
        raise VideoError(f"no encoder {codec!r} in this FFmpeg build") from e
    if not out.is_dir():
        raise (NotADirectoryError if out.exists() else FileNotFoundError)(
            20 if out.exists() else 2, "no output directory there", str(out)
        )
    stop = stop if stop is not None else threading.Event()
    options = dict(input_options or {})
    if url.startswith("rtsp://"):
        options.setdefault("rtsp_transport", "tcp")
    wall = WallClock()
    origin_ns = wall.now_ns()
    planner = FramePlanner(masks, start=utc(origin_ns), poses=poses, source=url)
    recorder = SegmentRecorder(
        out,
        prefix,
        round(Fraction(segment_seconds) * NS),
        hls=hls,
        hls_window=hls_window,
        codec=codec,
        quality=quality,
        encoder_options=encoder_options,
        on_segment=on_segment,
    )
    state: dict[str, Any] = {"stopped": "source ended", "damaged": 0}
    state["inp"] = _connect(url, input_format, options, timeout)
    try:
        _live_stream(url, state["inp"])  # an undecodable or unmaskable source fails here
    except BaseException:
        close_quietly(state["inp"])
        raise

    def limit(frames: int) -> str | None:
        # The pipeline's abort (a failure in another stage) stops the reader like ``stop``.
        if stop.is_set() or pipeline.abort.is_set():
            return "stop"
        if max_frames is not None and frames >= max_frames:
            return "max_frames"
        if max_seconds is not None and time.monotonic() - t0 >= max_seconds:
            return "max_seconds"
        return None

    def connection(inp: Any, frames: int) -> Iterator[Any]:
        """The frames of one connection, with their times, until a limit (then
        ``state["stopped"]`` says which) or the end of the stream (raising what it raised)."""
        video = _live_stream(url, inp)
        found = video.average_rate or video.guessed_rate
        rate = Fraction(found) if found else None
        clock = StreamClock(wall, rate)
        for packet in inp.demux(video):
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                state["damaged"] += 1
                continue
            for frame in decoded:
                why = limit(frames)
                if why is not None:
                    state["stopped"] = why
                    return
                frame.make_writable()
                frames += 1
                t, at = clock.stamp(frame)
                yield Capture(frame, t, at, rate)

    def read() -> Generator[object, None, None]:
        frames, attempts, last_ns = 0, 0, origin_ns
        while True:
            reason = "the source ended the stream"
            try:
                for cap in connection(state["inp"], frames):
                    if attempts:
                        yield SourceBack(attempts)
                        attempts = 0
                    frames, last_ns = frames + 1, cap.time_ns
                    yield cap
            except (av.FFmpegError, OSError, VideoError) as e:
                reason = str(e)  # a source that comes back unreadable is one more drop
            finally:
                close_quietly(state.pop("inp"))
            if state["stopped"] != "source ended" or reconnect is None:
                return
            yield SourceLost(reason, last_ns)
            wait, lost = reconnect.first_wait, time.monotonic()
            while "inp" not in state:
                until = time.monotonic() + wait
                while limit(frames) is None and (left := until - time.monotonic()) > 0:
                    stop.wait(min(left, _POLL_S))
                why = limit(frames)
                give_up = reconnect.give_up_after
                if why is None and give_up is not None and time.monotonic() - lost >= give_up:
                    why = "gave up"
                if why is not None:
                    state["stopped"] = why
                    return
                attempts += 1
                try:
                    state["inp"] = _connect(url, input_format, options, timeout)
                except VideoError as e:
                    log.info("reconnect attempt %d failed: %s", attempts, e)
                    wait = min(wait * 2, reconnect.max_wait)

    # Live pictures are masked as coded: a rotated one (a display matrix) is dropped.
    upright = OrientationCheck(url, Orientation())

    def process(index: int, item: Any) -> None:
        cap: Capture = item
        try:
            upright.check(index, cap.frame)
            frame = Frame.from_av(cap.frame)
            offset = Fraction(cap.time_ns - origin_ns, NS)
            compiled = planner.plan(index, offset, geometry_of(frame), pts=cap.frame.pts)
            if compiled is not None:
                compiled.apply_planes(list(frame.planes), lifted=lifted, parallel=False)
        except (PrivmaskError, ValueError) as e:
            # Never passed on: the writer closes the segment and reports the frame as dropped.
            cap.frame, cap.failure = None, f"frame {index}: {e}"
            return
        cap.masked = True

    source = read()
    pipeline = Pipeline(
        lambda: source,
        lambda item: isinstance(item, Capture),
        process,
        recorder.write,
        recorder.finish,
        lambda error, _index: error,
    )
    try:
        pipeline.run()
    finally:
        source.close()  # the reader thread has been joined: this closes the connection in hand
        if "inp" in state:
            close_quietly(state.pop("inp"))
        recorder.abandon()
    return LiveReport(
        url=url,
        out_dir=os.fspath(out),
        frames=recorder.frames,
        dropped=recorder.dropped,
        segments=tuple(recorder.segments),
        gaps=tuple(recorder.gaps),
        playlist=os.fspath(recorder.playlist) if hls and recorder.segments else None,
        versions=planner.versions_used(),
        failed_closed=tuple(planner.failed_closed),
        origin=utc(origin_ns),
        stopped=state["stopped"],
        damaged_packets=state["damaged"],
        seconds=time.monotonic() - t0,
    )
