"""Recording masked live frames as an NVR does: rolling segment files named by their start time,
or an HLS playlist, with every interval that has no video reported as a gap.

This is the writer stage of :func:`privmask.video.live.mask_live` (see there for the rules),
with the clocks that time the frames its reader decodes. :class:`SegmentRecorder` takes, in
order, the items the reader and the masking stage pass down the pipeline: :class:`Capture` (a
frame, written only when ``masked`` is set), :class:`SourceLost` and :class:`SourceBack`.
Times are integers: nanoseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
from av.video.frame import PictureType

from privmask._outputs import publish, temp_beside, write_atomic
from privmask.errors import VideoError
from privmask.video.encode import close_quietly, open_output

__all__ = [
    "NS",
    "RESYNC_SECONDS",
    "Capture",
    "Gap",
    "Segment",
    "SegmentRecorder",
    "SourceBack",
    "SourceLost",
    "StreamClock",
    "WallClock",
    "utc",
]

log = logging.getLogger("privmask.video.live")

NS = 1_000_000_000
"""Nanoseconds in a second."""
_TICKS = 90_000  # output time base 1/90000 s: MPEG-TS's own, exact for every common frame rate
_TIME_BASE = Fraction(1, _TICKS)
_HLS_START_NS = 10 * NS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc(ns: int) -> datetime:
    """Nanoseconds since the Unix epoch as an aware UTC datetime (floored to the microsecond)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


RESYNC_SECONDS = 3
"""How far a frame's stream-clock time may stray from its arrival time before the connection
is re-anchored on the wall clock (longer than RTSP's start-up burst, shorter than a drop)."""


class WallClock:
    """The wall clock read once, then advanced by the monotonic clock (immune to NTP steps)."""

    def __init__(self) -> None:
        wall, mono = time.time_ns(), time.monotonic_ns()
        self._offset = wall - wall % 1000 - mono  # whole microseconds, as datetimes hold them

    def now_ns(self) -> int:
        """Now, in nanoseconds since the Unix epoch."""
        return time.monotonic_ns() + self._offset


class StreamClock:
    """Frame times for one connection (the rule is in :mod:`privmask.video.live`, "Recording
    time"): ``stamp(frame)`` gives its recording time and its stream-clock time. A frame without a
    timestamp (RTSP's first, before the stream is synchronised) follows the one before it by a
    frame interval of ``rate``."""

    def __init__(self, wall: WallClock, rate: Fraction | None) -> None:
        self.wall = wall
        self.step = round(NS / rate) if rate else 0
        self.anchor: int | None = None
        self.first_pts = self.lead = 0
        self.last: int | None = None

    def stamp(self, frame: Any) -> tuple[int, int]:
        """``(recording time, stream-clock time)`` of ``frame``, in ns since the epoch."""
        now = self.wall.now_ns()
        clock: int | None = None
        if frame.pts is not None and frame.time_base is not None:
            if self.anchor is not None:
                t = self.anchor + round(Fraction(frame.pts - self.first_pts) * frame.time_base * NS)
                if abs(t - self.lead - now) <= RESYNC_SECONDS * NS:
                    clock = t
                else:  # the clocks parted: start over on this frame
                    self.last, self.lead = None, 0
            if clock is None:
                clock = now if self.last is None else self.last + self.step
                self.anchor, self.first_pts = clock, frame.pts
        else:
            clock = now if self.last is None else self.last + self.step
        self.lead = max(self.lead, clock - now)
        self.last = clock
        return clock - self.lead, clock


@dataclass(eq=False)
class Capture:
    """A decoded frame on its way to the writer, with its recording time; ``masked`` is set by
    the masking stage once every mask was applied, and only then is the frame written. A frame
    that cannot be masked has ``frame=None`` and the reason in ``failure``."""

    frame: Any
    time_ns: int
    """Recording time (wall clock): what the timeline, segment slots and names use."""
    clock_ns: int
    """The stream's clock on the same scale: what output timestamps follow (evenly spaced)."""
    rate: Fraction | None
    masked: bool = False
    failure: str = ""


