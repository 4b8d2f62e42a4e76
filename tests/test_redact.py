"""Redaction: choosing which tracks to mask, the file pipeline, its sidecar, preview and CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import privmask as pm
from privmask.cli.main import main
from privmask.dynamic.track import Tracker
from privmask.engine.regions import Region, region_coverage
from privmask.redaction.redact import Redactor, redact_file, select_regions
from tests.people import MASK, make_clip, unmasked, write_ffv1

av = pytest.importorskip("av")
PIL = pytest.importorskip("PIL.Image")

A = (0.1, 0.1, 0.3, 0.4)
B = (0.6, 0.5, 0.9, 0.9)


class Two:
    """Two still objects, A (track 1) and B (track 2), detected in every frame."""

    def detect(self, frame: pm.Frame) -> list[Region]:
        return [Region(A, label="a"), Region(B, label="b")]


def run(**selection: list[int]) -> pm.Frame:
    f = pm.Frame.blank("yuv420p", 80, 60, value=100)
    r = Redactor(Tracker(Two(), margin=0.0), style=MASK, **selection)  # type: ignore[arg-type]
    r.process(f)
    return f


def masked_exactly(f: pm.Frame, boxes: list[tuple[float, float, float, float]]) -> bool:
    cover = region_coverage([Region(b) for b in boxes], 80, 60)
    return bool(((f.planes[0] == 1) == cover).all())


def test_mask_all_tracks() -> None:
    assert masked_exactly(run(), [A, B])


def test_keep_tracks_leaves_exactly_those_visible() -> None:
    assert masked_exactly(run(keep_tracks=[1]), [B])
    assert masked_exactly(run(keep_tracks=[2]), [A])
    assert masked_exactly(run(keep_tracks=[1, 2]), [])


def test_only_tracks_masks_exactly_those() -> None:
    assert masked_exactly(run(only_tracks=[2]), [B])
    assert masked_exactly(run(only_tracks=[9]), [])


def test_keep_and_only_together_are_refused() -> None:
    with pytest.raises(pm.MaskConfigError):
        run(keep_tracks=[1], only_tracks=[2])
    with pytest.raises(pm.MaskConfigError):
        select_regions([], keep_tracks=[1], only_tracks=[2])


def test_inverse_masking_shows_only_the_kept_person() -> None:
    """ "Show only this person": the frame minus one track's region."""
    clip = make_clip(20)
    det = Tracker(pm.MotionDetector(), margin=0.1)
    for f in clip.frames:
        tracked = det.step(f)
        before = f.planes[0].copy()
        pm.apply(f, pm.MaskSet(), regions=list(tracked.regions), region_style=MASK, invert=True)
        keep = region_coverage(list(tracked.regions), 320, 240)
        assert (f.planes[0][~keep] == 1).all()
        assert (f.planes[0][keep] == before[keep]).all()


def _decode(path: Path) -> list[pm.Frame]:
    with av.open(str(path)) as inp:
        return [pm.Frame.from_av(f).copy() for f in inp.decode(video=0)]


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    clip = make_clip(40)
    path = tmp_path_factory.mktemp("redact") / "walk.mkv"
    write_ffv1(path, clip.frames)
    return path, clip.face


