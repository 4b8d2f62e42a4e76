"""The ``privmask`` command: ``mask`` (one file, or many with processes), ``pipe`` (raw video on
stdin/stdout, in FFmpeg's rawvideo framing) and ``validate``."""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import privmask as pm
from privmask.cli.main import main
from privmask.video import frame_bytes, mask_raw
from tests.test_video import (
    CREATION_TIME,
    START,
    decode,
    expected,
    half,
    make_clip,
    planes,
    sample_masks,
    version_seen,
)

av = pytest.importorskip("av")


def _write(path: Path, masks: pm.MaskSet | pm.MaskTimeline) -> Path:
    path.write_text(masks.to_json())
    return path


def _timeline() -> pm.MaskTimeline:
    return pm.MaskTimeline(
        [
            (START - timedelta(days=1), half(True, 20)),
            (START + timedelta(seconds=0.2), half(False, 230)),
        ]
    )


# --- validate ---------------------------------------------------------------------------------


def test_validate_describes_both_kinds_of_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    masks = sample_masks()
    assert main(["validate", str(_write(tmp_path / "set.json", masks))]) == 0
    out = capsys.readouterr().out
    assert "valid mask set" in out and "3 masks" in out and masks.content_hash in out
    assert "mosaic(block_px=4.0), bounded, permanent" in out
    assert "blur(sigma_px=3.0), bounded, liftable" in out
    timeline = _timeline()
    assert main(["validate", str(_write(tmp_path / "tl.json", timeline))]) == 0
    out = capsys.readouterr().out
    assert "valid timeline" in out and "2 versions" in out
    assert f"timeline[1]: since {timeline[1].since.isoformat()}" in out
    assert timeline[1].content_hash in out


def test_validate_names_the_bad_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(_timeline().to_json())
    doc["timeline"][1]["since"] = "2026-03-01T12:00:00"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("privmask: error: ")
    assert "bad.json: timeline[1].since: Input should have timezone info" in err
    assert "Traceback" not in err
    assert main(["validate", str(tmp_path / "missing.json")]) == 1
    assert "missing.json: No such file or directory" in capsys.readouterr().err


# --- mask -------------------------------------------------------------------------------------


def test_mask_one_file_with_a_timeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(src, creation_time=CREATION_TIME)
    timeline = _timeline()
    args = ["mask", str(src), str(dst), "--masks", str(_write(tmp_path / "tl.json", timeline))]
    assert main([*args, "--encoder-option", "preset=ultrafast", "--crf", "18"]) == 0
    out = capsys.readouterr().out
    assert f"{src} -> {dst}: 12 frames (libx264)" in out
    assert timeline[0].content_hash[:12] in out and timeline[1].content_hash[:12] in out
    assert [version_seen(f) for f in decode(dst)] == ["left"] * 5 + ["right"] * 7
    # --start overrides the file's creation_time: a day later, only the second version applies.
    assert main([*args, "--start", "2026-03-02T12:00:00+00:00", "-q"]) == 0
    assert {version_seen(f) for f in decode(dst)} == {"right"}


