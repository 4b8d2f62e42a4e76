"""A generated clip of a real face (scikit-image's ``astronaut``) walking across a textured
background: it enters, leaves, and comes back, so detectors and trackers meet every case. The
generator knows where the face is in each frame, so tests can check every one of its pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import privmask as pm

skimage_data = pytest.importorskip("skimage.data")

# The astronaut photo: the crop the sprite is cut from, and the face inside it, where both
# bundled face detectors put it (row0, col0, row1, col1).
_CROP = (40, 160, 195, 310)
_FACE = (68, 192, 160, 275)

PixelBox = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)`` in pixels, exclusive ends."""


@dataclass
class Clip:
    frames: list[pm.Frame]
    sprite: list[PixelBox | None]
    face: list[PixelBox | None]
    width: int
    height: int


def _luma_photo() -> npt.NDArray[np.uint8]:
    rgb = skimage_data.astronaut().astype(np.float64)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    # Limited range: no sample ever equals the test's mask value (1).
    out: npt.NDArray[np.uint8] = (16 + y * 219 / 255).round().astype(np.uint8)
    return out


def _resize(img: npt.NDArray[np.uint8], scale: float) -> npt.NDArray[np.uint8]:
    h, w = img.shape
    rows = (np.arange(round(h * scale)) / scale).astype(int).clip(0, h - 1)
    cols = (np.arange(round(w * scale)) / scale).astype(int).clip(0, w - 1)
    out: npt.NDArray[np.uint8] = img[rows][:, cols]
    return out


