"""The demo's scene and its masks: a synthetic 1080p street, drawn deterministically in memory.

A neighbour's house (a window and a pentagonal attic window), a notice board with text, a van
driving past and a face-sized patch walking along a footpath. Coordinates are normalised like
privmask's masks: ``(0, 0)`` the top-left corner of the frame, ``(1, 1)`` the bottom-right, x to
the right, y down. :func:`build_masks` covers the private parts in every style, permanent and
liftable; :func:`build_timeline` switches to :func:`build_masks_after` halfway through the clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

import privmask as pm

__all__ = [
    "FPS",
    "HEIGHT",
    "HOUSE",
    "RECORDED",
    "RGB",
    "WIDTH",
    "FloatImage",
    "background",
    "build_masks",
    "build_masks_after",
    "build_timeline",
    "face_box",
    "face_centre",
    "face_sprite",
    "px",
    "render_frame",
    "switch_frame",
    "van_box",
]

WIDTH, HEIGHT = 1920, 1080
FPS = 25
SEED = 20261101
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


def px(x: float, y: float) -> tuple[int, int]:
    return round(x * WIDTH), round(y * HEIGHT)


def _fill_rect(img: FloatImage, rect: tuple[float, float, float, float], rgb: FloatImage) -> None:
    x0, y0 = px(rect[0], rect[1])
    x1, y1 = px(rect[0] + rect[2], rect[1] + rect[3])
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


def background() -> FloatImage:
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
    hx0, hy0 = px(HOUSE[0], HOUSE[1])
    hx1, hy1 = px(HOUSE[0] + HOUSE[2], HOUSE[1] + HOUSE[3])
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
    x0, y0 = px(wx, wy)
    x1, y1 = px(wx + ww, wy + wh)
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
    x_start, x_end = px(bx + 0.02, 0)[0], px(bx + bw - 0.02, 0)[0]
    title_y = px(0, by + 0.015)[1]
    # Title: white "letters" on the blue bar.
    x = x_start
    while x < x_end - 60:
        word = int(rng.integers(3, 8)) * 9
        img[title_y : title_y + 14, x : min(x + word, x_end)] = (250, 250, 250)
        img[title_y : title_y + 14, x + 3 : min(x + word, x_end) : 9] = (30, 90, 170)
        x += word + 14
    y = px(0, by + 0.075)[1]
    y_end = px(0, by + bh - 0.015)[1]
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


def face_sprite() -> tuple[FloatImage, FloatImage]:
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
        x0, y0 = px(max(x, 0.0), max(y, 0.0))
        x1, y1 = px(min(x + w, 1.0), min(y + h, 1.0))
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
