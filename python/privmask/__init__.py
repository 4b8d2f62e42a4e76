"""privmask: fast, irreversible privacy masks for video frames.

Polygon masks are rasterised once per frame geometry by a Rust core and composited on YUV planes
in place (solid, mosaic, or an information-bounded blur)::

    import privmask as pm
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0.1, 0.1, 0.3, 0.2), pm.Mosaic(block=0.03))])
    pm.apply(frame, masks)          # frame: pm.Frame or av.VideoFrame
"""

import multiprocessing as _mp

from privmask._native import __version__, threads
from privmask._native import set_threads as _set_threads
from privmask.engine.apply import apply, apply_report, coverage
from privmask.engine.frame import FORMATS, Frame
from privmask.errors import (
    AuditIntegrityError,
    DecryptionError,
    FrameFormatError,
    InvalidGeometryError,
    LiftDeniedError,
    MaskConfigError,
    NoMasksInForceError,
    PrivmaskError,
    SettingsError,
    VideoError,
    WrongPasswordError,
)
from privmask.masks.geometry import Polygon
from privmask.masks.interop import MaskCheck, OnvifMaskOptions
from privmask.masks.maskset import CompiledMasks, Mask, MaskSet
from privmask.masks.poses import PoseTrack, ZoomMap
from privmask.masks.ptz import ApplyResult, PTZPose, ScenePolygon
from privmask.masks.styles import Blur, Fill, Grade, Mosaic, Solid, Style
from privmask.masks.timeline import MaskTimeline, TimelineVersion, load_masks
from privmask.redaction.audit import AuditHead, AuditLog
from privmask.redaction.crypto import decrypt, encrypt
from privmask.redaction.export import ExportResult, export
from privmask.redaction.lifts import Lift, LiftManager, LiftPolicy


def set_threads(n: int) -> None:
    """Sets how many threads ``apply`` uses for large frames (1: only the calling thread).

    The default is the number of CPUs (or ``PRIVMASK_THREADS``), but 1 inside worker processes
    (``multiprocessing`` children), where the pool of processes already uses every core.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_THREADS:
        raise SettingsError(
            f"the thread count must be an integer from 1 to {MAX_THREADS}, got {n!r}"
        )
    _set_threads(n)


MAX_THREADS = 1024
"""The largest thread pool ``set_threads`` accepts (the core's bound too)."""


if _mp.parent_process() is not None:
    _set_threads(1)

__all__ = [
    "FORMATS",
    "ApplyResult",
    "AuditHead",
    "AuditIntegrityError",
    "AuditLog",
    "Blur",
    "CompiledMasks",
    "DecryptionError",
    "ExportResult",
    "Fill",
    "Frame",
    "FrameFormatError",
    "Grade",
    "InvalidGeometryError",
    "Lift",
    "LiftDeniedError",
    "LiftManager",
    "LiftPolicy",
    "Mask",
    "MaskCheck",
    "MaskConfigError",
    "MaskSet",
    "MaskTimeline",
    "Mosaic",
    "NoMasksInForceError",
    "OnvifMaskOptions",
    "PTZPose",
    "Polygon",
    "PoseTrack",
    "PrivmaskError",
    "ScenePolygon",
    "SettingsError",
    "Solid",
    "Style",
    "TimelineVersion",
    "VideoError",
    "WrongPasswordError",
    "ZoomMap",
    "__version__",
    "apply",
    "apply_report",
    "coverage",
    "decrypt",
    "encrypt",
    "export",
    "load_masks",
    "set_threads",
    "threads",
]

# Dynamic masking and redaction of people.
from privmask.dynamic.detect import (  # noqa: E402
    CascadeFaceDetector,
    CenterFaceDetector,
    Detector,
    MotionDetector,
    PersonDetector,
    ShapedMotionDetector,
    face_detector,
    person_detector,
    strong_detectors_available,
)
from privmask.dynamic.track import Tracker, TrackerStats  # noqa: E402
from privmask.engine.regions import Region  # noqa: E402
from privmask.redaction.redact import (  # noqa: E402
    RedactJob,
    Redactor,
    RedactReport,
    redact_file,
    redact_files,
)

__all__ += [
    "CascadeFaceDetector",
    "CenterFaceDetector",
    "Detector",
    "MotionDetector",
    "PersonDetector",
    "RedactJob",
    "RedactReport",
    "Redactor",
    "Region",
    "ShapedMotionDetector",
    "Tracker",
    "TrackerStats",
    "face_detector",
    "person_detector",
    "redact_file",
    "redact_files",
    "strong_detectors_available",
]
