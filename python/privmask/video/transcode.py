"""The one transcode path: reader (demux + decode) -> per-frame callback -> writer (encode + mux).

Every job that turns a video into a masked video — :func:`~privmask.video.mask_file`,
:func:`~privmask.redact_file`, :func:`~privmask.export` (through ``mask_file``) and, with raw
frames instead of packets, :func:`~privmask.video.mask_raw` — runs here, so containers, timing,
damage, signals and atomic publishing are handled once.

Why three threads: decoding, masking and encoding each spend nearly all their time in C with
the GIL released (PyAV wraps ``avcodec_send_packet``/``receive_frame``, ``avcodec_send_frame``
and ``av_interleaved_write_frame`` in ``nogil``; the privmask kernels detach from Python), so a
reader thread, the calling thread (the callback: masking) and a writer thread, joined by small
bounded queues, overlap on a multi-core machine and masking adds little to a transcode's time.

**Frame times.** The callback gets each frame's offset in seconds after the stream's first frame:
``(pts - first_pts) * time_base`` as an exact :class:`~fractions.Fraction` (edit lists and
negative starts included, since FFmpeg has applied them to the pts); a stream without timestamps
(raw Annex-B H.264/HEVC) is timed from its frame rate, ``index / rate``, as FFmpeg does.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from tqdm import tqdm

from privmask._outputs import publish, temp_beside
from privmask.engine.planner import Geometry
from privmask.errors import VideoError
from privmask.video.decode import creation_time, decode_video, open_source, video_stream
from privmask.video.encode import close_quietly, open_output

__all__ = [
    "QUEUE_FRAMES",
    "FrameCallback",
    "Pipeline",
    "SourceInfo",
    "TranscodeResult",
    "frame_geometry",
    "transcode_file",
]

QUEUE_FRAMES = 4
"""Frames queued between two stages: enough to absorb jitter (a slow keyframe), few enough that
a 4K pipeline (12 MB a picture, a dozen in flight with the ones each stage holds) stays near
150 MB."""

_POLL_S = 0.05  # how often a blocked stage looks at the abort flag


FrameCallback = Callable[[int, Any, Fraction | None], None]
"""Called on the calling thread for each decoded frame, in order: ``(index, frame, offset)``;
``index`` counts from 0, ``frame`` is the ``av.VideoFrame`` (writable in place), ``offset`` the
frame's time in seconds after the stream's first frame (``None`` when it cannot be known)."""


@dataclass(frozen=True)
class SourceInfo:
    """What is known about a source before its first frame is decoded."""

    src: str
    width: int
    height: int
    pix_fmt: str
    codec: str
    time_base: Fraction | None
    rate: Fraction | None
    frames: int | None
    """The container's frame count, or an estimate from duration and rate (``None``: unknown)."""
    creation_time: datetime | None
    """The file's ``creation_time`` (UTC by convention), the recording start by default."""


@dataclass(frozen=True)
class TranscodeResult:
    """What :func:`transcode_file` wrote."""

    frames: int
    codec: str
    audio_streams: int


class _End:
    """End of stream, passed down the queues after the last frame."""


