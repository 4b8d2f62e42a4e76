"""The picture the editor draws on: a video frame at a time, an image, or a live stream's current
frame, decoded with PyAV exactly as ``privmask mask`` decodes it.

Every picture is kept as a :class:`~privmask.Frame` in the decoder's own pixel format, so the
preview is :func:`privmask.apply` on the very samples ``privmask mask`` would mask (chroma
included), and only then converted to RGB for the browser (:func:`to_rgb`, :func:`png_bytes`).
"""

from __future__ import annotations

import errno
import threading
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import Interpolation

from privmask.engine.frame import FORMATS, Frame
from privmask.errors import VideoError
from privmask.video.decode import main_video
from privmask.video.orient import check_turnable, displayed_frame, frame_orientation

__all__ = ["Picture", "Source", "open_source", "png_bytes", "public_name", "to_rgb"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"})
"""File names the editor opens as a still image rather than a video."""

LIVE_TIMEOUT_S = 10.0
"""How long a live source may take to connect and to deliver its next packet."""


def public_name(src: str) -> str:
    """``src`` as the page may show it: a file's name, or a URL without its user and password."""
    if "://" not in src:
        return Path(src).name
    parts = urllib.parse.urlsplit(src)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class Picture:
    """One decoded picture: ``frame`` (own, contiguous planes; never masked in place),
    ``time`` in seconds after the video's first frame (``None`` for images and live frames),
    ``recorded`` its recording time when known (file ``creation_time`` + ``time``, or the wall
    clock at capture for a live source)."""

    frame: Frame
    time: Fraction | None
    recorded: datetime | None


def _maskable(vf: Any) -> Any:
    """``vf`` in a format privmask masks: its own if supported, else RGB for RGB-like images
    (PNG with alpha, palettes) and yuv420p for the rest."""
    name = vf.format.name
    if name in FORMATS:
        return vf
    rgb_like = name.startswith(("rgb", "bgr", "argb", "abgr", "gbr", "pal", "ya", "gray"))
    return vf.reformat(format="rgb24" if rgb_like else "yuv420p")


def _own_frame(vf: Any) -> Frame:
    """A private copy of decoded picture ``vf`` as it is displayed (turned by its display
    matrix or EXIF orientation), since masks are drawn on the displayed picture (DESIGN §3)
    and ``privmask mask`` maps them back onto the coded one."""
    o = frame_orientation(vf)
    picture = _maskable(vf)
    if o.identity:
        return Frame.from_av(picture).copy()
    try:
        check_turnable(picture.format.name, o)
    except VideoError:  # 4:2:2 turned a quarter: shown here in RGB (the file keeps its format)
        picture = picture.reformat(format="rgb24")
    shown, _ = displayed_frame(Frame.from_av(picture), o)
    return shown


class Source:
    """A picture source. ``kind`` is ``"video"``, ``"image"`` or ``"live"``; ``width``,
    ``height`` and ``format`` describe the pictures (luma pixels, a :data:`privmask.FORMATS`
    name); ``duration`` (seconds, video only) bounds :meth:`picture`'s ``t``."""

    kind: str = ""
    name: str = ""
    width: int = 0
    height: int = 0
    format: str = ""
    duration: Fraction | None = None
    frame_rate: Fraction | None = None
    start: datetime | None = None

    def picture(self, t: Fraction | None = None, *, refresh: bool = False) -> Picture:
        """The picture at ``t`` seconds (videos), or the current one (images, live sources;
        ``refresh`` grabs a new live frame)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What the page shows about the source (JSON-ready)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "duration": None if self.duration is None else float(self.duration),
            "frame_rate": None if self.frame_rate is None else float(self.frame_rate),
            "start": None if self.start is None else self.start.isoformat(),
        }

    def close(self) -> None:
        """Releases the decoder (a no-op for sources that keep none open)."""


def _open(src: str, **options: Any) -> Any:
    try:
        return av.open(src, "r", **options)
    except av.error.FileNotFoundError as e:
        raise FileNotFoundError(errno.ENOENT, "no such file", src) from e
    except av.FFmpegError as e:
        raise VideoError(f"{public_name(src)}: not a picture FFmpeg can read: {e}") from e


def _first_picture(container: Any, src: str) -> Any:
    if not container.streams.video:
        raise VideoError(f"{public_name(src)}: no video stream")
    try:
        for vf in container.decode(main_video(container)):
            return vf
    except av.FFmpegError as e:
        raise VideoError(f"{public_name(src)}: cannot decode a picture: {e}") from e
    raise VideoError(f"{public_name(src)}: no picture could be decoded")


def _creation_time(container: Any, stream: Any) -> datetime | None:
    for meta in (container.metadata, stream.metadata):
        text = meta.get("creation_time")
        if text:
            try:
                t = datetime.fromisoformat(text)
            except ValueError:
                return None
            return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return None


class VideoSource(Source):
    """A video file, kept open and seeked for each requested time (thread-safe)."""

    kind = "video"

    def __init__(self, path: str) -> None:
        self._path = path
        self.name = public_name(path)
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, Picture] = OrderedDict()
        self._container = _open(path)
        try:
            first = _first_picture(self._container, path)
        except BaseException:
            self._container.close()
            raise
        stream = main_video(self._container)
        self._stream = stream
        self._time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
        self._first_pts = first.pts if first.pts is not None else 0
        frame = _own_frame(first)
        self.width, self.height, self.format = frame.width, frame.height, frame.format
        self.frame_rate = Fraction(stream.average_rate) if stream.average_rate else None
        if stream.duration:
            self.duration = stream.duration * self._time_base
        elif self._container.duration:
            self.duration = Fraction(self._container.duration, av.time_base)
        self.start = _creation_time(self._container, stream)

    def _picture_of(self, vf: Any) -> Picture:
        pts = vf.pts if vf.pts is not None else self._first_pts
        t = (pts - self._first_pts) * self._time_base
        recorded = None
        if self.start is not None:
            recorded = self.start + timedelta(microseconds=round(t * 1_000_000))
        return Picture(_own_frame(vf), t, recorded)

    def picture(self, t: Fraction | None = None, *, refresh: bool = False) -> Picture:
        """The frame on show ``t`` seconds after the first one: the last frame whose timestamp
        is not after ``t`` (the first frame for ``t`` <= 0, the last one past the end)."""
        t = Fraction(0) if t is None else max(Fraction(t), Fraction(0))
        target = self._first_pts + t / self._time_base
        key = int(target)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            best = None
            try:
                self._container.seek(key, stream=self._stream, backward=True, any_frame=False)
                for vf in self._container.decode(self._stream):
                    if vf.pts is None:
                        continue
                    if vf.pts <= target or best is None:
                        best = vf
                    if vf.pts > target:
                        break
            except av.FFmpegError as e:
                raise VideoError(
                    f"{self.name}: cannot decode the frame at {float(t)} s: {e}"
                ) from e
            if best is None:
                raise VideoError(f"{self.name}: no frame at {float(t)} s")
            pic = self._picture_of(best)
            self._cache[key] = pic
            while len(self._cache) > 8:
                self._cache.popitem(last=False)
            return pic

    def close(self) -> None:
        with self._lock:
            self._container.close()


class ImageSource(Source):
    """A still image (decoded once)."""

    kind = "image"

    def __init__(self, path: str) -> None:
        self.name = public_name(path)
        with _open(path) as container:
            frame = _own_frame(_first_picture(container, path))
        self._picture = Picture(frame, None, None)
        self.width, self.height, self.format = frame.width, frame.height, frame.format

    def picture(self, t: Fraction | None = None, *, refresh: bool = False) -> Picture:
        return self._picture


class LiveSource(Source):
    """A live stream URL (RTSP, HTTP, ...): the first picture decoded after connecting, grabbed
    again on ``refresh``. Its recording time is the wall clock at capture."""

    kind = "live"

    def __init__(self, url: str) -> None:
        self._url = url
        self.name = public_name(url)
        self._lock = threading.Lock()
        self._picture = self._grab()
        frame = self._picture.frame
        self.width, self.height, self.format = frame.width, frame.height, frame.format

    def _grab(self) -> Picture:
        with _open(self._url, timeout=(LIVE_TIMEOUT_S, LIVE_TIMEOUT_S)) as container:
            vf = _first_picture(container, self._url)
            return Picture(_own_frame(vf), None, datetime.now(UTC))

    def picture(self, t: Fraction | None = None, *, refresh: bool = False) -> Picture:
        with self._lock:
            if refresh:
                pic = self._grab()
                if (pic.frame.width, pic.frame.height) != (self.width, self.height):
                    raise VideoError(
                        f"{self.name}: the stream changed size to {pic.frame.width}x"
                        f"{pic.frame.height}; restart the editor"
                    )
                self._picture = pic
            return self._picture


def open_source(src: str) -> Source:
    """The source ``src`` names: a URL (``scheme://``) is live, a file with an image suffix an
    image, any other file a video. Raises ``FileNotFoundError`` or
    :class:`~privmask.errors.VideoError`."""
    if "://" in src:
        return LiveSource(src)
    path = Path(src)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "no such file", src)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(src)
    return VideoSource(src)


# --- pictures for the browser ------------------------------------------------------------------


def _matrix(frame: Frame) -> str:
    return frame.matrix or ("bt709" if frame.height >= 720 else "bt601")


def _full_range(frame: Frame) -> bool:
    if frame.full_range is not None:
        return frame.full_range
    return frame.format.startswith("yuvj") or frame.format == "gray"


_EXACT = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.BITEXACT


def to_rgb(frame: Frame) -> npt.NDArray[np.uint8]:
    """``frame`` as RGB, an ``(height, width, 3)`` uint8 array, converted the way privmask reads
    the frame's colours: its matrix (BT.709 from 720 rows, else BT.601, unless tagged) and range
    (full for ``yuvj*``), with FFmpeg's exact (bit-exact, accurately rounded) swscale path."""
    w, h = frame.width, frame.height
    if frame.format == "rgb24":
        return np.array(frame.planes[0], dtype=np.uint8).reshape(h, w, 3)
    if frame.format == "bgr24":
        return np.ascontiguousarray(frame.planes[0].reshape(h, w, 3)[:, :, ::-1], dtype=np.uint8)
    vf = av.VideoFrame(w, h, frame.format)
    for plane, arr in zip(vf.planes, frame.planes, strict=True):
        raw = np.ascontiguousarray(arr).view(np.uint8)
        rows, row_bytes = raw.shape
        dst = np.frombuffer(cast(Any, plane), np.uint8)
        dst[: rows * plane.line_size].reshape(rows, plane.line_size)[:, :row_bytes] = raw
    full = _full_range(frame)
    rgb = vf.reformat(
        format="rgb24",
        src_colorspace="itu709" if _matrix(frame) == "bt709" else "itu601",
        src_color_range="JPEG" if full else "MPEG",
        dst_color_range="JPEG",
        interpolation=_EXACT,
    )
    return np.asarray(rgb.to_ndarray(), dtype=np.uint8)


def png_bytes(rgb: npt.NDArray[np.uint8]) -> bytes:
    """An ``(height, width, 3)`` uint8 RGB array as a PNG file (lossless; FFmpeg's encoder)."""
    h, w = rgb.shape[:2]
    cc = av.CodecContext.create("png", "w")
    cc.width, cc.height, cc.pix_fmt = w, h, "rgb24"
    # Fast deflate: the file only crosses the loopback interface, and at the default level a
    # 1080p frame took ~0.6 s to compress (~0.12 s like this, 8 % larger).
    cc.options = {"compression_level": "1", "pred": "up"}
    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return b"".join(bytes(p) for p in [*cc.encode(vf), *cc.encode(None)])
