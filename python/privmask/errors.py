"""The exceptions privmask raises, from Python and from the Rust core alike.

Each subclasses :class:`PrivmaskError` and the builtin a caller would catch without knowing
privmask (``ValueError`` for bad input, ``PermissionError`` for a refused lift).
"""

from __future__ import annotations

__all__ = [
    "AuditIntegrityError",
    "DecryptionError",
    "FrameFormatError",
    "InvalidGeometryError",
    "LiftDeniedError",
    "MaskConfigError",
    "NoMasksInForceError",
    "PrivmaskError",
    "SettingsError",
    "VideoError",
    "WrongPasswordError",
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


class SettingsError(PrivmaskError, ValueError):
    """A runtime setting that is out of range or of the wrong type: a thread count, a SIMD level,
    a detector's or tracker's parameters. (Mask configurations raise :class:`MaskConfigError`.)"""


class LiftDeniedError(PrivmaskError, PermissionError):
    """A request to lift liftable masks that the permission check refused."""


class AuditIntegrityError(PrivmaskError):
    """An audit log that was edited, truncated or reordered."""


class DecryptionError(PrivmaskError, ValueError):
    """An encrypted export that cannot be decrypted: not one, truncated, or tampered with."""


class WrongPasswordError(DecryptionError):
    """The password does not open this file (or its header was altered)."""


class NoMasksInForceError(PrivmaskError, LookupError):
    """A time before the first version of a mask timeline (or a timeline with no versions).

    Nothing was configured then, and "no masks" is never assumed: exporting such video unmasked
    would leak exactly what the operator meant to hide once the masks were set up."""


class VideoError(PrivmaskError):
    """A video that cannot be read, masked or written: corrupt or truncated input, a codec or
    container this FFmpeg build lacks, a stream that changes size mid-way. ``frame`` (or
    ``packet``) is the 0-based index where it failed, when the failure is tied to one."""

    def __init__(
        self, message: str, *, frame: int | None = None, packet: int | None = None
    ) -> None:
        super().__init__(message)
        self.frame = frame
        self.packet = packet

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps ``frame``/``packet`` when the error crosses a process boundary (batch jobs).
        return (_rebuild_video_error, (str(self), self.frame, self.packet))


def _rebuild_video_error(message: str, frame: int | None, packet: int | None) -> VideoError:
    return VideoError(message, frame=frame, packet=packet)
