"""Frames: a pixel format and its planes, wrapped without copying."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from privmask import _native
from privmask.errors import FrameFormatError

__all__ = ["FORMATS", "FORMAT_INFO", "FormatInfo", "Frame", "Plane", "plane_shapes", "sample_dtype"]

FORMATS: tuple[str, ...] = tuple(_native.formats())


class FormatInfo(NamedTuple):
    """What privmask knows of a pixel format, read from the Rust core's table (the one source
    of these facts): chroma subsampling ``(x, y)``; samples interleaved per pixel in each plane
    (its length is the plane count: 2 for the semi-planar chroma of nv12, 3 for packed RGB);
    bytes per stored sample (2 for the 10-bit formats, little-endian words); bit depth; the left
    shift of samples in their words (6 for p010le); whether it is RGB; whether it implies full
    range (``yuvj*``)."""

    subsampling: tuple[int, int]
    interleave: tuple[int, ...]
    bytes_per_sample: int
    depth: int
    shift: int
    rgb: bool
    full_range: bool


FORMAT_INFO: dict[str, FormatInfo] = {
    name: FormatInfo(sub, tuple(inter), size, depth, shift, rgb, full)
    for name, sub, inter, size, depth, shift, rgb, full in _native.format_table()
}

#: A plane: ``uint8`` samples, or ``uint16`` words for the 10-bit formats.
Plane = npt.NDArray[np.uint8] | npt.NDArray[np.uint16]


def sample_dtype(fmt: str) -> type[np.uint8] | type[np.uint16]:
    """The numpy dtype of a format's planes: uint16 words for 10-bit formats, else uint8."""
    return np.uint16 if FORMAT_INFO[fmt].bytes_per_sample == 2 else np.uint8


# FFmpeg's AVColorSpace and AVColorRange values, as PyAV reports them.
_AV_MATRIX = {1: "bt709", 5: "bt601", 6: "bt601"}
_AV_RANGE = {1: False, 2: True}


def _unsupported_format(fmt: object) -> FrameFormatError:
    # Not the repr of whatever came instead (swapped arguments hand over a whole array).
    shown = repr(fmt) if isinstance(fmt, str) else f"a {type(fmt).__name__}"
    return FrameFormatError(
        f"unsupported pixel format {shown}; the format is a name, one of: {', '.join(FORMATS)}"
    )


