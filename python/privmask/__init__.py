"""privmask: fast, irreversible privacy masks for video frames.

Polygon masks are rasterised once per frame geometry by a Rust core and composited on YUV planes
in place (solid, mosaic, or an information-bounded blur)::

    import privmask as pm
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0.1, 0.1, 0.3, 0.2), pm.Mosaic(block=0.03))])
    pm.apply(frame, masks)          # frame: pm.Frame or av.VideoFrame
"""

from privmask._native import __version__
from privmask.engine import apply, coverage
from privmask.errors import (
    AuditIntegrityError,
    FrameFormatError,
    InvalidGeometryError,
    LiftDeniedError,
    MaskConfigError,
    PrivmaskError,
)
from privmask.frame import FORMATS, Frame
from privmask.geometry import Polygon
from privmask.masks import CompiledMasks, Mask, MaskSet
from privmask.styles import Blur, Fill, Grade, Mosaic, Solid, Style

__all__ = [
    "FORMATS",
    "AuditIntegrityError",
    "Blur",
    "CompiledMasks",
    "Fill",
    "Frame",
    "FrameFormatError",
    "Grade",
    "InvalidGeometryError",
    "LiftDeniedError",
    "Mask",
    "MaskConfigError",
    "MaskSet",
    "Mosaic",
    "Polygon",
    "PrivmaskError",
    "Solid",
    "Style",
    "__version__",
    "apply",
    "coverage",
]
