"""The command line meets people where they are: ``--masks`` in the formats people have (Frigate
YAML, ONVIF XML) told apart by content, ``convert`` between them, ``preview`` stills, output
folders created, progress bars on a terminal, one-line and ``--json`` summaries, the recording
start asked for before decoding, and exit status 3 when a pose track leaves frames uncovered."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import privmask as pm
from privmask.cli.main import COMMANDS, main
from tests.test_video import (
    CREATION_TIME,
    START,
    decode,
    expected,
    half,
    make_clip,
    planes,
    version_seen,
)

av = pytest.importorskip("av")

# Four zones on a 64x48 frame, as privmask JSON, a Frigate config and ONVIF XML would hold them.
ZONES = pm.MaskSet(
    [
        pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5), name="motion.mask[0]"),
        pm.Mask(pm.Polygon([(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 1)]), name="motion.mask[1]"),
        pm.Mask(pm.Polygon([(0.125, 0.625), (0.375, 0.625), (0.375, 0.875)]), name="zones.door"),
    ]
)

FRIGATE = """\
mqtt:
  enabled: false
cameras:
  front:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:8554/front
          roles: [detect, record]
    detect:
      width: 64
      height: 48
      fps: 5
    motion:
      threshold: 30
      mask:
        - 0,0,32,0,32,24,0,24               # pixels of the detect stream (older releases)
        - 0.5,0.5,1,0.5,1,1,0.5,1
    zones:
      door:
        coordinates:
          - 0.125,0.625
          - 0.375,0.625
          - 0.375,0.875
        objects: [person]
"""

# Newer Frigate releases: named masks that can be disabled, and a config of several cameras.
FRIGATE_NAMED = """\
cameras:
  back:
    motion:
      mask:
        lawn:
          friendly_name: Lawn
          coordinates: 0.5,0.5,1,0.5,1,1
          enabled: false
  front:
    motion:
      mask:
        street:
          friendly_name: Street
          coordinates: 0,0,0.5,0,0.5,0.5,0,0.5
        old_tree:
          coordinates: 0.5,0.5,1,0.5,1,1
          enabled: false
"""

ONVIF = """\
<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
            xmlns:tr2="http://www.onvif.org/ver20/media/wsdl"
            xmlns:tt="http://www.onvif.org/ver10/schema">
  <s:Body>
    <tr2:GetMasksResponse>
      <tr2:Masks token="top-left">
        <tr2:ConfigurationToken>vsc0</tr2:ConfigurationToken>
        <tr2:Polygon>
          <tt:Point x="-1" y="1"/><tt:Point x="0" y="1"/>
          <tt:Point x="0" y="0"/><tt:Point x="-1" y="0"/>
        </tr2:Polygon>
        <tr2:Type>Color</tr2:Type>
        <tr2:Color X="16" Y="128" Z="128"
                   Colorspace="http://www.onvif.org/ver10/colorspace/YCbCr"/>
        <tr2:Enabled>true</tr2:Enabled>
      </tr2:Masks>
      <tr2:Masks token="off">
        <tr2:ConfigurationToken>vsc0</tr2:ConfigurationToken>
        <tr2:Polygon>
          <tt:Point x="0" y="0"/><tt:Point x="1" y="0"/><tt:Point x="1" y="-1"/>
        </tr2:Polygon>
        <tr2:Type>Pixelated</tr2:Type>
        <tr2:Enabled>false</tr2:Enabled>
      </tr2:Masks>
    </tr2:GetMasksResponse>
  </s:Body>
