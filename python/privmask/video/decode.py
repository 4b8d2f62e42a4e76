"""Reading video: opening a source with errors that say what is wrong, choosing its video
stream, and demuxing + decoding with damage reported (never concealed)."""

from __future__ import annotations

import collections
import contextlib
import errno
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import av

from privmask._outputs import refuse_source
from privmask.errors import VideoError
from privmask.video.encode import error_level
from privmask.video.formats import Conversion, conversion_for
from privmask.video.orient import Orientation, frame_orientation

__all__ = [
    "HOLD_BYTES",
    "HOLD_FRAMES",
    "DamageLog",
    "FirstFrame",
    "OrientationCheck",
    "creation_time",
    "declared_seconds",
    "decode_video",
    "first_frame",
    "hold_for",
    "is_url",
    "main_video",
    "open_source",
    "video_stream",
]


def is_url(src: str) -> bool:
    return "://" in src


def _open_input(src: str) -> Any:
    if not is_url(src) and not Path(src).exists():
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


def creation_time(container: Any, stream: Any) -> datetime | None:
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


@dataclass
class DamageLog:
    """Where damage found while reading goes: with ``accept=False`` (the default) the first
    damage raises :class:`VideoError`; with ``accept=True`` it is listed in :attr:`lost` and
    the readable frames go on (concealed by the decoder where FFmpeg conceals)."""

    src: str
    accept: bool = False
    lost: list[str] = field(default_factory=list)

    def found(self, what: str, *, packet: int | None = None, frame: int | None = None) -> None:
        if not self.accept:
            raise VideoError(
                f"{self.src}: {what} (damaged or truncated input); nothing was written, since "
                "the output would be silently shorter or show concealed pictures: repair the "
                "file first, or mask what can be decoded with 'privmask mask --accept-damage' "
                "(mask_file(..., accept_damage=True)), whose report lists what was lost",
                packet=packet,
                frame=frame,
            )
        self.lost.append(what)


# Decoder messages that mean a picture was concealed (others, such as H.264's "co located POCs
# unavailable", also appear on intact streams).
_CONCEALED = (
    "error while decoding",
    "concealing",
    "corrupt",
    "missing picture",
    # MJPEG: a broken entropy-coded segment is decoded on with what was read
    "error count",
    "error y=",
    "error dc",
    "overread",
)


def _seconds(pts: int | None, time_base: Any) -> str:
    return "?" if pts is None or not time_base else f"{float(pts * time_base):.3f} s"


def declared_seconds(inp: Any, video: Any) -> Fraction | None:
    """How long the container says the video stream is (MP4's track duration, Matroska's
    ``DURATION`` tag or segment duration), or ``None`` where it is not declared but estimated
    (MPEG-TS/PS, raw streams). Matroska's figures are where the stream *ends* on the file's
    clock (FFmpeg writes the last timestamp plus its duration), so a file whose clock starts
    late declares its start plus its length; MP4's track duration is the length itself."""
    if video.duration and video.time_base:
        return Fraction(video.duration) * Fraction(video.time_base)
    tag = video.metadata.get("DURATION")
    if tag:
        try:
            h, m, sec = tag.split(":")
            return Fraction(int(h) * 3600 + int(m) * 60) + Fraction(sec)
        except ValueError:
            return None
    if inp.format.name.startswith("matroska") and inp.duration:
        return Fraction(inp.duration, 1_000_000)
    return None


