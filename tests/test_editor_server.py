"""The editor's server without a browser: the token, the files it will (not) serve, request
limits, atomic saves, a live stream from a real ffmpeg, and the ``edit`` command itself."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import privmask as pm
from privmask.cli.edit import parse_at
from privmask.editor.files import ChangedOnDiskError, MaskFile
from privmask.editor.server import ASSETS, MAX_BODY_BYTES, EditorServer
from privmask.editor.session import Session
from privmask.editor.source import open_source, public_name, to_rgb
from privmask.errors import VideoError
from tests.browser import H, W, decoded, make_video, png_rgb

MASKS = pm.MaskSet([pm.Mask(pm.Polygon.rect(0.1, 0.1, 0.4, 0.3), pm.Solid("#ff0000"))])


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("editor-server") / "cam.mp4"
    make_video(path, frames=6)
    return path


@pytest.fixture
def server(clip: Path, tmp_path: Path) -> Iterator[EditorServer]:
    path = tmp_path / "masks.json"
    path.write_text(MASKS.to_json())
    srv = EditorServer(Session(open_source(str(clip)), MaskFile(path)))
    srv.start()
    yield srv
    srv.stop()
    srv.session.source.close()


def request(
    srv: EditorServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    chunked: bool = False,
) -> tuple[int, bytes]:
    """A raw request (the path is sent exactly as given, unnormalised)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
    try:
        if chunked:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            assert body is not None
            for i in range(0, len(body), 65536):
                part = body[i : i + 65536]
                conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            conn.send(b"0\r\n\r\n")
        else:
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def api(srv: EditorServer, path: str) -> str:
    return f"/{srv.token}/{path}"


def test_every_request_needs_the_token_and_a_loopback_host(server: EditorServer) -> None:
    assert server.url.startswith("http://127.0.0.1:") and len(server.token) >= 32
    status, body = request(server, "GET", api(server, "api/state"))
    assert status == 200 and json.loads(body)["source"]["width"] == W
    for path in (
        "/",
        "/api/state",
        "/static/main.js",
        f"/{server.token}x/api/state",
        f"/{server.token[:-1]}/api/state",
        f"/x/{server.token}/api/state",
    ):
        status, body = request(server, "GET", path)
        assert status == 403, path
        assert b"masks" not in body and b"import" not in body
    status, _ = request(server, "POST", "/api/save", b'{"masks": {"privmask": 1, "masks": []}}')
    assert status == 403
    # a page elsewhere whose DNS name was rebound to 127.0.0.1 sends its own Host
    status, _ = request(server, "GET", api(server, "api/state"), headers={"Host": "evil.test"})
    assert status == 403
    status, _ = request(
        server, "GET", api(server, "api/state"), headers={"Host": f"localhost:{server.port}"}
    )
    assert status == 200
    status, _ = request(server, "GET", f"/{server.token}")
    assert status == 307


def test_nothing_but_the_page_assets_is_served(server: EditorServer) -> None:
    status, page = request(server, "GET", api(server, ""))
    assert status == 200 and b"<title>privmask edit</title>" in page
    status, script = request(server, "GET", api(server, "static/main.js"))
    assert status == 200 and b"import" in script
    for name in ASSETS:  # everything ships with the package: nothing loads from the network
        status, text = request(server, "GET", api(server, f"static/{name}"))
        assert status == 200 and len(text) > 100
        assert not re.search(
            rb"""(src|href)=["']?(https?:)?//|from ["']https?:|url\(["']?https?:""", text
        )
    for path in (
        "static/server.py",
        "static/../server.py",
        "static/..%2fserver.py",
        "static/%2e%2e%2fserver.py",
        "static/%2e%2e/%2e%2e/__init__.py",
        "static/..%2f..%2f..%2f..%2fpyproject.toml",
        "static/%2fetc%2fpasswd",
        "../../../../etc/passwd",
        "static/..\\server.py",
        "static/index.html%00.py",
        "api/../static/main.js/../../server.py",
    ):
        status, body = request(server, "GET", api(server, path))
        assert status in (400, 404), (path, status)
        assert b"def build_app" not in body and b"root:" not in body and b"[project]" not in body
    # every answer keeps the page to its own origin
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", api(server, ""))
    policy = conn.getresponse().getheader("Content-Security-Policy") or ""
    conn.close()
    assert "default-src 'none'" in policy and "script-src 'self'" in policy