@dataclass(frozen=True)
class SourceLost:
    """The source went away; ``last_ns`` is the recording time of the last frame received."""

    reason: str
    last_ns: int


@dataclass(frozen=True)
class SourceBack:
    """The source is back after ``attempts`` connections; its frames follow."""

    attempts: int


@dataclass(frozen=True)
class Segment:
    """One published segment file."""

    path: str
    start: datetime
    """Recording time of its first frame (a keyframe), UTC; the file is named after it."""
    end: datetime
    """Recording time it ends: the next segment's start when they are contiguous, else its last
    frame's time plus one frame interval."""
    duration: Fraction
    """Seconds it plays (on the stream's clock, as the playlist lists it). Equal to
    ``end - start`` once frames flow in real time; longer for a segment holding the burst a new
    connection starts with, whose frames arrive faster than they play."""
    frames: int
    after_gap: bool
    """True when a gap (source or masking) comes right before it."""


@dataclass(frozen=True)
class Gap:
    """An interval of recording time with no video written.

    ``kind`` is ``"source"`` (the connection was lost; ``start`` is the time of the last frame
    received before, ``attempts`` the connections tried until it was back) or ``"masking"``
    (frames that could not be masked were dropped; ``start`` is the first one's time, ``dropped``
    their number). ``end`` is the time of the first frame after the gap (``None``: the run ended
    inside it)."""

    kind: str
    start: datetime
    end: datetime | None
    reason: str
    dropped: int = 0
    attempts: int = 0

    @property
    def seconds(self) -> float | None:
        """The gap's length (``None`` when it never ended)."""
        return None if self.end is None else (self.end - self.start).total_seconds()


@dataclass(eq=False)
class _Open:
    """The segment being written."""

    dst: Path
    tmp: Path
    out: Any
    stream: Any
    slot: tuple[int, int, int, str]
    start_ns: int
    first_clock: int
    base_clock: int
    after_gap: bool
    frames: int = 0
    last_ns: int = 0
    last_clock: int = 0
    last_pts: int = -1
    interval_ns: int = 0


@dataclass(eq=False)
class _OpenGap:
    kind: str
    start_ns: int
    reason: str
    dropped: int = 0
    attempts: int = 0