def _check_end(
    src: str,
    inp: Any,
    video: Any,
    length: Fraction | None,
    end: Fraction | None,
    damage: DamageLog,
) -> None:
    """Truncation a demuxer does not report: a file shorter than it declares, or an MPEG-TS
    that ends inside a transport packet. ``length`` is the video's length from its first frame,
    ``end`` where its last frame ends on the file's clock (seconds): an MP4 track duration is
    compared with the first, Matroska's end time with the second."""
    declared = declared_seconds(inp, video)
    rate = video.average_rate or video.guessed_rate
    got = length if video.duration else end
    if declared is not None and got is not None:
        slack = max(Fraction(3) / Fraction(rate) if rate else Fraction(0), Fraction(1, 4))
        if declared - got > slack:
            frames = f", about {round((declared - got) * Fraction(rate))} frames" if rate else ""
            damage.found(
                f"the video ends at {float(got):.3f} s but the file declares "
                f"{float(declared):.3f} s: {float(declared - got):.3f} s missing{frames}"
            )
    if inp.format.name == "mpegts" and not is_url(src):
        size = os.path.getsize(src)
        if size % 188 and size % 192 and size % 204:
            damage.found(f"the file ends inside a transport packet (at byte {size}): cut short")


def decode_video(
    src: str,
    inp: Any,
    video: Any,
    audio: Iterable[Any] = (),
    *,
    writable: bool = True,
    damage: DamageLog | None = None,
    convert: Conversion | None = None,
    hold: int | None = None,
) -> Iterator[Any]:
    """Demuxes ``inp`` and yields, in file order, the decoded pictures of ``video`` (ready to be
    masked in place unless ``writable=False``; converted with ``convert`` when given) and the
    packets of the ``audio`` streams.

    A picture to be made writable is yielded only once ``hold`` more pictures have been decoded
    (default :func:`hold_for`'s depth; the audio packets after it wait with it, so the order
    stays the file's): by then the decoder has usually stopped using it as a reference, and
    making it writable costs nothing instead of a copy of the whole picture. A picture still in
    use is copied, as with ``hold=0``. The held pictures are yielded at the end of the stream,
    or not at all when reading fails first. A negative ``hold`` raises ``ValueError``.

    Damage is never concealed quietly: a packet the demuxer marks corrupt, a picture the decoder
    concealed, a packet that cannot be decoded, a file shorter than it declares, an MPEG-TS cut
    inside a transport packet. Each goes to ``damage`` (default: a strict :class:`DamageLog`,
    which raises :class:`VideoError` naming the packet or frame and its time).
    """
    log = damage if damage is not None else DamageLog(src)
    tb = video.time_base
    packets = 0
    # Packets not yet seen as a picture, pts -> index. With frame threading a decoder reports an
    # error a few packets late, so the oldest packet still waiting for its picture is the one
    # that failed.
    waiting: dict[int, int] = {}
    decodable, frames, interlaced = 0, 0, False
    first_pts: int | None = None
    last_pts: int | None = None
    seen_logs = 0
    decoder = str(video.codec_context.name)
    # Converted pictures are new ones, and read-only use needs no private copy: nothing to hold.
    held = _HeldBack(0 if convert is not None or not writable else hold, writable)
    with _read_logs() as logs:
        try:
            for packet in inp.demux([video, *audio]):
                if packet.stream.index != video.index:
                    if packet.dts is not None:  # not a demuxer's end-of-stream marker
                        yield from held.push(packet, picture=False)
                    continue
                if packet.size:
                    if packet.is_corrupt:
                        log.found(
                            f"video packet {packets} (at {_seconds(packet.pts, tb)}) is marked "
                            "corrupt by the demuxer",
                            packet=packets,
                        )
                    if not packet.is_discard:
                        decodable += 1
                        if packet.pts is not None:
                            waiting[packet.pts] = packets
                    packets += 1
                try:
                    decoded = packet.decode()
                except av.FFmpegError as e:
                    err = _undecodable(src, waiting, packets - 1, packet.pts, str(e))
                    if not log.accept:
                        raise err from e
                    log.lost.append(str(err).removeprefix(f"{src}: "))
                    waiting.clear()
                    continue
                for message in logs[seen_logs:]:
                    _judge_log(message, decoder, inp.format.name, packets - 1, log)
                seen_logs = len(logs)
                for frame in decoded:
                    if frame.is_corrupt:
                        log.found(
                            f"frame {frames} (at {_seconds(frame.pts, tb)}) was decoded with "
                            "errors and concealed",
                            frame=frames,
                        )
                    frames += 1
                    interlaced = interlaced or frame.interlaced_frame
                    if frame.pts is not None:
                        waiting.pop(frame.pts, None)
                        first_pts = frame.pts if first_pts is None else min(first_pts, frame.pts)
                        last_pts = frame.pts if last_pts is None else max(last_pts, frame.pts)
                    if convert is not None:
                        frame = convert.to_masked(frame)
                    yield from held.push(frame, picture=True)
        except av.FFmpegError as e:
            err = VideoError(
                f"{src}: cannot read the packet after video packet {packets - 1} (corrupt or "
                f"truncated input): {e}",
                packet=packets,
            )
            if not log.accept:
                raise err from e
            log.lost.append(str(err).removeprefix(f"{src}: "))
        for message in logs[seen_logs:]:
            _judge_log(message, decoder, inp.format.name, packets - 1, log)
        yield from held.flush()
    listed = video.frames
    if listed and packets < listed:
        log.found(
            f"the container lists {listed} video frames but only {packets} could be read",
            packet=packets,
        )
    # Progressive video is one picture per packet; field-coded video may use two.
    if decodable > frames and not interlaced:
        err = _undecodable(
            src, waiting, None, None, f"{decodable - frames} of {packets} gave no picture"
        )
        if not log.accept:
            raise err
        log.lost.append(str(err).removeprefix(f"{src}: "))
    length = end = None
    if first_pts is not None and last_pts is not None and tb:
        rate = video.average_rate or video.guessed_rate
        period = Fraction(1) / Fraction(rate) if rate else Fraction(0)
        start = Fraction(video.start_time or 0) * Fraction(tb) if video.start_time else 0
        end = Fraction(last_pts) * Fraction(tb) + period
        length = end - max(Fraction(0), Fraction(start))
    _check_end(src, inp, video, length, end, log)


