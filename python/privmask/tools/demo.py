"""Makes a sample recording, masks it with a changing configuration, and shows the result.

Run as ``python -m privmask.tools.demo --out demo`` (what ``make demo`` does). Needs PyAV and Pillow
(``pip install privmask[demo]``); downloads nothing. The clip is drawn in memory, deterministic,
1920x1080 at 25 fps: a street scene with a neighbour's house (a window and a pentagonal attic
window), a notice board with text, a van driving past and a face-sized patch walking along a
footpath. Four privacy masks cover them, in all three styles, permanent and liftable.

Two things happen. First, every frame is converted to ``yuv420p`` with PyAV and masked in place
through :meth:`privmask.Frame.from_av` (no copy), timing ``apply`` alone. Second, the unmasked
frames are encoded to ``sample.mp4`` (with a ``creation_time``, as a camera would write it), and
the real job runs on it: :func:`privmask.video.mask_file` with a *timeline* whose mask set changes
halfway through the clip (the operator masked the whole house front and switched the footpath
to a mosaic), so every frame gets the masks in force when it was recorded.

Written to the output directory: ``masks.json`` (the first mask set), ``before_after.png``,
``lifted.png`` (liftable masks lifted: only the permanent ones apply), ``styles.png`` (one crop
under solid, mosaic, blur and fill), ``frames/frame_XXX.png`` (every 8th masked frame),
``sample.mp4`` (the unmasked recording), ``timeline.json`` (the two versions), ``masked.mp4``
(the export) and ``switch.png`` (frames either side of the change, original and masked).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import privmask as pm

__all__ = ["build_masks", "build_masks_after", "build_timeline", "main", "render_frame"]

WIDTH, HEIGHT = 1920, 1080
FPS = 25
SEED = 20261101
FRAME_EVERY = 8
RECORDED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # the sample's creation_time

RGB = npt.NDArray[np.uint8]
FloatImage = npt.NDArray[np.float64]

# Scene geometry, normalised (x right, y down, 0..1 across the frame).
HOUSE = (0.04, 0.22, 0.42, 0.42)  # x, y, w, h of the neighbour's house front
ROOF = [(0.01, 0.23), (0.25, 0.05), (0.49, 0.23)]
WINDOW = (0.10, 0.30, 0.15, 0.20)  # the neighbour's living-room window
ATTIC = [(0.215, 0.205), (0.285, 0.205), (0.285, 0.145), (0.25, 0.105), (0.215, 0.145)]
BOARD = (0.60, 0.12, 0.32, 0.26)  # notice board with text
FOOTPATH = [(0.50, 0.56), (0.97, 0.56), (1.0, 1.0), (0.40, 1.0)]  # public footpath, in perspective
FACE_RADIUS = 0.10  # of the frame height
FACE_PATH = ((0.08, 0.76), (0.86, 0.74))  # start and end of the face's centre
VAN = (0.16, 0.085)  # width and height of the van driving past, normalised
VAN_PATH = ((1.02, 0.585), (0.22, 0.585))  # its top-left corner, right to left


def _box(x0: float, y0: float, x1: float, y1: float) -> pm.Polygon:
    """The rectangle between two corners, with the corners rounded for a tidy masks.json."""
    x0, y0, x1, y1 = (round(v, 4) for v in (x0, y0, x1, y1))
    return pm.Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def build_masks() -> pm.MaskSet:
    """The demo's mask set: every style, permanent and liftable, two non-rectangular polygons."""
    wx, wy, ww, wh = WINDOW
    bx, by, bw, bh = BOARD
    pad = 0.006
    return pm.MaskSet(
        [
            pm.Mask(
                _box(wx - pad, wy - pad, wx + ww + pad, wy + wh + pad),
                pm.Solid("#3c4650"),
                name="neighbour window",
            ),
            pm.Mask(pm.Polygon(ATTIC), pm.Mosaic(block=0.03), name="neighbour attic window"),
            pm.Mask(
                _box(bx + 0.01, by + 0.06, bx + bw - 0.01, by + bh - 0.01),
                pm.Mosaic(block=0.03),
                liftable=True,
                name="notice board text",
            ),
            pm.Mask(pm.Polygon(FOOTPATH), pm.Blur(sigma=0.02), liftable=True, name="footpath"),
        ]
    )