</s:Envelope>
"""


def _same_pictures(a: Path, b: Path) -> None:
    for fa, fb in zip(decode(a), decode(b), strict=True):
        for pa, pb in zip(planes(fa), planes(fb), strict=True):
            np.testing.assert_array_equal(pa, pb)


# --- --masks in any format -------------------------------------------------------------------


def test_masks_from_frigate_yaml_and_onvif_xml_mask_like_their_json(tmp_path: Path) -> None:
    src = tmp_path / "in.mkv"
    make_clip(src, codec="ffv1")
    (tmp_path / "frigate.yml").write_text(FRIGATE)
    (tmp_path / "camera.xml").write_text(ONVIF)
    (tmp_path / "zones.json").write_text(ZONES.to_json())
    top_left = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5), pm.Solid(yuv=(16, 128, 128)))])
    (tmp_path / "top-left.json").write_text(top_left.to_json())
    for masks, reference in (("frigate.yml", "zones.json"), ("camera.xml", "top-left.json")):
        got, want = tmp_path / f"{masks}.mkv", tmp_path / f"{reference}.mkv"
        for m, dst in ((masks, got), (reference, want)):
            assert main(["mask", str(src), str(dst), "--masks", str(tmp_path / m), "-q"]) == 0
        _same_pictures(got, want)
    # and the masks really are there: the first frame is the input with ZONES applied
    want_frames = expected(decode(src)[:1], ZONES)
    np.testing.assert_array_equal(
        planes(decode(tmp_path / "frigate.yml.mkv")[0])[0], want_frames[0].planes[0]
    )


def test_validate_names_the_format_and_each_mask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "frigate.yml").write_text(FRIGATE)
    assert main(["validate", str(tmp_path / "frigate.yml")]) == 0
    out = capsys.readouterr().out
    assert "valid mask set from a Frigate config (camera front), 3 masks, content_hash " in out
    assert ZONES.content_hash in out  # pixels scaled by detect.width/height: the same geometry
    assert "'zones.door'" in out and "'motion.mask[1]'" in out
    (tmp_path / "camera.xml").write_text(ONVIF)
    assert main(["validate", str(tmp_path / "camera.xml")]) == 0
    out = capsys.readouterr().out
    assert "valid mask set from ONVIF XML, 1 masks" in out and "'top-left'" in out  # one enabled


def test_frigate_named_masks_and_a_choice_of_cameras(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "config.yml"
    cfg.write_text(FRIGATE_NAMED)
    assert main(["validate", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "2 cameras (back, front): choose one" in err and "--camera back" in err
    assert main(["validate", str(cfg), "--camera", "front"]) == 0
    assert "from a Frigate config (camera front), 1 masks" in capsys.readouterr().out
    out = tmp_path / "front.json"
    assert main(["convert", str(cfg), str(out), "--camera", "front"]) == 0
    front = pm.MaskSet.from_json(out.read_text())
    assert [m.name for m in front] == ["Street"]  # the disabled mask is left out
    assert front[0].shape == pm.Polygon.rect(0, 0, 0.5, 0.5)
    assert main(["convert", str(cfg), str(out), "--camera", "side"]) == 1
    assert "no camera 'side'; the config has back, front" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: front\nfps: 5\n", "not a mask file privmask reads: expected privmask JSON"),
        ("just some words", "Frigate config in YAML"),
        ("key: [unclosed\n", "as YAML"),
        ("<config><camera/></config>", "an XML document with no ONVIF masks (root <config>)"),
        ("<GetMasksResponse><Masks>", "not well-formed XML"),
        ('{"privmask": 1, "poses": [{"t": 0, "pan": 0, "tilt": 0, "hfov": 40}]}', "--poses"),
        ('{"privmask": 1, "masks": [{"polygon": [[0, 0], [1, 0]]}]}', "masks[0].polygon"),
        (
            "cameras:\n  c:\n    motion:\n      mask: 0,0,20,0,20,20\n",
            "cameras.c.motion.mask: pixel coordinates",
        ),
        (
            "cameras:\n  c:\n    zones:\n      z:\n        coordinates: 0,0,x,1,1,1\n",
            "cameras.c.zones.z.coordinates: value 2 is not a number",
        ),
        ("cameras:\n  c:\n    detect:\n      fps: 5\n", "no motion.mask and no zones"),
    ],
)
def test_a_file_of_no_known_format_says_which_formats_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    src, dst = tmp_path / "in.mkv", tmp_path / "out.mkv"
    make_clip(src, codec="ffv1", frames=2)
    bad = tmp_path / "masks.conf"
    bad.write_text(content)
    assert main(["mask", str(src), str(dst), "--masks", str(bad)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "not valid JSON" not in err
    assert not dst.exists()


# --- convert ----------------------------------------------------------------------------------


def test_convert_between_json_frigate_and_onvif(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    styled = pm.MaskSet(
        [
            pm.Mask(pm.Polygon.rect(0.1, 0.2, 0.3, 0.4), pm.Solid(yuv=(16, 128, 128)), name="a"),
            pm.Mask(pm.Polygon([(0.5, 0.1), (0.9, 0.15), (0.7, 0.6)]), pm.Mosaic(), name="b"),
        ]
    )
    src = tmp_path / "masks.json"
    src.write_text(styled.to_json())
    assert main(["convert", str(src), str(tmp_path / "m.xml")]) == 0
    assert "2 masks from privmask JSON, written as onvif" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "m.xml"), str(tmp_path / "back.json")]) == 0
    assert pm.MaskSet.from_json((tmp_path / "back.json").read_text()) == styled  # exact
    assert main(["convert", str(src), str(tmp_path / "m.yaml"), "--camera", "gate"]) == 0
    text = (tmp_path / "m.yaml").read_text()
    assert "cameras:" in text and "# a" in text
    assert main(["convert", str(tmp_path / "m.yaml"), str(tmp_path / "f.json")]) == 0
    from_frigate = pm.MaskSet.from_json((tmp_path / "f.json").read_text())
    assert [m.shape for m in from_frigate] == [m.shape for m in styled]  # geometry exact
    assert {type(m.style) for m in from_frigate} == {pm.Solid}  # Frigate has no styles
    # --to wins over the extension; an unknown extension without --to is a usage error
    assert main(["convert", str(src), str(tmp_path / "m.txt"), "--to", "onvif"]) == 0
    assert "GetMasksResponse" in (tmp_path / "m.txt").read_text()
    with pytest.raises(SystemExit) as info:
        main(["convert", str(src), str(tmp_path / "m.cfg")])
    assert info.value.code == 2 and "give --to" in capsys.readouterr().err
    # Converting a file onto itself would replace what was read: refused, the file unchanged.
    before = src.read_bytes()
    assert main(["convert", str(src), str(tmp_path / "." / "masks.json")]) == 1
    assert "is the source itself" in capsys.readouterr().err and src.read_bytes() == before


def test_convert_a_timeline_needs_a_time_for_frigate_and_onvif(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    timeline = pm.MaskTimeline(
        [(START, half(True, 20)), (START + timedelta(hours=1), half(False, 9))]
    )
    src = tmp_path / "tl.json"
    src.write_text(timeline.to_json())
    out = tmp_path / "now.xml"
    assert main(["convert", str(src), str(out)]) == 1
    assert "timeline of 2 versions" in capsys.readouterr().err and not out.exists()
    later = (START + timedelta(hours=2)).isoformat()
    assert main(["convert", str(src), str(out), "--at", later]) == 0
    assert pm.MaskSet.from_onvif(out.read_text())[0].shape == half(False, 9)[0].shape
    assert main(["convert", str(src), str(tmp_path / "copy.json")]) == 0
    copy = (tmp_path / "copy.json").read_text()
    assert pm.MaskTimeline.from_json(copy) == timeline


# --- preview ----------------------------------------------------------------------------------


def _png(path: Path, rgb: np.ndarray) -> None:
    cc = av.CodecContext.create("png", "w")
    cc.width, cc.height, cc.pix_fmt = rgb.shape[1], rgb.shape[0], "rgb24"
    cc.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    path.write_bytes(b"".join(bytes(p) for p in [*cc.encode(frame), *cc.encode(None)]))


def _picture(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


def test_preview_of_an_image_is_apply_on_the_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rgb = np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    _png(tmp_path / "snap.png", rgb)
    (tmp_path / "frigate.yml").write_text(FRIGATE)
    out = tmp_path / "preview.png"
    argv = ["preview", str(tmp_path / "snap.png"), "--masks", str(tmp_path / "frigate.yml")]
    assert main([*argv, "-o", str(out)]) == 0
    assert "frame at 0.000 s (64x48 rgb24), 3 masks" in capsys.readouterr().out
    want = pm.Frame("rgb24", [rgb.reshape(48, 64 * 3).copy()])  # packed: 3 bytes a pixel
    pm.apply(want, ZONES)
    np.testing.assert_array_equal(_picture(out), want.planes[0].reshape(48, 64, 3))
    # JPEG out; the still is not a video, so a later time is after its end
    assert main([*argv, "-o", str(tmp_path / "preview.jpg")]) == 0
    assert _picture(tmp_path / "preview.jpg").shape == (48, 64, 3)
    assert main([*argv, "-o", str(tmp_path / "late.png"), "--at", "3"]) == 1
    assert "after the end" in capsys.readouterr().err and not (tmp_path / "late.png").exists()
    assert main([*argv, "-o", str(tmp_path / "p.gif")]) == 1
    assert ".png or .jpg" in capsys.readouterr().err


def test_preview_of_a_video_takes_the_frame_and_the_version_at_a_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.mkv"
    make_clip(src, codec="ffv1", creation_time=CREATION_TIME)  # 12 frames at 25 fps
    tl = pm.MaskTimeline(
        [
            (START - timedelta(days=1), half(True, 20)),
            (START + timedelta(seconds=0.2), half(False, 230)),
        ]
    )
    (tmp_path / "tl.json").write_text(tl.to_json())
    frames = decode(src)
    for at, index, version in (("0.1", 2, "left"), ("0.3", 7, "right"), ("0.3099", 7, "right")):
        out = tmp_path / f"at{at}.png"
        argv = ["preview", str(src), "--masks", str(tmp_path / "tl.json"), "--at", at]
        assert main([*argv, "-o", str(out)]) == 0
        assert f"frame at {index * 0.04:.3f} s" in capsys.readouterr().out
        want = frames[index]
        want.make_writable()
        pm.apply(want, tl.at(START + timedelta(seconds=index / 25)))
        assert version_seen(want) == version
        np.testing.assert_array_equal(_picture(out), want.reformat(format="rgb24").to_ndarray())
    # An image has no creation_time: a timeline of two versions needs --start, said up front.
    _png(tmp_path / "snap.png", np.zeros((48, 64, 3), np.uint8))
    argv = ["preview", str(tmp_path / "snap.png"), "--masks", str(tmp_path / "tl.json")]
    assert main([*argv, "-o", str(tmp_path / "s.png")]) == 1
    assert "--start" in capsys.readouterr().err and not (tmp_path / "s.png").exists()
    assert main([*argv, "-o", str(tmp_path / "s.png"), "--start", START.isoformat()]) == 0


# --- out-dir, summaries, JSON ----------------------------------------------------------------


def test_out_dir_is_created_once_the_inputs_check_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "a.mkv"
    make_clip(src, codec="ffv1", frames=3)
    (tmp_path / "m.json").write_text(ZONES.to_json())
    out_dir = tmp_path / "masked" / "day1"
    argv = ["mask", str(src), "--out-dir", str(out_dir)]
    assert main([*argv, "--masks", str(tmp_path / "missing.json")]) == 1
    assert not (tmp_path / "masked").exists()  # a command that fails early creates nothing
    capsys.readouterr()
    assert main([*argv, "--masks", str(tmp_path / "m.json")]) == 0
    assert (out_dir / "a.mkv").exists()
    (tmp_path / "file").write_text("")
    assert (
        main(
            [
                "mask",
                str(src),
                "--out-dir",
                str(tmp_path / "file"),
                "--masks",
                str(tmp_path / "m.json"),
            ]
        )
        == 1
    )
    assert "not a directory" in capsys.readouterr().err


def test_json_summaries_for_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "a.mkv", tmp_path / "b.mkv"
    make_clip(good, codec="ffv1", frames=4)
    bad.write_bytes(b"not a video")
    (tmp_path / "m.json").write_text(ZONES.to_json())
    masks = ["--masks", str(tmp_path / "m.json")]
    code = main(["mask", str(good), str(bad), "--out-dir", str(tmp_path / "out"), *masks, "--json"])
    assert code == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # stdout is the JSON document and nothing else
    assert doc["command"] == "mask" and doc["status"] == 1
    ok, failed = doc["files"]
    assert ok["ok"] and ok["frames"] == 4 and ok["failed_closed"] == 0
    assert ok["versions"][0]["content_hash"] == ZONES.content_hash
    assert not failed["ok"] and "not a readable video" in failed["error"]
    assert "not a readable video" in captured.err

    code = main(["export", str(good), str(tmp_path / "e.mkv"), *masks, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["status"] == 0 and doc["manifest"]["frames"] == 4
    assert doc["manifest_path"].endswith("e.mkv.manifest.json")

    code = main(
        ["redact", str(good), str(tmp_path / "r.mkv"), "--motion", "--codec", "ffv1", "--json"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["files"][0]["frames"] == 4 and "stats" in doc["files"][0]

    import io

    raw = b"".join(b"".join(p.tobytes() for p in planes(f)) for f in decode(good))
    stdout = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(stdout))
    assert main(["pipe", "--size", "64x48", *masks, "--json"]) == 0
    doc = json.loads(capsys.readouterr().err)  # stdout is the video: the summary is on stderr
    assert doc["frames"] == 4 and doc["content_hash"] == ZONES.content_hash
    assert len(stdout.getvalue()) == len(raw)


# --- recording start and pose coverage, said before decoding ---------------------------------


def test_a_timeline_without_a_start_is_refused_before_decoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = [tmp_path / "a.mkv", tmp_path / "b.mkv"]
    make_clip(inputs[0], codec="ffv1", creation_time=CREATION_TIME)
    make_clip(inputs[1], codec="ffv1")  # no creation_time
    tl = pm.MaskTimeline(
        [(START, half(True, 20)), (START + timedelta(seconds=0.2), half(False, 230))]
    )
    (tmp_path / "tl.json").write_text(tl.to_json())
    out_dir = tmp_path / "out"
    argv = [
        "mask",
        *map(str, inputs),
        "--out-dir",
        str(out_dir),
        "--masks",
        str(tmp_path / "tl.json"),
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "b.mkv has no creation_time" in err and "--start 2026-" in err
    assert "a.mkv" not in err and not out_dir.exists()  # nothing decoded, nothing written
    assert main(["export", str(inputs[1]), str(tmp_path / "e.mkv"), *argv[-2:]]) == 1
    assert "--start" in capsys.readouterr().err and not (tmp_path / "e.mkv").exists()
    assert main([*argv, "--start", START.isoformat(), "-q"]) == 0
    assert [version_seen(f) for f in decode(out_dir / "b.mkv")] == ["left"] * 5 + ["right"] * 7


def test_a_pose_track_that_ends_early_is_said_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, dst = tmp_path / "in.mkv", tmp_path / "out.mkv"
    make_clip(src, codec="ffv1", frames=10)  # 0.0-0.4 s on the stream clock
    masks = pm.MaskSet([pm.Mask(pm.ScenePolygon([(-4, -4), (4, -4), (4, 4), (-4, 4)]))])
    track = pm.PoseTrack([(i / 25, pm.PTZPose(i * 1.5, 0, 40)) for i in range(6)], max_age=0.05)
    (tmp_path / "m.json").write_text(masks.to_json())
    (tmp_path / "p.json").write_text(track.to_json())
    argv = ["mask", str(src), str(dst), "--masks", str(tmp_path / "m.json")]
    assert main([*argv, "--poses", str(tmp_path / "p.json")]) == 3
    captured = capsys.readouterr()
    warning, *_ = captured.err.splitlines()
    assert warning.startswith("privmask: warning: ") and "covers 0.00-0.25 s" in warning
    assert "3 frames masked whole (no current PTZ pose)" in captured.out
    assert "exit status 3" in captured.err
    assert main([*argv, "--poses", str(tmp_path / "p.json"), "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == 3
    assert doc["files"][0]["failed_closed"] == 3
    assert doc["files"][0]["failed_closed_ranges"] == [[7, 9]]


# --- progress on a terminal ------------------------------------------------------------------


def _on_a_terminal(cmd: list[str], stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    """Runs ``cmd`` with stderr on a pseudo-terminal (24 rows of 100 columns, as a real one has
    a size); returns the exit status, stdout and what the terminal showed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=follower, env=env)
        os.close(follower)
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        seen = b""
        while select.select([leader], [], [], 30)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
        os.close(leader)
        code = proc.wait(timeout=60)
        out.seek(0)
        return code, out.read(), seen