def test_redact_file_masks_every_face_pixel_and_writes_sidecar_and_preview(
    clip_file: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    src, faces = clip_file
    dst = tmp_path / "out.mkv"
    report = redact_file(src, dst, motion=True, style=MASK, codec="ffv1", hold=2)
    frames = _decode(dst)
    assert len(frames) == report.frames == 40
    for f, face in zip(frames, faces, strict=True):
        assert unmasked(f, face) == 0
    side = json.loads(report.sidecar.read_text())
    assert side["privmask_redaction"] == 1 and side["frames"] == 40
    assert side["stats"]["learning"] == 5 and side["stats"]["failures"] == 0
    ids = [t["id"] for t in side["tracks"]]
    assert ids == sorted(ids) and ids[0] == 1
    first = side["tracks"][0]
    assert first["first_frame"] <= first["last_frame"] and len(first["boxes"][0]) == 5
    assert report.preview is not None
    # Unmasked review material: in a private (0700) folder, not beside the redacted output.
    assert report.preview.parent != dst.parent
    assert report.preview.parent.stat().st_mode & 0o777 == 0o700
    assert report.preview.stat().st_mode & 0o077 == 0
    with PIL.open(report.preview) as img:
        assert img.format == "PNG" and img.width >= 320
    assert "40 frames" in report.summary()


def test_keep_tracks_in_a_file_leaves_that_person_visible(
    clip_file: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    src, faces = clip_file
    all_dst, keep_dst = tmp_path / "all.mkv", tmp_path / "keep.mkv"
    redact_file(src, all_dst, motion=True, style=MASK, codec="ffv1", preview=False)
    side = json.loads(Path(f"{all_dst}.tracks.json").read_text())
    walker = side["tracks"][0]["id"]
    redact_file(
        src, keep_dst, motion=True, style=MASK, codec="ffv1", keep_tracks=[walker], preview=False
    )
    same_ids = json.loads(Path(f"{keep_dst}.tracks.json").read_text())["tracks"]
    assert [t["id"] for t in same_ids] == [t["id"] for t in side["tracks"]]
    frames = _decode(keep_dst)
    first, last = side["tracks"][0]["first_frame"], side["tracks"][0]["last_frame"]
    seen = [t for t in range(first + 1, last + 1) if faces[t] is not None]
    assert len(seen) >= 10
    for t in seen:
        assert unmasked(frames[t], faces[t]) > 0
    # Learning frames are masked whole whatever the selection.
    assert (frames[0].planes[0] == 1).all()


def test_redact_cli(
    clip_file: tuple[Path, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = clip_file
    dst = tmp_path / "cli.mkv"
    argv = ["redact", str(src), str(dst), "--motion", "--codec", "ffv1", "--style", "mosaic"]
    # A track that never existed is an error naming the ones that do, and nothing is written.
    assert main([*argv, "--only-tracks", "1,99"]) == 1
    assert "no track 99 in this recording; its tracks are 1" in capsys.readouterr().err
    assert not dst.exists()
    assert main([*argv, "--only-tracks", "1", "--person-margin", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "40 frames" in out and "tracks.json" in out
    assert dst.exists() and Path(f"{dst}.tracks.json").exists()
    assert json.loads(Path(f"{dst}.tracks.json").read_text())["person_margin"] == 0.05
    # The unmasked review sheet goes to the private review folder, never beside the export.
    assert not Path(f"{dst}.tracks.png").exists()
    sel = json.loads(Path(f"{dst}.tracks.json").read_text())["selection"]
    assert sel == {"keep_tracks": None, "only_tracks": [1]}
    assert main(["redact", str(src), str(dst)]) == 1
    assert "choose --faces, --people, --motion" in capsys.readouterr().err
    assert main(["redact", str(tmp_path / "missing.mkv"), str(dst), "--motion"]) == 1
    assert "missing.mkv" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--keep-tracks", "1", "--only-tracks", "2"])
    with pytest.raises(SystemExit):
        main([*argv, "--keep-tracks", "x"])


def test_redact_cli_batch_matches_one_file_at_a_time(
    clip_file: tuple[Path, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = clip_file
    inputs = tmp_path / "in"
    inputs.mkdir()
    copies = []
    for name in ("a.mkv", "b.mkv"):
        copies.append(inputs / name)
        copies[-1].write_bytes(src.read_bytes())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    opts = ["--motion", "--codec", "ffv1", "--no-preview"]
    argv = ["redact", *map(str, copies), "--out-dir", str(out_dir), *opts]
    assert main([*argv, "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    one = tmp_path / "one.mkv"
    assert main(["redact", str(copies[0]), str(one), *opts, "-q"]) == 0
    for name in ("a.mkv", "b.mkv"):
        assert f"{out_dir / name}.tracks.json" in printed
        for got, want in zip(_decode(out_dir / name), _decode(one), strict=True):
            for g, w in zip(got.planes, want.planes, strict=True):
                assert (g == w).all()
    # Track ids belong to one recording.
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--keep-tracks", "1"])
    assert exit_info.value.code == 2
    # A missing input fails alone: the other file is still written.
    (out_dir / "b.mkv").unlink()
    missing = str(inputs / "missing.mkv")
    assert main(["redact", missing, str(copies[1]), "--out-dir", str(out_dir), *opts, "-q"]) == 1
    assert "missing.mkv" in capsys.readouterr().err and (out_dir / "b.mkv").exists()


class Raising:
    def detect(self, frame: pm.Frame) -> list[Region]:
        raise RuntimeError("out of memory")


def test_a_failing_detector_masks_every_frame_of_the_file_whole(
    clip_file: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    src, _ = clip_file
    dst = tmp_path / "failed.mkv"
    report = redact_file(src, dst, detectors=[Raising()], style=MASK, codec="ffv1", preview=False)
    assert report.stats.failures == report.stats.whole_frames == 40
    assert all((f.planes[0] == 1).all() for f in _decode(dst))
    stats = json.loads(report.sidecar.read_text())["stats"]
    assert stats["failures"] == 40 and stats["last_error"] == "RuntimeError: out of memory"


def test_redact_cli_with_faces(
    clip_file: tuple[Path, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, faces = clip_file
    dst = tmp_path / "faces.mkv"
    argv = ["redact", str(src), str(dst), "--faces", "--face-model", "cascade"]
    assert main([*argv, "--detect-every", "4", "--codec", "ffv1", "-q"]) == 0
    assert capsys.readouterr().out == ""
    side = json.loads(Path(f"{dst}.tracks.json").read_text())
    assert side["detectors"] == ["CascadeFaceDetector"] and side["stats"]["detection_runs"] == 10
    assert any(t["label"] == "face" for t in side["tracks"])
    frames = _decode(dst)
    # Some face frames are masked (the cascade runs on every 4th frame and misses faces cut by
    # the frame edge, so not all: that is what the motion detector is for).
    black = [
        bool((f.planes[0][y0:y1, x0:x1] == 16).all())  # solid black, limited range
        for f, (x0, y0, x1, y1) in (
            (f, face) for f, face in zip(frames, faces, strict=True) if face
        )
    ]
    assert sum(black) > 15, black


def test_redact_cli_motion_held_where_tracked(
    clip_file: tuple[Path, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--motion-hold tracked`` reaches the motion detector (named in the summary) and the
    walking face stays masked on every frame; without motion shapes it is refused."""
    src, faces = clip_file
    dst = tmp_path / "held.mkv"
    argv = ["redact", str(src), str(dst), "--faces", "--motion", "--motion-shapes"]
    assert main([*argv, "--motion-hold", "tracked", "--codec", "ffv1", "--hold", "2"]) == 0
    assert "motion shapes (held where tracked)" in capsys.readouterr().out
    shown = [
        int((f.planes[0][y0:y1, x0:x1] != 16).sum())  # solid black, limited range
        for f, (x0, y0, x1, y1) in ((f, b) for f, b in zip(_decode(dst), faces, strict=True) if b)
    ]
    assert len(shown) >= 20 and not any(shown), shown
    dst.unlink()
    assert main(["redact", str(src), str(dst), "--motion", "--motion-hold", "tracked"]) == 1
    assert "applies to motion shapes" in capsys.readouterr().err
    assert not dst.exists()


def test_redact_files_runs_a_batch_on_any_executor(
    clip_file: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    """The batch API: reports in job order; a failing job does not stop the others, and is
    raised with its job named."""
    from concurrent.futures import ThreadPoolExecutor

    from privmask.redaction.redact import RedactJob, redact_files

    src, faces = clip_file
    options = {"motion": True, "style": MASK, "codec": "ffv1", "preview": False}
    jobs = [RedactJob(src, tmp_path / f"{i}.mkv", options) for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        reports = redact_files(jobs, executor=pool, progress=False)
    assert [r.dst for r in reports] == [str(j.dst) for j in jobs]
    for job in jobs:
        frames = _decode(Path(job.dst))
        assert all(unmasked(f, face) == 0 for f, face in zip(frames, faces, strict=True))
    bad = [*jobs[:1], RedactJob(tmp_path / "missing.mkv", tmp_path / "x.mkv", options)]
    with ThreadPoolExecutor(2) as pool, pytest.raises(ExceptionGroup) as group:
        redact_files(bad, executor=pool, progress=False)
    assert "1 of 2 redaction jobs failed" in str(group.value)
    assert "missing.mkv" in str(group.value.exceptions[0].__notes__)


def test_redact_refuses_to_replace_its_source(
    clip_file: tuple[Path, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The redacted copy is staged under another name, so the source check is made on the final
    name: the same path, a path spelled otherwise, a symbolic link and --out-dir onto the
    source's own folder are all refused before anything is read, and the original is intact."""
    src = tmp_path / "walk.mkv"
    src.write_bytes(clip_file[0].read_bytes())
    before = src.read_bytes()
    link = tmp_path / "link.mkv"
    link.symlink_to(src)
    for dst in (src, tmp_path / "." / "walk.mkv", link):
        with pytest.raises(ValueError, match="is the source itself"):
            redact_file(src, dst, motion=True, codec="ffv1")
    assert main(["redact", str(src), str(src), "--motion", "--codec", "ffv1"]) == 1
    assert "is the source itself; write the redacted copy elsewhere" in capsys.readouterr().err
    assert main(["redact", str(src), "--out-dir", str(tmp_path), "--motion"]) == 1
    assert "is the source itself" in capsys.readouterr().err
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.mkv", "walk.mkv"]


def test_review_sheets_of_two_exports_with_one_name_stay_apart(
    clip_file: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    src, _ = clip_file
    review = tmp_path / "review"
    sheets = []
    for folder in ("a", "b", "a"):
        (tmp_path / folder).mkdir(exist_ok=True)
        report = redact_file(
            src, tmp_path / folder / "out.mkv", motion=True, codec="ffv1", review_dir=review
        )
        assert report.preview is not None and report.preview.parent == review
        sheets.append(report.preview)
    # Two folders, two sheets; the same export again replaces its own.
    assert sheets[0] != sheets[1] and sheets[0] == sheets[2]
    assert sorted(p.name for p in review.iterdir()) == sorted({s.name for s in sheets})
    assert all(s.name.startswith("out.mkv.") and s.name.endswith(".tracks.png") for s in sheets)