def build_masks_after() -> pm.MaskSet:
    """The configuration from halfway through the clip on: the operator masks the whole house
    front (not just the window) and switches the footpath from blur to a coarser mosaic."""
    hx, hy, hw, hh = HOUSE
    first = build_masks()
    return pm.MaskSet(
        [
            pm.Mask(_box(hx, hy, hx + hw, hy + hh), pm.Solid("#3c4650"), name="neighbour house"),
            pm.Mask(pm.Polygon(ROOF), pm.Solid("#3c4650"), name="neighbour roof"),
            first[2],
            pm.Mask(pm.Polygon(FOOTPATH), pm.Mosaic(block=0.05), liftable=True, name="footpath"),
        ]
    )


def switch_frame(frames: int) -> int:
    """The first frame recorded under the second configuration: halfway through."""
    return max(frames // 2, 1) if frames > 1 else 0


def build_timeline(frames: int) -> pm.MaskTimeline:
    """The demo's history: :func:`build_masks` since the day before the recording, then
    :func:`build_masks_after` from the exact recording time of :func:`switch_frame` on."""
    switch = RECORDED + timedelta(microseconds=switch_frame(frames) * 1_000_000 // FPS)
    return pm.MaskTimeline(
        [(RECORDED - timedelta(days=1), build_masks()), (switch, build_masks_after())]
    )


# --- drawing the synthetic scene -----------------------------------------------------------------


def _grid(w: int, h: int) -> tuple[FloatImage, FloatImage]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return xs, ys


def _px(x: float, y: float) -> tuple[int, int]:
    return round(x * WIDTH), round(y * HEIGHT)


def _fill_rect(img: FloatImage, rect: tuple[float, float, float, float], rgb: FloatImage) -> None:
    x0, y0 = _px(rect[0], rect[1])
    x1, y1 = _px(rect[0] + rect[2], rect[1] + rect[3])
    img[y0:y1, x0:x1] = rgb[y0:y1, x0:x1] if rgb.ndim == 3 else rgb


def _inside(
    points: Sequence[tuple[float, float]], xs: FloatImage, ys: FloatImage
) -> npt.NDArray[np.bool_]:
    """Even-odd point-in-polygon test of pixel centres (for drawing only)."""
    px = (xs + 0.5) / WIDTH
    py = (ys + 0.5) / HEIGHT
    inside = np.zeros(xs.shape, dtype=bool)
    n = len(points)
    for i in range(n):
        (x0, y0), (x1, y1) = points[i], points[(i + 1) % n]
        if y0 == y1:
            continue
        crosses = (py >= min(y0, y1)) & (py < max(y0, y1))
        xcross = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (px < xcross)
    return inside


def _background() -> FloatImage:
    """Sky, house, board and street: everything that does not move (float RGB, 0..255)."""
    rng = np.random.default_rng(SEED)
    xs, ys = _grid(WIDTH, HEIGHT)
    img = np.zeros((HEIGHT, WIDTH, 3))
    # Sky: a vertical gradient with a soft horizontal variation.
    t = ys / HEIGHT
    img[..., 0] = 120 + 110 * t + 10 * np.sin(xs / 90)
    img[..., 1] = 170 + 70 * t
    img[..., 2] = 235 - 10 * t
    # Street: grey asphalt with grain; kerb line; footpath paving (a tile pattern in perspective).
    street = ys >= 0.56 * HEIGHT
    grain = rng.normal(0, 9, (HEIGHT, WIDTH))
    for c, base in enumerate((92, 94, 100)):
        img[..., c] = np.where(street, base + grain, img[..., c])
    path = _inside(FOOTPATH, xs, ys)
    depth = (ys / HEIGHT - 0.56) / 0.44  # 0 at the far edge, 1 at the bottom
    u = (xs / WIDTH - 0.5) / (0.4 + 0.6 * np.clip(depth, 0.05, 1))
    v = np.log1p(8 * np.clip(depth, 0, 1)) * 6
    joints = (np.abs(np.sin(np.pi * u * 9)) < 0.12) | (np.abs(np.sin(np.pi * v)) < 0.12)
    paving = np.where(joints, 120, 182) + grain * 0.8
    for c, k in enumerate((1.0, 0.93, 0.82)):
        img[..., c] = np.where(path, paving * k, img[..., c])
    kerb = street & (ys < 0.575 * HEIGHT)
    img[kerb] = (205, 205, 200)
    # The neighbour's house: brick front, roof, a window and an attic window.
    hx0, hy0 = _px(HOUSE[0], HOUSE[1])
    hx1, hy1 = _px(HOUSE[0] + HOUSE[2], HOUSE[1] + HOUSE[3])
    brick_row = (ys // 18).astype(int)
    mortar = (ys % 18 < 3) | ((xs + 20 * (brick_row % 2)) % 40 < 3)
    tone = rng.uniform(-14, 14, (HEIGHT // 18 + 1, WIDTH // 20 + 2))[
        brick_row, (xs // 20).astype(int)
    ]
    brick = np.stack(
        [
            np.where(mortar, 200, 165 + tone),
            np.where(mortar, 195, 80 + tone / 2),
            np.where(mortar, 185, 60),
        ],
        axis=-1,
    )
    img[hy0:hy1, hx0:hx1] = brick[hy0:hy1, hx0:hx1]
    roof = _inside(ROOF, xs, ys)
    shingles = 70 + 25 * ((ys // 12 + xs // 30) % 2) + grain * 0.5
    img[roof] = np.stack([shingles * 0.9, shingles * 0.55, shingles * 0.5], axis=-1)[roof]
    _draw_window(img, xs, ys)
    attic = _inside(ATTIC, xs, ys)
    glow = 150 + 80 * np.cos(np.hypot(xs - 0.25 * WIDTH, ys - 0.16 * HEIGHT) / 5)
    img[attic] = np.stack([glow, glow * 0.85, glow * 0.4], axis=-1)[attic]
    # Notice board on two posts, with a title bar and lines of "text".
    bx, by, bw, bh = BOARD
    for post_x in (bx + 0.03, bx + bw - 0.04):
        _fill_rect(img, (post_x, by + bh, 0.012, 0.56 - by - bh), np.array([90.0, 70, 50]))
    _fill_rect(img, (bx - 0.005, by - 0.008, bw + 0.01, bh + 0.016), np.array([60.0, 60, 64]))
    _fill_rect(img, (bx, by, bw, bh), np.array([244.0, 242, 232]))
    _fill_rect(img, (bx, by, bw, 0.05), np.array([30.0, 90, 170]))
    _draw_text_lines(img, rng)
    return img


def _draw_window(img: FloatImage, xs: FloatImage, ys: FloatImage) -> None:
    wx, wy, ww, wh = WINDOW
    x0, y0 = _px(wx, wy)
    x1, y1 = _px(wx + ww, wy + wh)
    sub_x, sub_y = xs[y0:y1, x0:x1] - x0, ys[y0:y1, x0:x1] - y0
    w, h = x1 - x0, y1 - y0
    # A lit room: warm light, a lamp, striped curtains at the sides, then frame and mullions.
    lamp = np.exp(-(((sub_x - 0.6 * w) ** 2 + (sub_y - 0.35 * h) ** 2) / (2 * 18.0**2)))
    room = np.stack([230 + 25 * lamp, 190 + 60 * lamp, 110 + 120 * lamp], axis=-1)
    curtain = (sub_x < 0.22 * w) | (sub_x > 0.78 * w)
    stripes = np.where((sub_x // 6) % 2 == 0, 1.0, 0.75)[..., None] * np.array([170.0, 40, 60])
    room = np.where(curtain[..., None], stripes, room)
    frame = (sub_x < 8) | (sub_x >= w - 8) | (sub_y < 8) | (sub_y >= h - 8)
    mullion = (np.abs(sub_x - w / 2) < 4) | (np.abs(sub_y - h / 2) < 4)
    room = np.where((frame | mullion)[..., None], 245.0, room)
    img[y0:y1, x0:x1] = np.clip(room, 0, 255)


def _draw_text_lines(img: FloatImage, rng: np.random.Generator) -> None:
    bx, by, bw, bh = BOARD
    x_start, x_end = _px(bx + 0.02, 0)[0], _px(bx + bw - 0.02, 0)[0]
    title_y = _px(0, by + 0.015)[1]
    # Title: white "letters" on the blue bar.
    x = x_start
    while x < x_end - 60:
        word = int(rng.integers(3, 8)) * 9
        img[title_y : title_y + 14, x : min(x + word, x_end)] = (250, 250, 250)
        img[title_y : title_y + 14, x + 3 : min(x + word, x_end) : 9] = (30, 90, 170)
        x += word + 14
    y = _px(0, by + 0.075)[1]
    y_end = _px(0, by + bh - 0.015)[1]
    while y + 9 < y_end:
        x = x_start
        line_end = x_end - int(rng.integers(0, 120))
        while x < line_end:
            word = int(rng.integers(2, 9)) * 6
            stop = min(x + word, line_end)
            img[y : y + 9, x:stop] = (35, 35, 40)
            img[y + 2 : y + 7, x + 2 : stop : 6] = (150, 150, 150)  # gaps between "letters"
            x += word + 8
        y += 17


def _face_sprite() -> tuple[FloatImage, FloatImage]:
    """A face-sized patch: concentric-ring skin texture with a smiley, on a checker shirt.

    Returns (rgb, alpha), both ``(2r, 2r[, 3])`` floats."""
    r = round(FACE_RADIUS * HEIGHT)
    size = 2 * r
    xs, ys = _grid(size, size)
    dx, dy = xs + 0.5 - r, ys + 0.5 - r
    dist = np.hypot(dx, dy)
    rings = 0.5 + 0.5 * np.cos(dist / 3.0)
    rgb = np.stack([215 + 30 * rings, 165 + 30 * rings, 130 + 25 * rings], axis=-1)
    alpha = np.clip(r - dist, 0, 1)  # a disk with a one-pixel soft edge
    # Hair: a dark checker cap on the top third.
    hair = (dy < -0.45 * r) & (dist < r)
    checker = ((xs // 8 + ys // 8) % 2).astype(np.float64)
    rgb[hair] = (np.stack([60 + 40 * checker, 40 + 25 * checker, 30 + 10 * checker], axis=-1))[hair]
    # Eyes (white, iris, pupil), brows, nose and a smile.
    for ex in (-0.38 * r, 0.38 * r):
        d = np.hypot(dx - ex, dy + 0.12 * r)
        rgb[d < 0.17 * r] = (250, 250, 250)
        rgb[d < 0.10 * r] = (40, 110, 160)
        rgb[d < 0.05 * r] = (10, 10, 10)
        brow = (np.abs(dx - ex) < 0.2 * r) & (np.abs(dy + 0.36 * r) < 0.035 * r)
        rgb[brow] = (50, 35, 25)
    nose = (np.abs(dx) < 0.05 * r) & (dy > -0.05 * r) & (dy < 0.18 * r)
    rgb[nose] = (185, 120, 95)
    smile = (np.abs(np.hypot(dx, dy + 0.05 * r) - 0.5 * r) < 0.045 * r) & (dy > 0.22 * r)
    rgb[smile] = (140, 30, 40)
    return rgb, alpha


def face_centre(index: int, count: int) -> tuple[float, float]:
    """The face's centre in frame ``index`` of ``count``, in pixels: ``index/(count-1)`` along
    its path, bobbing as it walks."""
    t = index / max(count - 1, 1)
    (sx, sy), (ex, ey) = FACE_PATH
    bob = 10 * abs(np.sin(index * np.pi / 6))
    return (sx + (ex - sx) * t) * WIDTH, (sy + (ey - sy) * t) * HEIGHT - bob


def face_box(index: int, count: int) -> tuple[float, float, float, float]:
    """The face's bounding box in frame ``index`` (normalised x, y, w, h), with a margin."""
    cx, cy = face_centre(index, count)
    r = FACE_RADIUS * HEIGHT * 1.25
    return ((cx - r) / WIDTH, (cy - r) / HEIGHT, 2 * r / WIDTH, 2 * r / HEIGHT)


def van_box(index: int, count: int) -> tuple[float, float, float, float]:
    """The van's box in frame ``index`` of ``count`` (normalised x, y, w, h): it drives from
    right to left across the street over the clip."""
    t = index / max(count - 1, 1)
    (sx, sy), (ex, ey) = VAN_PATH
    return (sx + (ex - sx) * t, sy + (ey - sy) * t, *VAN)


def _draw_van(img: RGB, box: tuple[float, float, float, float]) -> None:
    """A box van in flat colours: body, cab windows, a stripe and two wheels."""

    def fill(x: float, y: float, w: float, h: float, rgb: tuple[int, int, int]) -> None:
        x0, y0 = _px(max(x, 0.0), max(y, 0.0))
        x1, y1 = _px(min(x + w, 1.0), min(y + h, 1.0))
        if x1 > x0 and y1 > y0:
            img[y0:y1, x0:x1] = rgb

    x, y, w, h = box
    fill(x, y, w, 0.8 * h, (236, 236, 232))  # cargo body
    fill(x, y + 0.2 * h, w * 0.22, 0.6 * h, (200, 40, 40))  # cab, at the front (left)
    fill(x + 0.02 * w, y + 0.25 * h, w * 0.17, 0.22 * h, (60, 80, 100))  # windscreen
    fill(x + 0.25 * w, y + 0.45 * h, w * 0.72, 0.08 * h, (30, 90, 170))  # stripe
    for wx in (x + 0.12 * w, x + 0.75 * w):
        fill(wx, y + 0.72 * h, 0.12 * w, 0.28 * h, (25, 25, 25))  # wheels


def render_frame(
    index: int, count: int, background: FloatImage | RGB, face: tuple[FloatImage, FloatImage]
) -> RGB:
    """Frame ``index`` of ``count``: the background (float or uint8 RGB), the van at
    :func:`van_box` and the face composited at :func:`face_centre`. Returns an
    ``(HEIGHT, WIDTH, 3)`` uint8 RGB array."""
    if background.dtype == np.uint8:
        img: RGB = np.array(background, dtype=np.uint8)
    else:
        img = np.clip(np.rint(background), 0, 255).astype(np.uint8)
    _draw_van(img, van_box(index, count))
    sprite, alpha = face
    cx, cy = face_centre(index, count)
    size = sprite.shape[0]
    x0, y0 = round(cx) - size // 2, round(cy) - size // 2
    # Clip the sprite to the frame; blend only where it is, in float.
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + size, WIDTH), min(y0 + size, HEIGHT)
    if fx1 > fx0 and fy1 > fy0:
        s = sprite[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
        a = alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0, None]
        under = img[fy0:fy1, fx0:fx1].astype(np.float64)
        img[fy0:fy1, fx0:fx1] = np.clip(np.rint(a * s + (1 - a) * under), 0, 255)
    return img


# --- YUV frames and pictures -------------------------------------------------------------------


def to_yuv(rgb: RGB) -> Any:
    """An ``av.VideoFrame`` in ``yuv420p``, tagged BT.709 (privmask's default for 720 rows),
    so solid colours come back as the RGB they were given."""
    import av

    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace="ITU709"
    )


def to_rgb(frame: Any) -> RGB:
    """The RGB picture of a PyAV frame (converted with the frame's own colour space)."""
    out: RGB = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    return out


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font has one size
        return ImageFont.load_default()


def labelled(panels: Sequence[tuple[str, RGB]], *, gap: int = 8, font_size: int = 22) -> Any:
    """The panels side by side on a dark background, each with its label above it."""
    from PIL import Image, ImageDraw

    font = _font(font_size)
    band = font_size + 14
    width = sum(p.shape[1] for _, p in panels) + gap * (len(panels) + 1)
    height = max(p.shape[0] for _, p in panels) + band + gap
    canvas = Image.new("RGB", (width, height), (24, 24, 28))
    draw = ImageDraw.Draw(canvas)
    x = gap
    for label, pixels in panels:
        draw.text((x + 2, 6), label, fill=(235, 235, 235), font=font)
        canvas.paste(Image.fromarray(pixels), (x, band))
        x += pixels.shape[1] + gap
    return canvas


def _crop(rgb: RGB, box: tuple[float, float, float, float]) -> RGB:
    x0, y0 = _px(max(box[0], 0.0), max(box[1], 0.0))
    x1, y1 = _px(min(box[0] + box[2], 1.0), min(box[1] + box[3], 1.0))
    return rgb[y0:y1, x0:x1]


# --- the demo ----------------------------------------------------------------------------------


def run(out: Path, frames: int) -> list[Path]:
    """Renders and masks ``frames`` frames, writes the pictures under ``out``, encodes the sample
    recording, masks it with the demo timeline, prints a summary and returns the files written."""
    from PIL import Image

    from privmask.video.files import mask_file

    masks = build_masks()
    out.mkdir(parents=True, exist_ok=True)
    (out / "frames").mkdir(exist_ok=True)
    written: list[Path] = []

    def save(img: Any, name: str) -> None:
        path = out / name
        img.save(path)
        written.append(path)

    masks_path = out / "masks.json"
    masks_path.write_text(masks.to_json() + "\n")
    written.append(masks_path)

    background = np.clip(np.rint(_background()), 0, 255).astype(np.uint8)
    face = _face_sprite()
    sample = round(0.75 * (frames - 1))  # the face is well inside the footpath zone here
    times_ms: list[float] = []
    sample_path = out / "sample.mp4"
    container, stream = _sample_writer(sample_path)
    with container:
        for i in range(frames):
            rgb = render_frame(i, frames, background, face)
            recorded = to_yuv(rgb)  # the camera's picture, encoded unmasked into sample.mp4
            recorded.pts, recorded.time_base = i, Fraction(1, FPS)
            container.mux(stream.encode(recorded))
            av_frame = to_yuv(rgb)
            original = to_rgb(av_frame) if i == sample else None
            wrapped = pm.Frame.from_av(av_frame)  # a view of the PyAV frame's planes, no copy
            t0 = time.perf_counter()
            pm.apply(wrapped, masks)
            times_ms.append((time.perf_counter() - t0) * 1e3)
            masked = to_rgb(av_frame)  # the PyAV frame itself now carries the masks
            if i % FRAME_EVERY == 0:
                save(Image.fromarray(masked), f"frames/frame_{i:03d}.png")
            if original is not None:
                save(
                    labelled([("original", original), ("masked (permanent + liftable)", masked)]),
                    "before_after.png",
                )
                lifted = to_yuv(rgb)
                pm.apply(lifted, masks, lifted=True)  # an av.VideoFrame works directly, too
                save(
                    labelled([("lifted (permanent masks only)", to_rgb(lifted))]),
                    "lifted.png",
                )
                save(_styles_strip(rgb, face_box(i, frames)), "styles.png")
        container.mux(stream.encode(None))
    written.append(sample_path)

    # The real job: the recording, masked with the masks in force when each frame was recorded.
    timeline = build_timeline(frames)
    timeline_path = out / "timeline.json"
    timeline_path.write_text(timeline.to_json() + "\n")
    written.append(timeline_path)
    masked_path = out / "masked.mp4"
    report = mask_file(
        sample_path,
        masked_path,
        timeline,  # the start comes from sample.mp4's creation_time
        quality=20,
        encoder_options={"preset": "veryfast"},
        progress=False,
    )
    written.append(masked_path)
    save(_switch_strip(sample_path, masked_path, report), "switch.png")

    print(f"privmask {pm.__version__} demo: {WIDTH}x{HEIGHT} yuv420p, {frames} frames processed")
    print(f"mask set ({len(masks)} masks), content_hash {masks.content_hash}")
    for m in masks:
        kind = "liftable " if m.liftable else "permanent"
        style = ", ".join(f"{k}={v}" for k, v in m.to_dict()["style"].items() if k != "type")
        style = f"{type(m.style).__name__}({style})"
        print(f"  {kind}  {m.style.grade.value:<11}  {style:<22}  {m.name}")
    print(
        f"apply: median {statistics.median(times_ms):.3f} ms/frame "
        f"(min {min(times_ms):.3f}, max {max(times_ms):.3f}; apply call only)"
    )
    print(f"sample frame for the pictures: {sample}")
    print(f"timeline: {len(timeline)} versions, recording started {RECORDED.isoformat()}")
    for v in timeline:
        print(f"  since {v.since.isoformat()}  {len(v.masks)} masks  {v.content_hash[:16]}")
    print(report.summary())
    print("written:")
    for p in sorted(written):
        print(f"  {p}")
    return written


def _sample_writer(path: Path) -> tuple[Any, Any]:
    """The sample recording's container and H.264 stream, tagged like a camera's file: a
    ``creation_time`` (which ``mask_file`` takes as the recording start) and a title (which the
    masked export must not carry)."""
    import av

    container = av.open(str(path), "w")
    container.metadata["creation_time"] = RECORDED.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    container.metadata["title"] = "street camera 7"
    stream = container.add_stream("libx264", rate=FPS, options={"crf": "18", "preset": "veryfast"})
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    cc = stream.codec_context
    cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1  # BT.709, TV
    return container, stream


def _decode_some(path: Path, wanted: set[int]) -> dict[int, RGB]:
    import av

    found: dict[int, RGB] = {}
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i in wanted:
                found[i] = to_rgb(frame)
    return found


def _switch_strip(sample_path: Path, masked_path: Path, report: Any) -> Any:
    """Frames either side of the configuration change, original above, masked below, each
    labelled with its time and the content hash of the masks it got."""
    from PIL import Image

    frames = report.frames
    switch = report.versions[-1].first_frame
    indices = sorted({i for i in (switch - 2, switch - 1, switch, switch + 1) if 0 <= i < frames})
    originals = _decode_some(sample_path, set(indices))
    masked = _decode_some(masked_path, set(indices))

    def small(rgb: RGB) -> RGB:
        img = Image.fromarray(rgb).resize((WIDTH // 4, HEIGHT // 4), Image.Resampling.LANCZOS)
        return np.asarray(img, dtype=np.uint8)

    def version_of(i: int) -> Any:
        return next(u for u in report.versions if u.first_frame <= i <= u.last_frame)

    top = labelled(
        [(f"original, frame {i} (+{i / FPS:.2f} s)", small(originals[i])) for i in indices],
        font_size=16,
    )
    bottom = labelled(
        [
            (
                f"masked: version {version_of(i).index}, {version_of(i).content_hash[:10]}",
                small(masked[i]),
            )
            for i in indices
        ],
        font_size=16,
    )
    strip = Image.new("RGB", (max(top.width, bottom.width), top.height + bottom.height))
    strip.paste(top, (0, 0))
    strip.paste(bottom, (0, top.height))
    return strip


def _styles_strip(rgb: RGB, box: tuple[float, float, float, float]) -> Any:
    """One crop (the face) unmasked and under each style, each a one-mask set over ``box``."""
    area = pm.Polygon.rect(*box)
    view = (box[0] - 0.03, box[1] - 0.03, box[2] + 0.06, box[3] + 0.06)
    panels = [("original", _crop(to_rgb(to_yuv(rgb)), view))]
    styles: list[tuple[str, pm.Style]] = [
        ("Solid('#3c4650')", pm.Solid("#3c4650")),
        ("Mosaic(block=0.03)", pm.Mosaic(block=0.03)),
        ("Blur(sigma=0.02)", pm.Blur(sigma=0.02)),
        ("Fill()", pm.Fill()),
    ]
    for label, style in styles:
        frame = to_yuv(rgb)
        pm.apply(frame, pm.MaskSet([pm.Mask(area, style)]))
        panels.append((f"{label}: {style.grade.value}", _crop(to_rgb(frame), view)))
    return labelled(panels, font_size=18)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m privmask.tools.demo",
        description=(
            "Make a sample 1080p recording, mask it with a timeline whose masks change halfway, "
            "and write the masked video and before/after pictures."
        ),
    )
    parser.add_argument("--out", type=Path, default=Path("demo"), help="output directory")
    parser.add_argument(
        "--frames",
        type=int,
        default=4 * FPS,
        help=f"number of frames to generate (default {4 * FPS}: four seconds)",
    )
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error("--frames must be at least 1")
    try:
        import av  # noqa: F401
        import PIL  # noqa: F401
    except ImportError as e:
        print(
            f"the demo needs PyAV and Pillow: pip install 'privmask[demo]' ({e})", file=sys.stderr
        )
        return 2
    run(args.out, args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