HOLD_FRAMES = 8
"""How many pictures :func:`decode_video` decodes past one before making it writable, at most.
Measured by comparing a picture's buffer address before and after ``make_writable`` on 90-frame
640x360 clips made with PyAV: with no hold nearly every picture is copied; held 8 pictures, none
is in H.264 with up to 5 reference frames (x264 ``slow``), MPEG-2 or MPEG-4 Part 2, 1 in 74 in
HEVC (x265 ``medium``), while VP9 and AV1 keep long-lived references (golden frames) and still
copy about 1 picture in 8 and 1 in 6. ``benches/bench_video.py --hold-zero`` shows the time it
saves in a transcode."""
HOLD_BYTES = 128 << 20
"""The held pictures' memory stays under this (fewer are held of very large pictures)."""


def hold_for(picture_bytes: int) -> int:
    """The default hold of :func:`decode_video` for pictures of ``picture_bytes`` bytes (their
    planes' buffers): :data:`HOLD_FRAMES`, fewer (but at least one) when they would exceed
    :data:`HOLD_BYTES`."""
    return min(HOLD_FRAMES, max(1, HOLD_BYTES // max(1, picture_bytes)))


class _HeldBack:
    """The reader's items in file order, each decoded picture released (and made writable)
    ``depth`` pictures after it was decoded.

    Why: a decoder hands out its own buffers, and keeps reading a picture while it is a
    reference for the pictures after it (H.264 and its successors, MPEG-2/4, VP9, AV1).
    Masking that picture in place would smear the masks into those later pictures, so it must
    be made writable first (``av_frame_make_writable``: a copy of the whole picture when the
    buffer is shared, nothing when this frame holds the only reference). Asked right after
    decoding, the answer is nearly always "shared"; a few pictures later the decoder has
    usually let it go. The test is FFmpeg's reference count, so it is exact whatever the
    codec: no picture is ever written while the decoder can still read it.
    """

    def __init__(self, depth: int | None, writable: bool) -> None:
        if depth is not None and depth < 0:
            raise ValueError(f"hold must be 0 or more pictures, got {depth}")
        self.depth = depth
        self.writable = writable
        self.items: collections.deque[tuple[Any, bool]] = collections.deque()
        self.pictures = 0

    def push(self, item: Any, *, picture: bool) -> Iterator[Any]:
        if self.depth is None and picture:
            self.depth = hold_for(sum(p.buffer_size for p in item.planes))
        if self.depth == 0 or (not self.items and not picture):
            yield self._release(item, picture)
            return
        self.items.append((item, picture))
        self.pictures += picture
        while self.pictures > (self.depth or 0):
            yield from self._pop_picture()

    def flush(self) -> Iterator[Any]:
        while self.items:
            item, picture = self.items.popleft()
            self.pictures -= picture
            yield self._release(item, picture)

    def _pop_picture(self) -> Iterator[Any]:
        while True:
            item, picture = self.items.popleft()
            yield self._release(item, picture)
            if picture:
                self.pictures -= 1
                return

    def _release(self, item: Any, picture: bool) -> Any:
        if picture and self.writable:
            item.make_writable()  # copies only if the decoder still holds the picture
        return item


@contextlib.contextmanager
def _read_logs() -> Iterator[list[tuple[int, str, str]]]:
    """FFmpeg's error messages from every thread while reading (decoders report concealment
    from their own threads)."""
    repeated = av.logging.get_skip_repeated()
    av.logging.set_skip_repeated(False)  # the same damage in the next file is damage too
    try:
        with error_level(), av.logging.Capture(local=False) as logs:
            yield logs
    finally:
        av.logging.set_skip_repeated(repeated)


def _judge_log(
    message: tuple[int, str, str], decoder: str, demuxer: str, packet: int, log: DamageLog
) -> None:
    level, name, text = message
    text = text.strip()
    if level > av.logging.ERROR or not text:
        return
    if name == decoder and any(k in text for k in _CONCEALED):
        log.found(f"the decoder reports near video packet {packet}: {text}", packet=packet)
    elif (name and name in demuxer.split(",")) or name == demuxer:
        log.found(f"the demuxer reports after video packet {packet}: {text}", packet=packet)


def _undecodable(
    src: str, waiting: dict[int, int], index: int | None, pts: int | None, detail: str
) -> VideoError:
    if waiting:
        pts = min(waiting)
        index = waiting[pts]
    where = f"video packet {index} (pts {pts})" if index is not None else "a video packet"
    return VideoError(f"{src}: {where} cannot be decoded (corrupt input): {detail}", packet=index)


def open_source(src: str, dst: Path) -> Any:
    """Opens ``src`` for decoding, refusing to overwrite it with ``dst``."""
    if not is_url(src):
        refuse_source(src, dst, "the masked copy")
    return _open_input(src)


def video_stream(src: str, inp: Any) -> tuple[Any, str, Conversion | None]:
    """The video stream of ``inp`` that ``ffmpeg`` picks (threaded decoding on), its pixel
    format, and the conversion it needs before masking (:mod:`privmask.video.formats`),
    checked: a decoder exists, the header is readable, privmask masks or converts the format.

    With several video streams the choice is ffmpeg's automatic one (``map_auto_video`` in
    ``fftools/ffmpeg_mux_init.c``): the most pixels, a stream marked default counting as 5
    million more, and a cover picture or thumbnail (``attached_pic``) last; the first of equals.
    Before, the first stream was taken, so a recording whose first track is a thumbnail became
    a one-picture output."""
    if not inp.streams.video:
        raise VideoError(f"{src}: no video stream")
    video = main_video(inp)
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
    return video, fmt, conversion_for(src, fmt)


def main_video(inp: Any) -> Any:
    """The video stream of the open container ``inp`` that ``ffmpeg`` would pick (see
    :func:`video_stream`); ``inp`` must have one."""
    return max(inp.streams.video, key=_ffmpeg_video_score)  # max keeps the first of equals


def _ffmpeg_video_score(stream: Any) -> int:
    from av.stream import Disposition

    if stream.disposition & Disposition.attached_pic:
        return 1
    cc = stream.codec_context
    pixels = (cc.width or 0) * (cc.height or 0) if cc is not None else 0
    return pixels + 5_000_000 * bool(stream.disposition & Disposition.default)


@dataclass(frozen=True)
class FirstFrame:
    """What only a decoded picture tells: how it is displayed, whether frames carry times,
    whether it is interlaced."""

    orientation: Orientation = field(default_factory=Orientation)
    timed: bool = True
    interlaced: bool = False


def first_frame(src: str, index: int) -> FirstFrame | None:
    """Decodes the first decodable picture of stream ``index`` of the file ``src`` (opened on
    its own, so the main read starts untouched); packets that do not decode are skipped, their
    damage is left for the main read to report. ``None`` when nothing is known before the
    main read: a stream (URL, pipe, device) is not opened twice, and a file may have no
    decodable picture. The caller then checks each picture of the main read against what it
    assumed (:class:`OrientationCheck`), so an unknown orientation fails closed."""
    if is_url(src) or not os.path.isfile(src):
        return None  # a stream or a pipe: reading it twice would lose its start
    try:
        with av.open(src, "r") as c:
            stream: Any = c.streams[index]
            for packet in c.demux(stream):  # ends with the packets that flush the decoder
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    continue
                frame: Any
                for frame in frames:
                    return FirstFrame(
                        frame_orientation(frame), frame.pts is not None, frame.interlaced_frame
                    )
    except av.FFmpegError:
        pass
    return None


class OrientationCheck:
    """Checks each decoded picture of ``src`` against the orientation ``assumed`` when the
    masks were placed: :meth:`check` raises :class:`VideoError` for a picture displayed
    otherwise, which must be neither masked in the wrong place nor written. For a pipe or
    stream the orientation is assumed upright, since it is only known once read; a rotated one
    is refused rather than masked where the mask set does not say.

    The first picture's whole display matrix is read; later pictures are compared with it by
    their rotation angle (``frame.rotation``, read in C). Reading ``frame.side_data`` on every
    picture would tie each picture to its side data in a reference cycle (PyAV caches the
    container on the frame), leaving every decoded picture to the cyclic garbage collector:
    freed late, and in whichever thread it runs."""

    def __init__(self, src: str, assumed: Orientation) -> None:
        self.src = src
        self.assumed = assumed
        self._rotation: int | None = None

    def check(self, index: int, frame: Any) -> None:
        if self._rotation is not None:
            if frame.rotation == self._rotation:
                return
            self._refuse(index, frame_orientation(frame))
        seen = frame_orientation(frame)
        a = self.assumed
        if (seen.a, seen.b, seen.c, seen.d) != (a.a, a.b, a.c, a.d):
            self._refuse(index, seen)
        self._rotation = frame.rotation

    def _refuse(self, index: int, seen: Orientation) -> NoReturn:
        src, assumed = self.src, self.assumed
        how = "upright" if assumed.identity else assumed.describe()
        if index == 0 and assumed.identity and (is_url(src) or not os.path.isfile(src)):
            fix = (
                "a pipe or stream is read once, so privmask cannot place the masks before its "
                "first picture: save it to a file first (ffmpeg -i IN -c copy rec.mp4) and "
                "mask that"
            )
        else:
            fix = (
                "the masks were placed for the first picture's orientation: split the "
                "recording where it changes, or re-encode it upright (ffmpeg -i IN -c:v "
                "libx264 OUT)"
            )
        raise VideoError(
            f"{src}: picture {index} is displayed {seen.describe()} but the masks were placed "
            f"for a picture displayed {how}. {fix[0].upper()}{fix[1:]}",
            frame=index,
        )