def test_mask_many_files_into_a_directory_with_processes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = []
    for name in ("a", "b"):
        make_clip(tmp_path / f"{name}.mkv", codec="ffv1")
        inputs.append(str(tmp_path / f"{name}.mkv"))
    (tmp_path / "c.mkv").write_bytes(b"not a video")
    inputs.append(str(tmp_path / "c.mkv"))
    out_dir = tmp_path / "masked"
    out_dir.mkdir()
    masks = _write(tmp_path / "m.json", sample_masks())
    code = main(["mask", *inputs, "--out-dir", str(out_dir), "--masks", str(masks), "--jobs", "2"])
    assert code == 1  # one input failed ...
    captured = capsys.readouterr()
    assert "c.mkv: not a readable video" in captured.err and "Traceback" not in captured.err
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.mkv", "b.mkv"]  # ... the others not
    want = expected(decode(tmp_path / "a.mkv"), sample_masks())
    np.testing.assert_array_equal(planes(decode(out_dir / "a.mkv")[3])[0], want[3].planes[0])
    assert captured.out.count("12 frames (ffv1)") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mask", "a.mp4", "b.mp4", "c.mp4", "--masks", "m.json"], "give IN OUT"),
        (
            ["mask", "a.mp4", "b.mp4", "--masks", "m.json", "--start", "2026-03-01T12:00:00"],
            "no UTC offset",
        ),
        (["mask", "a.mp4", "b.mp4", "--masks", "m.json", "--jobs", "0"], "positive"),
        (["mask", "a.mp4", "b.mp4", "--masks", "m.json", "--crf", "-1"], "non-negative"),
        (["pipe", "--size", "64by48", "--masks", "m.json"], "frame size like"),
        (["pipe", "--size", "64x48", "--masks", "m.json", "--pix-fmt", "rgb48"], "invalid choice"),
        (["pipe", "--size", "64x48", "--masks", "m.json", "--fps", "0"], "positive"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("mask", "pipe", "validate"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        assert f"usage: privmask {command}" in capsys.readouterr().out


# --- pipe -------------------------------------------------------------------------------------


def _raw_from(
    path: Path, size: tuple[int, int], pix_fmt: str = "yuv420p"
) -> tuple[bytes, list[Any]]:
    """What ``ffmpeg -i path -f rawvideo -pix_fmt ... -`` writes, made with PyAV's rawvideo
    muxer; and the decoded frames it came from."""
    frames = [f.reformat(width=size[0], height=size[1], format=pix_fmt) for f in decode(path)]
    buf = io.BytesIO()
    with av.open(buf, "w", format="rawvideo") as out:
        stream = out.add_stream("rawvideo", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], pix_fmt
        for f in frames:
            out.mux(stream.encode(f))
        out.mux(stream.encode(None))
    return buf.getvalue(), frames


def _frames_of(raw: bytes, size: tuple[int, int], pix_fmt: str = "yuv420p") -> list[Any]:
    """What ``ffmpeg -f rawvideo -pix_fmt ... -s WxH -i -`` reads, with PyAV's demuxer."""
    options = {"video_size": f"{size[0]}x{size[1]}", "pixel_format": pix_fmt, "framerate": "25"}
    with av.open(io.BytesIO(raw), format="rawvideo", options=options) as c:
        return list(c.decode(video=0))


def test_pipe_round_trips_raw_frames_through_a_real_process(tmp_path: Path) -> None:
    """``python -m privmask pipe`` between a PyAV rawvideo muxer and demuxer, which frame the
    bytes exactly as ``ffmpeg -f rawvideo`` does (odd sizes included)."""
    src = tmp_path / "in.mp4"
    make_clip(src)
    size = (65, 47)
    raw, frames = _raw_from(src, size)
    assert len(raw) == 12 * frame_bytes("yuv420p", *size)
    masks = _write(tmp_path / "m.json", sample_masks())
    cmd = [sys.executable, "-m", "privmask", "pipe", "--size", "65x47", "--masks", str(masks)]
    done = subprocess.run(cmd, input=raw, capture_output=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    # stderr holds the one-line summary and nothing else (stdout is the video).
    summary = r"privmask pipe: 12 frames \(65x47 yuv420p\) in [\d.]+ s \(\d+ fps\); masks "
    assert re.fullmatch(summary + sample_masks().content_hash[:12] + "\n", done.stderr.decode())
    got = _frames_of(done.stdout, size)
    want = expected(frames, sample_masks())
    assert len(got) == len(want) == 12
    for g, w in zip(got, want, strict=True):
        for a, b in zip(planes(g), w.planes, strict=True):
            np.testing.assert_array_equal(a, b)


def test_pipe_short_read_is_an_error_not_a_dropped_frame(tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    make_clip(src)
    raw, _ = _raw_from(src, (64, 48))
    size = frame_bytes("yuv420p", 64, 48)
    masks = _write(tmp_path / "m.json", sample_masks())
    cmd = [sys.executable, "-m", "privmask", "pipe", "--size", "64x48", "--masks", str(masks)]
    cut = raw[: 3 * size + 100]
    done = subprocess.run(cmd, input=cut, capture_output=True, check=False, timeout=60)
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "ended 100 bytes into frame 3" in err and "Traceback" not in err
    assert len(done.stdout) == 3 * size  # the whole frames before it, and nothing of frame 3


@pytest.mark.parametrize("closed", ["stdin", "stdout"])
def test_pipe_with_a_closed_end_says_which_in_one_line(tmp_path: Path, closed: str) -> None:
    """Started with ``<&-`` or ``>&-`` (a service with no stdin): one line, no traceback."""
    masks = _write(tmp_path / "m.json", sample_masks())
    cmd = [sys.executable, "-m", "privmask", "pipe", "--size", "64x48", "--masks", str(masks)]
    redirect = "<&-" if closed == "stdin" else ">&- </dev/null"
    done = subprocess.run(
        f"{shlex.join(cmd)} {redirect}", shell=True, capture_output=closed == "stdin",
        stderr=subprocess.PIPE if closed == "stdout" else None, text=True, check=False,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"privmask: error: {closed} is closed: 'privmask pipe' reads raw frames on stdin and "
        "writes them masked on stdout"
    ]


def test_pipe_without_memory_for_its_frames_names_the_size(tmp_path: Path) -> None:
    import resource

    masks = _write(tmp_path / "m.json", sample_masks())
    cmd = [sys.executable, "-m", "privmask", "pipe", "--size", "16384x16384", "--masks",
           str(masks)]  # fmt: skip

    def limit() -> None:  # 3 GB of address space: the interpreter and libraries fit, the ring not
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))

    with open("/dev/zero", "rb") as zeros:
        done = subprocess.run(
            cmd, stdin=zeros, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            preexec_fn=limit, check=False, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "privmask: error: not enough memory for 16384x16384 yuv420p frames (384 MiB each, a few "
        "held at once): give a smaller --size"
    ]


def test_pipe_places_frames_on_a_timeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.mp4"
    make_clip(src)
    raw, _ = _raw_from(src, (64, 48))
    tl = _write(tmp_path / "tl.json", _timeline())  # switches 0.2 s after START

    def run(*extra: str) -> tuple[int, bytes, str]:
        stdin, stdout = io.BytesIO(raw), io.BytesIO()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stdin))
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(stdout))
        code = main(["pipe", "--size", "64x48", "--masks", str(tl), *extra])
        return code, stdout.getvalue(), capsys.readouterr().err

    code, out, err = run("--fps", "50", "--start", START.isoformat())
    assert code == 0, err
    assert [version_seen(f) for f in _frames_of(out, (64, 48))] == ["left"] * 10 + ["right"] * 2
    code, out, err = run("--fps", "25")
    assert code == 1 and "give the stream's start time and frame rate" in err
    assert out == b""


