"""Real recordings as they come (issue 13, cases 1-12): each case is a small file made here with
PyAV or Debian's ``ffmpeg``, and the reference is what ``ffmpeg -i IN -c:v libx264 OUT`` does
with it, read back with ``ffprobe``."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import privmask as pm
from privmask._outputs import PART_MARKER
from privmask.errors import VideoError
from privmask.video import mask_file
from tests.people import MASK, Clip, make_clip, write_ffv1

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None or FFPROBE is None, reason="needs Debian's ffmpeg")

BLACK = pm.Solid(yuv=(16, 128, 128))


def ffmpeg(*args: str | Path) -> None:
    assert FFMPEG is not None
    subprocess.run([FFMPEG, "-v", "error", "-y", *map(str, args)], check=True)


def ffprobe_json(path: Path, *args: str) -> dict[str, Any]:
    assert FFPROBE is not None
    command = [FFPROBE, "-v", "error", *args, "-of", "json", str(path)]
    return dict(json.loads(subprocess.run(command, check=True, capture_output=True).stdout))


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's JSON for the first video stream (and the format)."""
    return ffprobe_json(path, "-select_streams", "v:0", "-show_streams", "-show_format")


def stream(path: Path) -> dict[str, Any]:
    return dict(probe(path)["streams"][0])


def frame_times(path: Path) -> list[float]:
    """Each video frame's time in seconds, as ffprobe reads it."""
    frames = ffprobe_json(
        path, "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time"
    )["frames"]
    return [float(f["best_effort_timestamp_time"]) for f in frames]


def displayed_luma(path: Path) -> np.ndarray:
    """Every frame's luma as a player shows it (ffmpeg rotates and mirrors by the display
    matrix), shape ``(frames, height, width)``."""
    assert FFMPEG is not None
    info = stream(path)
    w, h = int(info["width"]), int(info["height"])
    rotation = 0
    for sd in info.get("side_data_list", []):
        rotation = int(sd.get("rotation", 0))
    if rotation % 180:
        w, h = h, w
    raw = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w)


def write_clip(
    path: Path,
    *,
    size: tuple[int, int] = (96, 64),
    frames: int = 10,
    rate: int = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    display: tuple[float, bool, bool] | None = None,
    options: dict[str, str] | None = None,
) -> None:
    """A grey noise texture (luma 90-170), so a black mask stands out wherever it lands."""
    width, height = size
    rng = np.random.default_rng(3)
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=rate, options=options or {})
        s.width, s.height, s.pix_fmt = width, height, pix_fmt
        if display is not None:
            s.set_display_rotation(*display)
        for i in range(frames):
            img = rng.integers(90, 170, (height, width, 3), dtype=np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


# --- case 1: rotated and mirrored recordings -------------------------------------------------

ORIENTATIONS = {
    "rotate-90": (90.0, False, False),
    "rotate-270": (-90.0, False, False),
    "rotate-180": (180.0, False, False),
    "mirror": (0.0, True, False),
    "flip": (0.0, False, True),
    "rotate-90-mirror": (90.0, True, False),
}


@needs_ffmpeg
@pytest.mark.parametrize("name", ORIENTATIONS)
def test_masks_land_where_they_were_drawn_on_the_displayed_picture(
    tmp_path: Path, name: str
) -> None:
    src, dst = tmp_path / "phone.mp4", tmp_path / "out.mp4"
    write_clip(src, display=ORIENTATIONS[name])
    before = displayed_luma(src)
    # The top-left of the picture as shown: asymmetric, so a wrong mirror shows too.
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.25), BLACK)])
    report = mask_file(src, dst, masks, progress=False)
    shown = displayed_luma(dst)
    assert shown.shape == before.shape  # ffmpeg shows it the same way round
    h, w = shown.shape[1:]
    inside = shown[:, : h // 4, : w // 2]
    assert inside.max() < 40, "the mask is not on the displayed picture's top-left"
    outside = np.concatenate(
        [shown[:, h // 4 + 2 :, :].ravel(), shown[:, : h // 4 - 2, w // 2 + 2 :].ravel()]
    )
    assert outside.min() > 60, "the mask covers more than the displayed top-left"
    src_rot = [sd.get("rotation") for sd in stream(src).get("side_data_list", [])]
    assert [sd.get("rotation") for sd in stream(dst).get("side_data_list", [])] == src_rot
    assert report.orientation is not None
    assert report.versions[0].content_hash == masks.content_hash


def test_relative_mosaic_sizes_follow_the_displayed_height(tmp_path: Path) -> None:
    from privmask.video.orient import Orientation, displayed_masks

    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 1, 0.25), pm.Mosaic(block=0.1))])
    quarter = Orientation(0, -1, 1, 0)
    mapped = displayed_masks(masks, quarter, 96, 64)
    assert isinstance(mapped, pm.MaskSet)
    style = mapped[0].style
    assert isinstance(style, pm.Mosaic) and style.block_px == pytest.approx(9.6)
    xs = [p[0] for p in mapped[0].shape.points]
    ys = [p[1] for p in mapped[0].shape.points]
    # A quarter turn puts the displayed top rows in a coded side column.
    assert (max(ys) - min(ys), max(xs) - min(xs)) == pytest.approx((1.0, 0.25))