def test_a_progress_bar_on_a_terminal_and_none_in_a_log(tmp_path: Path) -> None:
    src = tmp_path / "in.mkv"
    make_clip(src, codec="ffv1", frames=60)
    (tmp_path / "m.json").write_text(ZONES.to_json())
    masks = ["--masks", str(tmp_path / "m.json")]
    cmd = [sys.executable, "-m", "privmask", "mask", str(src), str(tmp_path / "o.mkv"), *masks]
    code, out, seen = _on_a_terminal(cmd)
    assert code == 0 and b"60 frames (ffv1)" in out
    assert b"in.mkv: " in seen and b"frame/s]" in seen  # tqdm: "in.mkv: 30frame [00:00, ...]"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(cmd, capture_output=True, env=env, check=True, timeout=60)
    assert done.stderr == b""  # not a terminal: no bar, no control characters in logs
    assert b"60 frames (ffv1)" in done.stdout
    # a pipe: the bar and then the summary on the terminal, the video alone on stdout
    raw = b"".join(b"".join(p.tobytes() for p in planes(f)) for f in decode(src))
    cmd = [sys.executable, "-m", "privmask", "pipe", "--size", "64x48", *masks]
    code, out, seen = _on_a_terminal(cmd, raw)
    assert code == 0 and len(out) == len(raw)
    assert b"pipe: " in seen and b"frame/s]" in seen
    assert b"privmask pipe: 60 frames (64x48 yuv420p)" in seen


