"""Rotated pictures wherever they come from (found by trying privmask as a hostile user): a
rotated recording read through a pipe, one whose first picture is broken, photos with an EXIF
orientation, and the preview and editor views of them. The reference for how a picture is
displayed is ``ffmpeg`` (display matrix) and Pillow's ``ImageOps.exif_transpose`` (EXIF)."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageOps

import privmask as pm
from privmask._outputs import PART_MARKER
from privmask.cli.main import main
from privmask.errors import VideoError
from privmask.video import mask_file
from tests.test_recordings import (
    BLACK,
    ORIENTATIONS,
    displayed_luma,
    needs_ffmpeg,
    stream,
    write_clip,
)

TOP_LEFT = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.25), BLACK)])


def assert_top_left_masked(shown: np.ndarray) -> None:
    """``shown`` (frames, rows, columns as displayed): black on the displayed top-left 1/2 x
    1/4, the noise texture (luma 90-170) elsewhere."""
    h, w = shown.shape[1:]
    assert shown[:, : h // 4, : w // 2].max() < 40, "the displayed top-left is not masked"
    rest = np.concatenate(
        [shown[:, h // 4 + 2 :, :].ravel(), shown[:, : h // 4 - 2, w // 2 + 2 :].ravel()]
    )
    assert rest.min() > 60, "the mask covers more than the displayed top-left"


def feed_fifo(fifo: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        # The reader may stop early: what the refusal test is about.
        with open(fifo, "wb") as f, contextlib.suppress(BrokenPipeError):
            f.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@needs_ffmpeg
def test_a_rotated_recording_through_a_pipe_is_refused_not_masked_upright(
    tmp_path: Path,
) -> None:
    """A pipe is read once, so its display matrix is known only with its first picture; the
    masks had been placed for an upright picture. Masking the coded picture would leave the
    displayed top-left visible, so the run stops before anything is written."""
    src = tmp_path / "phone.mp4"
    write_clip(src, display=ORIENTATIONS["rotate-90"], options={"movflags": "+faststart"})
    fifo, dst = tmp_path / "phone.fifo", tmp_path / "out.mp4"
    os.mkfifo(fifo)
    writer = feed_fifo(fifo, src.read_bytes())
    with pytest.raises(VideoError, match=r"picture 0 is displayed rotated 90°.*save it to a file"):
        mask_file(fifo, dst, TOP_LEFT, progress=False)
    writer.join(timeout=30)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["phone.fifo", "phone.mp4"]
    assert not list(tmp_path.glob(f"*{PART_MARKER}*"))
    # The same recording as a file: masked on the displayed picture (the remedy works).
    mask_file(src, dst, TOP_LEFT, progress=False)
    assert_top_left_masked(displayed_luma(dst))


@needs_ffmpeg
def test_an_upright_recording_through_a_pipe_is_still_masked(tmp_path: Path) -> None:
    src = tmp_path / "cam.ts"
    write_clip(src)
    fifo, dst = tmp_path / "cam.fifo", tmp_path / "out.mp4"
    os.mkfifo(fifo)
    writer = feed_fifo(fifo, src.read_bytes())
    report = mask_file(fifo, dst, TOP_LEFT, progress=False)
    writer.join(timeout=30)
    assert report.frames == 10 and report.orientation is None
    assert_top_left_masked(displayed_luma(dst))


@needs_ffmpeg
def test_a_broken_first_picture_does_not_lose_the_rotation(tmp_path: Path) -> None:
    """With accept_damage the broken first JPEG is skipped; the others are still masked on the
    picture as displayed, and the output keeps the display matrix."""
    coded = tmp_path / "coded.mov"
    write_clip(coded, codec="mjpeg", pix_fmt="yuvj420p", display=ORIENTATIONS["rotate-90"])
    data = bytearray(coded.read_bytes())
    at = data.find(b"\xff\xc4")  # the first picture's Huffman table
    assert at > 0
    data[at + 4 : at + 40] = b"\xff" * 36
    src, dst = tmp_path / "broken-first.mov", tmp_path / "out.mov"
    src.write_bytes(bytes(data))
    with pytest.raises(VideoError, match="packet 0"):
        mask_file(src, dst, TOP_LEFT, progress=False)
    report = mask_file(src, dst, TOP_LEFT, progress=False, accept_damage=True)
    assert report.frames == 9 and report.damage
    assert report.orientation == "rotated 90°"
    assert [sd.get("rotation") for sd in stream(dst).get("side_data_list", [])] == [
        sd.get("rotation") for sd in stream(coded).get("side_data_list", [])
    ]
    assert_top_left_masked(displayed_luma(dst))


def exif_photo(path: Path, orientation: int) -> np.ndarray:
    """Writes a noise photo whose stored picture is 64x96 (or 96x64 turned) and whose EXIF
    says ``orientation``; returns the picture as Pillow displays it (rows, columns, RGB)."""
    rng = np.random.default_rng(orientation)
    stored = Image.fromarray(rng.integers(90, 170, (64, 96, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, exif=exif.tobytes(), **({"quality": 95} if path.suffix == ".jpg" else {}))
    with Image.open(path) as im:
        shown = ImageOps.exif_transpose(im)
        return np.asarray(shown.convert("RGB"))


def as_displayed(stored: Path, orientation: int, tmp: Path) -> np.ndarray:
    """A written picture (which may have lost its EXIF) shown with ``orientation``, by
    Pillow, as grey levels."""
    with Image.open(stored) as im:
        again = tmp / "again.png"
        exif = Image.Exif()
        exif[0x0112] = orientation
        im.convert("RGB").save(again, exif=exif.tobytes())
    with Image.open(again) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("L"))


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
@pytest.mark.parametrize("orientation", [6, 5, 3])  # quarter turn, turn and mirror, half turn
def test_photos_with_an_exif_orientation_are_masked_as_displayed(
    tmp_path: Path, suffix: str, orientation: int
) -> None:
    """FFmpeg 8 attaches the EXIF block to every such picture (side data PyAV 18.1 has no name
    for: it raised ``ValueError: 31 is not a valid Type``) and a display matrix from its
    Orientation tag; the masks follow the matrix, as for a phone video."""
    src, dst = tmp_path / f"photo{suffix}", tmp_path / f"out{suffix}"
    shown = exif_photo(src, orientation)
    report = mask_file(src, dst, TOP_LEFT, progress=False)
    assert report.frames == 1 and report.orientation is not None
    out = as_displayed(dst, orientation, tmp_path)
    assert out.shape == shown.shape[:2]
    assert_top_left_masked(out[None].astype(np.int16) * 1)


@needs_ffmpeg
def test_preview_shows_the_masks_on_the_picture_as_displayed(tmp_path: Path) -> None:
    """``privmask preview`` applies masks as ``privmask mask`` does: on the displayed picture,
    written upright (a still keeps no display matrix)."""
    src, masks, still = tmp_path / "phone.mp4", tmp_path / "masks.json", tmp_path / "p.png"
    write_clip(src, display=ORIENTATIONS["rotate-90-mirror"])
    masks.write_text(TOP_LEFT.to_json())
    assert main(["preview", str(src), "--masks", str(masks), "-o", str(still)]) == 0
    with Image.open(still) as im:
        picture = np.asarray(im.convert("L"))
    first = displayed_luma(src)[0]
    assert picture.shape == first.shape  # 64x96 as displayed, not 96x64 as coded
    assert_top_left_masked(picture[None])
    # Outside the mask it is the displayed picture itself (PNG is lossless; RGB round trip).
    h = picture.shape[0]
    assert np.abs(picture[h // 2 :].astype(int) - first[h // 2 :]).max() <= 3


@needs_ffmpeg
def test_the_editor_shows_the_picture_as_displayed(tmp_path: Path) -> None:
    from privmask.editor.source import open_source, to_rgb

    src = tmp_path / "phone.mp4"
    write_clip(src, display=ORIENTATIONS["rotate-270"])
    first = displayed_luma(src)[0]
    source = open_source(str(src))
    try:
        assert (source.height, source.width) == first.shape
        rgb = to_rgb(source.picture().frame)
    finally:
        source.close()
    grey = np.asarray(Image.fromarray(rgb).convert("L"), dtype=int)
    assert np.abs(grey - first).mean() < 3


def test_side_data_pyav_has_no_name_for_is_listed_not_raised(tmp_path: Path) -> None:
    """After privmask reads an EXIF photo, PyAV lists its unnamed side data instead of raising,
    and its named types keep their members."""
    from av.sidedata.sidedata import Type

    from privmask.video.orient import frame_orientation

    src = tmp_path / "photo.jpg"
    exif_photo(src, 8)
    with av.open(str(src)) as c:
        frame = next(c.decode(video=0))
        assert frame_orientation(frame).describe() == "rotated 90°"
        kinds = [d.type for d in frame.side_data]
    assert Type.DISPLAYMATRIX in kinds and any(k.name.startswith("UNKNOWN_") for k in kinds)
    assert Type(6) is Type.DISPLAYMATRIX and Type["DISPLAYMATRIX"].value == 6


@needs_ffmpeg
def test_checking_the_orientation_leaves_no_picture_to_the_garbage_collector(
    tmp_path: Path,
) -> None:
    """PyAV keeps a picture's side data in a reference cycle with it; reading it on every
    picture left each decoded picture to the cyclic collector (freed late, in any thread: a
    run hung in CI). Only the first picture's is read, so with the collector off no picture
    outlives the run."""
    import gc

    src = tmp_path / "phone.mp4"
    write_clip(src, frames=40, display=ORIENTATIONS["rotate-90"])
    gc.collect()
    gc.disable()
    try:
        mask_file(src, tmp_path / "out.mp4", TOP_LEFT, progress=False)
        left = [o for o in gc.get_objects() if isinstance(o, av.VideoFrame)]
    finally:
        gc.enable()
    assert len(left) <= 2, f"{len(left)} decoded pictures are held by reference cycles"
