"""Reading video: opening a source with errors that say what is wrong, choosing its video
stream, and demuxing + decoding with damage reported (never concealed)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av

from privmask.engine.frame import FORMATS
from privmask.errors import FrameFormatError, VideoError

__all__ = ["creation_time", "decode_video", "is_url", "open_source", "video_stream"]


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


def open_source(src: str, dst: Path) -> Any:
    """Opens ``src`` for decoding, refusing to overwrite it with ``dst``."""
    exists = not is_url(src) and dst.exists() and Path(src).exists()
    if exists and os.path.samefile(src, dst):
        raise ValueError(f"{dst} is the source itself; write the masked copy elsewhere")
    return _open_input(src)


def video_stream(src: str, inp: Any) -> tuple[Any, str]:
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