@dataclass(eq=False)
class SegmentRecorder:
    """Masked frames into segment files in ``out_dir``; gaps into :attr:`gaps`; the playlist.

    ``write(item)`` takes the pipeline's items in order, ``finish()`` ends the run (publishes the
    segment in progress, closes an open gap, ends the playlist), ``abandon()`` drops the segment
    in progress after a failure. Segments of ``segment_ns`` nanoseconds are aligned on the
    epoch; ``hls`` writes MPEG-TS segments on one continuous clock and ``<prefix>.m3u8`` (the
    last ``hls_window`` segments, or all), else MP4 segments that each start at 0.

    Raises :class:`VideoError` when a segment cannot be encoded or written, and the errors of
    :func:`privmask._outputs.publish`; the ``.part`` file is removed first.
    """

    out_dir: Path
    prefix: str
    segment_ns: int
    hls: bool = False
    hls_window: int | None = None
    codec: str = "libx264"
    quality: int | None = None
    encoder_options: Mapping[str, str] | None = None
    on_segment: Callable[[Segment], None] | None = None
    segments: list[Segment] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    frames: int = 0
    dropped: int = 0
    _cur: _Open | None = None
    _gap: _OpenGap | None = None
    _after_gap: bool = False
    _origin_clock: int | None = None
    _interval_ns: int = 0
    _names: set[str] = field(default_factory=set)
    _target: int = 0

    @property
    def playlist(self) -> Path:
        """Where the HLS playlist goes."""
        return self.out_dir / f"{self.prefix}.m3u8"

    def write(self, item: object) -> None:
        """Takes one pipeline item (see the module docstring)."""
        if isinstance(item, Capture):
            if item.masked and item.frame is not None:
                self._frame(item)
            else:
                self._unmasked(item)
        elif isinstance(item, SourceLost):
            self._close()
            if self._gap is not None and self._gap.kind == "source":
                return
            self._end_gap(item.last_ns)
            self._gap = _OpenGap("source", item.last_ns, item.reason)
            log.warning("%s: source lost (%s); reconnecting", utc(item.last_ns), item.reason)
        elif isinstance(item, SourceBack) and self._gap is not None:
            self._gap.attempts += item.attempts

    def _unmasked(self, cap: Capture) -> None:
        self._close()
        self.dropped += 1
        if self._gap is not None and self._gap.kind == "masking":
            self._gap.dropped += 1
            return
        self._end_gap(cap.time_ns)
        self._gap = _OpenGap("masking", cap.time_ns, cap.failure, dropped=1)
        log.warning("%s: frames dropped, not masked: %s", utc(cap.time_ns), cap.failure)

    def _end_gap(self, end_ns: int | None) -> None:
        g, self._gap = self._gap, None
        if g is None:
            return
        end = None if end_ns is None else utc(end_ns)
        gap = Gap(g.kind, utc(g.start_ns), end, g.reason, g.dropped, g.attempts)
        self.gaps.append(gap)
        self._after_gap = True
        if end is not None:
            log.warning("%s: %s gap ended after %.1f s", end, g.kind, gap.seconds or 0.0)

    def _frame(self, cap: Capture) -> None:
        t, frame = cap.time_ns, cap.frame
        if self._gap is not None:
            self._end_gap(t)
        slot = (t // self.segment_ns, frame.width, frame.height, frame.format.name)
        cur = self._cur
        if cur is not None and cur.slot != slot:
            contiguous = slot[1:] == cur.slot[1:] and cap.clock_ns > cur.last_clock
            self._close(cap if contiguous else None)
            cur = None
        if cur is None:
            cur = self._cur = self._open(cap, slot)
        elif cap.clock_ns > cur.last_clock:
            cur.interval_ns = self._interval_ns = cap.clock_ns - cur.last_clock
        pts = max((cap.clock_ns - cur.base_clock) * _TICKS // NS, cur.last_pts + 1)
        frame.pts, frame.time_base = pts, _TIME_BASE
        # FFmpeg's H.264/HEVC encoders obey a frame's picture type, and a decoded frame carries
        # the source's: clear it, except for the keyframe that starts the segment.
        frame.pict_type = PictureType.I if cur.frames == 0 else PictureType.NONE
        try:
            for packet in cur.stream.encode(frame):
                cur.out.mux(packet)
        except av.FFmpegError as e:
            raise VideoError(f"{cur.dst}: cannot encode a frame: {e}") from e
        cur.frames += 1
        cur.last_ns, cur.last_clock, cur.last_pts = t, cap.clock_ns, pts
        self.frames += 1

    def _name(self, t: int) -> Path:
        base = f"{self.prefix}-{utc(t):%Y%m%dT%H%M%SZ}"
        ext = ".ts" if self.hls else ".mp4"
        name, n = base + ext, 0
        while name in self._names or (self.out_dir / name).exists():
            n += 1
            name = f"{base}-{n}{ext}"
        self._names.add(name)
        return self.out_dir / name

    def _open(self, cap: Capture, slot: tuple[int, int, int, str]) -> _Open:
        t, frame = cap.time_ns, cap.frame
        if self._origin_clock is None:
            self._origin_clock = cap.clock_ns
        dst = self._name(t)
        tmp = temp_beside(dst)
        try:
            # open_output copies size, rate, time base and colour tags from an input stream; a
            # live segment takes them from its first frame and the 1/90000 output clock.
            codec = SimpleNamespace(
                width=frame.width,
                height=frame.height,
                name=self.codec,
                color_range=frame.color_range,
                colorspace=frame.colorspace,
                color_primaries=frame.color_primaries,
                color_trc=frame.color_trc,
                sample_aspect_ratio=None,
                bit_rate=0,
            )
            template = SimpleNamespace(
                codec_context=codec,
                time_base=_TIME_BASE,
                average_rate=cap.rate,
                guessed_rate=None,
                base_rate=None,
            )
            out, stream, _ = open_output(
                tmp,
                dst,
                template,
                frame.format.name,
                codec=self.codec,
                quality=self.quality,
                encoder_options=self.encoder_options,
            )
            try:
                out.start_encoding()
            except av.FFmpegError as e:
                close_quietly(out)
                raise VideoError(f"{dst}: cannot start encoding with {self.codec}: {e}") from e
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        # MPEG-TS segments continue one clock (players join them seamlessly), starting late
        # enough that the encoder's reordering delay never makes a decoding time negative (the
        # muxer would shift that one file and overlap its neighbour). MP4s each start at 0.
        base = self._origin_clock - _HLS_START_NS if self.hls else cap.clock_ns
        seg = _Open(dst, tmp, out, stream, slot, t, cap.clock_ns, base, self._after_gap)
        self._after_gap = False
        return seg

    def _close(self, following: Capture | None = None) -> None:
        cur, self._cur = self._cur, None
        if cur is None:
            return
        try:
            try:
                for packet in cur.stream.encode(None):
                    cur.out.mux(packet)
                cur.out.close()
            except av.FFmpegError as e:
                raise VideoError(f"{cur.dst}: cannot finish the segment: {e}") from e
            publish(cur.tmp, cur.dst)
        except BaseException:
            close_quietly(cur.out)
            cur.tmp.unlink(missing_ok=True)
            raise
        if following is not None:
            end_ns, end_clock = following.time_ns, following.clock_ns
        else:
            step = cur.interval_ns or self._interval_ns
            end_ns, end_clock = cur.last_ns + step, cur.last_clock + step
        seg = Segment(
            os.fspath(cur.dst),
            utc(cur.start_ns),
            utc(end_ns),
            Fraction(end_clock - cur.first_clock, NS),
            cur.frames,
            cur.after_gap,
        )
        self.segments.append(seg)
        log.info("%s: %d frames, %.2f s", seg.path, seg.frames, float(seg.duration))
        if self.hls:
            self._write_playlist(final=False)
        if self.on_segment is not None:
            self.on_segment(seg)

    def abandon(self) -> None:
        """Drops the segment being written (after a failure): its ``.part`` file goes."""
        cur, self._cur = self._cur, None
        if cur is not None:
            close_quietly(cur.out)
            cur.tmp.unlink(missing_ok=True)

    def finish(self) -> None:
        """Ends the run: publishes the segment in progress, closes any gap, ends the playlist."""
        self._close()
        self._end_gap(None)
        if self.hls and self.segments:
            self._write_playlist(final=True)

    def _write_playlist(self, *, final: bool) -> None:
        first = 0 if self.hls_window is None else max(0, len(self.segments) - self.hls_window)
        shown = self.segments[first:]
        # A live playlist's target duration must not change, so it only grows past the segment
        # length if a segment did (durations rounded to the nearest second, RFC 8216 4.3.3.1).
        self._target = max(
            [self._target, math.ceil(Fraction(self.segment_ns, NS))]
            + [math.floor(s.duration + Fraction(1, 2)) for s in shown]
        )
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{self._target}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
        ]
        if self.hls_window is None:
            lines.append("#EXT-X-PLAYLIST-TYPE:EVENT")
        else:
            gone = sum(s.after_gap for s in self.segments[1:first])
            lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{gone}")
        for i, s in enumerate(shown, start=first):
            if s.after_gap and i > 0:
                lines.append("#EXT-X-DISCONTINUITY")
            stamp = s.start.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{stamp}")
            lines.append(f"#EXTINF:{float(s.duration):.3f},")
            lines.append(Path(s.path).name)
        if final:
            lines.append("#EXT-X-ENDLIST")
        write_atomic(self.playlist, "\n".join(lines) + "\n")
