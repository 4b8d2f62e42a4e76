"""Masking whole recordings: files in, masked files out, with the masks in force at recording time.

:func:`mask_file` decodes a video with PyAV, masks every frame in place (``Frame.from_av``: the
decoder's own buffers, no copy to numpy and back) with the mask set that was in force when the
frame was recorded, and encodes the result. :func:`mask_files` runs many such jobs on any
``concurrent.futures.Executor`` (a local process pool, or a Dask cluster's executor).
:func:`mask_raw` is the same masking on a raw-video byte stream (``privmask pipe``).

Why three threads: decoding, masking and encoding each spend nearly all their time in C with
the GIL released (PyAV wraps ``avcodec_send_packet``/``receive_frame``, ``avcodec_send_frame``
and ``av_interleaved_write_frame`` in ``nogil``; the privmask kernels detach from Python), so a
reader thread (demux + decode), the calling thread (mask) and a writer thread (encode + mux),
joined by small bounded queues, overlap the three stages on a multi-core machine, and masking
adds little to the wall time of a transcode.

What is kept and what is dropped: the output has the same frames (count and ``pts``), time base
(where the container allows it: Matroska always counts in milliseconds), frame rate,
resolution, pixel format and colour tags. Container and stream metadata, chapters, data and
subtitle streams, attachments and any further video streams are dropped, so an exported clip
carries no links back to its source; audio streams are copied unchanged only with
``keep_audio=True``. The output is written to a temporary file beside ``dst`` and renamed into
place only when complete: on failure no partial file remains.
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import queue
import socket
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
from tqdm import tqdm

from privmask.engine.frame import FORMATS, Frame, plane_shapes
from privmask.errors import FrameFormatError, NoMasksInForceError, VideoError
from privmask.masks.maskset import CompiledMasks, MaskSet
from privmask.masks.ptz import PoseTrack, has_scene_masks, resolve_for_frame
from privmask.masks.timeline import MaskSchedule, MaskTimeline

__all__ = [
    "MaskJob",
    "MaskReport",
    "VersionUse",
    "decode_video",
    "frame_bytes",
    "mask_file",
    "mask_files",
    "mask_raw",
    "run_job",
]

QUEUE_FRAMES = 4
"""Frames queued between two stages: enough to absorb jitter (a slow keyframe), few enough that
a 4K pipeline (12 MB a picture, a dozen in flight with the ones each stage holds) stays near
150 MB."""

_POLL_S = 0.05  # how often a blocked stage looks at the abort flag
_MOV_MUXERS = frozenset({"mp4", "mov", "ipod", "3gp", "3g2", "psp", "ismv", "f4v"})

Masks = MaskSet | MaskTimeline


# --- reports -----------------------------------------------------------------------------------


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
        return (
            f"{self.src} -> {self.dst}: {self.frames} frames ({self.codec}) in "
            f"{self.seconds:.1f} s ({rate:.0f} fps); masks {uses or 'none'}{closed}"
        )


class _Usage:
    """Counts frames per version as the calling thread masks them."""

    def __init__(self) -> None:
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.count: dict[int, int] = {}

    def add(self, version: int, frame: int) -> None:
        self.first.setdefault(version, frame)
        self.last[version] = frame
        self.count[version] = self.count.get(version, 0) + 1

    def uses(self, schedule: MaskSchedule) -> tuple[VersionUse, ...]:
        return tuple(
            VersionUse(
                i,
                schedule.since(i),
                schedule.content_hash(i),
                self.first[i],
                self.last[i],
                self.count[i],
            )
            for i in sorted(self.first, key=self.first.__getitem__)
        )


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- opening things, with errors that say what is wrong ----------------------------------------


def _is_url(src: str) -> bool:
    return "://" in src


def _open_input(src: str) -> Any:
    if not _is_url(src) and not Path(src).exists():
        raise FileNotFoundError(errno.ENOENT, "no such video file", src)
    try:
        return av.open(src, "r")
    except av.error.FileNotFoundError as e:
        raise FileNotFoundError(errno.ENOENT, "no such video file", src) from e
    except av.error.PermissionError as e:
        raise PermissionError(errno.EACCES, "cannot read the video", src) from e
    except av.FFmpegError as e:
        raise VideoError(
            f"{src}: not a readable video (corrupt, or not a container FFmpeg knows): {e}"
        ) from e


def _creation_time(container: Any, stream: Any) -> datetime | None:
    """The recording start FFmpeg reads from the file (``creation_time``, UTC by convention)."""
    for meta in (container.metadata, stream.metadata):
        text = meta.get("creation_time")
        if text:
            try:
                t = datetime.fromisoformat(text)
            except ValueError as e:
                raise VideoError(
                    f"the file's creation_time {text!r} is not a timestamp; pass start="
                ) from e
            return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return None


def _temp_beside(dst: Path) -> Path:
    """A new empty file in ``dst``'s directory (so the final rename is atomic), with ``dst``'s
    extension (FFmpeg picks the container format from it)."""
    if dst.is_dir():
        raise IsADirectoryError(errno.EISDIR, "the destination is a directory", str(dst))
    parent = dst.parent
    if not parent.exists():
        raise FileNotFoundError(
            errno.ENOENT, "the destination's directory does not exist", str(parent)
        )
    if not parent.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, "the destination's parent is not a directory", str(parent)
        )
    try:
        fd, name = tempfile.mkstemp(dir=parent, prefix=f".{dst.name}.", suffix=f".part{dst.suffix}")
    except PermissionError as e:
        raise PermissionError(
            errno.EACCES, "cannot write to the destination's directory", str(parent)
        ) from e
    os.close(fd)
    return Path(name)


def _encoder(name: str) -> Any:
    try:
        codec = av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError as e:
        raise VideoError(f"no encoder {name!r} in this FFmpeg build") from e
    if codec.type != "video":
        raise VideoError(f"{name!r} is not a video codec")
    return codec


def _pick_codec(requested: str | None, source_codec: str, out: Any) -> str:
    """The requested encoder; else the source's own codec when this FFmpeg can encode it and
    the container takes it (same format in, same format out); else the container's default."""
    if requested is not None:
        return str(_encoder(requested).name)
    try:
        name = str(av.codec.Codec(source_codec, "w").name)
    except av.codec.codec.UnknownCodecError:
        return str(out.default_video_codec)
    return name if name in out.supported_codecs else str(out.default_video_codec)


