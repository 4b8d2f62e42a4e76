"""The one transcode path: reader (demux + decode) -> per-frame callback -> writer (encode + mux).

Every job that turns a video into a masked video — :func:`~privmask.video.mask_file`,
:func:`~privmask.redact_file`, :func:`~privmask.export` (through ``mask_file``) and, with raw
frames instead of packets, :func:`~privmask.video.mask_raw` — runs here (on the three-stage
:class:`~privmask.video.pipeline.Pipeline`), so containers, timing, damage, signals and atomic
publishing are handled once.

**Frame times.** The callback gets each frame's offset in seconds after the stream's first frame:
``(pts - first_pts) * time_base`` as an exact :class:`~fractions.Fraction` (edit lists and
negative starts included, since FFmpeg has applied them to the pts); a stream without timestamps
(raw Annex-B H.264/HEVC) is timed from its frame rate, ``index / rate``, as FFmpeg does, and is
written with those times.

**What is kept.** What ``ffmpeg -i IN -c:v ENC OUT`` keeps of the video stream: size, pixel
format, frame times, time base (where the container and encoder allow it), rate, colour tags,
sample aspect ratio, the display matrix (rotation/mirroring) and the field order (interlaced
video is coded as fields). Audio is copied with ``keep_audio`` when the container can carry it.
Every stream not written (further video streams, audio not kept or not carried by the container,
subtitles, data, attachments) is listed in :attr:`TranscodeResult.dropped`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from tqdm import tqdm

from privmask._outputs import publish, temp_beside
from privmask.engine.planner import Geometry
from privmask.errors import VideoError
from privmask.video.decode import (
    DamageLog,
    FirstFrame,
    OrientationCheck,
    creation_time,
    decode_video,
    first_frame,
    open_source,
    video_stream,
)
from privmask.video.encode import (
    EncoderPlan,
    can_copy,
    close_quietly,
    ffmpeg_reason,
    open_output,
    start_encoding,
)
from privmask.video.formats import Conversion
from privmask.video.orient import Orientation
from privmask.video.pipeline import QUEUE_FRAMES, Pipeline

__all__ = [
    "QUEUE_FRAMES",
    "FrameCallback",
    "Pipeline",
    "SourceInfo",
    "TranscodeResult",
    "frame_geometry",
    "transcode_file",
]

FrameCallback = Callable[[int, Any, Fraction | None], None]
"""Called on the calling thread for each decoded frame, in order: ``(index, frame, offset)``;
``index`` counts from 0, ``frame`` is the ``av.VideoFrame`` (writable in place), ``offset`` the
frame's time in seconds after the stream's first frame (``None`` when it cannot be known)."""


@dataclass(frozen=True)
class SourceInfo:
    """What is known about a source before its first frame reaches the callback."""

    src: str
    width: int
    height: int
    """The coded picture's size (frames reach the callback as coded, not rotated)."""
    pix_fmt: str
    """The pixel format the callback gets (after any conversion, see ``conversion``)."""
    codec: str
    time_base: Fraction | None
    rate: Fraction | None
    frames: int | None
    """The container's frame count, or an estimate from duration and rate (``None``: unknown)."""
    creation_time: datetime | None
    """The file's ``creation_time`` (UTC by convention), the recording start by default."""
    orientation: Orientation = field(default_factory=Orientation)
    """How the picture is displayed: masks drawn on the displayed picture must be mapped
    onto the coded one (:func:`privmask.video.orient.displayed_masks`)."""
    conversion: Conversion | None = None
    """The pixel-format conversion done before the callback (:mod:`privmask.video.formats`)."""


@dataclass(frozen=True)
class TranscodeResult:
    """What :func:`transcode_file` wrote."""

    frames: int
    codec: str
    audio_streams: int
    dropped: tuple[str, ...] = ()
    """The source's streams that are not in the output, each with the reason."""
    damage: tuple[str, ...] = ()
    """What was lost to damaged input (only with ``accept_damage=True``; else it raises)."""
    converted: str | None = None
    """The pixel-format conversion done for masking, in words (``None``: none)."""
    orientation: str | None = None
    """The display rotation/mirroring kept on the output, in words (``None``: none)."""


