"""``privmask.video.mask_file`` on real encoded video, made here with PyAV.

The clips are small (64x48 to 96x64, a dozen frames) but real: H.264 with P- and B-frames,
FFV1, MP4 and Matroska, audio, subtitles, attachments, chapters and metadata. The helpers are
imported by the CLI and Dask tests too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import privmask as pm
from privmask.video import MaskJob, decode_video, mask_file, mask_files

av = pytest.importorskip("av")

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CREATION_TIME = "2026-03-01T12:00:00.000000Z"  # START, as FFmpeg writes it


def make_clip(
    path: Path,
    *,
    codec: str = "libx264",
    frames: int = 12,
    size: tuple[int, int] = (64, 48),
    pix_fmt: str = "yuv420p",
    rate: int | Fraction = 25,
    time_base: Fraction | None = None,
    start_pts: int = 0,
    audio: str | None = None,
    creation_time: str | None = None,
    title: str | None = None,
    options: dict[str, str] | None = None,
    colour: bool = False,
) -> list[int]:
    """Writes a clip and returns its frames' pts. The picture is a fixed noise texture with a
    bright square moving across it: an inter-frame codec predicts most of each frame from the
    previous one, which is what exposes masks leaking into the decoder's reference frames."""
    width, height = size
    rng = np.random.default_rng(7)
    texture = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    tb = time_base or Fraction(1, rate)
    step = int(Fraction(1, rate) / tb)
    pts = [start_pts + i * step for i in range(frames)]
    # MP4 keeps a start pts off the millisecond grid only in the video's own time scale.
    options = {"movie_timescale": str(tb.denominator)} if path.suffix == ".mp4" else {}
    with av.open(str(path), "w", container_options=options) as out:
        if creation_time:
            out.metadata["creation_time"] = creation_time
        if title:
            out.metadata["title"] = title
            out.metadata["comment"] = "camera 7, 5th street"
        stream = out.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        if colour:  # BT.709, limited range, tagged explicitly
            cc = stream.codec_context
            cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1
        if title:
            stream.metadata["title"] = "cam 7 main"
        astream = None
        if audio:
            astream = out.add_stream(audio, rate=8000, layout="mono")
        for i, p in enumerate(pts):
            img = texture.copy()
            x = (i * 5) % max(width - 12, 1)
            img[8:20, x : x + 12] = 250
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
            frame.pts, frame.time_base = p, tb
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if astream is not None:
            _write_audio(out, astream, frames / rate)
    return pts


def _write_audio(out: Any, stream: Any, seconds: float) -> None:
    size = stream.codec_context.frame_size or 1024
    total = int(seconds * 8000)
    for start in range(0, total, size):
        samples = np.zeros((1, size), dtype=np.float32 if stream.name == "aac" else np.int16)
        fmt = "fltp" if stream.name == "aac" else "s16"
        af = av.AudioFrame.from_ndarray(samples, format=fmt, layout="mono")
        af.sample_rate, af.pts = 8000, start
        out.mux(stream.encode(af))
    out.mux(stream.encode(None))


def decode(path: Path) -> list[Any]:
    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def planes(frame: Any) -> list[np.ndarray]:
    return [p.copy() for p in pm.Frame.from_av(frame).planes]


def expected(frames: Sequence[Any], masks: pm.MaskSet, *, lifted: bool = False) -> list[pm.Frame]:
    """What ``apply`` makes of each decoded input frame (on copies)."""
    out = []
    for vf in frames:
        f = pm.Frame.from_av(vf).copy()
        pm.apply(f, masks, lifted=lifted)
        out.append(f)
    return out


def sample_masks() -> pm.MaskSet:
    return pm.MaskSet(
        [
            pm.Mask(pm.Polygon.rect(0.05, 0.1, 0.3, 0.4), pm.Solid("#3c4650"), name="window"),
            pm.Mask(pm.Polygon([(0.5, 0.05), (0.95, 0.1), (0.8, 0.6)]), pm.Mosaic(block_px=4)),
            pm.Mask(pm.Polygon.rect(0.3, 0.6, 0.5, 0.35), pm.Blur(sigma_px=3), liftable=True),
        ]
    )


def half(left: bool, y: int) -> pm.MaskSet:
    """A solid mask over the left or right half, luma ``y``: which one shows says which version
    of a timeline masked a frame."""
    x = 0.0 if left else 0.5
    return pm.MaskSet([pm.Mask(pm.Polygon.rect(x, 0, 0.5, 1), pm.Solid(yuv=(y, 128, 128)))])