def test_request_bodies_are_limited(server: EditorServer, tmp_path: Path) -> None:
    before = (tmp_path / "masks.json").read_bytes()
    too_big = b'{"masks": {"privmask": 1, "masks": []}, "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    for chunked in (False, True):
        status, _ = request(
            server,
            "POST",
            api(server, "api/save"),
            too_big,
            {"Content-Type": "application/json"},
            chunked=chunked,
        )
        assert status == 413, chunked
    assert (tmp_path / "masks.json").read_bytes() == before
    fits = json.dumps(MASKS.to_dict()).encode()
    status, body = request(server, "POST", api(server, "api/check"), fits)
    assert status == 200 and json.loads(body)["content_hash"] == MASKS.content_hash


def test_bad_masks_are_refused_with_the_field_and_nothing_is_written(
    server: EditorServer, tmp_path: Path
) -> None:
    path = tmp_path / "masks.json"
    before = path.read_bytes()
    bad = {"privmask": 1, "masks": [{"polygon": [[0, 0], [1, 0]], "style": {"type": "solid"}}]}
    status, body = request(
        server, "POST", api(server, "api/save"), json.dumps({"masks": bad}).encode()
    )
    assert status == 422 and "masks[0].polygon" in json.loads(body)["error"]
    status, body = request(server, "POST", api(server, "api/save"), b"{not json")
    assert status == 400
    assert path.read_bytes() == before


def test_saving_is_atomic_keeps_the_mode_and_refuses_a_file_changed_on_disk(
    server: EditorServer, tmp_path: Path
) -> None:
    path = tmp_path / "masks.json"
    os.chmod(path, 0o640)
    edited = pm.MaskSet([*MASKS, pm.Mask(pm.Polygon.rect(0.6, 0.6, 0.2, 0.2), pm.Fill())])
    body = json.dumps({"masks": edited.to_dict()}).encode()
    status, answer = request(server, "POST", api(server, "api/save"), body)
    assert status == 200
    reply = json.loads(answer)
    data = path.read_bytes()
    assert reply["file_sha256"] == hashlib.sha256(data).hexdigest()
    assert pm.MaskSet.from_json(data) == edited and reply["content_hash"] == edited.content_hash
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masks.json"]  # no temporary left

    path.write_text(MASKS.to_json())  # someone else changes the file
    status, answer = request(server, "POST", api(server, "api/save"), body)
    assert status == 409 and "changed on disk" in json.loads(answer)["error"]
    assert pm.MaskSet.from_json(path.read_text()) == MASKS
    status, _ = request(server, "POST", api(server, "api/reopen"), b"{}")
    assert status == 200
    status, _ = request(server, "POST", api(server, "api/save"), body)
    assert status == 200


def test_the_frame_png_is_the_decoded_picture(server: EditorServer, clip: Path) -> None:
    frames = decoded(clip)
    for t, index in (("0", 0), ("0.1", 2), ("0.119", 2), ("9", 5)):
        status, png = request(server, "GET", api(server, f"api/frame?t={t}"))
        assert status == 200
        np.testing.assert_array_equal(png_rgb(png), to_rgb(frames[index][1]))
    body = json.dumps(MASKS.to_dict()).encode()
    status, png = request(server, "POST", api(server, "api/preview?t=0.04&view=masked"), body)
    frame = frames[1][1].copy()
    pm.apply(frame, MASKS)
    assert status == 200
    np.testing.assert_array_equal(png_rgb(png), to_rgb(frame))


def test_grid_import_and_export_answers(server: EditorServer) -> None:
    template = {"name": "", "style": {"type": "mosaic", "block": 0.03}, "liftable": True}
    body = {"cells": [[0, 0], [1, 0], [5, 5]], "grid": [8, 8], "template": template}
    status, answer = request(server, "POST", api(server, "api/grid"), json.dumps(body).encode())
    got = pm.MaskSet.from_json(json.dumps(json.loads(answer)["masks"]))
    want = pm.MaskSet.from_grid([(0, 0), (1, 0), (5, 5)], (8, 8), style=pm.Mosaic(0.03))
    assert status == 200 and [m.shape for m in got] == [m.shape for m in want]
    assert all(m.liftable and m.style == pm.Mosaic(0.03) for m in got)
    for bad in ([4, 4], [8, 65], [8]):
        status, _ = request(
            server, "POST", api(server, "api/grid"), json.dumps({**body, "grid": bad}).encode()
        )
        assert status == 422
    status, answer = request(
        server, "POST", api(server, "api/import/onvif"), MASKS.to_onvif().encode()
    )
    assert status == 200 and json.loads(answer)["masks"]["masks"][0]["polygon"] == [
        list(p) for p in MASKS[0].shape.points
    ]
    status, answer = request(
        server, "POST", api(server, "api/export/frigate"), json.dumps(MASKS.to_dict()).encode()
    )
    assert status == 200 and json.loads(answer)["text"].strip() == MASKS.to_frigate()[0]
    status, _ = request(server, "POST", api(server, "api/import/vms"), b"x")
    assert status == 422


