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

Small people (far from the camera) score low, so boxes shorter than ``small_height`` pixels
need only ``small_threshold``. Two boxes on one person (a whole body and its legs, or two
people close together) are reported as one box round both when most of the smaller lies in
the larger. On real footage (``benches/redact_quality.py``) YOLOv3-tiny's boxes often cut
the head (their tops up to 0.3 of their height too low) while their feet are right, so every
box is grown by ``grow`` (left, top, right, bottom, as fractions of its height) before it is
reported: the box then holds the person, and the tracker needs little margin for it
(``PERSON_MARGIN`` in :mod:`privmask.redaction.redact`).
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

__all__ = ["PERSON_FILE", "PERSON_GROW", "PersonDetector", "tiles"]

PERSON_FILE = "yolov3-tiny-coco.onnx"

PERSON_GROW = (0.1, 0.25, 0.1, 0.05)
"""How much a box is grown on its left, top, right and bottom, as fractions of its height:
measured on vtest.avi's hand-boxed people, YOLOv3-tiny's box tops sit up to 0.3 of the box
height below the head, sides up to 0.12 inside, and bottoms at or below the feet."""


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


def _merged(boxes: list[PixelBox], limit: float) -> list[PixelBox]:
    """``boxes`` with each pair whose intersection exceeds ``limit`` of the smaller box's area
    replaced by one box round both (the higher score), largest boxes first."""
    out: list[PixelBox] = []
    for b in sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
        for k, o in enumerate(out):
            ix = min(b[2], o[2]) - max(b[0], o[0])
            iy = min(b[3], o[3]) - max(b[1], o[1])
            smaller = min((b[2] - b[0]) * (b[3] - b[1]), (o[2] - o[0]) * (o[3] - o[1]))
            if ix > 0 and iy > 0 and ix * iy > limit * smaller:
                out[k] = (
                    min(b[0], o[0]),
                    min(b[1], o[1]),
                    max(b[2], o[2]),
                    max(b[3], o[3]),
                    max(b[4], o[4]),
                )
                break
        else:
            out.append(b)
    return out


class PersonDetector:
    """People, as normalised boxes labelled ``"person"``, found by a YOLO ONNX model run by
    onnxruntime on the CPU.

    ``model``: path to a Darknet-style YOLO ONNX file (default: YOLOv3-tiny, shipped).
    ``threshold``: the score (objectness x person probability) a box needs; lower finds more
    and masks more. ``small_threshold``: the score enough for a box shorter than
    ``small_height`` pixels of the picture the network sees (far people score low).
    ``scale``: the resolution the network sees, as a fraction of the frame's.
    ``tile``: the largest picture (pixels per side, a multiple of 32) run at once; larger
    pictures are cut into tiles overlapping by ``overlap`` of a tile. ``merge``: two boxes
    become one round both when their intersection exceeds this fraction of the smaller one's
    area (``1``: never). ``grow``: fractions of a box's height added to its left, top, right
    and bottom (default :data:`PERSON_GROW`). ``classes``: the model's class indices to
    report (COCO: 0 is person).

    Missing onnxruntime is a :class:`PrivmaskError` naming privmask-video's ``detect`` extra;
    bad settings are :class:`MaskConfigError`, raised here rather than on the first frame.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        threshold: float = 0.1,
        small_threshold: float = 0.04,
        small_height: float = 50.0,
        scale: float = 1.0,
        tile: int = 768,
        overlap: float = 0.25,
        merge: float = 0.6,
        grow: Sequence[float] = PERSON_GROW,
        classes: Sequence[int] = (0,),
    ) -> None:
        if not 0 < threshold < 1:
            raise MaskConfigError(f"person threshold must be in (0, 1), got {threshold!r}")
        if not 0 < small_threshold < 1 or not small_height >= 0:
            raise MaskConfigError(
                "small_threshold must be in (0, 1) and small_height at least 0, got "
                f"{small_threshold!r} and {small_height!r}"
            )
        if not 0 < merge <= 1:
            raise MaskConfigError(f"merge must be in (0, 1], got {merge!r}")
        if len(grow) != 4 or any(not 0 <= g <= 1 for g in grow):
            raise MaskConfigError(f"grow must be four fractions in [0, 1], got {grow!r}")
        if not 0 < scale <= 4:
            raise MaskConfigError(f"person scale must be in (0, 4], got {scale!r}")
        if tile < 64 or tile % 32:
            raise MaskConfigError(f"tile must be a multiple of 32, at least 64, got {tile!r}")
        if not 0 <= overlap < 1:
            raise MaskConfigError(f"overlap must be in [0, 1), got {overlap!r}")
        path = Path(model) if model is not None else model_file(PERSON_FILE)
        if not path.is_file():
            raise PrivmaskError(f"no person model at {path}")
        # lean: its weights are no graph inputs already; this keeps idle threads from spinning
        self._session, graph = onnx_session(
            path, free_dims=False, what="person detection", lean=True
        )
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
        self.small_threshold = float(small_threshold)
        self.small_height = float(small_height)
        self.scale = float(scale)
        self.tile = int(tile)
        self.overlap = float(overlap)
        self.merge = float(merge)
        self.grow = tuple(float(g) for g in grow)
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
            a, yy, xx = np.nonzero(score > min(self.threshold, self.small_threshold))
            if a.size == 0:
                continue
            cx = (_sigmoid(o[a, 0, yy, xx]) + xx) * (pw / gw)
            cy = (_sigmoid(o[a, 1, yy, xx]) + yy) * (ph / gh)
            bw = np.exp(o[a, 2, yy, xx]) * anchors[a, 0]
            bh = np.exp(o[a, 3, yy, xx]) * anchors[a, 1]
            s = score[a, yy, xx]
            keep = (s > self.threshold) | ((s > self.small_threshold) & (bh < self.small_height))
            a, yy, xx, cx, cy, bw, bh = (v[keep] for v in (a, yy, xx, cx, cy, bw, bh))
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
        gl, gt, gr, gb = self.grow
        for bx0, by0, bx1, by1, s in _merged(nms(found, 0.45), self.merge):
            bh = by1 - by0
            box = normalised(bx0 - gl * bh, by0 - gt * bh, bx1 + gr * bh, by1 + gb * bh, w, h)
            if box[2] > box[0] and box[3] > box[1]:
                out.append(Region(box, label="person", score=s))
        return out