def frame_geometry(frame: Any) -> Geometry:
    """The compile geometry of a decoded ``av.VideoFrame`` (colour coding read from the frame
    when masks are compiled, so only size and format here)."""
    return Geometry(frame.width, frame.height, frame.format.name)


def _frame_estimate(inp: Any, stream: Any) -> int | None:
    if stream.frames:
        return int(stream.frames)
    rate = stream.average_rate or stream.guessed_rate
    if inp.duration and rate:
        return max(1, int(inp.duration * rate / 1_000_000))
    return None


def _source_bit_rate(src: str, inp: Any, video: Any) -> int | None:
    """The video's bit rate in bits/s: declared, else the file's size over its duration less
    the declared audio rates (an overestimate is harmless: it is only a cap)."""
    rate = video.bit_rate or video.codec_context.bit_rate
    if rate:
        return int(rate)
    if inp.duration and os.path.isfile(src):
        total = os.path.getsize(src) * 8 * 1_000_000 // inp.duration
        audio = sum(int(a.bit_rate or a.codec_context.bit_rate or 0) for a in inp.streams.audio)
        return int(total - audio) if total > audio else int(total)
    return None


class _Clock:
    """Frame offsets after the first frame, from pts; a frame without one (raw streams, or a
    program stream's frames between time stamps) one frame period after the frame before."""

    def __init__(self, time_base: Fraction | None, rate: Fraction | None) -> None:
        self.time_base = time_base
        self.period = Fraction(1) / Fraction(rate) if rate else None
        self.first: int | None = None
        self.last: Fraction | None = None

    def offset(self, index: int, frame: Any) -> Fraction | None:
        time_base = frame.time_base or self.time_base
        if frame.pts is not None and time_base is not None:
            if self.first is None:
                self.first = frame.pts
            self.last = Fraction(frame.pts - self.first) * Fraction(time_base)
        elif self.period is None:
            return None
        elif self.last is None:
            self.last = index * self.period
        else:
            self.last += self.period
        return self.last


class _Retimer:
    """Frame times in the encoder's time base when it is not the source's (MPEG-1/2/4 Part 2
    count in frame periods; frames without pts are placed at ``index / rate``), kept strictly
    increasing as encoders require."""

    def __init__(self, plan: EncoderPlan, source_tb: Fraction | None) -> None:
        self.plan = plan
        self.source_tb = source_tb
        self.last: int | None = None
        self.index = 0

    def stamp(self, frame: Any) -> None:
        index = self.index
        self.index += 1
        if not self.plan.retime:
            return
        tb = frame.time_base or self.source_tb
        if frame.pts is not None and tb:
            pts = round(Fraction(frame.pts) * Fraction(tb) / self.plan.time_base)
        elif self.last is not None:
            pts = self.last + 1
        else:
            pts = index
        if self.last is not None and pts <= self.last:
            pts = self.last + 1
        self.last = pts
        frame.pts, frame.time_base = pts, self.plan.time_base


def _describe(stream: Any) -> str:
    cc = stream.codec_context
    name = getattr(cc, "name", None) or "unknown codec"
    extra = ""
    if stream.type == "video" and getattr(cc, "width", 0):
        extra = f" {cc.width}x{cc.height}"
    return f"stream {stream.index} ({stream.type}, {name}{extra})"