# --- case 2: a recording clock that does not start at zero -----------------------------------

EIGHT = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def lavfi(dst: Path, *args: str, frames: int = 50, size: str = "64x48") -> None:
    """``frames`` of FFmpeg's moving test pattern at 25 fps, encoded with ``args``."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=25", "-frames:v", str(frames), *args, dst)


@needs_ffmpeg
@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("clock.ts", ("-c:v", "libx264", "-output_ts_offset", "24551")),
        ("edit-list.mp4", ("-c:v", "libx264", "-output_ts_offset", "3")),
        ("bframes.mkv", ("-c:v", "libx264", "-bf", "3")),
        ("cut-mid-gop.mp4", ("-c:v", "libx264", "-g", "50", "-bf", "2")),
    ],
)
def test_frames_are_timed_from_the_first_frame_not_from_pts_zero(
    tmp_path: Path, name: str, args: tuple[str, ...]
) -> None:
    src, dst = tmp_path / name, tmp_path / ("out" + Path(name).suffix)
    lavfi(src, *args, frames=50 if name != "cut-mid-gop.mp4" else 63)
    if name == "cut-mid-gop.mp4":
        # Cut without re-encoding 0.52 s in: an edit list hides the frames before the cut,
        # which are still stored (with negative times) since the picture needs them.
        whole, src = src, tmp_path / "cut.mp4"
        ffmpeg("-ss", "0.52", "-i", whole, "-c", "copy", src)
        with av.open(str(src)) as c:
            assert min(p.pts for p in c.demux(video=0) if p.size) < 0
    if name == "clock.ts":
        assert float(stream(src)["start_time"]) > 24551  # the case: a clock far from zero
    top = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 1, 0.5), BLACK)])
    bottom = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0.5, 1, 0.5), BLACK)])
    later = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 1), BLACK)])
    timeline = pm.MaskTimeline(
        [
            (EIGHT.replace(hour=7), top),
            (EIGHT.replace(second=1), bottom),  # 25 frames into the recording
            (EIGHT.replace(hour=9), later),
        ]
    )
    report = mask_file(src, dst, timeline, start=EIGHT, progress=False)
    uses = [(u.index, u.first_frame, u.last_frame) for u in report.versions]
    assert uses == [(0, 0, 24), (1, 25, 49)]


# --- case 3: streams without timestamps ------------------------------------------------------


@needs_ffmpeg
@pytest.mark.parametrize("raw", ["h264", "hevc"])
@pytest.mark.parametrize("container", [".mp4", ".mkv"])
def test_raw_annex_b_streams_are_timed_from_the_frame_rate(
    tmp_path: Path, raw: str, container: str
) -> None:
    src = tmp_path / f"cam.{raw}"
    encoder = {"h264": "libx264", "hevc": "libx265"}[raw]
    lavfi(src, "-c:v", encoder, "-x265-params", "log-level=error", "-f", raw)
    ref, dst = tmp_path / f"ref{container}", tmp_path / f"out{container}"
    ffmpeg("-i", src, "-c:v", "libx264", ref)
    mask_file(src, dst, pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5))]), progress=False)
    expected = [i / 25 for i in range(50)]
    assert frame_times(ref) == pytest.approx(expected, abs=1e-3)  # what ffmpeg does
    assert frame_times(dst) == pytest.approx(expected, abs=1e-3)
    assert float(probe(dst)["format"]["duration"]) == pytest.approx(2.0, abs=1e-3)


# --- cases 4 and 5: MPEG-TS out; MPEG-2 and MPEG-4 Part 2 in 90 kHz containers ---------------


@needs_ffmpeg
@pytest.mark.parametrize(
    ("name", "encoder", "extra"),
    [
        ("h264.ts", "libx264", ()),
        ("h264.m2ts", "libx264", ()),
        ("hevc.ts", "libx265", ("-x265-params", "log-level=error")),
        ("mpeg2.ts", "mpeg2video", ()),
        ("mpeg2.mpg", "mpeg2video", ()),
        ("mpeg2.vob", "mpeg2video", ()),
        ("mpeg4-90k.mp4", "mpeg4", ("-video_track_timescale", "90000")),
        ("mpeg4.ts", "mpeg4", ()),
    ],
)
def test_the_source_codec_is_kept_in_broadcast_and_disc_containers(
    tmp_path: Path, name: str, encoder: str, extra: tuple[str, ...]
) -> None:
    src = tmp_path / name
    dst = tmp_path / ("out" + src.suffix)
    lavfi(src, "-c:v", encoder, *extra)
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5), BLACK)])
    mask_file(src, dst, masks, progress=False)
    before, after = stream(src), stream(dst)
    assert after["codec_name"] == before["codec_name"]
    assert after["r_frame_rate"] == "25/1"
    t_src, t_dst = frame_times(src), frame_times(dst)
    assert len(t_dst) == 50
    assert np.diff(t_dst) == pytest.approx(np.diff(t_src), abs=1e-3)
    luma = displayed_luma(dst)
    assert luma[:, :20, :28].max() < 40  # masked
    assert luma[:, 28:, :].mean() > 60


# --- case 6: default quality -----------------------------------------------------------------


def encoder_settings(path: Path) -> str:
    """The settings line x264 and x265 write into the stream (an SEI message)."""
    data = path.read_bytes()
    start = max(data.find(b"x264 - core"), data.find(b"x265 (build"))
    assert start >= 0, "no encoder settings in the stream"
    return data[start : start + 4000].split(b"\0")[0].decode("latin-1")


@needs_ffmpeg
@pytest.mark.parametrize(("codec", "crf", "vbv"), [("libx264", "crf=16.0", "vbv_maxrate=")])
def test_default_quality_is_near_lossless_and_capped_at_1_3x_the_source_rate(
    tmp_path: Path, codec: str, crf: str, vbv: str
) -> None:
    from privmask.video.encode import DEFAULT_CRF, MAX_RATE_FACTOR, default_rate_control

    src, dst = tmp_path / "src.mp4", tmp_path / "out.mp4"
    lavfi(src, "-c:v", "libx264", "-b:v", "2M")
    source_kbps = int(stream(src)["bit_rate"]) // 1000
    mask_file(src, dst, pm.MaskSet(), progress=False)
    settings = encoder_settings(dst)
    assert crf in settings
    cap = int(settings.split(vbv)[1].split()[0])
    assert cap == pytest.approx(source_kbps * 1.3, rel=0.01)
    # The same for HEVC (x265 counts in kb/s too); an explicit quality wins.
    assert default_rate_control("libx265", 1_000_000) == {
        "crf": str(DEFAULT_CRF["libx265"]),
        "maxrate": str(int(1_000_000 * MAX_RATE_FACTOR)),
        "bufsize": str(int(2_000_000 * MAX_RATE_FACTOR)),
    }
    mask_file(src, dst, pm.MaskSet(), quality=30, progress=False)
    assert (
        "crf=30.0" in encoder_settings(dst)
        and vbv not in encoder_settings(dst).split("rc=crf")[1].split()[0]
    )


# --- case 7: interlaced video ----------------------------------------------------------------


@needs_ffmpeg
@pytest.mark.parametrize(
    ("name", "encode", "order", "codec"),
    [
        ("tff.mp4", ("-c:v", "libx264", "-x264-params", "tff=1"), "tt", None),
        ("bff.ts", ("-c:v", "mpeg2video", "-top", "0"), "bb", None),
        ("bff.ts", ("-c:v", "mpeg2video", "-top", "0"), "bb", "libx264"),
    ],
)
def test_interlaced_video_keeps_its_field_order_and_is_coded_as_fields(
    tmp_path: Path, name: str, encode: tuple[str, ...], order: str, codec: str | None
) -> None:
    src, dst = tmp_path / name, tmp_path / ("out" + ("" if codec is None else "264") + ".mp4")
    field = {"tt": "tff", "bb": "bff"}[order]
    lavfi(src, "-vf", f"setfield={field}", "-flags", "+ildct+ilme", *encode, size="128x96")
    assert stream(src)["field_order"] == order
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5))])
    mask_file(src, dst, masks, codec=codec, progress=False)
    assert stream(dst)["field_order"] == order
    if stream(dst)["codec_name"] == "h264":
        assert f"interlaced={field}" in encoder_settings(dst)


# --- case 9: FFmpeg's reason -----------------------------------------------------------------


@needs_ffmpeg
def test_an_encoder_refusal_says_why_and_what_to_do(tmp_path: Path) -> None:
    src, dst = tmp_path / "odd.mkv", tmp_path / "out.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=s=321x241:r=25", "-frames:v", "5", "-pix_fmt", "yuv420p",
        "-c:v", "ffv1", src,
    )  # fmt: skip
    assert FFMPEG is not None
    ref = subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-i", str(src), "-c:v", "libx264", str(tmp_path / "r.mp4")],
        capture_output=True,
        text=True,
    )
    assert ref.returncode != 0 and "width not divisible by 2 (321x241)" in ref.stderr
    with pytest.raises(VideoError) as e:
        mask_file(src, dst, pm.MaskSet(), codec="libx264", progress=False)
    assert "width not divisible by 2 (321x241)" in str(e.value)
    assert "crop" in str(e.value) and "ffv1" in str(e.value)
    assert not dst.exists() and not list(tmp_path.glob(f"*{PART_MARKER}*"))


# --- case 10: everything ffmpeg keeps --------------------------------------------------------

KEPT = ("width", "height", "pix_fmt", "sample_aspect_ratio", "color_range", "color_space")
KEPT += ("color_transfer", "color_primaries", "r_frame_rate")


@needs_ffmpeg
def test_what_ffmpeg_keeps_is_kept_and_what_is_dropped_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "dashcam.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=128x96:r=25", "-f", "lavfi", "-i", "testsrc=s=64x48:r=25",
        "-f", "lavfi", "-i", "sine=f=440:r=48000", "-f", "lavfi", "-i", "sine=f=660:r=8000",
        "-t", "2", "-map", "0:v", "-map", "1:v", "-map", "2:a", "-map", "3:a",
        "-c:v:0", "libx264", "-vf:v:0", "setsar=4/3", "-colorspace", "bt709",
        "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-c:v:1", "mpeg4", "-c:a:0", "aac", "-c:a:1", "pcm_mulaw", src,
    )  # fmt: skip
    ref, dst = tmp_path / "ref.mp4", tmp_path / "out.mp4"
    ffmpeg("-i", src, "-map", "0:v:0", "-map", "0:a:0", "-c:v", "libx264", "-c:a", "copy", ref)
    assert FFMPEG is not None  # G.711 audio is what -c:a copy cannot put in MP4:
    g711 = [FFMPEG, "-v", "quiet", "-y", "-i", str(src), "-map", "0:a:1", "-c:a", "copy"]
    assert subprocess.run([*g711, str(tmp_path / "g711.mp4")]).returncode
    report = mask_file(src, dst, pm.MaskSet(), keep_audio=True, progress=False)
    expected, got = stream(ref), stream(dst)
    assert {k: got.get(k) for k in KEPT} == {k: expected.get(k) for k in KEPT}
    assert expected["sample_aspect_ratio"] == "4:3" and expected["color_space"] == "bt709"
    audio = [s for s in probe_all(dst) if s["codec_type"] == "audio"]
    assert [s["codec_name"] for s in audio] == ["aac"]
    assert report.audio_streams == 1
    rear, g711 = report.dropped
    assert rear.startswith("stream 1 (video, mpeg4 64x48)")
    assert g711.startswith("stream 3 (audio, pcm_mulaw)") and "pcm_mulaw" in g711
    assert "2 streams dropped" in report.summary()


def probe_all(path: Path) -> list[dict[str, Any]]:
    return list(ffprobe_json(path, "-show_streams")["streams"])


@needs_ffmpeg
def test_hevc_in_mp4_is_tagged_for_apple_players(tmp_path: Path) -> None:
    src, dst = tmp_path / "src.mp4", tmp_path / "out.mp4"
    lavfi(src, "-c:v", "libx265", "-x265-params", "log-level=error", frames=5)
    assert stream(src)["codec_tag_string"] == "hev1"  # ffmpeg's default
    mask_file(src, dst, pm.MaskSet(), progress=False)
    assert stream(dst)["codec_name"] == "hevc" and stream(dst)["codec_tag_string"] == "hvc1"


@needs_ffmpeg
def test_the_video_stream_is_the_one_ffmpeg_picks_not_a_thumbnail_before_it(
    tmp_path: Path,
) -> None:
    """A Matroska file whose first video track is a one-picture cover (64x64) and whose second
    is the recording: privmask masks the stream ``ffmpeg -i IN OUT`` picks, the recording, and
    reports the cover as dropped. Before, the output was the cover alone (1 frame, exit 0)."""
    cover, rec, src = tmp_path / "cover.png", tmp_path / "rec.mp4", tmp_path / "cam.mkv"
    ffmpeg("-f", "lavfi", "-i", "color=red:size=64x64", "-frames:v", "1", cover)
    lavfi(rec, "-c:v", "libx264", frames=20, size="160x120")
    ffmpeg("-i", cover, "-i", rec, "-map", "0", "-map", "1", "-c:v:0", "mjpeg", "-c:v:1", "copy",
           "-disposition:v:0", "attached_pic", src)  # fmt: skip
    reference = tmp_path / "ffmpeg.mkv"
    ffmpeg("-i", src, "-c:v", "libx264", reference)
    picked = stream(reference)
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5), BLACK)])
    report = mask_file(src, tmp_path / "out.mkv", masks, progress=False)
    out = stream(tmp_path / "out.mkv")
    assert (out["width"], out["height"]) == (picked["width"], picked["height"]) == (160, 120)
    assert report.frames == len(frame_times(reference)) == 20
    assert any("64x64" in d for d in report.dropped)


# --- case 11: pixel formats cameras send -----------------------------------------------------


@needs_ffmpeg
@pytest.mark.parametrize(
    ("pix_fmt", "encode", "lossless"),
    [
        ("yuvj422p", ("-c:v", "mjpeg", "-q:v", "2"), True),
        ("yuv422p10le", ("-c:v", "libx264", "-crf", "10"), False),
        ("yuv444p10le", ("-c:v", "libx264", "-crf", "10"), False),
    ],
)
def test_camera_pixel_formats_are_masked_after_an_explicit_conversion(
    tmp_path: Path, pix_fmt: str, encode: tuple[str, ...], lossless: bool
) -> None:
    src, ref, dst = tmp_path / "cam.mkv", tmp_path / "ref.mkv", tmp_path / "out.mkv"
    lavfi(src, "-pix_fmt", pix_fmt, *encode, frames=10, size="128x96")
    ffmpeg("-i", src, "-c:v", "libx264", ref)
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5), BLACK)])
    report = mask_file(src, dst, masks, codec="libx264", progress=False)
    assert stream(dst)["pix_fmt"] == stream(ref)["pix_fmt"]
    assert report.converted is not None and report.converted.startswith(pix_fmt)
    assert ("without loss" in report.converted) == lossless
    shown, original = displayed_luma(dst).astype(int), displayed_luma(src).astype(int)
    assert shown[:, :48, :64].max() < 40  # full range (yuvj): black is luma 16 of 0..255
    assert np.abs(shown[:, 50:, :] - original[:, 50:, :]).mean() < 4


def _write_luma(
    path: Path, lumas: list[np.ndarray], display: tuple[float, bool, bool] | None
) -> None:
    """Lossless (FFV1) yuv420p frames with these luma planes and flat chroma."""
    h, w = lumas[0].shape
    chroma = np.full(((h + 1) // 2, (w + 1) // 2), 128, np.uint8)
    write_ffv1(path, [pm.Frame("yuv420p", [y, chroma, chroma.copy()]) for y in lumas], display)


def _displayed_y(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame's Y plane (limited range, as coded) as ffmpeg displays it (turned and
    mirrored by the display matrix), shape ``(frames, height, width)``."""
    assert FFMPEG is not None
    raw = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
        check=True,
        capture_output=True,
    ).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, width * height * 3 // 2)
    return frames[:, : width * height].reshape(-1, height, width)


