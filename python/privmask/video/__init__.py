"""Video plumbing: masking whole recordings (files, batches on any executor, raw-video pipes).

Needs PyAV (``import av``); :mod:`privmask` itself does not import this package until it is used.
"""

from privmask.video.files import (
    MaskJob,
    MaskReport,
    VersionUse,
    decode_video,
    frame_bytes,
    mask_file,
    mask_files,
    mask_raw,
    run_job,
)

__all__ = [
    "MaskJob",
    "MaskReport",
    "VersionUse",
    "decode_video",
    "frame_bytes",
    "mask_file",
    "mask_files",
    "mask_raw",
    "run_job",
]
