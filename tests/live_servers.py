"""Real stream servers on 127.0.0.1 for tests/test_live.py: GStreamer's RTSP server in a process
of its own (tests/fixtures/rtsp_server.py, under the system Python), a test clip to serve, and
the checks that say what is missing (a skip locally, a failure in CI, where .ci/run installs it).
"""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest

W, H, FPS = 320, 240, 25
SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).parent / "fixtures" / "rtsp_server.py"


def missing(what: str) -> None:
    """Skips the test for lack of ``what``, or fails it in CI (where it must be there)."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: .ci/run installs it")
    pytest.skip(f"{what} is not installed")


def need_gstreamer() -> None:
    """GStreamer's RTSP server and the elements the fixture server uses, under the system Python."""
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); gi.require_version('Gst', '1.0');"
        "from gi.repository import Gst; Gst.init(None);"
        "assert all(Gst.ElementFactory.find(e) for e in ('qtdemux', 'h264parse', 'rtph264pay'))"
    )
    if (
        not Path(SYSTEM_PYTHON).exists()
        or subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, check=False).returncode
    ):
        missing("GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0, plugins)")


def need_ffmpeg() -> None:
    """Debian's ffmpeg binary (it serves HTTP and reads playlists back)."""
    if shutil.which("ffmpeg") is None:
        missing("the ffmpeg binary")


def write_clip(path: Path, seconds: int) -> None:
    """An H.264 MP4 of fine noise (detail a mask must hide), two seconds encoded once and
    repeated (packets copied with shifted timestamps) to ``seconds``."""
    rng = np.random.default_rng(7)
    one = path.with_suffix(".one.mp4")
    with av.open(str(one), "w") as out:
        s = out.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.codec_context.options = {"g": str(FPS), "preset": "ultrafast", "bf": "0"}
        luma = rng.integers(0, 256, (H, W + 2 * FPS), dtype=np.uint8)
        for i in range(2 * FPS):
            planes = np.full((H * 3 // 2, W), 128, np.uint8)
            planes[:H] = luma[:, i : i + W]
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    with av.open(str(one)) as inp, av.open(str(path), "w") as out:
        src = inp.streams.video[0]
        dst = out.add_stream_from_template(src)
        step = 2 * FPS * int(1 / src.time_base / FPS)
        packets = [p for p in inp.demux(src) if p.size]
        for k in range(seconds // 2):
            for p in packets:
                q = av.Packet(bytes(p))
                q.pts, q.dts = p.pts + k * step, p.dts + k * step
                q.is_keyframe, q.time_base, q.stream = p.is_keyframe, p.time_base, dst
                out.mux(q)
    one.unlink()


class RtspServer:
    """GStreamer's RTSP server in a process of its own, which a test can kill and restart."""

    def __init__(self, clip: Path, port: int = 0) -> None:
        self.clip, self.port = clip, port
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> RtspServer:
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), str(self.clip), str(self.port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=10):
            self.kill()
            raise AssertionError("the RTSP server did not start within 10 s")
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["ready"], line
        self.port = int(line[1])
        return self

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int) -> None:
    """Waits until something listens on ``port`` (read from /proc, without connecting: the
    ffmpeg server takes exactly one client)."""
    hexport = f":{port:04X}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
        if any(r.split()[1].endswith(hexport) and r.split()[3] == "0A" for r in rows):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")
