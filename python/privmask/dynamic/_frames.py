"""Helpers shared by the detectors: the frame's luma plane, resampling, boxes and the model files.

Private to :mod:`privmask.dynamic`; its names are public so that the detector modules can share
them without reaching into each other's underscore names.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from privmask._extras import install_hint
from privmask.engine.frame import Frame
from privmask.errors import PrivmaskError

__all__ = [
    "MODELS",
    "PixelBox",
    "luma",
    "model_file",
    "nms",
    "normalised",
    "onnx_runtime_available",
    "onnx_session",
    "resample",
]

MODELS = Path(__file__).with_name("models")
"""The folder of model files shipped inside privmask (see its README for their provenance)."""

PixelBox = tuple[float, float, float, float, float]
"""``(x0, y0, x1, y1, score)`` in pixels of the frame, ends exclusive."""


def luma(frame: Frame) -> npt.NDArray[np.uint8]:
    """The frame's 8-bit luma plane, ``(height, width)`` uint8 (a view for 8-bit YUV and gray;
    computed for RGB and 10-bit formats)."""
    p = frame.planes[0]
    if frame.format in ("rgb24", "bgr24"):
        rgb = p.reshape(frame.height, frame.width, 3).astype(np.uint16)
        r, b = (rgb[..., 0], rgb[..., 2]) if frame.format == "rgb24" else (rgb[..., 2], rgb[..., 0])
        return ((77 * r + 150 * rgb[..., 1] + 29 * b) >> 8).astype(np.uint8)
    if p.dtype == np.uint16:
        shift = 8 if frame.format == "p010le" else 2
        return (p >> shift).astype(np.uint8)
    return p  # type: ignore[return-value]


def resample(plane: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    """``plane`` resized to ``(height, width)`` by nearest neighbour (sample centres), or returned
    as is when the size already matches."""
    h, w = plane.shape
    if (w, h) == (width, height):
        return plane
    rows = ((np.arange(height) + 0.5) * h / height).astype(np.intp).clip(0, h - 1)
    cols = ((np.arange(width) + 0.5) * w / width).astype(np.intp).clip(0, w - 1)
    out: npt.NDArray[np.uint8] = plane[rows][:, cols]
    return out


def normalised(
    x0: float, y0: float, x1: float, y1: float, width: int, height: int
) -> tuple[float, float, float, float]:
    """A pixel box as a normalised one, clipped to the frame."""
    return (
        max(0.0, x0 / width),
        max(0.0, y0 / height),
        min(1.0, x1 / width),
        min(1.0, y1 / height),
    )


def nms(boxes: list[PixelBox], iou_limit: float) -> list[PixelBox]:
    """Non-maximum suppression: the boxes by falling score, each dropped when it overlaps a kept
    one by more than ``iou_limit`` (intersection over union)."""
    if not boxes:
        return []
    arr = np.array(sorted(boxes, key=lambda b: -b[4]), dtype=np.float64)
    area = (arr[:, 2] - arr[:, 0]) * (arr[:, 3] - arr[:, 1])
    keep = np.ones(len(arr), dtype=bool)
    for i in range(len(arr)):
        if not keep[i]:
            continue
        rest = np.arange(i + 1, len(arr))
        rest = rest[keep[rest]]
        if rest.size == 0:
            break
        ix = np.minimum(arr[i, 2], arr[rest, 2]) - np.maximum(arr[i, 0], arr[rest, 0])
        iy = np.minimum(arr[i, 3], arr[rest, 3]) - np.maximum(arr[i, 1], arr[rest, 1])
        inter = ix.clip(0) * iy.clip(0)
        union = area[i] + area[rest] - inter
        keep[rest[inter > iou_limit * union]] = False
    return [tuple(float(v) for v in row) for row in arr[keep]]  # type: ignore[misc]


def onnx_runtime_available() -> bool:
    """True when onnxruntime and onnx can be imported (privmask-video's ``detect`` extra)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def model_file(name: str) -> Path:
    """The path of a model shipped with privmask; :class:`PrivmaskError` if it is missing (a
    broken install)."""
    path = MODELS / name
    if not path.is_file():
        raise PrivmaskError(f"the model file {path} is missing: reinstall privmask")
    return path


def onnx_session(
    path: Path,
    *,
    free_dims: bool,
    what: str,
    lean: bool = False,
    threads: int | None = None,
    edit: Callable[[Any], None] | None = None,
) -> Any:
    """An onnxruntime CPU session for the model at ``path``. ``free_dims``: rename the batch,
    height and width dimensions of the first input and of every output (``n``, ``h``, ``w``)
    so one session takes any picture size (for files exported with a fixed size). Raises
    :class:`PrivmaskError` naming the install command when onnxruntime or onnx is missing.

    ``lean``: drop the weights from the graph's inputs (old exporters list every initializer as
    an input, which makes onnxruntime treat the weights as overridable and skip constant folding,
    batch-norm fusion and its blocked-layout convolutions) and keep idle worker threads from
    spinning. ``threads``: onnxruntime's intra-op thread count (``None``: its default, one per
    core). ``edit``: called with the loaded ``onnx.ModelProto`` before the session is made."""
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise PrivmaskError(f"{what} needs onnxruntime and onnx: {install_hint('detect')}") from e
    graph = onnx.load(str(path))
    if free_dims:
        for value in [*graph.graph.input[:1], *graph.graph.output]:
            dims = value.type.tensor_type.shape.dim
            for i, name in ((0, "n"), (2, "h"), (3, "w")):
                dims[i].dim_param = name
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # a model file's initialiser warnings are not the user's
    if lean:
        weights = {t.name for t in graph.graph.initializer}
        inputs = [v for v in graph.graph.input if v.name not in weights]
        del graph.graph.input[:]
        graph.graph.input.extend(inputs)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if threads is not None:
        options.intra_op_num_threads = threads
    if edit is not None:
        edit(graph)
    return onnxruntime.InferenceSession(
        graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
    ), graph
