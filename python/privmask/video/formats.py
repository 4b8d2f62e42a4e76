"""Pixel formats cameras send that the engine does not mask directly: converted explicitly.

The engine masks the formats in :data:`privmask.engine.frame.FORMATS`. A few more are common in
recordings; each is converted to an engine format after decoding, masked there (so the masks'
guarantees hold on what is encoded), and converted back before encoding when the encoder takes
the source's format, so the output has the pixel format FFmpeg would give it:

==============  ===============  ========================================================
source          masked as        what the conversion costs
==============  ===============  ========================================================
yuvj422p        yuv422p          nothing: the same samples, full range (USB webcams' MJPEG)
yuvj444p        yuv444p          nothing: the same samples, full range
yuyv422         yuv422p          nothing: the same samples, unpacked (raw webcams)
uyvy422         yuv422p          nothing: the same samples, unpacked
yuv422p10le     yuv420p10le      chroma: vertical chroma resolution halved, then restored
                                 by interpolation (no 10-bit 4:2:2 format in the engine)
yuv444p10le     yuv420p10le      chroma: chroma resolution halved both ways, then restored
                                 by interpolation
==============  ===============  ========================================================

Every conversion is reported (``MaskReport.converted``): the lossy ones change the picture
outside the masks too. Depth is always kept: a 10-bit source is never masked at 8 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import av

from privmask.engine.frame import FORMATS
from privmask.errors import FrameFormatError

__all__ = ["CONVERSIONS", "Conversion", "conversion_for"]

_JPEG = av.video.reformatter.ColorRange.JPEG
_MPEG = av.video.reformatter.ColorRange.MPEG


@dataclass(frozen=True)
class Conversion:
    """Decoded ``source`` frames are masked as ``masked`` frames; ``lossless`` says whether the
    round trip gives back the same samples outside the masks."""

    source: str
    masked: str
    lossless: bool
    full_range: bool = False
    """The source format is full range by definition (``yuvj*``): kept so."""

    def describe(self, encoded: str) -> str:
        """One sentence for the report: what was converted and what it cost."""
        cost = (
            "without loss"
            if self.lossless
            else "with chroma resampled (privmask has no masking kernel for "
            f"{self.source}; the picture outside the masks lost chroma detail)"
        )
        back = f", encoded as {encoded}" if encoded != self.masked else ""
        return f"{self.source} masked as {self.masked} {cost}{back}"

    def _range(self, frame: Any) -> Any:
        if self.full_range:
            return _JPEG
        return _JPEG if int(frame.color_range or 0) == int(_JPEG) else _MPEG

    def to_masked(self, frame: Any) -> Any:
        """``frame`` (``source`` format) as a new ``masked`` frame, same pts and range."""
        r = self._range(frame)
        return frame.reformat(format=self.masked, src_color_range=r, dst_color_range=r)

    def to_encoded(self, frame: Any, fmt: str) -> Any:
        """A masked frame in the encoder's format ``fmt`` (itself when it is already)."""
        if frame.format.name == fmt:
            return frame
        r = _JPEG if self.full_range or int(frame.color_range or 0) == int(_JPEG) else _MPEG
        out = frame.reformat(format=fmt, src_color_range=r, dst_color_range=r)
        out.pts, out.time_base = frame.pts, frame.time_base
        return out


CONVERSIONS = {
    c.source: c
    for c in (
        Conversion("yuvj422p", "yuv422p", True, full_range=True),
        Conversion("yuvj444p", "yuv444p", True, full_range=True),
        Conversion("yuyv422", "yuv422p", True),
        Conversion("uyvy422", "yuv422p", True),
        Conversion("yuv422p10le", "yuv420p10le", False),
        Conversion("yuv444p10le", "yuv420p10le", False),
    )
}
"""The source formats privmask converts, by FFmpeg name."""


def conversion_for(src: str, fmt: str) -> Conversion | None:
    """``None`` for a format the engine masks as it is; the conversion for one in
    :data:`CONVERSIONS`; :class:`FrameFormatError` naming both lists otherwise."""
    if fmt in FORMATS:
        return None
    conv = CONVERSIONS.get(fmt)
    if conv is None:
        raise FrameFormatError(
            f"{src}: {fmt} video is not supported; privmask masks {', '.join(FORMATS)} and "
            f"converts {', '.join(CONVERSIONS)}"
        )
    return conv