def _quality_options(cc: Any, codec: str, quality: int | None) -> dict[str, str]:
    if quality is None:
        return {}
    if isinstance(quality, bool) or not isinstance(quality, int) or quality < 0:
        raise ValueError(f"quality must be a non-negative integer (a CRF), got {quality!r}")
    private = {o.name for o in cc.supported_options.private}
    if "crf" in private:
        return {"crf": str(quality)}
    raise ValueError(
        f"{codec} has no constant-quality (crf) setting; leave quality unset, or use an encoder "
        "that has one (libx264, libx265, libvpx-vp9, libsvtav1)"
    )


def _check_options(cc: Any, codec: str, options: Mapping[str, str]) -> dict[str, str]:
    known = {o.name for o in cc.supported_options.private} | {
        o.name for o in cc.supported_options.generic
    }
    out = {}
    for k, v in options.items():
        if k not in known:
            raise ValueError(f"{codec} has no option {k!r} (FFmpeg would silently ignore it)")
        out[str(k)] = str(v)
    return out


def decode_video(
    src: str, inp: Any, video: Any, audio: Iterable[Any] = (), *, writable: bool = True
) -> Iterator[Any]:
    """Demuxes ``inp`` and yields, in file order, the decoded pictures of ``video`` (ready to be
    masked in place unless ``writable=False``) and the packets of the ``audio`` streams.

    Raises :class:`VideoError` naming the packet for input that cannot be decoded, including
    damage FFmpeg would skip quietly: with frame threading a decoder drops a damaged picture
    without an error, and a demuxer stops at the first unreadable byte of a truncated file.
    """
    packets = 0
    # Packets not yet seen as a picture, pts -> index. With frame threading a decoder reports an
    # error a few packets late, so the oldest packet still waiting for its picture is the one
    # that failed.
    waiting: dict[int, int] = {}
    decodable, frames, interlaced = 0, 0, False
    try:
        for packet in inp.demux([video, *audio]):
            if packet.stream.index != video.index:
                if packet.dts is not None:  # not a demuxer's end-of-stream marker
                    yield packet
                continue
            if packet.size:
                if not packet.is_discard:
                    decodable += 1
                    if packet.pts is not None:
                        waiting[packet.pts] = packets
                packets += 1
            try:
                decoded = packet.decode()
            except av.FFmpegError as e:
                raise _undecodable(src, waiting, packets - 1, packet.pts, str(e)) from e
            for frame in decoded:
                frames += 1
                interlaced = interlaced or frame.interlaced_frame
                if frame.pts is not None:
                    waiting.pop(frame.pts, None)
                # The decoder may still read this picture as a reference for later frames
                # (H.264 and friends hand out references to their own buffers): masking it in
                # place would smear the masks into frames decoded after it. This copies only
                # when the buffer is shared, and runs in the reader to overlap with masking.
                if writable:
                    frame.make_writable()
                yield frame
    except av.FFmpegError as e:
        raise VideoError(
            f"{src}: cannot read the packet after video packet {packets - 1} (corrupt or "
            f"truncated input): {e}",
            packet=packets,
        ) from e
    listed = video.frames
    if listed and packets < listed:
        raise VideoError(
            f"{src}: the container lists {listed} video frames but only {packets} could be "
            "read (truncated or corrupt input)",
            packet=packets,
        )
    # Progressive video is one picture per packet; field-coded video may use two.
    if decodable > frames and not interlaced:
        raise _undecodable(
            src, waiting, None, None, f"{decodable - frames} of {packets} gave no picture"
        )


