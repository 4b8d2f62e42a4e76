"""Real recordings as they come (issue 13), continued: damaged input (case 8) and stopping
halfway, private staging and file modes (case 12). Helpers from ``test_recordings``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import privmask as pm
from privmask._outputs import PART_MARKER
from privmask.errors import VideoError
from privmask.video import mask_file

from .test_recordings import lavfi, needs_ffmpeg

av = pytest.importorskip("av")


# --- case 8: truncated or damaged input ------------------------------------------------------


def damaged(tmp_path: Path, case: str) -> Path:
    """A recording cut or damaged the way copies and crashes do it."""
    ext = ".mkv" if case == "mkv-cut" else ".ts"
    whole = tmp_path / f"whole{ext}"
    lavfi(whole, "-c:v", "libx264", "-g", "25", frames=100, size="320x240")
    data = bytearray(whole.read_bytes())
    if case == "mkv-cut":
        data = data[: int(len(data) * 0.6)]
    elif case == "ts-cut":
        data = data[: int(len(data) * 0.6) // 188 * 188 + 100]  # inside a transport packet
    else:
        at = int(len(data) * 0.4)
        data[at : at + 4096] = bytes(4096)
    path = tmp_path / f"{case}{ext}"
    path.write_bytes(bytes(data))
    return path


@needs_ffmpeg
@pytest.mark.parametrize("case", ["mkv-cut", "ts-cut", "ts-zeroed"])
def test_damaged_input_is_an_error_naming_where_unless_accepted(tmp_path: Path, case: str) -> None:
    src = damaged(tmp_path, case)
    dst = tmp_path / "out.mkv"
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5))])
    with pytest.raises(VideoError) as e:
        mask_file(src, dst, masks, progress=False)
    message = str(e.value)
    assert str(src) in message and "accept_damage=True" in message
    where = (e.value.packet, e.value.frame)
    assert where != (None, None) or " s " in message or "at byte" in message
    assert not dst.exists() and not list(tmp_path.glob(f"*{PART_MARKER}*"))
    report = mask_file(src, dst, masks, progress=False, accept_damage=True)
    assert dst.exists() and report.damage
    assert "DAMAGED INPUT" in report.summary()
    if case == "mkv-cut":  # the file says how long it should be: the loss is measured
        assert "missing" in report.damage[-1] and report.frames < 100
    with pytest.raises(VideoError):
        pm.export(src, tmp_path / "export.mp4", masks)
    assert not (tmp_path / "export.mp4").exists()


# --- case 12: stopped halfway; private staging; modes -----------------------------------------

STOPPABLE = textwrap.dedent(
    """
    import sys
    import privmask as pm
    from privmask._outputs import Stopped, stop_on_signals
    from privmask.video import mask_file

    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5))])
    try:
        with stop_on_signals():  # what the command line installs
            mask_file(sys.argv[1], sys.argv[2], masks, progress=False,
                      encoder_options={"preset": "slower"})
    except (Stopped, KeyboardInterrupt) as e:
        name = e.signal_name if isinstance(e, Stopped) else "SIGINT"
        print(f"privmask: stopped by {name}; {sys.argv[2]} was not written", file=sys.stderr)
        sys.exit(e.code if isinstance(e, Stopped) else 130)
    """
)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clip that takes privmask several seconds to mask (so a signal lands mid-way)."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    lavfi(path, "-c:v", "libx264", "-preset", "ultrafast", frames=1500, size="320x240")
    return path


def start_masking(src: Path, dst: Path) -> subprocess.Popen[str]:
    """Runs the stoppable masking job in a child process; returns once its temporary output
    has data (the job is mid-way)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.Popen(
        [sys.executable, "-c", STOPPABLE, str(src), str(dst)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = [p for p in dst.parent.glob(f".{dst.name}.*{PART_MARKER}*") if p.stat().st_size]
        if parts:
            return child
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        time.sleep(0.02)
    child.kill()
    raise AssertionError("the job never started writing")


@needs_ffmpeg
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_stops_the_job_with_one_line_and_no_temporary_file(
    tmp_path: Path, long_clip: Path, sig: signal.Signals
) -> None:
    dst = tmp_path / "out.mp4"
    child = start_masking(long_clip, dst)
    child.send_signal(sig)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + sig, err
    assert err.strip().splitlines() == [f"privmask: stopped by {sig.name}; {dst} was not written"]
    assert sorted(os.listdir(tmp_path)) == []


@needs_ffmpeg
@pytest.mark.parametrize(
    ("sig", "to_group"),
    [(signal.SIGTERM, True), (signal.SIGTERM, False), (signal.SIGINT, True), (signal.SIGHUP, True)],
    ids=["SIGTERM-to-group", "SIGTERM-to-command", "SIGINT-to-group", "SIGHUP-to-group"],
)
def test_a_signal_stops_every_job_of_a_batch_and_leaves_no_temporary_file(
    tmp_path: Path, long_clip: Path, sig: signal.Signals, to_group: bool
) -> None:
    """``--jobs 2``: a signal to the command alone (``docker stop``, ``kill PID``) is passed to
    the worker processes; one to the whole group (``timeout``, a closed terminal, Ctrl-C)
    reaches them directly. Either way each worker removes its temporary output and the command
    stops at once with its one line. Before, SIGTERM to the group left both ``.part`` files,
    to the command alone let the jobs run on and publish after the stop message, and SIGHUP to
    the group killed multiprocessing's resource tracker (tracebacks on stderr)."""
    out = tmp_path / "out"
    out.mkdir()
    masks = tmp_path / "masks.json"
    masks.write_text(pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5))]).to_json())
    sources = []
    for name in ("a.mp4", "b.mp4"):
        sources.append(tmp_path / name)
        sources[-1].symlink_to(long_clip)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    command = [sys.executable, "-m", "privmask", "mask", *map(str, sources), "--out-dir",
               str(out), "--masks", str(masks), "--jobs", "2", "-q", "--encoder-option",
               "preset=slower"]  # fmt: skip
    child = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while len([p for p in out.iterdir() if p.stat().st_size]) < 2:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the jobs never started writing"
        time.sleep(0.02)
    if to_group:
        os.killpg(child.pid, sig)
    else:
        child.send_signal(sig)
    started = time.monotonic()
    _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + sig, err
    assert err.strip().splitlines() == [
        f"privmask: stopped by {sig.name}; nothing half-written was left"
    ]
    assert sorted(os.listdir(out)) == []
    assert time.monotonic() - started < 20  # stopped, not run to the end (about 60 s)


