"""The demo's pictures: frames between PyAV and RGB arrays, decoded files, labelled PNG strips.

RGB arrays are ``(height, width, 3)`` uint8. PyAV and Pillow are imported on use (the demo's
entry point checks for them first and says how to install them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import privmask as pm
from privmask.tools.demo.scene import FPS, HEIGHT, RGB, WIDTH, px

__all__ = ["crop", "decode_frames", "labelled", "styles_strip", "switch_strip", "to_rgb", "to_yuv"]


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


def decode_frames(path: Path, wanted: Iterable[int] | None = None) -> dict[int, RGB]:
    """The RGB pictures of the frames of ``path`` whose index (0-based, decode order of
    presentation) is in ``wanted``, or of every frame when ``wanted`` is None."""
    import av

    keep = None if wanted is None else set(wanted)
    found: dict[int, RGB] = {}
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if keep is None or i in keep:
                found[i] = to_rgb(frame)
    return found


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font has one size
        return ImageFont.load_default()


def labelled(panels: Sequence[tuple[str, RGB]], *, gap: int = 8, font_size: int = 22) -> Any:
    """The panels side by side on a dark background, each with its label above it; a
    ``PIL.Image``."""
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


def crop(rgb: RGB, box: tuple[float, float, float, float]) -> RGB:
    """The part of ``rgb`` inside the normalised ``box`` (x, y, w, h), clipped to the frame."""
    x0, y0 = px(max(box[0], 0.0), max(box[1], 0.0))
    x1, y1 = px(min(box[0] + box[2], 1.0), min(box[1] + box[3], 1.0))
    return rgb[y0:y1, x0:x1]


def switch_strip(sample_path: Path, masked_path: Path, report: Any) -> Any:
    """Frames either side of the configuration change decoded from both files, the recording
    above and the export below, each labelled with its time and the masks it got; a
    ``PIL.Image``. ``report`` is :func:`privmask.video.mask_file`'s."""
    from PIL import Image

    frames = report.frames
    switch = report.versions[-1].first_frame
    indices = sorted({i for i in (switch - 2, switch - 1, switch, switch + 1) if 0 <= i < frames})
    originals = decode_frames(sample_path, indices)
    masked = decode_frames(masked_path, indices)

    def small(rgb: RGB) -> RGB:
        img = Image.fromarray(rgb).resize((WIDTH // 4, HEIGHT // 4), Image.Resampling.LANCZOS)
        return np.asarray(img, dtype=np.uint8)

    def version_of(i: int) -> Any:
        return next(u for u in report.versions if u.first_frame <= i <= u.last_frame)

    top = labelled(
        [(f"sample.mp4, frame {i} (+{i / FPS:.2f} s)", small(originals[i])) for i in indices],
        font_size=16,
    )
    bottom = labelled(
        [
            (
                f"masked.mp4: version {version_of(i).index}, {version_of(i).content_hash[:10]}",
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


def styles_strip(rgb: RGB, box: tuple[float, float, float, float]) -> Any:
    """One crop (the face) unmasked and under each style, each a one-mask set over ``box``
    (normalised x, y, w, h); a ``PIL.Image``."""
    area = pm.Polygon.rect(*box)
    view = (box[0] - 0.03, box[1] - 0.03, box[2] + 0.06, box[3] + 0.06)
    panels = [("original", crop(to_rgb(to_yuv(rgb)), view))]
    styles: list[tuple[str, pm.Style]] = [
        ("Solid('#3c4650')", pm.Solid("#3c4650")),
        ("Mosaic(block=0.03)", pm.Mosaic(block=0.03)),
        ("Blur(sigma=0.02)", pm.Blur(sigma=0.02)),
        ("Fill()", pm.Fill()),
    ]
    for label, style in styles:
        frame = to_yuv(rgb)
        pm.apply(frame, pm.MaskSet([pm.Mask(area, style)]))
        panels.append((f"{label}: {style.grade.value}", crop(to_rgb(frame), view)))
    return labelled(panels, font_size=18)
