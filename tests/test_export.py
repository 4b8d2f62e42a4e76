"""Redaction export, on real PyAV clips: a dozen 64x48 frames, lossless sources so
that "differs only inside the masks" is exact."""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest

import privmask as pm
from privmask.redaction.audit import AuditLog
from privmask.redaction.crypto import DecryptionError, WrongPasswordError
from privmask.redaction.lifts import Lift, LiftManager, LiftPolicy

W, H, FRAMES, FPS = 64, 48, 12, 12
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
INSIDE = (slice(12, 36), slice(16, 48))  # luma rows, columns of the middle mask
MIDDLE = pm.Polygon.rect(0.25, 0.25, 0.5, 0.5)  # exactly INSIDE on 64x48
SECRET = "cam7-secret-title"
# ``privmask.redaction.export`` the attribute is the function (pm.export); the module is
# reached this way.
export_cli = importlib.import_module("privmask.cli.export")
GREY = (90, 128, 128)

Planes = tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.uint8]]


def source_planes(index: int, inside: int = 0) -> Planes:
    """Frame ``index``: seeded noise; ``inside`` shifts the samples inside INSIDE only."""
    rng = np.random.default_rng(index)
    y = rng.integers(0, 256, (H, W), dtype=np.uint8)
    u = rng.integers(0, 256, (H // 2, W // 2), dtype=np.uint8)
    v = rng.integers(0, 256, (H // 2, W // 2), dtype=np.uint8)
    if inside:
        y[INSIDE] += np.uint8(inside)
        u[6:18, 8:24] += np.uint8(inside)
        v[6:18, 8:24] += np.uint8(inside)
    return y, u, v


def make_clip(path: Path, *, inside: int = 0, audio: bool = True) -> Path:
    """An FFV1 (lossless) yuv420p clip with metadata a redaction must not carry, and audio."""
    with av.open(str(path), "w") as out:
        out.metadata.update({"title": SECRET, "comment": "site B"})
        video = out.add_stream("ffv1", rate=FPS)
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        video.metadata["handler_name"] = SECRET
        sound = out.add_stream("flac", rate=8000, layout="mono") if audio else None
        for i in range(FRAMES):
            y, u, v = source_planes(i, inside)
            frame = av.VideoFrame.from_ndarray(
                np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(H * 3 // 2, W),
                format="yuv420p",
            )
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            samples = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)[None]
            chunk = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            chunk.sample_rate, chunk.pts = 8000, 0
            out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
    return path


def decode(path: Path) -> list[Planes]:
    with av.open(str(path)) as c:
        return [
            tuple(  # type: ignore[misc]
                np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:, : p.width].copy()
                for p in f.planes
            )
            for f in c.decode(video=0)
        ]


def solid(style_yuv: tuple[int, int, int]) -> pm.Solid:
    return pm.Solid(yuv=style_yuv)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "2026-11-02 lobby cam7.mkv")


def no_leftovers(directory: Path) -> bool:
    return not [p.name for p in directory.iterdir() if p.name.startswith(".")]


# --- masks burned in, independent of what was there --------------------------------------------


@pytest.mark.parametrize("codec", [None, "libx264"])
def test_solid_regions_do_not_depend_on_the_source(tmp_path: Path, codec: str | None) -> None:
    a = make_clip(tmp_path / "a.mkv")
    b = make_clip(tmp_path / "b.mkv", inside=77)  # differs from a only inside the mask
    assert not np.array_equal(decode(a)[0][0], decode(b)[0][0])
    masks = pm.MaskSet([pm.Mask(MIDDLE, solid(GREY))])
    out_a, out_b = tmp_path / "a-out.mp4", tmp_path / "b-out.mp4"
    pm.export(a, out_a, masks, codec=codec)
    pm.export(b, out_b, masks, codec=codec)
    assert out_a.read_bytes() == out_b.read_bytes()
    if codec is None:  # FFV1 again: the inside is exactly the solid colour
        y, u, _ = decode(out_a)[5]
        assert (y[INSIDE] == GREY[0]).all()
        assert (u[6:18, 8:24] == GREY[1]).all()
        assert np.array_equal(y[:12], source_planes(5)[0][:12])


def test_metadata_audio_and_source_names_are_dropped(clip: Path, tmp_path: Path) -> None:
    masks = pm.MaskSet([pm.Mask(MIDDLE, pm.Mosaic(block_px=8))])
    dst = tmp_path / "out" / "export.mkv"
    dst.parent.mkdir()
    result = pm.export(clip, dst, masks)
    with av.open(str(dst)) as c:
        assert [s.type for s in c.streams] == ["video"]
        assert SECRET not in json.dumps(dict(c.metadata))
        assert SECRET not in json.dumps(dict(c.streams.video[0].metadata))
    source_hash = hashlib.sha256(clip.read_bytes()).hexdigest()
    for path in (dst, result.manifest_path):
        assert path is not None
        data = path.read_bytes()
        for leak in (SECRET, "lobby cam7", str(tmp_path), source_hash, "site B"):
            assert leak.encode() not in data, f"{leak!r} in {path.name}"
    assert no_leftovers(dst.parent)
    kept = pm.export(clip, tmp_path / "with-audio.mkv", masks, keep_audio=True)
    assert kept.manifest["audio"] is True
    with av.open(str(tmp_path / "with-audio.mkv")) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "video"]


def test_manifest(clip: Path, tmp_path: Path) -> None:
    masks = pm.MaskSet(
        [
            pm.Mask(MIDDLE, pm.Solid("#000000"), name="Mrs Smith's window"),
            pm.Mask(pm.Polygon.rect(0, 0, 0.25, 0.25), pm.Blur(sigma_px=4), liftable=True),
        ]
    )
    dst = tmp_path / "export.mkv"
    result = pm.export(clip, dst, masks)
    assert result.manifest_path == tmp_path / "export.mkv.manifest.json"
    doc = json.loads(result.manifest_path.read_text())
    assert doc == result.manifest
    assert doc["privmask"] == pm.__version__
    assert doc["frames"] == FRAMES
    assert doc["mask_sets"] == [
        {
            "content_hash": masks.content_hash,
            "frames": {"first": 0, "last": FRAMES - 1, "count": FRAMES},
            "masks": [
                {
                    "style": {"type": "solid", "color": "#000000"},
                    "grade": "anonymising",
                    "liftable": False,
                    "burned_in": True,
                },
                {
                    "style": {"type": "blur", "sigma_px": 4.0},
                    "grade": "bounded",
                    "liftable": True,
                    "burned_in": True,
                },
            ],
        }
    ]
    assert doc["liftable_masks_included"] is True
    assert doc["weakest_grade"] == "bounded"
    assert (doc["audio"], doc["metadata"], doc["encryption"], doc["lift"]) == (
        False,
        False,
        None,
        None,
    )
    assert doc["output"] == {
        "bytes": dst.stat().st_size,
        "sha256": hashlib.sha256(dst.read_bytes()).hexdigest(),
    }
    assert "Smith" not in result.manifest_path.read_text()  # mask names stay in-house
    pm.export(clip, tmp_path / "bare.mkv", masks, manifest=False)
    assert not (tmp_path / "bare.mkv.manifest.json").exists()


def test_masks_in_force_at_recording_time(clip: Path, tmp_path: Path) -> None:
    left = pm.MaskSet([pm.Mask(pm.Polygon.rect(0, 0, 0.5, 1), solid((16, 128, 128)))])
    right = pm.MaskSet([pm.Mask(pm.Polygon.rect(0.5, 0, 0.5, 1), solid((235, 128, 128)))])
    timeline = pm.MaskTimeline(
        [(T0 - timedelta(days=1), left), (T0 + timedelta(seconds=0.5), right)]
    )  # the configuration changed half a second (6 frames) into the recording
    result = pm.export(clip, tmp_path / "export.mkv", timeline, start=T0)
    frames = decode(tmp_path / "export.mkv")
    for i, (y, _, _) in enumerate(frames):
        original = source_planes(i)[0]
        if i < 6:
            assert (y[:, :32] == 16).all() and np.array_equal(y[:, 32:], original[:, 32:])
        else:
            assert (y[:, 32:] == 235).all() and np.array_equal(y[:, :32], original[:, :32])
    assert [(m["content_hash"], m["frames"]) for m in result.manifest["mask_sets"]] == [
        (left.content_hash, {"first": 0, "last": 5, "count": 6}),
        (right.content_hash, {"first": 6, "last": 11, "count": 6}),
    ]
    with pytest.raises(pm.NoMasksInForceError):  # recorded before anything was configured
        pm.export(clip, tmp_path / "early.mkv", timeline, start=T0 - timedelta(days=2))
    assert not (tmp_path / "early.mkv").exists()
    assert no_leftovers(tmp_path)


# --- lifts ---------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def lifts(tmp_path: Path) -> Iterator[tuple[LiftManager, Clock]]:
    clock = Clock()
    log = AuditLog(tmp_path / "audit.jsonl")
    yield LiftManager(LiftPolicy(), lambda user, p: user == "alice", log, clock), clock
    log.verify()


PERMANENT = pm.Mask(pm.Polygon.rect(0, 0, 0.25, 1), solid((16, 128, 128)))
LIFTABLE = pm.Mask(MIDDLE, solid((235, 128, 128)), liftable=True)


def test_liftable_masks_burned_in_without_a_lift_and_left_out_with_one(
    clip: Path, tmp_path: Path, lifts: tuple[LiftManager, Clock]
) -> None:
    manager, _ = lifts
    masks = pm.MaskSet([PERMANENT, LIFTABLE])
    plain = pm.export(clip, tmp_path / "plain.mkv", masks)
    y = decode(tmp_path / "plain.mkv")[3][0]
    assert (y[:, :16] == 16).all() and (y[INSIDE] == 235).all()
    assert plain.manifest["liftable_masks_included"] is True

    lift = manager.request("alice", "incident 4711: stolen bicycle", cameras={"lobby"})
    lifted = pm.export(clip, tmp_path / "lifted.mkv", masks, lift=lift, camera="lobby")
    y = decode(tmp_path / "lifted.mkv")[3][0]
    assert (y[:, :16] == 16).all()  # permanent masks never lift
    assert np.array_equal(y[INSIDE], source_planes(3)[0][INSIDE])
    doc = lifted.manifest
    assert doc["liftable_masks_included"] is False
    assert doc["weakest_grade"] == "anonymising"
    assert [m["burned_in"] for m in doc["mask_sets"][0]["masks"]] == [True, False]
    record = list(manager.audit.records())[-1]
    assert (record["event"], record["user"], record["lift"]) == ("export", "alice", lift.id)
    assert record["cameras"] == ["lobby"]
    assert record["masks"] == [masks.content_hash]
    assert record["detail"]["output_sha256"] == doc["output"]["sha256"]
    assert doc["audit"] == {"record": record["seq"], "hash": record["hash"]}
    assert doc["lift"] == {"id": lift.id, "approved": False}


def test_a_lift_not_in_force_is_refused_and_logged(
    clip: Path, tmp_path: Path, lifts: tuple[LiftManager, Clock]
) -> None:
    manager, clock = lifts
    masks = pm.MaskSet([PERMANENT, LIFTABLE])
    lift = manager.request("alice", "incident 4712", cameras={"lobby"})
    with pytest.raises(pm.LiftDeniedError, match="does not cover camera 'gate'"):
        pm.export(clip, tmp_path / "gate.mkv", masks, lift=lift, camera="gate")
    with pytest.raises(ValueError, match="camera= is required"):
        pm.export(clip, tmp_path / "x.mkv", masks, lift=lift)
    forged = Lift("f" * 32, "alice", "x", None, None, T0, T0 + timedelta(days=1))
    with pytest.raises(pm.LiftDeniedError, match="not granted by a LiftManager"):
        pm.export(clip, tmp_path / "x.mkv", masks, lift=forged, camera="lobby")
    clock.t = T0 + timedelta(minutes=30)
    with pytest.raises(pm.LiftDeniedError, match="expired"):
        pm.export(clip, tmp_path / "late.mkv", masks, lift=lift, camera="lobby")
    denials = [r for r in manager.audit.records() if r["event"] == "deny"]
    assert [r["detail"]["action"] for r in denials] == ["export", "export"]
    assert not list(tmp_path.glob("*.mkv.manifest.json"))
    assert sorted(p.name for p in tmp_path.glob("*.mkv")) == [clip.name]


def test_an_unwritable_audit_log_stops_a_lifted_export(
    clip: Path, tmp_path: Path, lifts: tuple[LiftManager, Clock]
) -> None:
    manager, _ = lifts
    lift = manager.request("alice", "incident 4713")
    with open(manager.audit.path, "ab") as f:
        f.write(b'{"torn')
    masks = pm.MaskSet([PERMANENT, LIFTABLE])
    with pytest.raises(pm.AuditIntegrityError):
        pm.export(clip, tmp_path / "lifted.mkv", masks, lift=lift, camera="lobby")
    assert not (tmp_path / "lifted.mkv").exists()
    assert no_leftovers(tmp_path)
    manager.audit.repair()


def test_exports_without_a_lift_can_be_audited_too(clip: Path, tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "exports.jsonl")
    masks = pm.MaskSet([PERMANENT])
    pm.export(clip, tmp_path / "out.mkv", masks, audit=log, user="carol", camera="lobby")
    (record,) = log.records()
    assert (record["event"], record["user"], record["lift"]) == ("export", "carol", None)
    assert record["detail"]["liftable_masks_included"] is True


# --- encryption -----------------------------------------------------------------------------------


def test_encrypted_round_trip(clip: Path, tmp_path: Path) -> None:
    masks = pm.MaskSet([pm.Mask(MIDDLE, solid(GREY))])
    plain = pm.export(clip, tmp_path / "plain.mkv", masks)
    stage = tmp_path / "local-disk"
    stage.mkdir()
    sealed = pm.export(
        clip, tmp_path / "sealed.mkv.enc", masks, password="s3cret pass", workdir=stage
    )
    assert list(stage.iterdir()) == []  # the unencrypted stage is gone
    enc = tmp_path / "sealed.mkv.enc"
    assert pm.redaction.crypto.is_encrypted(enc)
    assert sealed.manifest["encryption"] == {"cipher": "AES-256-GCM", "kdf": "scrypt", "format": 1}
    assert sealed.manifest["output"]["sha256"] == hashlib.sha256(enc.read_bytes()).hexdigest()
    assert sealed.manifest["mask_sets"] == plain.manifest["mask_sets"]
    assert no_leftovers(tmp_path)
    pm.decrypt(enc, tmp_path / "opened.mkv", "s3cret pass")
    opened, reference = decode(tmp_path / "opened.mkv"), decode(tmp_path / "plain.mkv")
    assert len(opened) == FRAMES
    for a, b in zip(opened, reference, strict=True):
        assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def test_wrong_password_and_truncated_ciphertext(clip: Path, tmp_path: Path) -> None:
    enc = tmp_path / "sealed.enc"
    pm.export(clip, enc, pm.MaskSet([pm.Mask(MIDDLE)]), password="right", container="mkv")
    with pytest.raises(WrongPasswordError, match="wrong password"):
        pm.decrypt(enc, tmp_path / "out.mkv", "wrong")
    data = enc.read_bytes()
    enc.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecryptionError, match=r"truncated|failed authentication"):
        pm.decrypt(enc, tmp_path / "out.mkv", "right")
    assert not (tmp_path / "out.mkv").exists()


# --- command line ---------------------------------------------------------------------------------


def test_cli_export_and_decrypt(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    masks_file = tmp_path / "masks.json"
    masks_file.write_text(pm.MaskSet([pm.Mask(MIDDLE, solid(GREY))]).to_json())
    monkeypatch.setenv("EXPORT_PASSWORD", "from the environment")
    enc, out = tmp_path / "cli.mkv.enc", tmp_path / "cli.mkv"
    args = [str(clip), str(enc), "--masks", str(masks_file), "--password-env", "EXPORT_PASSWORD"]
    assert export_cli.main(["export", *args, "-q"]) == 0
    assert (tmp_path / "cli.mkv.enc.manifest.json").exists()
    assert (
        export_cli.main(["decrypt", str(enc), str(out), "--password-env", "EXPORT_PASSWORD"]) == 0
    )
    assert (decode(out)[0][0][INSIDE] == GREY[0]).all()
    pw_file = tmp_path / "pw.txt"
    pw_file.write_text("not it\n")
    assert export_cli.main(["decrypt", str(enc), str(out), "--password-file", str(pw_file)]) == 1
    assert "wrong password" in capsys.readouterr().err