@needs_ffmpeg
def test_an_interrupt_while_the_stage_threads_start_leaves_none_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal handler can raise inside ``Thread.start`` (it waits for the new thread) after the
    system thread exists. The stages already running must be stopped and joined before the job
    returns: a decode thread left polling its queue crashed the interpreter at exit (SIGSEGV in
    about one stop in ten)."""
    import threading

    src = tmp_path / "clip.mp4"
    lavfi(src, "-c:v", "libx264", frames=50, size="320x240")
    start = threading.Thread.start

    def start_then_interrupt(self: threading.Thread) -> None:
        start(self)
        if self.name == "privmask-encode":
            raise KeyboardInterrupt

    monkeypatch.setattr(threading.Thread, "start", start_then_interrupt)
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        mask_file(src, dst, pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5))]), progress=False)
    stages = [t.name for t in threading.enumerate() if t.name.startswith("privmask-")]
    assert stages == []
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]


@needs_ffmpeg
def test_a_killed_runs_leftovers_are_swept_by_the_next_run_on_the_same_destination(
    tmp_path: Path, long_clip: Path
) -> None:
    dst = tmp_path / "out.mp4"
    child = start_masking(long_clip, dst)
    child.kill()  # SIGKILL: no cleanup can run
    child.communicate(timeout=60)
    (leftover,) = tmp_path.glob(f".out.mp4.{child.pid}-*{PART_MARKER}.mp4")
    alive = subprocess.Popen(["sleep", "60"])
    try:
        running = tmp_path / f".out.mp4.{alive.pid}-abcd1234{PART_MARKER}.mp4"
        other = tmp_path / f".other.mp4.{child.pid}-abcd1234{PART_MARKER}.mp4"
        notes = tmp_path / ".out.mp4.notes"
        for p in (running, other, notes):
            p.write_bytes(b"x")
        small = tmp_path / "small.mp4"
        lavfi(small, "-c:v", "libx264", frames=5)
        mask_file(small, dst, pm.MaskSet(), progress=False)
        assert not leftover.exists()
        assert running.exists() and other.exists() and notes.exists()  # not ours to remove
    finally:
        alive.kill()
        alive.wait()


@needs_ffmpeg
def test_an_encrypted_export_never_shows_a_readable_plaintext(
    tmp_path: Path, long_clip: Path
) -> None:
    pytest.importorskip("cryptography")
    import threading

    src = tmp_path / "src" / "clip.mp4"
    src.parent.mkdir()
    lavfi(src, "-c:v", "libx264", frames=200, size="320x240")
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    seen: list[tuple[str, int, bool, bool]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for root, _, files in os.walk(out_dir):
                private_dir = (os.stat(root).st_mode & 0o077) == 0 and root != str(out_dir)
                for name in files:
                    path = os.path.join(root, name)
                    try:
                        with open(path, "rb") as f:
                            head = f.read(12)
                        mode = os.stat(path).st_mode & 0o777
                    except OSError:
                        continue
                    seen.append((path, mode, private_dir, head[4:8] == b"ftyp"))
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        pm.export(src, out_dir / "clip.mp4.enc", pm.MaskSet(), password="pw", manifest=True)
    finally:
        done.set()
        watcher.join()
    plaintexts = [s for s in seen if s[3]]
    assert plaintexts, "the watcher never saw the staged video (too fast to test)"
    readable = [s for s in plaintexts if s[1] & 0o077 and not s[2]]
    assert readable == [], "a plaintext video was readable by others"
    assert sorted(os.listdir(out_dir)) == ["clip.mp4.enc", "clip.mp4.enc.manifest.json"]


@needs_ffmpeg
def test_an_export_publishes_video_manifest_and_audit_together_or_not_at_all(
    tmp_path: Path,
) -> None:
    from privmask.redaction.audit import AuditLog

    src, dst = tmp_path / "clip.mp4", tmp_path / "out.mp4"
    lavfi(src, "-c:v", "libx264", frames=10)
    log = AuditLog(tmp_path / "audit.jsonl")

    def records() -> list[dict[str, Any]]:
        return list(log.records()) if log.path.exists() else []

    with pytest.raises(FileNotFoundError):
        pm.export(src, dst, pm.MaskSet(), manifest=tmp_path / "no-such-dir" / "m.json", audit=log)
    assert not dst.exists() and records() == []
    with pytest.raises(ValueError, match="overwrite the video"):
        pm.export(src, dst, pm.MaskSet(), manifest=dst, audit=log)
    assert not dst.exists() and records() == []
    assert {p.name for p in tmp_path.iterdir()} <= {"clip.mp4", "audit.jsonl"}
    result = pm.export(src, dst, pm.MaskSet(), audit=log)
    assert dst.exists() and result.manifest_path is not None and result.manifest_path.exists()
    assert len(records()) == 1


@needs_ffmpeg
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_get_the_umasks_mode_and_a_replaced_output_keeps_its_own(
    tmp_path: Path, umask: int
) -> None:
    src = tmp_path / "clip.mp4"
    lavfi(src, "-c:v", "libx264", frames=5)
    new, existing = tmp_path / "new.mp4", tmp_path / "existing.mp4"
    existing.write_bytes(b"old")
    existing.chmod(0o644)
    previous = os.umask(umask)
    try:
        mask_file(src, new, pm.MaskSet(), progress=False)
        mask_file(src, existing, pm.MaskSet(), progress=False)
    finally:
        os.umask(previous)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask
    assert existing.stat().st_mode & 0o777 == 0o644


@needs_ffmpeg
@pytest.mark.parametrize("how", ["offset", "copyts-from-ts"])
def test_a_matroska_clock_that_starts_late_is_not_damage_but_a_cut_still_is(
    tmp_path: Path, how: str
) -> None:
    """Matroska declares where the video *ends* on the file's clock (its ``DURATION`` tag), so
    a file whose clock starts at 10 s declares 12 s for 2 s of video. It was refused as "10 s
    missing"; ``ffmpeg`` decodes it cleanly. The same file cut short is still refused."""
    src = tmp_path / "late.mkv"
    if how == "offset":
        lavfi(src, "-c:v", "libx264", "-output_ts_offset", "10", frames=50)
    else:
        ts = tmp_path / "cam.ts"
        lavfi(ts, "-c:v", "libx264", frames=50)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-copyts", "-i", str(ts), "-c", "copy", str(src)],
            check=True,
        )
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5))])
    report = mask_file(src, tmp_path / "out.mkv", masks, progress=False)
    assert report.frames == 50 and not report.damage
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size * 6 // 10])
    with pytest.raises(VideoError, match="truncated"):
        mask_file(cut, tmp_path / "out-cut.mkv", masks, progress=False)
    assert not (tmp_path / "out-cut.mkv").exists()
    # Accepted, the loss is measured against the declared end (on the late clock).
    report = mask_file(cut, tmp_path / "out-cut.mkv", masks, progress=False, accept_damage=True)
    assert report.frames < 50 and "missing" in report.damage[-1]
    missing = float(report.damage[-1].split(" s missing")[0].rsplit(" ", 1)[1])
    assert missing == pytest.approx((50 - report.frames) / 25, abs=0.2)


