"""Whole people with a YOLO detector, so that a person seen from behind or too small for a face
detector is masked too.

The model shipped with privmask is YOLOv3-tiny trained on COCO (public domain; converted to
ONNX from the Darknet files, see ``models/README.md``), of which only the ``person`` class is
kept. Any Darknet-style YOLO ONNX file made by ``scripts/darknet_to_onnx.py`` can be given
instead: the decoder reads the anchors, strides and class count from the file's metadata.

YOLOv3-tiny was trained on pictures of about 416 pixels and finds people from about 20 pixels
high in the picture it sees. Surveillance frames are larger and the people in them small, so
the frame is seen at ``scale`` times its resolution and, when that picture is larger than
``tile`` pixels, in overlapping tiles of at most ``tile`` x ``tile`` pixels, each person
reported once (boxes merged by non-maximum suppression).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
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

__all__ = ["PERSON_FILE", "PersonDetector", "tiles"]

PERSON_FILE = "yolov3-tiny-coco.onnx"


def tiles(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """``[start, end)`` spans of at most ``tile`` pixels covering ``0..length``, each sharing at
    least ``overlap`` pixels with the next, all multiples of 32 long except where the picture is
    shorter than one tile. A person no taller than ``overlap`` lies whole in some tile."""
    if length <= tile:
        return [(0, length)]
    n = -(-(length - overlap) // (tile - overlap))
    step = (length - tile) / (n - 1)
    return [(round(i * step), round(i * step) + tile) for i in range(n)]


def _sigmoid(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = (1.0 / (1.0 + np.exp(-v))).astype(np.float32)
    return out


class PersonDetector:
    """People, as normalised boxes labelled ``"person"``, found by a YOLO ONNX model run by
    onnxruntime on the CPU.

    ``model``: path to a Darknet-style YOLO ONNX file (default: YOLOv3-tiny, shipped).
    ``threshold``: the score (objectness x person probability) a box needs; lower finds more
    and masks more. ``scale``: the resolution the network sees, as a fraction of the frame's.
    ``tile``: the largest picture (pixels per side, a multiple of 32) run at once; larger
    pictures are cut into tiles overlapping by ``overlap`` of a tile. ``classes``: the model's
    class indices to report (COCO: 0 is person).

    Missing onnxruntime is a :class:`PrivmaskError` naming ``pip install 'privmask-video[detect]'``;
    bad settings are :class:`MaskConfigError`, raised here rather than on the first frame.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        threshold: float = 0.15,
        scale: float = 1.0,
        tile: int = 608,
        overlap: float = 0.25,
        classes: Sequence[int] = (0,),
    ) -> None:
        if not 0 < threshold < 1:
            raise MaskConfigError(f"person threshold must be in (0, 1), got {threshold!r}")
        if not 0 < scale <= 4:
            raise MaskConfigError(f"person scale must be in (0, 4], got {scale!r}")
        if tile < 64 or tile % 32:
            raise MaskConfigError(f"tile must be a multiple of 32, at least 64, got {tile!r}")
        if not 0 <= overlap < 1:
            raise MaskConfigError(f"overlap must be in [0, 1), got {overlap!r}")
        path = Path(model) if model is not None else model_file(PERSON_FILE)
        if not path.is_file():
            raise PrivmaskError(f"no person model at {path}")
        self._session, graph = onnx_session(path, free_dims=False, what="person detection")
        layers: list[dict[str, Any]] | None = None
        for prop in graph.metadata_props:
            if prop.key == "yolo_layers":
                layers = json.loads(prop.value)
        if not layers:
            raise PrivmaskError(
                f"{path} has no yolo_layers metadata: make it with scripts/darknet_to_onnx.py"
            )
        self._layers = layers
        n_classes = int(layers[0]["classes"])
        if not classes or any(not 0 <= c < n_classes for c in classes):
            raise MaskConfigError(f"classes must be indices below {n_classes}, got {classes!r}")
        self._input = self._session.get_inputs()[0].name
        self._outputs = [layer["output"] for layer in layers]
        self.threshold = float(threshold)
        self.scale = float(scale)
        self.tile = int(tile)
        self.overlap = float(overlap)
        self.classes = tuple(int(c) for c in classes)

    def _run(self, picture: npt.NDArray[np.uint8]) -> list[PixelBox]:
        """Boxes in pixels of ``picture`` (gray, ``(h, w)``, both at most one tile)."""
        h, w = picture.shape
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        x = np.full((1, 3, ph, pw), 0.5, dtype=np.float32)  # Darknet's grey letterbox
        x[0, 0, :h, :w] = picture / np.float32(255.0)
        x[0, 1] = x[0, 0]
        x[0, 2] = x[0, 0]
        found: list[PixelBox] = []
        for out, layer in zip(
            self._session.run(self._outputs, {self._input: x}), self._layers, strict=True
        ):
            anchors = np.asarray(layer["anchors"], dtype=np.float32)
            c = int(layer["classes"])
            _, _, gh, gw = out.shape
            o = out[0].reshape(len(anchors), 5 + c, gh, gw)
            obj = _sigmoid(o[:, 4])
            cls = _sigmoid(o[:, [5 + k for k in self.classes]]).max(axis=1)
            score = obj * cls
            a, yy, xx = np.nonzero(score > self.threshold)
            if a.size == 0:
                continue
            cx = (_sigmoid(o[a, 0, yy, xx]) + xx) * (pw / gw)
            cy = (_sigmoid(o[a, 1, yy, xx]) + yy) * (ph / gh)
            bw = np.exp(o[a, 2, yy, xx]) * anchors[a, 0]
            bh = np.exp(o[a, 3, yy, xx]) * anchors[a, 1]
            for vals in zip(
                cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, score[a, yy, xx], strict=True
            ):
                found.append(tuple(float(v) for v in vals))  # type: ignore[arg-type]
        return found

    def detect(self, frame: Frame) -> list[Region]:
        """The people in ``frame``, as normalised boxes labelled ``"person"`` with a score."""
        w = max(32, round(frame.width * self.scale))
        h = max(32, round(frame.height * self.scale))
        picture = resample(luma(frame), w, h)
        margin = round(self.tile * self.overlap)
        found: list[PixelBox] = []
        for y0, y1 in tiles(h, self.tile, margin):
            for x0, x1 in tiles(w, self.tile, margin):
                for bx0, by0, bx1, by1, s in self._run(picture[y0:y1, x0:x1]):
                    found.append((bx0 + x0, by0 + y0, bx1 + x0, by1 + y0, s))
        out = []
        for bx0, by0, bx1, by1, s in nms(found, 0.45):
            box = normalised(bx0, by0, bx1, by1, w, h)
            if box[2] > box[0] and box[3] > box[1]:
                out.append(Region(box, label="person", score=s))
        return out
