"""Detectors for dynamic masking: one small protocol, motion, face and person detectors, and the
choice of the strong ones by default.

A detector is anything with ``detect(frame) -> list[Region]`` (:class:`Detector`), so an
integrator can plug in their own model. The ones here:

- :class:`MotionDetector` (Rust): a running-average background model, a threshold,
  morphological clean-up and connected components. Finds anything that moves, people included,
  at a few milliseconds per 1080p frame. While the background is being learned it cannot tell,
  so it returns one whole-frame region: those frames are masked whole.
- :class:`CascadeFaceDetector`: scikit-image's bundled frontal-face LBP cascade. Light and
  always available (``privmask-video[faces]`` or ``[test]``), weaker on profiles and small
  faces; used here because OpenCV 5 dropped ``cv2.CascadeClassifier``.
- :class:`~privmask.dynamic.faces.CenterFaceDetector`: the CenterFace ONNX model, at full
  resolution by default (faces from about 12 pixels high), run with onnxruntime.
- :class:`~privmask.dynamic.people.PersonDetector`: whole people with YOLOv3-tiny (COCO), run
  with onnxruntime, tiled on large frames.
- :class:`~privmask.dynamic.motion.ShapedMotionDetector`: motion masks shaped like what moved,
  where standing people are not learned into the background.

The CenterFace and YOLO model files travel inside privmask (``dynamic/models``: licences and
provenance in its README); privmask-video's ``detect`` extra adds the runtime. Nothing is
downloaded. :func:`face_detector` and :func:`person_detector` pick the strong models and refuse
(:class:`MaskConfigError` naming that command) when only the weak LBP cascade can run, unless it
is chosen by name.

Detectors only find; :mod:`privmask.dynamic.track` keeps what they found masked across misses and
masks whole frames when a detector fails.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from privmask import _native
from privmask._extras import install_hint
from privmask.dynamic._frames import MODELS, luma, normalised, onnx_runtime_available
from privmask.dynamic.faces import CENTERFACE_FILE, CenterFaceDetector, centerface_model_path
from privmask.dynamic.motion import ShapedMotionDetector
from privmask.dynamic.people import PERSON_FILE, PersonDetector
from privmask.engine.frame import Frame
from privmask.engine.regions import Region
from privmask.errors import MaskConfigError, PrivmaskError
from privmask.masks.maskset import MaskSet

__all__ = [
    "INSTALL_DETECT",
    "CascadeFaceDetector",
    "CenterFaceDetector",
    "Detector",
    "MotionDetector",
    "PersonDetector",
    "ShapedMotionDetector",
    "centerface_model_path",
    "detector_names",
    "face_detector",
    "luma",
    "person_detector",
    "strong_detectors_available",
]

INSTALL_DETECT = install_hint("detect")
"""The one command that brings the strong detectors' runtime (the models ship with privmask)."""


@runtime_checkable
class Detector(Protocol):
    """Finds the areas to mask in one frame.

    ``detect`` returns regions in normalised coordinates (``track_id`` left ``None``: the
    tracker assigns ids). It may raise: the tracker then masks the frame whole. Returning
    :meth:`Region.whole_frame` says "cannot tell for this frame" without counting as a failure.
    """

    def detect(self, frame: Frame) -> list[Region]: ...


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
        return [Region(normalised(*b, frame.width, frame.height), label="motion") for b in boxes]


class CascadeFaceDetector:
    """Frontal faces with scikit-image's bundled LBP cascade: the weak fallback (misses profiles,
    small and blurred faces; about 1 fps on 1080p), used only when chosen by name.

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
            raise PrivmaskError(f"the LBP face cascade needs scikit-image: {INSTALL_DETECT}") from e
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
            out.append(Region(normalised(x0, y0, x1, y1, frame.width, frame.height), label="face"))
        return out


def strong_detectors_available() -> bool:
    """True when CenterFace and the person detector can run: onnxruntime and onnx import and
    both model files are in place."""
    return onnx_runtime_available() and all(
        (MODELS / name).is_file() for name in (CENTERFACE_FILE, PERSON_FILE)
    )


def _refuse(what: str, weak: str) -> MaskConfigError:
    return MaskConfigError(
        f"{what} needs onnxruntime, which is not installed: {INSTALL_DETECT}"
        + (f" (or choose the weak {weak} explicitly)" if weak else "")
    )


def face_detector(
    model: str = "auto", *, scale: float = 1.0, strong_available: bool | None = None
) -> Detector:
    """A face detector by name: ``"centerface"``, ``"cascade"`` (the weak LBP cascade, only
    when asked for by name), or ``"auto"``: CenterFace at ``scale`` when it can run.

    ``strong_available`` overrides the check of the install (``None``: check it;
    :func:`strong_detectors_available`). Raises :class:`MaskConfigError` for ``"auto"`` or
    ``"centerface"`` when CenterFace cannot run (the message names the install command and the
    explicit weak choice, ``face_model="cascade"``), and for an unknown name.
    """
    if model not in ("auto", "centerface", "cascade"):
        raise MaskConfigError(f"face model must be auto, centerface or cascade, got {model!r}")
    if model == "cascade":
        return CascadeFaceDetector()
    strong = strong_detectors_available() if strong_available is None else strong_available
    if not strong:
        raise _refuse("face detection", "LBP cascade: face_model='cascade', --face-model cascade")
    return CenterFaceDetector(scale=scale)


def person_detector(
    model: str = "auto", *, scale: float = 1.0, strong_available: bool | None = None
) -> Detector:
    """A person detector by name: ``"yolo"`` (YOLOv3-tiny, shipped) or ``"auto"`` (the same).
    There is no weak fallback for people: without onnxruntime this raises
    :class:`MaskConfigError` naming the install command (``strong_available`` overrides the
    check of the install, as in :func:`face_detector`)."""
    if model not in ("auto", "yolo"):
        raise MaskConfigError(f"person model must be auto or yolo, got {model!r}")
    strong = strong_detectors_available() if strong_available is None else strong_available
    if not strong:
        raise _refuse("person detection", "")
    return PersonDetector(scale=scale)


def detector_names(detectors: list[Detector]) -> str:
    """How a summary line names the detectors that ran, e.g. ``"CenterFace (scale 1),
    YOLOv3-tiny people, motion shapes"``."""
    names = []
    for d in detectors:
        if isinstance(d, CenterFaceDetector):
            names.append(f"CenterFace (scale {d.scale:g})")
        elif isinstance(d, CascadeFaceDetector):
            names.append("LBP face cascade (weak)")
        elif isinstance(d, PersonDetector):
            names.append(f"YOLO people (scale {d.scale:g})")
        elif isinstance(d, ShapedMotionDetector):
            names.append("motion shapes" + (" (held where tracked)" if d.hold == "tracked" else ""))
        elif isinstance(d, MotionDetector):
            names.append("motion boxes")
        else:
            names.append(type(d).__name__)
    return ", ".join(names)