def test_mask_raw_handles_every_format_in_ffmpeg_framing() -> None:
    masks = sample_masks()
    for fmt in pm.FORMATS:
        size = frame_bytes(fmt, 33, 17)
        rng = np.random.default_rng(0)
        data = rng.integers(0, 256, 2 * size, dtype=np.uint8)
        if fmt.endswith("10le"):  # 10-bit samples in 16-bit little-endian words
            words = data.view("<u2") & (0x3FF if fmt != "p010le" else 0xFFC0)
            data = words.view(np.uint8)
        out = io.BytesIO()
        assert (
            mask_raw(io.BytesIO(data.tobytes()), out, masks, width=33, height=17, pix_fmt=fmt) == 2
        )
        assert len(out.getvalue()) == len(data.tobytes())
        assert out.getvalue() != data.tobytes(), fmt


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg binary installed")
def test_pipe_between_two_real_ffmpeg_processes(tmp_path: Path) -> None:
    """The README's command line, verbatim, when an ffmpeg binary is there."""
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mkv"
    make_clip(src)
    masks = _write(tmp_path / "m.json", sample_masks())
    privmask = f"{sys.executable} -m privmask"
    line = (
        f"ffmpeg -loglevel error -i {src} -f rawvideo -pix_fmt yuv420p - "
        f"| {privmask} pipe --size 64x48 --masks {masks} "
        f"| ffmpeg -loglevel error -f rawvideo -pix_fmt yuv420p -s 64x48 -r 25 -i - "
        f"-c:v ffv1 {dst}"
    )
    subprocess.run(["bash", "-o", "pipefail", "-c", line], check=True, timeout=60)
    want = expected(decode(src), sample_masks())
    got = decode(dst)
    assert len(got) == 12
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(planes(g)[0], w.planes[0])