def _phone_clip(tmp_path: Path, name: str) -> tuple[Path, Clip]:
    """A real face walking across, upright as displayed, stored turned/mirrored with the display
    matrix ``name``: ffmpeg (the reference) must show it upright."""
    from privmask.video.orient import Orientation, frame_orientation

    clip = make_clip(28)
    probe_path = tmp_path / "probe.mkv"
    _write_luma(probe_path, [np.zeros((4, 6), np.uint8)], ORIENTATIONS[name])
    with av.open(str(probe_path)) as inp:
        o = frame_orientation(next(inp.decode(video=0)))
    probe_path.unlink()
    back = Orientation(o.a, o.c, o.b, o.d)  # the inverse turn: its matrix transposed
    src = tmp_path / "phone.mkv"
    coded = [np.ascontiguousarray(back.show(f.planes[0])) for f in clip.frames]
    _write_luma(src, coded, ORIENTATIONS[name])
    shown = _displayed_y(src, clip.width, clip.height)
    assert np.array_equal(shown, np.stack([f.planes[0] for f in clip.frames]))
    return src, clip


@needs_ffmpeg
@pytest.mark.parametrize("name", ["rotate-90", "rotate-270", "rotate-180", "rotate-90-mirror"])
def test_a_rotated_recording_is_redacted_on_the_picture_as_displayed(
    tmp_path: Path, name: str
) -> None:
    """Phone and body-cam video: the detectors see people upright, the faces are masked where
    a player shows them, nothing else moves, and the output keeps the display matrix."""
    src, clip = _phone_clip(tmp_path, name)
    dst = tmp_path / "out.mkv"
    report = pm.redact_file(src, dst, faces=True, style=MASK, codec="ffv1", hold=2)
    before = _displayed_y(src, clip.width, clip.height)
    after = _displayed_y(dst, clip.width, clip.height)
    assert after.shape == before.shape == (28, clip.height, clip.width)
    widest = max(f[2] - f[0] for f in clip.face if f is not None)
    whole = 0
    for t, face in enumerate(clip.face):
        if face is not None and face[2] - face[0] == widest:  # the face all in view
            x0, y0, x1, y1 = face
            whole += 1
            assert (after[t, y0:y1, x0:x1] == 1).all(), f"frame {t}: face not masked"
    assert whole >= 10
    # Pixels are masked or untouched: the masked copy went back onto the pixels it shows.
    assert ((after == before) | (after == 1)).all()
    assert (after == 1).mean() < 0.15
    src_rot = [sd.get("rotation") for sd in stream(src).get("side_data_list", [])]
    assert [sd.get("rotation") for sd in stream(dst).get("side_data_list", [])] == src_rot
    side = json.loads(report.sidecar.read_text())
    assert side["orientation"] is not None and side["tracks"]
    # Track boxes are on the displayed picture: each first box is centred on that frame's face.
    for track in side["tracks"]:
        frame, x0, y0, x1, y1 = track["boxes"][0]
        fx0, fy0, fx1, fy1 = clip.face[frame]
        cx, cy = (x0 + x1) / 2 * clip.width, (y0 + y1) / 2 * clip.height
        assert fx0 <= cx <= fx1 and fy0 <= cy <= fy1


def test_a_quarter_turn_of_4_2_2_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    src, dst = tmp_path / "phone.mp4", tmp_path / "out.mkv"
    write_clip(src, display=ORIENTATIONS["rotate-90"], pix_fmt="yuv422p")
    with pytest.raises(VideoError, match=r"yuv422p picture rotated 90°.*yuv420p"):
        pm.redact_file(src, dst, motion=True, codec="ffv1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["phone.mp4"]