def version_seen(frame: Any) -> str:
    luma = pm.Frame.from_av(frame).planes[0].astype(float)
    w = luma.shape[1]
    if abs(luma[:, : w // 2].mean() - 20) < 4:
        return "left"
    if abs(luma[:, w // 2 :].mean() - 230) < 4:
        return "right"
    return "none"


# --- what comes out ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src_codec", "src_ext", "pix_fmt", "out_codec", "out_ext", "options", "lifted"),
    [
        # H.264 source with B-frames: masks written into a reference picture must not leak into
        # the frames decoded after it. x264 at qp=0 is lossless, so the output is exact.
        ("libx264", ".mp4", "yuv420p", "libx264", ".mp4", {"qp": "0"}, False),
        ("libx264", ".mp4", "yuv420p", "libx264", ".mp4", {"qp": "0"}, True),
        ("ffv1", ".mkv", "yuv422p", "ffv1", ".mkv", {}, False),
        ("ffv1", ".mkv", "gray", "ffv1", ".mkv", {}, False),
        ("libx264", ".mkv", "yuv444p", "ffv1", ".mkv", {}, False),
    ],
)
def test_lossless_output_is_apply_on_the_decoded_input(
    tmp_path: Path,
    src_codec: str,
    src_ext: str,
    pix_fmt: str,
    out_codec: str,
    out_ext: str,
    options: dict[str, str],
    lifted: bool,
) -> None:
    src, dst = tmp_path / f"in{src_ext}", tmp_path / f"out{out_ext}"
    make_clip(
        src,
        codec=src_codec,
        pix_fmt=pix_fmt,
        size=(96, 64),
        options={"bf": "2"} if src_codec == "libx264" else None,
    )
    masks = sample_masks()
    # A lift id stands for a lift that export() checked and audited (tested in test_export).
    report = mask_file(
        src,
        dst,
        masks,
        codec=out_codec,
        encoder_options=options,
        lifted=lifted,
        lift_id="lift-under-test" if lifted else None,
    )
    want = expected(decode(src), masks, lifted=lifted)
    got = decode(dst)
    assert report.frames == len(got) == len(want) == 12
    assert got[0].format.name == pix_fmt
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        for k, (a, b) in enumerate(zip(planes(g), w.planes, strict=True)):
            np.testing.assert_array_equal(a, b, err_msg=f"frame {i}, plane {k}")
    assert [u.content_hash for u in report.versions] == [masks.content_hash]


def test_masking_a_decoded_picture_never_changes_the_pictures_decoded_after_it(
    tmp_path: Path,
) -> None:
    """The worst case for the pipeline, made deterministic: every picture is masked the moment
    it is decoded, before the next packet is. H.264 predicts each frame from earlier pictures
    held in the decoder's own buffers; unless the decoded picture is copied first, the mask
    leaks into every later frame."""
    src = tmp_path / "in.mp4"
    make_clip(src, frames=10, options={"bf": "0", "ref": "1", "sc_threshold": "0"})
    clean = [planes(f) for f in decode(src)]
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 1, 1), pm.Solid(yuv=(0, 0, 0)))])
    with av.open(str(src)) as c:
        video = c.streams.video[0]
        video.thread_type = "AUTO"
        seen = []
        for frame in decode_video(str(src), c, video):
            seen.append(planes(frame))
            pm.apply(frame, masks)
    assert len(seen) == 10
    for i, (a, b) in enumerate(zip(seen, clean, strict=True)):
        for k, (pa, pb) in enumerate(zip(a, b, strict=True)):
            np.testing.assert_array_equal(pa, pb, err_msg=f"frame {i}, plane {k}")


