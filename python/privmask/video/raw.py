"""Masking raw video streams: FFmpeg's ``rawvideo`` framing on pipes (``privmask pipe``), on the
same three-stage pipeline and per-frame rule as files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from fractions import Fraction
from typing import Any, BinaryIO

import numpy as np

from privmask.engine.frame import FORMAT_INFO, Frame, plane_shapes
from privmask.engine.planner import FramePlanner, Geometry, check_lift
from privmask.errors import VideoError
from privmask.masks.maskset import MaskSet
from privmask.masks.poses import PoseTrack
from privmask.masks.timeline import MaskTimeline
from privmask.video.transcode import QUEUE_FRAMES, Pipeline

__all__ = ["frame_bytes", "mask_raw"]


def _raw_dtype(pix_fmt: str) -> np.dtype[Any]:
    """Samples as FFmpeg's ``rawvideo`` stores them: bytes, or little-endian 16-bit words for
    the 10-bit formats (``yuv420p10le``, ``p010le``)."""
    return np.dtype("<u2") if FORMAT_INFO[pix_fmt].bytes_per_sample == 2 else np.dtype(np.uint8)


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
    masks: MaskSet | MaskTimeline,
    *,
    width: int,
    height: int,
    pix_fmt: str = "yuv420p",
    fps: Fraction | None = None,
    start: datetime | None = None,
    lifted: bool = False,
    lift_id: str | None = None,
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
    check_lift(lifted, lift_id)
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
    planner = FramePlanner(masks, start=start if fps is not None else None, poses=poses)
    size = frame_bytes(pix_fmt, width, height)
    dtype = _raw_dtype(pix_fmt)
    geometry = Geometry(width, height, pix_fmt, matrix, full_range)
    # A ring of frame buffers: at most 2 * QUEUE_FRAMES + 2 frames are between the reader and
    # the end of the writer's write, so a buffer is refilled only once it has been written.
    ring = [
        _RawFrame(size, dtype, shapes, pix_fmt, matrix, full_range)
        for _ in range(2 * QUEUE_FRAMES + 4)
    ]

    def read() -> Iterator[object]:
        index = 0
        while True:
            buf = ring[index % len(ring)]
            got = _read_full(src, buf.view)
            if got == 0:
                return
            if got < size:
                raise VideoError(
                    f"the input ended {got} bytes into frame {index}, but a {width}x{height} "
                    f"{pix_fmt} frame is {size} bytes: truncated stream (or a wrong --size or "
                    "--pix-fmt); the partial frame was not written",
                    frame=index,
                )
            yield buf
            index += 1

    def process(index: int, item: Any) -> None:
        offset = Fraction(index) / fps if fps is not None else None
        compiled = planner.plan(index, offset, geometry)
        if compiled is not None:
            compiled.apply_planes(list(item.frame.planes), lifted=lifted)

    def write(item: object) -> None:
        assert isinstance(item, _RawFrame)
        dst.write(item.view)

    def write_error(e: BaseException, index: int | None) -> BaseException:
        return e

    frames = Pipeline(
        read, lambda item: isinstance(item, _RawFrame), process, write, dst.flush, write_error
    ).run()
    if failed_closed is not None:
        failed_closed.extend(planner.failed_closed)
    return frames


class _RawFrame:
    """One frame buffer of the ring: the bytes and the planes that view them."""

    def __init__(
        self,
        size: int,
        dtype: np.dtype[Any],
        shapes: list[tuple[int, int]],
        pix_fmt: str,
        matrix: str | None,
        full: bool | None,
    ) -> None:
        raw = np.empty(size, dtype=np.uint8)
        samples = raw.view(dtype)
        planes, offset = [], 0
        for rows, row in shapes:
            planes.append(samples[offset : offset + rows * row].reshape(rows, row))
            offset += rows * row
        self.frame = Frame(pix_fmt, planes, matrix=matrix, full_range=full)
        self.view = raw.data
