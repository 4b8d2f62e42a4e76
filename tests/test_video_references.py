"""Masks never reach a decoder's reference pictures, whatever the codec's reference structure.

A decoder hands out its own buffers and keeps reading a picture while later pictures are
predicted from it. ``decode_video`` makes each picture writable a few pictures after decoding it,
when the decoder has usually let it go (no copy); a picture it still holds is copied. Either way
the pictures decoded later must be exactly what FFmpeg decodes. The reference here is Debian's
``ffmpeg`` command: its decode of the source, with the masks applied by ``privmask.apply``, must
equal its decode of the lossless (FFV1) output, frame for frame and sample for sample.

The clips (160x96, 30 frames) pan a noise texture diagonally, so every block is predicted from
a displaced block of an earlier picture, across the masks' edges; each clip is first shown to
be one where masking a picture in place does change the pictures decoded after it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import privmask as pm
from privmask.video import decode_video, mask_file

av = pytest.importorskip("av")

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="needs Debian's ffmpeg")

W, H, FRAMES = 160, 96, 30

# name: (encoder, container suffix, encoder options)
CLIPS: dict[str, tuple[str, str, dict[str, str]]] = {
    # One reference, no B-frames (most cameras): released a picture later.
    "h264 ref 1": ("libx264", ".mp4", {"x264-params": "ref=1:bframes=0:scenecut=0"}),
    # Sixteen references: pictures are still references when the reader releases them.
    "h264 ref 16": ("libx264", ".mp4", {"x264-params": "ref=16:bframes=0:scenecut=0"}),
    # B-frames used as references (pyramid), output out of decoding order.
    "h264 b-pyramid": (
        "libx264",
        ".mp4",
        {"x264-params": "ref=4:bframes=3:b-pyramid=normal:scenecut=0"},
    ),
    "hevc": ("libx265", ".mkv", {"x265-params": "log-level=error:bframes=4:ref=3"}),
    # Golden and alt-ref frames: references that live for many pictures.
    "vp9": ("libvpx-vp9", ".webm", {"deadline": "good", "cpu-used": "8", "lag-in-frames": "16"}),
    "mpeg2": ("mpeg2video", ".mkv", {"bf": "2", "qscale": "3"}),
}


def _make(path: Path, codec: str, options: dict[str, str]) -> None:
    rng = np.random.default_rng(11)
    texture = rng.integers(16, 236, (H + 2 * FRAMES, W + 3 * FRAMES), dtype=np.uint8)
    chroma = rng.integers(64, 192, (H // 2 + FRAMES, W // 2 + 2 * FRAMES), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25, options=options)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(FRAMES):
            y = texture[2 * i : 2 * i + H, 3 * i : 3 * i + W].copy()
            y[30:50, (5 * i) % (W - 20) : (5 * i) % (W - 20) + 20] = 235
            u = chroma[i : i + H // 2, 2 * i : 2 * i + W // 2]
            v = chroma[i : i + H // 2, i : i + W // 2]
            planes = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(-1, W)
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


@pytest.fixture(scope="module", params=list(CLIPS))
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    codec, suffix, options = CLIPS[request.param]
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {codec} encoder")
    path = tmp_path_factory.mktemp("refs") / f"clip{suffix}"
    _make(path, codec, options)
    return path


def _ffmpeg_decode(path: Path) -> list[list[np.ndarray]]:
    """Every picture as ``ffmpeg`` decodes it: [Y (H, W), U, V (H/2, W/2)] uint8 planes."""
    assert FFMPEG is not None
    command = [FFMPEG, "-v", "error", "-i", str(path), "-map", "0:v:0", "-fps_mode"]
    command += ["passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]
    raw = subprocess.run(
        command,
        check=True,
        capture_output=True,
    ).stdout
    size = W * H * 3 // 2
    assert len(raw) % size == 0
    frames = []
    for k in range(len(raw) // size):
        data = np.frombuffer(raw, np.uint8, size, k * size)
        y = data[: W * H].reshape(H, W).copy()
        u = data[W * H : W * H * 5 // 4].reshape(H // 2, W // 2).copy()
        v = data[W * H * 5 // 4 :].reshape(H // 2, W // 2).copy()
        frames.append([y, u, v])
    return frames


def _planes(frame: Any) -> list[np.ndarray]:
    return [p.copy() for p in pm.Frame.from_av(frame).planes]


def _assert_same(got: list[list[np.ndarray]], want: list[list[np.ndarray]]) -> None:
    assert len(got) == len(want) == FRAMES
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        for k, (pa, pb) in enumerate(zip(a, b, strict=True)):
            np.testing.assert_array_equal(pa, pb, err_msg=f"frame {i}, plane {k}")


MASKS = pm.MaskSet(
    [
        pm.Mask(pm.Polygon.rect(0.1, 0.15, 0.3, 0.5), pm.Solid(yuv=(16, 128, 128))),
        pm.Mask(pm.Polygon([(0.45, 0.1), (0.9, 0.2), (0.7, 0.7)]), pm.Mosaic(block_px=8)),
        pm.Mask(pm.Polygon.rect(0.35, 0.6, 0.4, 0.35), pm.Blur(sigma_px=4)),
    ]
)


def test_the_clip_is_one_where_masking_in_place_corrupts_later_pictures(clip: Path) -> None:
    """Without a private copy, zeroing each picture's luma as it is decoded changes what the
    decoder makes of the pictures after it: the tests below would catch a missing copy."""
    with av.open(str(clip)) as c:
        clean = [_planes(f) for f in c.decode(video=0)]
    seen = []
    with av.open(str(clip)) as c:
        for frame in c.decode(video=0):
            seen.append([p.copy() for p in _raw_planes(frame)])
            _raw_planes(frame)[0][:] = 0  # straight into the decoder's buffer
    assert len(seen) == len(clean) == FRAMES
    assert any(not np.array_equal(s[0], c[0]) for s, c in zip(seen, clean, strict=True))


def _raw_planes(frame: Any) -> list[np.ndarray]:
    """The frame's planes as views of its buffers, without making it writable."""
    out = []
    for plane, (rows, cols) in zip(
        frame.planes, [(H, W), (H // 2, W // 2), (H // 2, W // 2)], strict=True
    ):
        buf = np.frombuffer(plane, np.uint8).reshape(rows, plane.line_size)
        out.append(buf[:, :cols])
    return out


@needs_ffmpeg
def test_transcode_output_is_the_masks_on_ffmpegs_decode(clip: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out.mkv"
    report = mask_file(clip, dst, MASKS, codec="ffv1")
    want = []
    for y, u, v in _ffmpeg_decode(clip):
        frame = pm.Frame("yuv420p", [y, u, v])
        pm.apply(frame, MASKS)
        want.append([y, u, v])
    assert report.frames == FRAMES
    _assert_same(_ffmpeg_decode(dst), want)


@pytest.mark.parametrize("hold", [None, 0, 1, 3])
def test_pictures_masked_as_soon_as_they_are_yielded_leave_later_pictures_intact(
    clip: Path, hold: int | None
) -> None:
    """The worst consumer: it writes over the whole of each picture the moment it gets it,
    before the reader decodes another packet. Whether the reader released the picture with no
    copy (the decoder had let it go) or copied it, the pictures after it are untouched."""
    with av.open(str(clip)) as c:
        clean = [_planes(f) for f in c.decode(video=0)]
    seen = []
    with av.open(str(clip)) as c:
        video = c.streams.video[0]
        video.thread_type = "AUTO"
        for frame in decode_video(str(clip), c, video, hold=hold):
            seen.append(_planes(frame))
            for plane in pm.Frame.from_av(frame).planes:
                plane[:] = 0
    _assert_same(seen, clean)


def test_holding_pictures_keeps_the_files_order_of_pictures_and_audio(tmp_path: Path) -> None:
    from tests.test_video import make_clip

    src = tmp_path / "in.mkv"
    make_clip(src, frames=25, audio="aac", options={"bf": "2"})

    def order(**kw: Any) -> list[tuple[str, int | None]]:
        with av.open(str(src)) as c:
            video = c.streams.video[0]
            return [
                ("video" if isinstance(item, av.VideoFrame) else "audio", item.pts)
                for item in decode_video(str(src), c, video, c.streams.audio, **kw)
            ]

    unheld = order(writable=False)  # read-only: nothing is held
    kinds = [kind for kind, _ in unheld]
    assert kinds.count("video") == 25 and kinds.count("audio") > 3
    # Interleaved, not one stream after the other: the hold has something to keep in order.
    assert kinds.index("audio") < len(kinds) - 1 - kinds[::-1].index("video")
    for hold in (None, 1, 4, 100):
        assert order(hold=hold) == unheld


def test_a_negative_hold_is_refused(tmp_path: Path) -> None:
    from tests.test_video import make_clip

    src = tmp_path / "in.mp4"
    make_clip(src, frames=2)
    with av.open(str(src)) as c, pytest.raises(ValueError, match="hold"):
        next(iter(decode_video(str(src), c, c.streams.video[0], hold=-1)))