# --- the registry ----------------------------------------------------------------------------


def test_every_command_has_help_naming_its_exit_statuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in COMMANDS:
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        text = capsys.readouterr().out
        assert f"usage: privmask {command}" in text
        if command in ("mask", "pipe", "preview"):
            assert "3 done, but some frames were masked whole" in " ".join(text.split())
    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out
    for command, entry in COMMANDS.items():
        assert f"{command}" in listing and entry.summary in " ".join(listing.split())


def test_building_the_parser_imports_only_the_chosen_command() -> None:
    """``privmask --help`` and ``privmask validate`` never load PyAV or OpenCV, nor the other
    commands' modules."""
    code = (
        "import sys\n"
        "from privmask.cli.main import build_parser\n"
        "build_parser(['validate']).parse_args(['validate', 'x.json'])\n"
        "build_parser([])\n"
        "heavy = {'av', 'cv2', 'yaml', 'privmask.cli.mask', 'privmask.cli.bench',\n"
        "         'privmask.tools.bench', 'privmask.video.files'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "build_parser()\n"  # every command, for docs: still no PyAV or OpenCV
        "print(sorted({'av', 'cv2'} & set(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.splitlines() == ["[]", "[]"]


def test_no_cli_module_borrows_private_names() -> None:
    """The command modules and the benchmark share helpers through public names only."""
    import ast

    root = Path(pm.__file__).parent
    offenders = []
    for path in [*root.glob("cli/*.py"), *root.glob("tools/bench/*.py"), root / "masks/sniff.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("privmask"):
                offenders += [
                    f"{path.name}: {a.name}"
                    for a in node.names
                    # dunders are public; _native is the compiled core, a module
                    if a.name.startswith("_")
                    and not a.name.startswith("__")
                    and a.name != "_native"
                ]
    assert offenders == [], offenders
    assert not hasattr(__import__("privmask.redaction.redact").redaction.redact, "add_cli")
