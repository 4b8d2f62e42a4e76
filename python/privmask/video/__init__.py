"""Video plumbing: masking whole recordings (files, batches on any executor, raw-video pipes).

Modules: :mod:`~privmask.video.decode` (opening and decoding sources, damage),
:mod:`~privmask.video.encode` (encoders, containers, quality defaults),
:mod:`~privmask.video.orient` (rotated and mirrored recordings),
:mod:`~privmask.video.formats` (pixel formats converted for masking),
:mod:`~privmask.video.pipeline` (the three threads), :mod:`~privmask.video.transcode` (the one
reader -> callback -> writer path), :mod:`~privmask.video.files` (``mask_file``, batches),
:mod:`~privmask.video.raw` (pipes),
:mod:`~privmask.video.live` (``mask_live``: live streams into segments or HLS) with
:mod:`~privmask.video.segments` (its writer).

Needs PyAV (``import av``); :mod:`privmask` itself does not import this package until it is used.
"""

from privmask.video.decode import decode_video
from privmask.video.files import MaskJob, MaskReport, VersionUse, mask_file, mask_files, run_job
from privmask.video.live import LiveReport, Reconnect, mask_live
from privmask.video.raw import frame_bytes, mask_raw

__all__ = [
    "LiveReport",
    "MaskJob",
    "MaskReport",
    "Reconnect",
    "VersionUse",
    "decode_video",
    "frame_bytes",
    "mask_file",
    "mask_files",
    "mask_live",
    "mask_raw",
    "run_job",
]
