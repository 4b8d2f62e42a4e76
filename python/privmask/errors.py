"""The exceptions privmask raises, from Python and from the Rust core alike.

Each subclasses :class:`PrivmaskError` and the builtin a caller would catch without knowing
privmask (``ValueError`` for bad input, ``PermissionError`` for a refused lift).
"""

from __future__ import annotations

__all__ = [
    "AuditIntegrityError",
    "FrameFormatError",
    "InvalidGeometryError",
    "LiftDeniedError",
    "MaskConfigError",
    "PrivmaskError",
]


class PrivmaskError(Exception):
    """Root of every privmask error."""


class InvalidGeometryError(PrivmaskError, ValueError):
    """A polygon that cannot be rasterised: NaN or infinite coordinates, fewer than three distinct
    vertices, or no area."""


class FrameFormatError(PrivmaskError, ValueError):
    """A frame whose planes do not match its format: dtype, shape, stride, writeability, or an
    unsupported pixel format."""


class MaskConfigError(PrivmaskError, ValueError):
    """A mask configuration that is invalid; ``path`` names the offending field
    (``masks[2].style.block_px``) when the configuration came from JSON."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class LiftDeniedError(PrivmaskError, PermissionError):
    """A request to lift liftable masks that the permission check refused."""


class AuditIntegrityError(PrivmaskError):
    """An audit log that was edited, truncated or reordered."""