def _undecodable(
    src: str, waiting: dict[int, int], index: int | None, pts: int | None, detail: str
) -> VideoError:
    if waiting:
        pts = min(waiting)
        index = waiting[pts]
    where = f"video packet {index} (pts {pts})" if index is not None else "a video packet"
    return VideoError(f"{src}: {where} cannot be decoded (corrupt input): {detail}", packet=index)


# --- the threaded transcode --------------------------------------------------------------------


class _End:
    """End of stream, passed down the queues after the last frame."""


class _Failure:
    """An error raised in the reader thread, passed down in order to the calling thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = _End()


class _Transcode:
    """Reader thread (demux + decode) -> calling thread (mask) -> writer thread (encode + mux).

    Every container and codec object is used by one thread only: the reader owns the input,
    the writer the output. Frames and copied audio packets travel in order through two bounded
    queues; any stage that fails sets ``abort`` and the others stop at their next queue operation.
    """

    def __init__(
        self,
        src: str,
        inp: Any,
        video: Any,
        audio_map: dict[int, Any],
        out: Any,
        ostream: Any,
        schedule: MaskSchedule,
        lifted: bool,
        bar: tqdm[Any],
        poses: PoseTrack | None = None,
    ) -> None:
        self.src = src
        self.inp = inp
        self.video = video
        self.audio_map = audio_map
        self.out = out
        self.ostream = ostream
        self.schedule = schedule
        self.lifted = lifted
        self.bar = bar
        self.poses = poses
        self.failed_closed: list[int] = []
        self.abort = threading.Event()
        self.decoded: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self.masked: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self.writer_error: BaseException | None = None
        self.usage = _Usage()
        self.frames = 0
        self._compiled: dict[tuple[Any, ...], CompiledMasks] = {}
        width, height = ostream.codec_context.width, ostream.codec_context.height
        self.geometry = (width, height, ostream.codec_context.pix_fmt)

    # queue operations that give up when another stage has failed
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

    def read(self) -> None:
        """Reader thread: demuxes and decodes (FFmpeg's own threads), hands items on in order."""
        try:
            audio = [s for s in self.inp.streams.audio if s.index in self.audio_map]
            # With no masks at all there is nothing to write, so no picture needs copying.
            writable = any(len(self.schedule.masks(i)) for i in range(len(self.schedule.versions)))
            decoded = decode_video(self.src, self.inp, self.video, audio, writable=writable)
            for item in decoded:
                if self.abort.is_set() or not self._put(self.decoded, item):
                    return
        except BaseException as e:  # a bug, or memory: still reported by the calling thread
            self._put(self.decoded, _Failure(e))
        else:
            self._put(self.decoded, _END)

    def write(self) -> None:
        """Writer thread: encodes masked frames, muxes them and the copied audio packets."""
        index = -1
        try:
            while True:
                item = self._get(self.masked)
                if item is None:
                    return
                if isinstance(item, _End):
                    index = -1
                    for p in self.ostream.encode(None):
                        self.out.mux(p)
                    return
                if isinstance(item, av.VideoFrame):
                    index += 1
                    for p in self.ostream.encode(item):
                        self.out.mux(p)
                else:
                    packet: Any = item
                    packet.stream = self.audio_map[packet.stream.index]
                    self.out.mux(packet)
        except av.FFmpegError as e:
            where = f"frame {index}" if index >= 0 else "the end of the stream"
            err = VideoError(
                f"{self.src}: cannot encode or write {where}: {e}",
                frame=index if index >= 0 else None,
            )
            err.__cause__ = e
            self.writer_error = err
            self.abort.set()
        except BaseException as e:
            self.writer_error = e
            self.abort.set()

    def _compiled_for(self, version: int, frame: Frame) -> CompiledMasks:
        key = (version, frame.width, frame.height, frame.format, frame.matrix, frame.full_range)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self.schedule.masks(version).compile_for(frame)
            self._compiled[key] = compiled
        return compiled

    def mask(self, index: int, frame: Any) -> None:
        """Calling thread: picks the version in force when ``frame`` was recorded, masks it."""
        if (frame.width, frame.height, frame.format.name) != self.geometry:
            w, h, fmt = self.geometry
            raise VideoError(
                f"{self.src}: frame {index} is {frame.width}x{frame.height} "
                f"{frame.format.name}, but the video started as {w}x{h} {fmt}; privmask keeps "
                "the geometry, so split the file where it changes",
                frame=index,
            )
        offset: Fraction | None = None
        if self.schedule.needs_time or self.poses is not None:
            time_base = frame.time_base or self.video.time_base
            if frame.pts is None or time_base is None:
                raise VideoError(
                    f"{self.src}: frame {index} has no timestamp, so the masks in force when "
                    "it was recorded cannot be chosen",
                    frame=index,
                )
            offset = frame.pts * Fraction(time_base)
        try:
            version = self.schedule.index(offset)
        except NoMasksInForceError as e:
            raise NoMasksInForceError(
                f"{self.src}: frame {index} (pts {frame.pts}): {e}; refusing to write it unmasked"
            ) from None
        self.usage.add(version, index)
        if not len(self.schedule.masks(version)):  # an explicitly empty set: nothing to write
            return
        try:
            wrapped = Frame.from_av(frame)
        except FrameFormatError as e:
            raise FrameFormatError(f"{self.src}: frame {index}: {e}") from None
        masks = self.schedule.masks(version)
        if has_scene_masks(masks):  # PTZ: placed per frame from its pose, or the frame fails closed
            pose = None if self.poses is None or offset is None else self.poses.at(offset)
            resolved, result = resolve_for_frame(masks, pose, wrapped.width, wrapped.height)
            if result.failed_closed:
                self.failed_closed.append(index)
            compiled = resolved.compile_for(wrapped)
            compiled.apply_planes(list(wrapped.planes), lifted=self.lifted, parallel=False)
            return
        # The kernels stay on this thread: decoding and encoding already keep the other cores
        # busy, and a second kernel thread measured slower here (it competes with the encoder).
        compiled = self._compiled_for(version, wrapped)
        compiled.apply_planes(list(wrapped.planes), lifted=self.lifted, parallel=False)

    def run(self) -> None:
        """Runs the three stages to the end of the input; raises the first failure."""
        reader = threading.Thread(target=self.read, name="privmask-decode", daemon=True)
        writer = threading.Thread(target=self.write, name="privmask-encode", daemon=True)
        reader.start()
        writer.start()
        finished = False
        try:
            while not finished:
                item = self._get(self.decoded)
                if item is None:  # only the writer aborts while this thread waits
                    break
                if isinstance(item, _Failure):
                    raise item.error
                if isinstance(item, av.VideoFrame):
                    self.mask(self.frames, item)
                    self.frames += 1
                    self.bar.update(1)
                finished = isinstance(item, _End)
                if not self._put(self.masked, item):
                    break
            writer.join()
            if self.writer_error is not None:
                raise self.writer_error
            if not finished:
                raise VideoError(f"{self.src}: the pipeline stopped before the end of the video")
        finally:
            self.abort.set()
            reader.join()
            writer.join()


def _open_source(src: str, dst: Path) -> Any:
    """Opens ``src`` for decoding, refusing to overwrite it with ``dst``."""
    exists = not _is_url(src) and dst.exists() and Path(src).exists()
    if exists and os.path.samefile(src, dst):
        raise ValueError(f"{dst} is the source itself; write the masked copy elsewhere")
    return _open_input(src)


def _video_stream(src: str, inp: Any) -> tuple[Any, str]:
    """The first video stream of ``inp`` (threaded decoding on) and its pixel format, checked: a
    decoder exists, the header is readable, privmask masks the format."""
    if not inp.streams.video:
        raise VideoError(f"{src}: no video stream")
    video = inp.streams.video[0]
    video.thread_type = "AUTO"
    icc = video.codec_context
    if icc is None or icc.name is None:
        raise VideoError(f"{src}: no decoder for its video codec in this FFmpeg build")
    if icc.format is None or not icc.width or not icc.height:
        raise VideoError(
            f"{src}: the video stream's header is unreadable (no pixel format or size): "
            "corrupt input"
        )
    fmt: str = icc.format.name
    if fmt not in FORMATS:
        raise FrameFormatError(
            f"{src}: {fmt} video is not supported; privmask masks {', '.join(FORMATS)}"
        )
    return video, fmt


def _open_output(
    tmp: Path,
    dst: Path,
    video: Any,
    fmt: str,
    *,
    codec: str | None,
    quality: int | None,
    encoder_options: Mapping[str, str] | None,
) -> tuple[Any, Any, str]:
    """Opens ``tmp`` for writing with one video stream that keeps ``video``'s size, pixel format,
    time base, rate and colour tags; returns the container, the stream and the encoder's name.
    The caller adds any other streams, then starts encoding."""
    icc = video.codec_context
    try:
        out: Any = av.open(str(tmp), "w")
    except ValueError as e:
        raise VideoError(
            f"{dst}: cannot tell the container format from the file name; use a known "
            "extension such as .mp4, .mkv or .mov"
        ) from e
    try:
        if out.format.name in _MOV_MUXERS and video.time_base.denominator < 2**31:
            # MP4 stores the start of a track in the movie's time scale (1/1000 s by default):
            # in the video's own scale, a start pts like 90000 * 3 + 17 survives exactly.
            out.container_options["movie_timescale"] = str(video.time_base.denominator)
        codec_name = _pick_codec(codec, icc.name, out)
        _encoder(codec_name)
        rate = video.average_rate or video.guessed_rate or video.base_rate
        try:
            ostream = out.add_stream(codec_name, rate=rate) if rate else out.add_stream(codec_name)
        except ValueError as e:
            raise VideoError(f"{dst}: {e}") from e
        occ = ostream.codec_context
        # Frame threads where the encoder has them (x264's are the efficient kind; PyAV's
        # default, slice threads, makes x264 cut every picture into slices and scale worse).
        occ.thread_type = "AUTO"
        supported = {f.name for f in (occ.codec.video_formats or ())}
        if supported and fmt not in supported:
            raise VideoError(
                f"{codec_name} cannot encode {fmt} (it takes {', '.join(sorted(supported))}); "
                "privmask keeps the pixel format, so choose another codec"
            )
        ostream.width, ostream.height, ostream.pix_fmt = icc.width, icc.height, fmt
        ostream.time_base = video.time_base
        occ.time_base = video.time_base
        for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
            setattr(occ, attr, getattr(icc, attr))
        if icc.sample_aspect_ratio:
            occ.sample_aspect_ratio = icc.sample_aspect_ratio
        options = _check_options(occ, codec_name, encoder_options or {})
        options.update(_quality_options(occ, codec_name, quality))
        if quality is None and "crf" not in options and icc.bit_rate and not occ.codec.lossless:
            occ.bit_rate = icc.bit_rate  # no CRF: at least not below the source's bit rate
        occ.options = options
    except BaseException:
        out.close()
        raise
    return out, ostream, codec_name


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
) -> MaskReport:
    """Masks the video ``src`` into ``dst`` and returns what was done.

    ``masks`` is a :class:`MaskSet` (applied to every frame) or a :class:`MaskTimeline`: each
    frame gets the set in force when it was recorded, at ``start + pts * time_base`` (exact
    fractions). ``start`` (timezone-aware) defaults to the file's ``creation_time``; without
    either, a timeline of more than one version is refused, and a frame recorded before the
    timeline's first version raises :class:`NoMasksInForceError` (never "no masks").

    ``lifted=True`` skips liftable masks. ``codec`` is an FFmpeg encoder name (default: the
    source's codec if this FFmpeg can encode it, else the container's default); ``quality`` its
    CRF; ``encoder_options`` further encoder options (``{"preset": "ultrafast"}``). Audio is
    copied unchanged with ``keep_audio=True``, else dropped; see the module docstring for what
    else is kept and dropped. ``progress`` shows a progress bar on a terminal.

    Errors: ``FileNotFoundError`` (no ``src``, or no directory for ``dst``), ``PermissionError``,
    :class:`VideoError` (unreadable or corrupt input, a codec or container FFmpeg cannot handle;
    it names the frame or packet), :class:`FrameFormatError` (a pixel format privmask does not
    mask), :class:`NoMasksInForceError`, ``ValueError`` (bad arguments). On any failure ``dst``
    is left as it was and no temporary file remains.

    ``poses`` places scene-locked masks (PTZ cameras): the pose of each frame is
    ``poses.at(pts * time_base)``, so the track's times are seconds on the stream's clock. A
    frame whose scene-locked masks have no current pose (no track, or a stale one) is masked
    whole; the report lists those frames in ``failed_closed``.
    """
    t0 = time.perf_counter()
    if poses is not None and not isinstance(poses, PoseTrack):
        raise TypeError(f"poses must be a PoseTrack, got {type(poses).__name__}")
    if not isinstance(masks, (MaskSet, MaskTimeline)):
        raise TypeError(f"masks must be a MaskSet or MaskTimeline, got {type(masks).__name__}")
    src_s, dst_p = os.fspath(src), Path(dst)
    inp = _open_source(src_s, dst_p)
    tmp: Path | None = None
    out: Any = None
    try:
        video, fmt = _video_stream(src_s, inp)
        if start is None:
            start = _creation_time(inp, video)
        elif not isinstance(start, datetime) or start.utcoffset() is None:
            raise ValueError(f"start must be a timezone-aware datetime, got {start!r}")
        if isinstance(masks, MaskTimeline) and start is None and len(masks) > 1:
            raise VideoError(
                f"{src_s} has no creation_time and the timeline has {len(masks)} versions: give "
                "the recording start (start=, or --start) so each frame gets the masks in force "
                "when it was recorded"
            )
        schedule = MaskSchedule(masks, start)

        tmp = _temp_beside(dst_p)
        out, ostream, codec_name = _open_output(
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

        total = video.frames or None
        with tqdm(
            total=total,
            unit="frame",
            desc=Path(src_s).name,
            disable=None if progress else True,
            leave=False,
        ) as bar:
            job = _Transcode(
                src_s, inp, video, audio_map, out, ostream, schedule, lifted, bar, poses
            )
            job.run()
        try:
            out.close()
        except av.FFmpegError as e:
            raise VideoError(f"{dst_p}: cannot finish the file: {e}") from e
        finally:
            out = None
        with open(tmp, "rb+") as f:  # the data is on disk before the name is
            os.fsync(f.fileno())
        os.replace(tmp, dst_p)
        tmp = None
        _fsync_dir(dst_p.parent)
        return MaskReport(
            src=src_s,
            dst=str(dst_p),
            frames=job.frames,
            versions=job.usage.uses(schedule),
            start=start if schedule.needs_time else None,
            codec=codec_name,
            audio_streams=len(audio_map),
            seconds=time.perf_counter() - t0,
            worker=_worker_name(),
            failed_closed=tuple(job.failed_closed),
        )
    finally:
        if out is not None:
            _close_quietly(out)
        _close_quietly(inp)
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _close_quietly(container: Any) -> None:
    # The input (nothing to lose) or an output being abandoned after a failure, whose first
    # error is the one to report.
    with contextlib.suppress(Exception):
        container.close()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    jobs = list(jobs)
    seen: dict[str, int] = {}
    for i, job in enumerate(jobs):
        if not isinstance(job, MaskJob):
            raise TypeError(f"jobs[{i}] must be a MaskJob, got {type(job).__name__}")
        key = os.path.abspath(os.fspath(job.dst))
        if key in seen:
            raise ValueError(f"jobs[{seen[key]}] and jobs[{i}] both write {job.dst}")
        seen[key] = i
    if not jobs:
        return []
    own = executor is None
    pool: Executor = (
        executor
        if executor is not None
        else ProcessPoolExecutor(
            max_workers=min(len(jobs), os.cpu_count() or 1),
            mp_context=multiprocessing.get_context("spawn"),
        )
    )
    reports: list[MaskReport | None] = [None] * len(jobs)
    failures: list[tuple[int, Exception]] = []
    try:
        futures: dict[Future[MaskReport], int] = {
            pool.submit(run_job, job): i for i, job in enumerate(jobs)
        }
        with tqdm(
            total=len(jobs), unit="file", disable=None if progress else True, leave=False
        ) as bar:
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    reports[i] = fut.result()
                except Exception as e:
                    e.add_note(f"in job {i}: {os.fspath(jobs[i].src)} -> {os.fspath(jobs[i].dst)}")
                    failures.append((i, e))
                bar.update(1)
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
    if failures:
        failures.sort(key=lambda f: f[0])
        raise ExceptionGroup(
            f"{len(failures)} of {len(jobs)} masking jobs failed", [e for _, e in failures]
        )
    return [r for r in reports if r is not None]


# --- raw video streams -------------------------------------------------------------------------


def _raw_dtype(pix_fmt: str) -> np.dtype[Any]:
    """Samples as FFmpeg's ``rawvideo`` stores them: bytes, or little-endian 16-bit words for
    the 10-bit formats (``yuv420p10le``, ``p010le``)."""
    return np.dtype("<u2") if pix_fmt.endswith("10le") else np.dtype(np.uint8)


def frame_bytes(pix_fmt: str, width: int, height: int) -> int:
    """Bytes per frame of FFmpeg's ``rawvideo`` framing: planes back to back, no row padding,
    chroma sizes rounded up (what ``ffmpeg -f rawvideo -pix_fmt ...`` reads and writes)."""
    samples = sum(rows * row for rows, row in plane_shapes(pix_fmt, width, height))
    return samples * _raw_dtype(pix_fmt).itemsize


def _read_full(src: BinaryIO, view: memoryview) -> int:
    got = 0
    while got < len(view):
        n = src.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def mask_raw(
    src: BinaryIO,
    dst: BinaryIO,
    masks: Masks,
    *,
    width: int,
    height: int,
    pix_fmt: str = "yuv420p",
    fps: Fraction | None = None,
    start: datetime | None = None,
    lifted: bool = False,
    matrix: str | None = None,
    full_range: bool | None = None,
    poses: PoseTrack | None = None,
    failed_closed: list[int] | None = None,
) -> int:
    """Masks a raw video stream: frames read from ``src`` in FFmpeg's ``rawvideo`` framing,
    masked in place in one reused buffer, written to ``dst``; returns the number of frames.

    Frame ``i`` was recorded at ``start + i / fps``; both are needed for a timeline of more than
    one version (with both, a frame before the first version is an error, as in
    :func:`mask_file`). A stream that ends inside a frame raises :class:`VideoError` (the
    partial frame is not written): a silently dropped last frame would hide a broken pipe.

    Scene-locked (PTZ) masks are placed for each frame from ``poses`` at ``i / fps`` seconds
    (the track's clock starts with the stream); a frame without a current pose is masked whole,
    and its index is appended to ``failed_closed`` when a list is given.
    """
    if poses is not None and not isinstance(poses, PoseTrack):
        raise TypeError(f"poses must be a PoseTrack, got {type(poses).__name__}")
    if poses is not None and fps is None:
        raise ValueError("a pose track needs the frame rate (--fps) to place each frame in time")
    if width < 1 or height < 1:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    shapes = plane_shapes(pix_fmt, width, height)  # refuses an unsupported format first
    if isinstance(masks, MaskTimeline) and len(masks) > 1 and (start is None or fps is None):
        raise ValueError(
            f"the timeline has {len(masks)} versions: give the stream's start time and frame "
            "rate (--start, --fps) so each frame gets the masks in force when it was recorded"
        )
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    # Frames are placed in time only with both: a start alone says nothing about frame i.
    schedule = MaskSchedule(masks, start if fps is not None else None)
    size = frame_bytes(pix_fmt, width, height)
    raw = np.empty(size, dtype=np.uint8)
    samples = raw.view(_raw_dtype(pix_fmt))
    planes, offset = [], 0
    for rows, row in shapes:
        planes.append(samples[offset : offset + rows * row].reshape(rows, row))
        offset += rows * row
    frame = Frame(pix_fmt, planes, matrix=matrix, full_range=full_range)
    compiled: dict[int, CompiledMasks] = {}  # by version, compiled when first needed
    view = raw.data
    index = 0
    while True:
        got = _read_full(src, view)
        if got == 0:
            break
        if got < size:
            raise VideoError(
                f"the input ended {got} bytes into frame {index}, but a {width}x{height} "
                f"{pix_fmt} frame is {size} bytes: truncated stream (or a wrong --size or "
                "--pix-fmt); the partial frame was not written",
                frame=index,
            )
        offset_s = Fraction(index) / fps if fps is not None else None
        try:
            version = schedule.index(offset_s)
        except NoMasksInForceError as e:
            raise NoMasksInForceError(
                f"frame {index}: {e}; refusing to write it unmasked"
            ) from None
        masks_now = schedule.masks(version)
        if has_scene_masks(masks_now):  # PTZ: placed from this frame's pose, else fails closed
            pose = None if poses is None or offset_s is None else poses.at(offset_s)
            resolved, result = resolve_for_frame(masks_now, pose, width, height)
            if result.failed_closed and failed_closed is not None:
                failed_closed.append(index)
            plan = resolved.compile(width, height, pix_fmt, matrix=matrix, full_range=full_range)
        elif version in compiled:
            plan = compiled[version]
        else:
            plan = compiled[version] = masks_now.compile(
                width, height, pix_fmt, matrix=matrix, full_range=full_range
            )
        plan.apply_planes(list(frame.planes), lifted=lifted)
        dst.write(view)
        index += 1
    dst.flush()
    return index