@needs_ffmpeg
def test_a_damaged_mjpeg_picture_is_reported_not_masked_as_if_whole(tmp_path: Path) -> None:
    """FFmpeg's MJPEG decoder reports a broken picture as "error count: N" / "error y=.. x=.."
    and decodes on with what it read (the picture differs from the intact one); that is
    damage, as for H.264's "concealing". Before, the picture was masked and written, exit 0."""
    good, bad = tmp_path / "good.avi", tmp_path / "bad.avi"
    lavfi(good, "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", frames=20, size="160x120")
    data = bytearray(good.read_bytes())
    for i in range(len(data) * 4 // 10, len(data) * 4 // 10 + 400, 7):
        data[i] ^= 0xFF
    bad.write_bytes(bytes(data))
    with av.open(str(good)) as g, av.open(str(bad)) as b:
        changed = [
            i
            for i, (x, y) in enumerate(zip(g.decode(video=0), b.decode(video=0), strict=False))
            if (x.to_ndarray() != y.to_ndarray()).any()
        ]
    assert changed, "the corruption must change a decoded picture"
    masks = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 0.5))])
    with pytest.raises(VideoError, match=r"decoder reports near video packet \d+: error"):
        mask_file(bad, tmp_path / "out.avi", masks, progress=False)
    assert not (tmp_path / "out.avi").exists()
    report = mask_file(bad, tmp_path / "out.avi", masks, progress=False, accept_damage=True)
    assert report.damage and report.frames == 20
    # The intact file raises nothing: the words are not in an intact stream's log.
    assert not mask_file(good, tmp_path / "ok.avi", masks, progress=False).damage