def path(n: int, width: int, speed: int, sw: int) -> list[int | None]:
    """Sprite left edge per frame: absent for 8 frames, walks in from the left and out on the
    right, absent 4 frames, walks back in from the right."""
    xs: list[int | None] = []
    out_at = None
    for t in range(n):
        if t < 8:
            xs.append(None)
            continue
        x = -sw // 2 + speed * (t - 8)
        if x < width:
            xs.append(x)
            continue
        out_at = out_at if out_at is not None else t
        back = t - out_at - 4
        xs.append(None if back < 0 else width - sw // 2 - speed * back)
    return xs


def make_clip(
    n: int = 48,
    width: int = 320,
    height: int = 240,
    *,
    scale: float = 0.6,
    speed: int = 14,
    seed: int = 0,
) -> Clip:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, size=(height // 8 + 1, width // 8 + 1)).astype(np.uint8)
    background = np.kron(coarse, np.ones((8, 8), np.uint8))[:height, :width]
    photo = _luma_photo()
    r0, c0, r1, c1 = _CROP
    sprite = _resize(photo[r0:r1, c0:c1], scale)
    sh, sw = sprite.shape
    fr0, fc0, fr1, fc1 = _FACE
    face_in = (
        round((fc0 - c0) * scale),
        round((fr0 - r0) * scale),
        round((fc1 - c0) * scale),
        round((fr1 - r0) * scale),
    )
    clip = Clip([], [], [], width, height)
    for t, x in enumerate(path(n, width, speed, sw)):
        luma = background.copy()
        if x is None:
            clip.sprite.append(None)
            clip.face.append(None)
        else:
            y = int(height / 2 - sh / 2 + 30 * np.sin(t / 6))
            xa, xb = max(0, x), min(width, x + sw)
            luma[y : y + sh, xa:xb] = sprite[:, xa - x : xb - x]
            clip.sprite.append((xa, y, xb, y + sh))
            fx0, fy0 = max(0, x + face_in[0]), y + face_in[1]
            fx1, fy1 = min(width, x + face_in[2]), y + face_in[3]
            clip.face.append((fx0, fy0, fx1, fy1) if fx1 > fx0 else None)
        chroma = np.full(((height + 1) // 2, (width + 1) // 2), 128, np.uint8)
        clip.frames.append(pm.Frame("yuv420p", [luma, chroma, chroma.copy()]))
    return clip


MASK = pm.Solid(yuv=(1, 128, 128))
"""The tests' mask: luma 1 never occurs in a clip (limited range), so a sample is masked iff
it reads 1."""


def unmasked(frame: pm.Frame, box: PixelBox | None) -> int:
    """Pixels of ``box`` in ``frame`` that are not masked (0 means fully masked)."""
    if box is None:
        return 0
    x0, y0, x1, y1 = box
    return int((frame.planes[0][y0:y1, x0:x1] != 1).sum())


def write_ffv1(
    path: object, frames: list[pm.Frame], display: tuple[float, bool, bool] | None = None
) -> None:
    """``frames`` (yuv420p, all one size) into a lossless FFV1 file at 25 fps, with PyAV;
    ``display`` is ``(rotation, hflip, vflip)`` for the stream's display matrix."""
    import av

    width, height = frames[0].width, frames[0].height
    with av.open(str(path), "w") as out:
        s = out.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        if display is not None:
            s.set_display_rotation(*display)
        for i, f in enumerate(frames):
            vf = av.VideoFrame(width, height, "yuv420p")
            for dst, src in zip(pm.Frame.from_av(vf).planes, f.planes, strict=True):
                dst[:] = src
            vf.pts = i
            for p in s.encode(vf):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


@dataclass
class HardClip:
    """A clip of the real face made hard for a detector: ``frames`` (yuv420p) and, per frame,
    ``visible``: the face's pixels that can be seen ((h, w) bool), or ``None`` while it is out
    of the picture."""

    frames: list[pm.Frame]
    visible: list[npt.NDArray[np.bool_] | None]


def _turned(
    a: npt.NDArray[np.uint8], size: tuple[int, int], angle: float, resample: Any
) -> npt.NDArray[np.uint8]:
    """``a`` resized to ``size`` (width, height), then turned ``angle`` degrees
    anticlockwise on a canvas that holds it all (PIL)."""
    from PIL import Image

    img = Image.fromarray(a).resize(size, resample)
    return np.asarray(img.rotate(angle, resample=resample, expand=True))


def hard_face_clip(n: int = 64, width: int = 640, height: int = 360, seed: int = 1) -> HardClip:
    """The astronaut walks right while walking away (the face shrinks from 92 to about 40 px
    high), turning the head 20 degrees either way; every fifth frame is motion-blurred (9 px
    horizontally); on frames 18-25 a post hides the right half of the face; on frames 36-43 the
    face is out of the picture, then comes back from the left, still shrinking."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, size=(height // 8 + 1, width // 8 + 1)).astype(np.uint8)
    background = np.kron(coarse, np.ones((8, 8), np.uint8))[:height, :width]
    r0, c0, r1, c1 = _CROP
    fr0, fc0, fr1, fc1 = _FACE
    sprite = _luma_photo()[r0:r1, c0:c1]
    # The face's pixels: the oval inscribed in the box both bundled detectors give the upright
    # face (the box's corners are hair and background, and stick out when the head turns).
    yy, xx = np.mgrid[0 : sprite.shape[0], 0 : sprite.shape[1]]
    cy, cx = (fr0 + fr1) / 2 - r0, (fc0 + fc1) / 2 - c0
    oval = ((yy + 0.5 - cy) / ((fr1 - fr0) / 2)) ** 2 + ((xx + 0.5 - cx) / ((fc1 - fc0) / 2)) ** 2
    face = np.where(oval <= 1, 255, 0).astype(np.uint8)
    frames: list[pm.Frame] = []
    visible: list[npt.NDArray[np.bool_] | None] = []
    for t in range(n):
        luma = background.copy()
        seen = None
        if not 36 <= t < 44:
            scale = 1.0 - 0.55 * t / n
            angle = 20 * np.sin(t / 4)
            size = (round(sprite.shape[1] * scale), round(sprite.shape[0] * scale))
            smooth, nearest = Image.Resampling.BILINEAR, Image.Resampling.NEAREST
            img = _turned(sprite, size, angle, smooth).astype(np.float64)
            inside = _turned(np.full_like(sprite, 255), size, angle, nearest) > 0
            facepx = _turned(face, size, angle, nearest) > 0
            if t % 5 == 2:  # motion blur: the mean of 9 horizontal shifts
                img = np.mean([np.roll(img, k, axis=1) for k in range(-4, 5)], axis=0)
            h, w = img.shape
            x = 20 + 9 * t if t < 36 else 9 * (t - 44)
            y = (height - h) // 2 + round(20 * np.sin(t / 7))
            xa, xb = max(0, x), min(width, x + w)
            region = luma[y : y + h, xa:xb]
            part = inside[:, xa - x : xb - x]
            region[part] = img[:, xa - x : xb - x][part].round().astype(np.uint8)
            seen = np.zeros((height, width), bool)
            seen[y : y + h, xa:xb] = facepx[:, xa - x : xb - x]
            if 18 <= t < 26:  # a post in front of the right half of the face
                cols = np.flatnonzero(seen.any(axis=0))
                post = (cols[0] + cols[-1]) // 2
                luma[:, post : cols[-1] + 4] = 90
                seen[:, post:] = False
        chroma = np.full(((height + 1) // 2, (width + 1) // 2), 128, np.uint8)
        frames.append(pm.Frame("yuv420p", [luma, chroma, chroma.copy()]))
        visible.append(seen)
    return HardClip(frames, visible)
