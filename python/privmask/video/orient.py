"""Rotated and flipped recordings: masks drawn on the picture as displayed, applied to the picture
as coded.

Phones, body cams and some dash cams store the picture as the sensor saw it and a *display
matrix* (MP4 ``tkhd`` matrix, FFmpeg's ``DISPLAYMATRIX`` side data) telling players to rotate
by a multiple of 90° and/or mirror it. Masks are given in normalised coordinates of the picture
**as displayed** (DESIGN §3), so each polygon is mapped into the coded picture before it is
rasterised, and the output keeps the display matrix, so it plays the way the source did.

The matrix is FFmpeg's: nine 32-bit integers ``[a b u; c d v; x y w]`` (``a b c d`` in 16.16
fixed point); a coded pixel position ``(p, q)`` is shown at ``(a p + c q + x, b p + d q + y)``.
Only the 2x2 part matters here (the translation just brings the picture back into view).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from privmask.engine.frame import FORMAT_INFO, Frame
from privmask.errors import VideoError
from privmask.masks.geometry import Polygon
from privmask.masks.maskset import Mask, MaskSet
from privmask.masks.ptz import ScenePolygon
from privmask.masks.styles import Blur, Mosaic
from privmask.masks.timeline import MaskTimeline

__all__ = [
    "Orientation",
    "check_turnable",
    "displayed_frame",
    "displayed_masks",
    "frame_orientation",
    "orientation_of",
]

_ONE = 1 << 16  # 1.0 in the matrix's 16.16 fixed point


@dataclass(frozen=True)
class Orientation:
    """How the coded picture is shown: the 2x2 part of the display matrix, each entry -1, 0 or
    1 (``a b; c d``), and the full matrix to write back on the output (``None``: shown as
    coded)."""

    a: int = 1
    b: int = 0
    c: int = 0
    d: int = 1
    matrix: tuple[int, ...] | None = None

    @property
    def identity(self) -> bool:
        return (self.a, self.b, self.c, self.d) == (1, 0, 0, 1)

    @property
    def swaps_axes(self) -> bool:
        """True for a quarter turn: the displayed width is the coded height."""
        return self.a == 0

    @property
    def rotation(self) -> int:
        """The counter-clockwise rotation in degrees, as ``ffprobe`` shows it (FFmpeg's
        ``av_display_rotation_get``, normalised to 0-359)."""
        return round(-math.degrees(math.atan2(self.b, self.a))) % 360

    def describe(self) -> str:
        flip = (self.a * self.d - self.b * self.c) < 0
        return f"rotated {self.rotation}°" + (" and mirrored" if flip else "")

    def to_coded(self, u: float, v: float, width: int, height: int) -> tuple[float, float]:
        """The coded picture's normalised point under displayed normalised point ``(u, v)``;
        ``width`` x ``height`` is the coded size in pixels."""
        dw, dh = (height, width) if self.swaps_axes else (width, height)
        x, y = u * dw - dw / 2, v * dh - dh / 2
        # The 2x2 part is orthogonal: its inverse is its transpose.
        p = self.a * x + self.b * y
        q = self.c * x + self.d * y
        return (p + width / 2) / width, (q + height / 2) / height

    def show(self, coded: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """A view of the picture ``coded`` (an array indexed ``[row, column, ...]``, as coded)
        indexed as displayed: ``shown[Y, X] = coded[q, p]`` where ``(X, Y) = (a p + c q,
        b p + d q)`` up to the translation. No copy; writing into the view writes ``coded``."""
        if self.swaps_axes:  # X follows the coded row, Y the coded column
            view = np.swapaxes(coded, 0, 1)
            return view[:: self.b or 1, :: self.c or 1]
        return coded[:: self.d or 1, :: self.a or 1]


def check_turnable(fmt: str, o: Orientation) -> None:
    """Raises :class:`VideoError` when a ``fmt`` picture cannot be shown as ``o`` displays it
    without resampling: a quarter turn of chroma subsampled differently across and down
    (4:2:2), since the turned picture has no such format."""
    sub = FORMAT_INFO[fmt].subsampling
    if o.swaps_axes and sub[0] != sub[1]:
        raise VideoError(
            f"a {fmt} picture {o.describe()} cannot be turned without resampling its chroma; "
            "convert it first (ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT)"
        )


def displayed_frame(frame: Frame, o: Orientation) -> tuple[Frame, Callable[[], None]]:
    """``frame`` (as coded) copied the way it is displayed, and a function that writes the
    copy back into ``frame`` (so what was masked on the picture as shown lands on the coded
    pixels it shows: the transform only permutes samples, nothing is resampled).

    Planes are transformed whole, interleaved samples (nv12 chroma, packed RGB) kept per pixel.
    Raises :class:`VideoError` for a quarter turn of a format whose chroma is subsampled
    differently across and down (4:2:2): the turned picture has no such format."""
    check_turnable(frame.format, o)
    info = FORMAT_INFO[frame.format]
    views, shown = [], []
    for plane, k in zip(frame.planes, info.interleave, strict=True):
        rows, cols = plane.shape
        pixels = plane.reshape(rows, cols // k, k) if k > 1 else plane
        view = o.show(pixels)
        views.append(view)
        copy = np.ascontiguousarray(view)
        shown.append(copy.reshape(copy.shape[0], -1) if k > 1 else copy)
    out = Frame(frame.format, shown, matrix=frame.matrix, full_range=frame.full_range)

    def write_back() -> None:
        for view, copy in zip(views, shown, strict=True):
            view[...] = copy.reshape(view.shape)

    return out, write_back


def orientation_of(side_data: bytes | None) -> Orientation:
    """The orientation a ``DISPLAYMATRIX`` side data (36 bytes, native-endian int32) gives.

    Raises :class:`VideoError` for a matrix that is not a multiple of 90° with or without a
    mirror (a skewed or scaled picture: privmask would have to resample it)."""
    if side_data is None:
        return Orientation()
    if len(side_data) != 36:
        raise VideoError(f"a display matrix is 36 bytes, this one {len(side_data)}")
    m = struct.unpack("=9i", side_data)
    unit = []
    for v in (m[0], m[1], m[3], m[4]):
        if v not in (-_ONE, 0, _ONE):
            raise VideoError(
                f"the video's display matrix {list(m)} is not a rotation by a multiple of 90° "
                "or a mirror; privmask cannot place masks on such a picture"
            )
        unit.append(v // _ONE)
    a, b, c, d = unit
    if a * d - b * c == 0:
        raise VideoError(f"the video's display matrix {list(m)} is degenerate")
    o = Orientation(a, b, c, d, tuple(m))
    return Orientation(matrix=None) if o.identity else o


def frame_orientation(frame: Any) -> Orientation:
    """The orientation of a decoded ``av.VideoFrame`` (from its ``DISPLAYMATRIX`` side data,
    which FFmpeg also derives from a JPEG's or PNG's EXIF ``Orientation`` tag).

    Raises :class:`VideoError` for a matrix that is not a quarter-turn rotation or mirror."""
    from av.sidedata.sidedata import Type

    _name_unknown_side_data(Type)
    data = frame.side_data.get(Type.DISPLAYMATRIX)
    return orientation_of(None if data is None else bytes(data))


def _name_unknown_side_data(kind: Any) -> None:
    """Lets PyAV list side data it has no name for instead of raising.

    PyAV up to 18.1 builds ``frame.side_data`` by naming every entry with its ``Type`` enum,
    which lacks types newer FFmpeg attaches: FFmpeg 8 puts ``AV_FRAME_DATA_EXIF`` (31) on every
    JPEG or PNG that carries EXIF, so the whole container raised ``ValueError: 31 is not a
    valid Type`` and no display matrix could be read (PyAV fixed its tables upstream in
    PyAV-Org/PyAV#2392). An unknown type becomes an ``UNKNOWN_<n>`` member, once; known
    members and their values are untouched."""
    if getattr(kind, "_privmask_names_unknown", False):
        return

    def missing(cls: Any, value: object) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        member = object.__new__(cls)
        member._name_ = f"UNKNOWN_{value}"
        member._value_ = value
        return cls._value2member_map_.setdefault(value, member)

    kind._missing_ = classmethod(missing)
    kind._privmask_names_unknown = True


def _mask_for(mask: Mask, o: Orientation, width: int, height: int, where: str) -> Mask:
    if isinstance(mask.shape, ScenePolygon):
        raise VideoError(
            f"{where}: scene-locked (PTZ) masks on a {o.describe()} recording are not "
            "supported; re-encode the recording upright first"
        )
    points = [o.to_coded(u, v, width, height) for u, v in mask.shape.points]
    style = mask.style
    if o.swaps_axes:
        # Relative sizes are fractions of the displayed height, which is the coded width.
        if isinstance(style, Mosaic) and style.block_px is None and style.block is not None:
            style = Mosaic(block_px=style.block * width)
        elif isinstance(style, Blur) and style.sigma_px is None and style.sigma is not None:
            style = Blur(sigma_px=style.sigma * width)
    return Mask(Polygon(points), style, mask.liftable, mask.name)


def _set_for(masks: MaskSet, o: Orientation, width: int, height: int, where: str) -> MaskSet:
    return MaskSet(_mask_for(m, o, width, height, where) for m in masks)


def displayed_masks(
    masks: MaskSet | MaskTimeline, o: Orientation, width: int, height: int, where: str = ""
) -> MaskSet | MaskTimeline:
    """``masks`` (drawn on the displayed picture) mapped onto the coded ``width`` x ``height``
    picture; the same object when the picture is shown as coded. A timeline keeps its
    versions' times (their content hashes change: report the originals').

    Relative mosaic and blur sizes stay fractions of the *displayed* height. The mosaic grid
    is anchored at the coded picture's origin. Raises :class:`VideoError` for scene-locked
    masks on a rotated picture."""
    if o.identity:
        return masks
    if isinstance(masks, MaskSet):
        return _set_for(masks, o, width, height, where)
    return MaskTimeline((v.since, _set_for(v.masks, o, width, height, where)) for v in masks)