def plane_shapes(fmt: str, width: int, height: int) -> list[tuple[int, int]]:
    """The ``(rows, samples per row)`` of each plane of a ``width`` x ``height`` frame (chroma
    sizes rounded up, as FFmpeg does). Raises :class:`FrameFormatError` for an unknown format."""
    if not isinstance(fmt, str) or fmt not in FORMAT_INFO:
        raise _unsupported_format(fmt)
    info = FORMAT_INFO[fmt]
    sx, sy = info.subsampling
    shapes = []
    for plane, interleave in enumerate(info.interleave):
        if plane == 0 or info.rgb:
            shapes.append((height, interleave * width))
        else:
            shapes.append((-(-height // sy), interleave * -(-width // sx)))
    return shapes


class Frame:
    """A video frame as numpy planes, wrapped without copying; ``apply`` writes into them.

    ``planes`` are 2-D arrays, luma first: ``(height, width)`` for Y, chroma sizes rounded up as
    FFmpeg does; ``nv12``/``nv21``/``p010le`` have one interleaved chroma plane of
    ``(ceil(h/2), 2*ceil(w/2))`` samples; ``rgb24``/``bgr24`` one ``(height, 3*width)`` plane.
    Samples are ``uint8``, or ``uint16`` words for ``yuv420p10le`` (value in the low 10 bits)
    and ``p010le`` (value in the high 10 bits). Rows may be padded (a row stride larger than the
    width, as PyAV's ``line_size``); samples within a row must be contiguous, planes writeable.

    ``matrix`` (``"bt601"``/``"bt709"``) and ``full_range`` say how the frame is coded when that
    differs from the default (BT.709 from 720 rows up, else BT.601; full range for ``yuvj*``).
    """

    __slots__ = ("_source", "format", "full_range", "height", "matrix", "planes", "width")

    format: str
    planes: tuple[Plane, ...]
    width: int
    height: int
    matrix: str | None
    full_range: bool | None

    def __init__(
        self,
        format: str,
        planes: Sequence[Plane],
        *,
        matrix: str | None = None,
        full_range: bool | None = None,
        _source: Any = None,
    ) -> None:
        if not isinstance(format, str) or format not in FORMAT_INFO:
            raise _unsupported_format(format)
        if matrix not in (None, "bt601", "bt709"):
            raise FrameFormatError(f"matrix must be 'bt601', 'bt709' or None, got {matrix!r}")
        planes = list(planes)
        dtype = np.dtype(sample_dtype(format))
        for i, p in enumerate(planes):
            if not isinstance(p, np.ndarray):
                raise FrameFormatError(f"plane {i} must be a numpy array, got {type(p).__name__}")
            if p.dtype != dtype:
                raise FrameFormatError(
                    f"plane {i} has dtype {p.dtype}; {format} planes are {dtype} arrays"
                )
            if p.ndim != 2:
                raise FrameFormatError(
                    f"plane {i} has {p.ndim} dimensions; pass 2-D (rows, bytes per row) arrays"
                )
        if not planes:
            raise FrameFormatError(f"a {format} frame needs planes, got none")
        height, width = planes[0].shape
        if format in ("rgb24", "bgr24"):
            if width % 3:
                raise FrameFormatError(
                    f"plane 0 of a {format} frame holds 3 bytes per pixel; "
                    f"{width} is not a multiple of 3"
                )
            width //= 3
        expected = plane_shapes(format, width, height)
        if len(planes) != len(expected):
            raise FrameFormatError(
                f"{format} frames have {len(expected)} planes, got {len(planes)}"
            )
        for i, (p, shape) in enumerate(zip(planes, expected, strict=True)):
            if p.shape != shape:
                raise FrameFormatError(
                    f"plane {i} of a {width}x{height} {format} frame must have shape {shape}, "
                    f"got {p.shape}"
                )
            if p.shape[1] > 1 and p.strides[1] != p.itemsize:
                raise FrameFormatError(
                    f"plane {i} has a sample stride of {p.strides[1]} bytes; rows must be "
                    "contiguous (use np.ascontiguousarray, or a view with unit inner stride)"
                )
            if p.shape[0] > 1 and p.strides[0] < p.shape[1] * p.itemsize:
                raise FrameFormatError(
                    f"plane {i} has a row stride of {p.strides[0]} bytes for rows of "
                    f"{p.shape[1]} bytes; rows must not overlap or run backwards"
                )
            if not p.flags.writeable:
                raise FrameFormatError(
                    f"plane {i} is read-only; privmask masks in place, pass a writeable array"
                )
        self.format = format
        self.planes = tuple(planes)
        self.width = width
        self.height = height
        self.matrix = matrix
        self.full_range = full_range
        self._source = _source

    @classmethod
    def from_av(cls, frame: Any) -> Frame:
        """Wraps a PyAV ``VideoFrame``'s own plane buffers: masking the returned ``Frame``
        changes the ``VideoFrame``. Its colour space and range are read from the frame.

        The frame is made writable first (PyAV's ``make_writable``): a decoded picture can still
        be a reference for the pictures decoded after it, and writing into a shared buffer would
        change those too. That copies only when the buffer is shared; otherwise nothing is copied.
        """
        fmt = getattr(getattr(frame, "format", None), "name", None)
        if fmt is None or not hasattr(frame, "planes"):
            raise FrameFormatError(f"expected an av.VideoFrame, got {type(frame).__name__}")
        if fmt not in FORMAT_INFO:
            raise FrameFormatError(
                f"unsupported pixel format {fmt!r}; supported: {', '.join(FORMATS)} "
                "(convert with frame.reformat(format='yuv420p'))"
            )
        # A decoder may still use this picture as a reference for later ones; writing into its
        # buffers would corrupt them. make_writable() copies only when the buffer is shared.
        make_writable = getattr(frame, "make_writable", None)
        if make_writable is not None:
            make_writable()
        shapes = plane_shapes(fmt, frame.width, frame.height)
        dtype = np.dtype(sample_dtype(fmt))
        planes = []
        for i, (plane, (rows, row_len)) in enumerate(zip(frame.planes, shapes, strict=False)):
            buf = np.frombuffer(plane, dtype=np.uint8)
            line = plane.line_size
            if line % dtype.itemsize:
                raise FrameFormatError(f"plane {i} line size {line} splits a {dtype} sample")
            row_bytes = row_len * dtype.itemsize
            if buf.size >= rows * line:
                arr = buf[: rows * line].view(dtype).reshape(rows, line // dtype.itemsize)
                arr = arr[:, :row_len]
            elif buf.size >= (rows - 1) * line + row_bytes:
                arr = np.lib.stride_tricks.as_strided(
                    buf[: buf.size - buf.size % dtype.itemsize].view(dtype),
                    shape=(rows, row_len),
                    strides=(line, dtype.itemsize),
                    writeable=buf.flags.writeable,
                )
            else:
                raise FrameFormatError(
                    f"plane {i} buffer holds {buf.size} bytes, too few for {rows} rows of "
                    f"{row_bytes} bytes at line size {line}"
                )
            planes.append(arr)
        matrix = _AV_MATRIX.get(int(getattr(frame, "colorspace", 0) or 0))
        full_range = _AV_RANGE.get(int(getattr(frame, "color_range", 0) or 0))
        return cls(fmt, planes, matrix=matrix, full_range=full_range, _source=frame)

    @classmethod
    def blank(cls, format: str, width: int, height: int, *, value: int = 0) -> Frame:
        """A new frame with luma (or R, G, B) at ``value`` and chroma at its mid-point; sample
        values are at the format's depth (0-1023 for 10-bit) and ``p010le`` words are shifted."""
        shapes = plane_shapes(format, width, height)
        dtype = sample_dtype(format)
        depth = FORMAT_INFO[format].depth
        shift = FORMAT_INFO[format].shift
        mid = 1 << (depth - 1)
        planes: list[Plane] = [
            np.full(s, (value if i == 0 else mid) << shift, dtype=dtype)  # type: ignore[misc]
            for i, s in enumerate(shapes)
        ]
        return cls(format, planes)

    def copy(self) -> Frame:
        """A deep copy with contiguous planes."""
        return Frame(
            self.format,
            [p.copy() for p in self.planes],
            matrix=self.matrix,
            full_range=self.full_range,
        )

    def __repr__(self) -> str:
        return f"Frame({self.format!r}, {self.width}x{self.height})"