def test_lossy_output_keeps_solid_regions_near_their_colour(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(src, size=(96, 64))
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0.25, 0.25, 0.5, 0.5), pm.Solid("#3c4650"))])
    mask_file(src, dst, masks)  # libx264 at its default CRF
    blank = pm.Frame.blank("yuv420p", 96, 64)
    pm.apply(blank, masks)
    colour = [int(p[p.shape[0] // 2, p.shape[1] // 2]) for p in blank.planes]
    for frame in decode(dst):
        y, u, v = pm.Frame.from_av(frame).planes
        # The inside of the cover, away from the edges a lossy codec blurs across.
        inner = [y[20:44, 28:68], u[10:22, 14:34], v[10:22, 14:34]]
        for plane, want in zip(inner, colour, strict=True):
            assert np.abs(plane.astype(int) - want).max() <= 3
        # And the texture outside survived (it is not all one colour).
        assert y[:, :16].std() > 20


# --- the timeline, frame by frame ----------------------------------------------------------------


@pytest.mark.parametrize("switch_before", [True, False])
def test_the_timeline_switches_at_exactly_the_right_frame(
    tmp_path: Path, switch_before: bool
) -> None:
    """NTSC timing in a 1/90000 time base (3003 ticks a frame) from a start 7 s in: frame
    times are not whole microseconds, so only exact arithmetic puts a ``since`` one microsecond
    either side of a frame on the right side of it. The recording start is the time of the
    first frame: frame k was recorded ``(pts[k] - pts[0]) * time_base`` after it."""
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    tb = Fraction(1, 90000)
    make_clip(
        src, time_base=tb, rate=Fraction(30000, 1001), start_pts=90000 * 7, options={"bf": "0"}
    )
    pts = [f.pts for f in decode(src)]  # as stored (MP4 edit lists round the start to 1 ms)
    assert pts[0] > 0 and pts[1] - pts[0] == 3003
    k = 4
    at_k = (pts[k] - pts[0]) * tb  # seconds after START, exactly: 0.133466666... s
    # More than half a microsecond past a whole one: rounding to datetime's microseconds (what
    # timedelta(seconds=float) does) would put the frame after a ``since`` it precedes.
    assert at_k * 1_000_000 % 1 > Fraction(1, 2)
    floor_us = int(at_k * 1_000_000)
    since = START + timedelta(microseconds=floor_us if switch_before else floor_us + 1)
    timeline = pm.MaskTimeline(
        [(START - timedelta(days=30), half(True, 20)), (since, half(False, 230))]
    )
    report = mask_file(src, dst, timeline, start=START)
    first_right = k if switch_before else k + 1
    seen = [version_seen(f) for f in decode(dst)]
    assert seen == ["left"] * first_right + ["right"] * (12 - first_right)
    v0, v1 = report.versions
    assert (v0.first_frame, v0.last_frame, v1.first_frame, v1.last_frame) == (
        0,
        first_right - 1,
        first_right,
        11,
    )
    assert v1.since == since and v1.content_hash == timeline[1].content_hash


def test_the_start_comes_from_creation_time_else_a_long_timeline_is_refused(
    tmp_path: Path,
) -> None:
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    pts = make_clip(src, creation_time=CREATION_TIME, start_pts=1000)
    since = START + timedelta(seconds=float(Fraction(pts[6] - pts[0], 25)))  # frame 6, exactly
    timeline = pm.MaskTimeline([(START, half(True, 20)), (since, half(False, 230))])
    report = mask_file(src, dst, timeline)
    assert report.start == START
    assert [version_seen(f) for f in decode(dst)] == ["left"] * 6 + ["right"] * 6
    # Without creation_time, a timeline of one version needs no start...
    bare = tmp_path / "bare.mp4"
    make_clip(bare)
    mask_file(bare, dst, pm.MaskTimeline([(START, half(True, 20))]))
    assert {version_seen(f) for f in decode(dst)} == {"left"}
    # ... but with two, the frames cannot be placed on it.
    with pytest.raises(pm.VideoError, match=r"no creation_time .* 2 versions"):
        mask_file(bare, tmp_path / "never.mp4", timeline)
    assert not (tmp_path / "never.mp4").exists()


# --- what is kept, what is dropped ------------------------------------------------------------


def test_frames_pts_time_base_rate_geometry_and_colour_are_kept(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    tb = Fraction(1, 90000)
    pts = make_clip(
        src,
        time_base=tb,
        start_pts=90000 * 3 + 17,
        size=(64, 48),
        colour=True,
        rate=30,
        options={"bf": "2"},
    )
    mask_file(src, dst, sample_masks())
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        va, vb = a.streams.video[0], b.streams.video[0]
        assert vb.time_base == va.time_base == tb
        assert vb.average_rate == va.average_rate == 30
        ca, cb = va.codec_context, vb.codec_context
        for attr in (
            "width",
            "height",
            "colorspace",
            "color_primaries",
            "color_trc",
            "color_range",
        ):
            assert getattr(cb, attr) == getattr(ca, attr), attr
        assert cb.format.name == "yuv420p" and cb.colorspace == 1
        out_pts = [f.pts for f in b.decode(vb)]
    assert out_pts == pts


def _mkv_with_everything(path: Path) -> None:
    """Video, FLAC audio, an SRT subtitle, an attachment, chapters and metadata."""
    with av.open(str(path), "w") as out:
        out.metadata["title"] = "secret source"
        video = out.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.metadata["title"] = "cam 7 main"
        audio = out.add_stream("flac", rate=8000, layout="mono")
        sub = out.add_mux_stream("subrip")
        sub.time_base = Fraction(1, 1000)
        out.add_attachment("site.txt", "text/plain", b"camera 7 at 5th street")
        out.set_chapters(
            [
                {
                    "id": 1,
                    "start": 0,
                    "end": 10,
                    "time_base": Fraction(1, 25),
                    "metadata": {"title": "entrance"},
                }
            ]
        )
        for i in range(6):
            rgb = np.full((48, 64, 3), 20 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        _write_audio(out, audio, 0.24)
        packet = av.Packet(b"Mr Smith, 5th street")
        packet.stream, packet.pts, packet.dts, packet.duration = sub, 0, 0, 200
        packet.time_base = sub.time_base
        out.mux(packet)


def test_metadata_subtitles_attachments_and_chapters_are_dropped(tmp_path: Path) -> None:
    src = tmp_path / "in.mkv"
    _mkv_with_everything(src)
    with av.open(str(src)) as c:
        assert {s.type for s in c.streams} == {"video", "audio", "subtitle", "attachment"}
        assert c.metadata["title"] and c.chapters()
    for keep_audio, kinds in ((False, ["video"]), (True, ["video", "audio"])):
        dst = tmp_path / f"out-{keep_audio}.mkv"
        report = mask_file(src, dst, sample_masks(), keep_audio=keep_audio)
        assert report.audio_streams == int(keep_audio)
        data = dst.read_bytes()
        with av.open(str(dst)) as c:
            assert [s.type for s in c.streams] == kinds
            assert "title" not in c.metadata and "comment" not in c.metadata
            assert c.chapters() == []
            assert "title" not in c.streams.video[0].metadata
            assert len(list(c.decode(video=0))) == 6
        for secret in (b"secret source", b"cam 7 main", b"5th street", b"entrance"):
            assert secret not in data, secret


def test_audio_is_copied_only_when_asked(tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    make_clip(src, audio="aac", creation_time=CREATION_TIME, title="secret")
    with av.open(str(src)) as c:
        source_audio = [bytes(p) for p in c.demux(audio=0) if p.size]
    mask_file(src, tmp_path / "silent.mp4", sample_masks())
    with av.open(str(tmp_path / "silent.mp4")) as c:
        assert [s.type for s in c.streams] == ["video"]
        assert "creation_time" not in c.metadata and "title" not in c.metadata
    mask_file(src, tmp_path / "sound.mp4", sample_masks(), keep_audio=True)
    with av.open(str(tmp_path / "sound.mp4")) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        copied = [bytes(p) for p in c.demux(audio=0) if p.size]
    assert copied == source_audio  # copied packet for packet, not re-encoded


# --- failures leave nothing behind ---------------------------------------------------------------


def _corrupt_a_packet(src: Path, dst: Path, index: int) -> None:
    data = bytearray(src.read_bytes())
    with av.open(str(src)) as c:
        packet = [p for p in c.demux(video=0) if p.size][index]
    start, end = packet.pos + 8, packet.pos + packet.size - 8
    data[start:end] = np.random.default_rng(3).integers(0, 256, end - start, np.uint8).tobytes()
    dst.write_bytes(bytes(data))


def _failure_cases(tmp: Path) -> dict[str, tuple[Any, ...]]:
    """name -> (src, dst, masks, kwargs, error, message)"""
    good = tmp / "good.mp4"
    make_clip(good)
    ffv1 = tmp / "good.mkv"
    make_clip(ffv1, codec="ffv1", options={"slicecrc": "1"}, pix_fmt="yuv444p")
    corrupt = tmp / "corrupt.mkv"
    _corrupt_a_packet(ffv1, corrupt, 6)
    junk = tmp / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 4000, np.uint8).tobytes())
    (tmp / "a-file").write_text("not a directory")
    (tmp / "a-dir.mp4").mkdir()
    late = pm.MaskTimeline([(START + timedelta(seconds=0.2), sample_masks())])
    m = sample_masks()
    out = tmp / "out.mp4"
    return {
        "missing input": (tmp / "nope.mp4", out, m, {}, FileNotFoundError, "nope.mp4"),
        "not a video": (junk, out, m, {}, pm.VideoError, "not a readable video"),
        "corrupt packet": (corrupt, tmp / "out.mkv", m, {}, pm.VideoError, "corrupt input"),
        "recorded before the first version": (
            good,
            out,
            late,
            {"start": START},
            pm.NoMasksInForceError,
            r"frame 0 \(pts 0\).*before the timeline's first",
        ),
        "unknown codec": (good, out, m, {"codec": "nosuch"}, pm.VideoError, "no encoder"),
        "codec without the pixel format": (
            ffv1,
            out,
            m,
            {"codec": "mpeg4"},
            pm.VideoError,
            "cannot encode yuv444p",
        ),
        "unknown container": (
            good,
            tmp / "out.nosuchext",
            m,
            {},
            pm.VideoError,
            "container format",
        ),
        "no such directory": (
            good,
            tmp / "none" / "out.mp4",
            m,
            {},
            FileNotFoundError,
            "directory does not exist",
        ),
        "destination is a directory": (
            good,
            tmp / "a-dir.mp4",
            m,
            {},
            IsADirectoryError,
            "a directory",
        ),
        "parent is a file": (
            good,
            tmp / "a-file" / "out.mp4",
            m,
            {},
            NotADirectoryError,
            "not a directory",
        ),
        "quality on a lossless codec": (
            good,
            tmp / "out.mkv",
            m,
            {"codec": "ffv1", "quality": 10},
            ValueError,
            "crf",
        ),
        "unknown encoder option": (
            good,
            out,
            m,
            {"encoder_options": {"presett": "fast"}},
            ValueError,
            "no option 'presett'",
        ),
        "output is the input": (good, good, m, {}, ValueError, "the source itself"),
    }


FAILURES = [
    "missing input",
    "not a video",
    "corrupt packet",
    "recorded before the first version",
    "unknown codec",
    "codec without the pixel format",
    "unknown container",
    "no such directory",
    "destination is a directory",
    "parent is a file",
    "quality on a lossless codec",
    "unknown encoder option",
    "output is the input",
]


@pytest.mark.parametrize("case", FAILURES)
def test_every_failure_is_specific_and_leaves_no_output(tmp_path: Path, case: str) -> None:
    src, dst, masks, kwargs, error, message = _failure_cases(tmp_path)[case]
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    with pytest.raises(error, match=message):
        mask_file(src, dst, masks, **kwargs)
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert after == before  # nothing written, nothing left behind, nothing changed


def test_a_failure_mid_stream_keeps_the_previous_output(tmp_path: Path) -> None:
    src, bad, dst = tmp_path / "in.mkv", tmp_path / "bad.mkv", tmp_path / "out.mkv"
    make_clip(src, codec="ffv1", options={"slicecrc": "1"})
    _corrupt_a_packet(src, bad, 9)  # frames 0-8 are masked and encoded before it fails
    dst.write_bytes(b"yesterday's export")
    with pytest.raises(pm.VideoError, match="corrupt input") as info:
        mask_file(bad, dst, sample_masks())
    assert info.value.packet == 9 and "video packet 9 (pts 360)" in str(info.value)
    assert dst.read_bytes() == b"yesterday's export"
    assert sorted(os.listdir(tmp_path)) == ["bad.mkv", "in.mkv", "out.mkv"]
    mask_file(src, dst, sample_masks())  # and a successful run replaces it
    assert len(decode(dst)) == 12


# --- batches ----------------------------------------------------------------------------------


def test_mask_files_on_the_default_process_pool(tmp_path: Path) -> None:
    src = tmp_path / "in.mkv"
    make_clip(src, codec="ffv1")
    masks = sample_masks()
    jobs = [MaskJob(src, tmp_path / f"out{i}.mkv", masks) for i in range(2)]
    reports = mask_files(jobs, progress=False)
    assert [r.dst for r in reports] == [str(j.dst) for j in jobs]
    assert all(r.frames == 12 and not r.worker.endswith(f":{os.getpid()}") for r in reports)
    want = expected(decode(src), masks)
    for job in jobs:
        got = decode(Path(job.dst))
        np.testing.assert_array_equal(planes(got[-1])[0], want[-1].planes[0])
    with pytest.raises(ValueError, match="both write"):
        mask_files([jobs[0], jobs[0]])


def test_mask_file_never_lifts_without_an_authorised_lift(tmp_path: Path) -> None:
    """``mask_file(lifted=True)`` alone would leave the liftable masks out with no permission,
    approver, expiry or audit record: refused before anything is read or written."""
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(src)
    with pytest.raises(pm.LiftDeniedError, match=r"privmask.export\(.*lift="):
        mask_file(src, dst, sample_masks(), lifted=True)
    assert not dst.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