def test_at_parses_seconds_and_recording_times() -> None:
    assert parse_at("12.5") == Fraction(25, 2)
    assert parse_at("1:02.5") == Fraction(125, 2)
    assert parse_at("1:00:02") == 3602
    assert parse_at("2026-03-01T12:00:05Z") == datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    for bad in ("-1", "soon", "2026-03-01T12:00:05", "1:2:3:4"):
        with pytest.raises(ValueError):
            parse_at(bad)
    assert public_name("rtsp://admin:secret@cam.local:554/live?x=1") == "rtsp://cam.local:554/live"


def test_a_timeline_needs_a_since_and_a_missing_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    f = MaskFile(path)
    assert f.open(None).kind == "new"
    f.save(MASKS)
    assert pm.MaskSet.from_json(path.read_text()) == MASKS
    timeline = pm.MaskTimeline([(datetime(2026, 1, 1, tzinfo=UTC), MASKS)])
    path.write_text(timeline.to_json())
    f = MaskFile(path)
    assert f.open(datetime(2025, 1, 1, tzinfo=UTC)).version == 0
    with pytest.raises(pm.MaskConfigError, match="since"):
        f.save(MASKS)
    other = MaskFile(path)
    other.open(None)
    other.save(MASKS, datetime(2026, 2, 1, tzinfo=UTC))
    with pytest.raises(ChangedOnDiskError):
        f.save(MASKS, datetime(2026, 3, 1, tzinfo=UTC))
    assert len(pm.MaskTimeline.from_json(path.read_text())) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg binary installed")
def test_a_live_stream_from_a_real_ffmpeg_server(tmp_path: Path) -> None:
    ts = tmp_path / "x.ts"
    make_video(ts, frames=50, gop=1, fmt="mpegts")  # all-intra: any frame decodes on its own
    port = _free_port()
    url = f"http://127.0.0.1:{port}/x.ts"
    ffmpeg = subprocess.Popen(
        [
            *("ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1"),
            *("-i", str(ts), "-c", "copy", "-f", "mpegts", "-listen", "1", url),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                source = open_source(url)
                break
            except VideoError:
                if time.monotonic() > deadline or ffmpeg.poll() is not None:
                    raise
                time.sleep(0.2)
        assert (source.kind, source.width, source.height) == ("live", W, H)
        pic = source.picture()
        assert pic.time is None and pic.recorded is not None
        assert abs((datetime.now(UTC) - pic.recorded).total_seconds()) < 30
        originals = [f for _, f in decoded(ts)]
        assert any(
            all(np.array_equal(a, b) for a, b in zip(pic.frame.planes, f.planes, strict=True))
            for f in originals
        )
        srv = EditorServer(Session(source, None))
        srv.start()
        try:
            status, png = request(srv, "GET", api(srv, "api/frame"))
            assert status == 200
            np.testing.assert_array_equal(png_rgb(png), to_rgb(pic.frame))
            state = json.loads(request(srv, "GET", api(srv, "api/state"))[1])
            assert state["source"]["kind"] == "live" and state["file"] is None
        finally:
            srv.stop()
    finally:
        ffmpeg.kill()
        ffmpeg.wait()


def _command(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "privmask.editor", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_edit_command_prints_its_address_serves_and_stops_on_ctrl_c(
    clip: Path, tmp_path: Path
) -> None:
    masks = tmp_path / "m.json"
    proc = _command(str(clip), "--masks", str(masks), "--at", "0.1", "--no-browser", "--port", "0")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"privmask edit: {clip.name} at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].strip()
        port, token = url.removeprefix("http://127.0.0.1:").rstrip("/").split("/")
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=20)
        conn.request("GET", f"/{token}/api/state")
        state: dict[str, Any] = json.loads(conn.getresponse().read())
        conn.close()
        assert state["time"] == 0.08 and state["file"]["kind"] == "new"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.mp4"], "missing.mp4: no such file"),
        (["{clip}", "--masks", "{bad}"], "masks[0].polygon"),
        (["{clip}", "--masks", "/no/such/dir/m.json"], "does not exist"),
        (["{clip}", "--at", "soon"], "neither seconds"),
    ],
)
def test_the_edit_command_fails_in_one_line(
    clip: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"privmask": 1, "masks": [{"polygon": [[0, 0]], "style": {"type": "fill"}}]}')
    argv = [a.format(clip=clip, bad=bad) for a in args]
    proc = _command(*argv, "--no-browser")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (1, 2) and message in err, err
    assert len(err.strip().splitlines()) <= 3