def transcode_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    prepare: Callable[[SourceInfo], tuple[FrameCallback, bool]],
    *,
    codec: str | None = None,
    quality: int | None = None,
    encoder_options: Mapping[str, str] | None = None,
    keep_audio: bool = False,
    progress: bool = True,
    accept_damage: bool = False,
) -> TranscodeResult:
    """Transcodes ``src`` into ``dst`` through a per-frame callback; publishes ``dst`` atomically.

    ``prepare(info)`` is called once the source is open and before the output exists; it returns
    the callback and whether the callback writes into frames (if not, decoded pictures need no
    private copy). Errors it raises leave nothing behind. Then the encoder is opened (bad
    settings fail before any decoding, with FFmpeg's reason), and the frames flow reader ->
    callback -> writer.

    Damaged input (a packet marked corrupt, a concealed picture, a file shorter than it
    declares, a cut MPEG-TS) raises :class:`VideoError` naming where; ``accept_damage=True``
    writes what can be decoded and lists what was lost in :attr:`TranscodeResult.damage`.

    Raises ``FileNotFoundError``/``PermissionError`` for the paths, ``ValueError`` when ``dst`` is
    ``src``, :class:`VideoError` for input that cannot be read (naming the packet), output that
    cannot be written (naming the frame) and a stream whose geometry changes mid-way,
    :class:`~privmask.errors.FrameFormatError` for a pixel format privmask neither masks nor
    converts, and whatever the callback raises. On any failure, ``KeyboardInterrupt`` and
    ``SystemExit`` included, ``dst`` is left as it was and no temporary file remains (see
    :mod:`privmask._outputs` for the durability policy and the sweeping of a killed run's
    leftovers).
    """
    if not isinstance(accept_damage, bool):
        raise TypeError(f"accept_damage must be True or False, got {accept_damage!r}")
    src_s, dst_p = os.fspath(src), Path(dst)
    inp = open_source(src_s, dst_p)
    tmp: Path | None = None
    out: Any = None
    ostream: Any = None
    try:
        video, source_fmt, conversion = video_stream(src_s, inp)
        fmt = conversion.masked if conversion is not None else source_fmt
        icc = video.codec_context
        first = first_frame(src_s, video.index) or FirstFrame()
        rate = video.average_rate or video.guessed_rate or video.base_rate
        info = SourceInfo(
            src=src_s,
            width=icc.width,
            height=icc.height,
            pix_fmt=fmt,
            codec=icc.name,
            time_base=Fraction(video.time_base) if video.time_base else None,
            rate=Fraction(rate) if rate else None,
            frames=_frame_estimate(inp, video),
            creation_time=creation_time(inp, video),
            orientation=first.orientation,
            conversion=conversion,
        )
        callback, writes = prepare(info)
        tmp = temp_beside(dst_p)
        out, ostream, plan = _open(
            tmp, dst_p, video, source_fmt, fmt, codec, quality, encoder_options, first, src_s, inp
        )
        out_codec = plan.codec
        audio_map: dict[int, Any] = {}
        dropped: list[str] = []
        for s in inp.streams:
            if s.index == video.index:
                continue
            if s.type == "audio" and keep_audio:
                refused = can_copy(out, s)
                if refused is not None:
                    dropped.append(f"{_describe(s)}: {out.format.name} cannot carry it ({refused})")
                    continue
                audio_map[s.index] = out.add_stream_from_template(s)
                continue
            why = {
                "video": "privmask writes one video stream (mask the others separately)",
                "audio": "audio is dropped unless keep_audio=True",
            }.get(s.type, "only video and audio are written")
            dropped.append(f"{_describe(s)}: {why}")
        start_encoding(out, dst_p, plan, icc.width, icc.height)
        expected = (info.width, info.height, fmt)
        clock = _Clock(info.time_base, info.rate)
        orientation = OrientationCheck(src_s, first.orientation)
        retimer = _Retimer(plan, info.time_base)
        audio = [s for s in inp.streams.audio if s.index in audio_map]
        damage = DamageLog(src_s, accept=accept_damage)

        def read() -> Iterator[object]:
            yield from decode_video(
                src_s, inp, video, audio, writable=writes, damage=damage, convert=conversion
            )

        def process(index: int, frame: Any) -> None:
            if (frame.width, frame.height, frame.format.name) != expected:
                w, h, f = expected
                raise VideoError(
                    f"{src_s}: frame {index} is {frame.width}x{frame.height} "
                    f"{frame.format.name}, but the video started as {w}x{h} {f}; privmask "
                    "keeps the geometry, so split the file where it changes",
                    frame=index,
                )
            orientation.check(index, frame)
            callback(index, frame, clock.offset(index, frame))

        def write(item: object) -> None:
            if isinstance(item, av.VideoFrame):
                frame: Any = item
                if conversion is not None:
                    frame = conversion.to_encoded(frame, plan.pix_fmt)
                retimer.stamp(frame)
                for p in ostream.encode(frame):
                    out.mux(p)
            else:
                packet: Any = item
                packet.stream = audio_map[packet.stream.index]
                out.mux(packet)

        def finish() -> None:
            for p in ostream.encode(None):
                out.mux(p)

        def write_error(e: BaseException, index: int | None) -> BaseException:
            if not isinstance(e, av.FFmpegError):
                return e
            where = f"frame {index}" if index is not None else "the end of the stream"
            err = VideoError(
                f"{src_s}: cannot encode or write {where}: {ffmpeg_reason(e)}", frame=index
            )
            err.__cause__ = e
            return err

        with tqdm(
            total=info.frames,
            unit="frame",
            desc=Path(src_s).name,
            disable=None if progress else True,
            leave=False,
        ) as bar:
            pipeline = Pipeline(
                read,
                lambda item: isinstance(item, av.VideoFrame),
                process,
                write,
                finish,
                write_error,
                lambda: bar.update(1),
            )
            frames = pipeline.run()
        try:
            out.close()
        except av.FFmpegError as e:
            raise VideoError(f"{dst_p}: cannot finish the file: {ffmpeg_reason(e)}") from e
        finally:
            out = None
        publish(tmp, dst_p)
        tmp = None
        return TranscodeResult(
            frames=frames,
            codec=out_codec,
            audio_streams=len(audio_map),
            dropped=tuple(dropped),
            damage=tuple(damage.lost),
            converted=None if conversion is None else conversion.describe(plan.pix_fmt),
            orientation=None if first.orientation.identity else first.orientation.describe(),
        )
    finally:
        # Runs for KeyboardInterrupt/SystemExit too: the pipeline's threads have stopped by
        # now, so the temporary file can go. A second interrupt here leaves it to the next
        # run's sweep (its name carries this process's id).
        try:
            if out is not None:
                close_quietly(out)
            close_quietly(inp)
            # The encoder goes now, not with whatever holds this frame (an exception's
            # traceback): freed later by the garbage collector, in any thread, while its
            # encoder threads may still log.
            out = ostream = None
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)


def _open(
    tmp: Path,
    dst: Path,
    video: Any,
    source_fmt: str,
    fmt: str,
    codec: str | None,
    quality: int | None,
    encoder_options: Mapping[str, str] | None,
    first: Any,
    src: str,
    inp: Any,
) -> tuple[Any, Any, EncoderPlan]:
    """The output container and video stream: the source's own pixel format when the encoder
    takes it (a converted source is converted back), else the format it was masked in."""
    icc = video.codec_context
    field_order = int(icc.field_order or 0)
    if first.interlaced and field_order <= 1:
        field_order = 2  # interlaced pictures without a stream order: top field first (TT)
    kwargs: dict[str, Any] = dict(
        codec=codec,
        quality=quality,
        encoder_options=encoder_options,
        source_bit_rate=_source_bit_rate(src, inp, video),
        display_matrix=first.orientation.matrix,
        field_order=field_order,
        timed=first.timed,
    )
    if fmt != source_fmt:
        try:
            return open_output(tmp, dst, video, source_fmt, **kwargs)
        except VideoError:
            pass  # the encoder does not take the source's format: encode the masked one
    return open_output(tmp, dst, video, fmt, **kwargs)
