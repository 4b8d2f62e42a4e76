"""Draws docs/anchoring.png: one scene seen at two pan angles, with an image-locked mask that
drifts off the neighbour's window and a scene-locked mask that stays on it.

Run from the repository root: ``.venv/bin/python docs/make_anchoring_png.py`` (needs Pillow).
The scene is synthetic (a wall with windows, defined by direction), rendered through the same
camera model privmask projects masks with, so the picture shows exactly what the code does.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

import privmask as pm

W, H, HFOV = 480, 270, 50.0
WINDOW = (6.0, 13.0, 1.0, 9.0)  # pan from/to, tilt from/to (degrees): the neighbour's window
OUT = Path(__file__).resolve().parent / "anchoring.png"


def render(pose: pm.PTZPose) -> npt.NDArray[np.uint8]:
    """The luma of a wall seen from ``pose``: every pixel centre turned into its direction."""
    k = 2 * math.tan(math.radians(pose.hfov) / 2)
    fx, fy = np.meshgrid(
        ((np.arange(W) + 0.5) / W - 0.5) * k, (0.5 - (np.arange(H) + 0.5) / H) * k * H / W
    )
    p, t = math.radians(pose.pan), math.radians(pose.tilt)
    r = np.array([math.cos(p), 0.0, -math.sin(p)])
    u = np.array([-math.sin(t) * math.sin(p), math.cos(t), -math.sin(t) * math.cos(p)])
    c = np.array([math.cos(t) * math.sin(p), math.sin(t), math.cos(t) * math.cos(p)])
    d = fx[..., None] * r + fy[..., None] * u + c
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    pan = np.degrees(np.arctan2(d[..., 0], d[..., 2]))
    tilt = np.degrees(np.arcsin(d[..., 1]))
    # bricks: rows 1.2 degrees high, offset every other row
    row = np.floor(tilt / 1.2)
    brick = (np.floor(pan / 2.5 + 0.5 * (row % 2)) + row) % 3
    img = 95 + 18 * brick
    img[(np.abs(tilt / 1.2 - np.round(tilt / 1.2)) < 0.06)] = 150  # mortar
    img[tilt < -8] = 70  # pavement
    for p0, p1, t0, t1, v in (
        (*WINDOW, 235),
        (-22.0, -15.0, 1.0, 9.0, 200),
        (22.0, 29.0, 1.0, 9.0, 200),
    ):
        win = (pan >= p0) & (pan <= p1) & (tilt >= t0) & (tilt <= t1)
        img[win] = v
        bar = win & ((np.abs(pan - (p0 + p1) / 2) < 0.25) | (np.abs(tilt - (t0 + t1) / 2) < 0.25))
        img[bar] = 120
    return img.astype(np.uint8)


def main() -> None:
    poses = [pm.PTZPose(0.0, 2.0, HFOV), pm.PTZPose(14.0, 4.0, HFOV)]
    p0, p1, t0, t1 = WINDOW
    scene = pm.ScenePolygon([(p0, t0), (p1, t0), (p1, t1), (p0, t1)], margin_deg=0.5)
    scene_locked = pm.MaskSet([pm.Mask(scene, pm.Solid(), name="window")])
    # The image-locked mask is the same polygon as drawn at the first pose.
    drawn = scene_locked.for_pose(poses[0], W, H)[0].shape
    image_locked = pm.MaskSet([pm.Mask(drawn, pm.Solid(), name="window")])
    pad, label = 12, 22
    sheet = Image.new("L", (2 * W + 3 * pad, 2 * (H + label) + 3 * pad), 255)
    draw = ImageDraw.Draw(sheet)
    for row, (name, masks) in enumerate(
        (("image-locked Polygon", image_locked), ("scene-locked ScenePolygon", scene_locked))
    ):
        for col, pose in enumerate(poses):
            frame = render(pose)
            pm.apply(pm.Frame("gray", [frame]), masks, pose=pose)
            x = pad + col * (W + pad)
            y = pad + row * (H + label + pad)
            draw.text(
                (x, y + 4), f"{name}, camera pan {pose.pan:g} deg, tilt {pose.tilt:g} deg", fill=0
            )
            sheet.paste(Image.fromarray(frame, "L"), (x, y + label))
    sheet.save(OUT, optimize=True)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