class _Failure:
    """An error raised in the reader thread, passed down in order to the calling thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Drain:
    """The reader failed: the writer writes what it was given so far, then stops (a pipe keeps
    the whole frames before a broken one; a file is discarded anyway)."""


_END = _End()
_DRAIN = _Drain()


class Pipeline:
    """Reader thread -> calling thread -> writer thread, joined by bounded queues.

    ``read()`` (an iterator, run on the reader thread) yields frames and pass-through items
    (audio packets); ``is_frame`` tells them apart. ``process(index, frame)`` runs on the calling
    thread for frames only. ``write(item)`` and ``finish()`` run on the writer thread; an error
    there is turned into the error to raise by ``write_error(exc, frame_index_or_None)``. Any
    stage that fails sets ``abort`` and the others stop at their next queue operation; the first
    failure is raised by :meth:`run`.
    """

    def __init__(
        self,
        read: Callable[[], Iterable[object]],
        is_frame: Callable[[object], bool],
        process: Callable[[int, Any], None],
        write: Callable[[object], None],
        finish: Callable[[], None],
        write_error: Callable[[BaseException, int | None], BaseException],
        on_frame_done: Callable[[], object] | None = None,
    ) -> None:
        self._read = read
        self._is_frame = is_frame
        self._process = process
        self._write = write
        self._finish = finish
        self._write_error = write_error
        self._on_frame_done = on_frame_done
        self.abort = threading.Event()
        self.decoded: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self.masked: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self.writer_error: BaseException | None = None
        self.frames = 0

    def _put(self, q: queue.Queue[object], item: object) -> bool:
        while not self.abort.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue[object]) -> object | None:
        while not self.abort.is_set():
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return None

    def _reader(self) -> None:
        try:
            for item in self._read():
                if self.abort.is_set() or not self._put(self.decoded, item):
                    return
        except BaseException as e:  # a bug, or memory: still reported by the calling thread
            self._put(self.decoded, _Failure(e))
        else:
            self._put(self.decoded, _END)

    def _writer(self) -> None:
        index = -1
        try:
            while True:
                item = self._get(self.masked)
                if item is None or isinstance(item, _Drain):
                    return
                if isinstance(item, _End):
                    index = -1
                    self._finish()
                    return
                if self._is_frame(item):
                    index += 1
                self._write(item)
        except BaseException as e:
            self.writer_error = self._write_error(e, index if index >= 0 else None)
            self.abort.set()

    def run(self) -> int:
        """Runs the three stages to the end of the input; returns the number of frames, raises
        the first failure."""
        reader = threading.Thread(target=self._reader, name="privmask-decode", daemon=True)
        writer = threading.Thread(target=self._writer, name="privmask-encode", daemon=True)
        reader.start()
        writer.start()
        finished = False
        try:
            while not finished:
                item = self._get(self.decoded)
                if item is None:  # only the writer aborts while this thread waits
                    break
                if isinstance(item, _Failure):
                    if self._put(self.masked, _DRAIN):
                        writer.join()
                    raise item.error
                if not isinstance(item, _End) and self._is_frame(item):
                    self._process(self.frames, item)
                    self.frames += 1
                    if self._on_frame_done is not None:
                        self._on_frame_done()
                finished = isinstance(item, _End)
                if not self._put(self.masked, item):
                    break
            writer.join()
            if self.writer_error is not None:
                raise self.writer_error
            if not finished:
                raise VideoError("the pipeline stopped before the end of the video")
        finally:
            self.abort.set()
            reader.join()
            writer.join()
        return self.frames


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


class _Clock:
    """Frame offsets after the first frame, from pts (or the frame rate when there are none)."""

    def __init__(self, time_base: Fraction | None, rate: Fraction | None) -> None:
        self.time_base = time_base
        self.rate = rate
        self.first: int | None = None

    def offset(self, index: int, frame: Any) -> Fraction | None:
        time_base = frame.time_base or self.time_base
        if frame.pts is not None and time_base is not None:
            if self.first is None:
                self.first = frame.pts
            return Fraction(frame.pts - self.first) * Fraction(time_base)
        if self.rate:
            return Fraction(index) / Fraction(self.rate)
        return None


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
) -> TranscodeResult:
    """Transcodes ``src`` into ``dst`` through a per-frame callback; publishes ``dst`` atomically.

    ``prepare(info)`` is called once the source is open and before the output exists; it returns
    the callback and whether the callback writes into frames (if not, decoded pictures need no
    private copy). Errors it raises leave nothing behind. Then the encoder is opened (bad
    settings fail before any decoding), and the frames flow reader -> callback -> writer.

    Raises ``FileNotFoundError``/``PermissionError`` for the paths, ``ValueError`` when ``dst`` is
    ``src``, :class:`VideoError` for input that cannot be read (naming the packet), output that
    cannot be written (naming the frame) and a stream whose geometry changes mid-way, and
    whatever the callback raises. On any failure ``dst`` is left as it was and no temporary file
    remains (see :mod:`privmask._outputs` for the durability policy).
    """
    src_s, dst_p = os.fspath(src), Path(dst)
    inp = open_source(src_s, dst_p)
    tmp: Path | None = None
    out: Any = None
    try:
        video, fmt = video_stream(src_s, inp)
        icc = video.codec_context
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
        )
        callback, writes = prepare(info)
        tmp = temp_beside(dst_p)
        out, ostream, codec_name = open_output(
            tmp, dst_p, video, fmt, codec=codec, quality=quality, encoder_options=encoder_options
        )
        audio_map: dict[int, Any] = {}
        if keep_audio:
            for a in inp.streams.audio:
                try:
                    audio_map[a.index] = out.add_stream_from_template(a)
                except ValueError as e:
                    raise VideoError(f"{dst_p}: cannot keep audio stream {a.index}: {e}") from e
        try:
            out.start_encoding()  # opens the encoder now: bad settings fail before decoding
        except av.FFmpegError as e:
            raise VideoError(f"{dst_p}: cannot start encoding with {codec_name}: {e}") from e
        expected = (info.width, info.height, fmt)
        clock = _Clock(info.time_base, info.rate)
        audio = [s for s in inp.streams.audio if s.index in audio_map]

        def read() -> Iterator[object]:
            yield from decode_video(src_s, inp, video, audio, writable=writes)

        def process(index: int, frame: Any) -> None:
            if (frame.width, frame.height, frame.format.name) != expected:
                w, h, f = expected
                raise VideoError(
                    f"{src_s}: frame {index} is {frame.width}x{frame.height} "
                    f"{frame.format.name}, but the video started as {w}x{h} {f}; privmask "
                    "keeps the geometry, so split the file where it changes",
                    frame=index,
                )
            callback(index, frame, clock.offset(index, frame))

        def write(item: object) -> None:
            if isinstance(item, av.VideoFrame):
                for p in ostream.encode(item):
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
            err = VideoError(f"{src_s}: cannot encode or write {where}: {e}", frame=index)
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
            raise VideoError(f"{dst_p}: cannot finish the file: {e}") from e
        finally:
            out = None
        publish(tmp, dst_p)
        tmp = None
        return TranscodeResult(frames=frames, codec=codec_name, audio_streams=len(audio_map))
    finally:
        if out is not None:
            close_quietly(out)
        close_quietly(inp)
        if tmp is not None:
            tmp.unlink(missing_ok=True)
