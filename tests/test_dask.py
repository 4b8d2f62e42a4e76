"""Batches on a real Dask cluster: ``mask_files`` with a ``distributed.LocalCluster`` of two
worker processes, the way a data team would run it on their own cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import privmask as pm
from privmask.video import MaskJob, mask_files
from tests.test_video import decode, expected, make_clip, planes, sample_masks

distributed = pytest.importorskip("distributed")
pytest.importorskip("av")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_mask_files_runs_on_a_dask_cluster(tmp_path: Path, client: Any) -> None:
    masks = sample_masks()
    jobs = []
    for i in range(4):
        src = tmp_path / f"cam{i}.mkv"
        make_clip(src, codec="ffv1", frames=6 + i)
        jobs.append(MaskJob(src, tmp_path / f"masked{i}.mkv", masks))
    reports = mask_files(jobs, executor=client.get_executor(), progress=False)
    workers = set(client.run(os.getpid).values())  # the worker processes' pids
    assert [r.frames for r in reports] == [6, 7, 8, 9]  # in job order
    assert {int(r.worker.rsplit(":", 1)[1]) for r in reports} <= workers
    assert os.getpid() not in workers
    for job in jobs:
        want = expected(decode(Path(job.src)), masks)
        got = decode(Path(job.dst))
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(planes(g)[0], w.planes[0])


def test_failed_jobs_are_reported_together_and_the_rest_are_written(
    tmp_path: Path, client: Any
) -> None:
    good = tmp_path / "good.mkv"
    make_clip(good, codec="ffv1")
    (tmp_path / "junk.mkv").write_bytes(b"\x00" * 1000)
    jobs = [
        MaskJob(tmp_path / "missing.mkv", tmp_path / "out0.mkv", sample_masks()),
        MaskJob(good, tmp_path / "out1.mkv", sample_masks()),
        MaskJob(tmp_path / "junk.mkv", tmp_path / "out2.mkv", sample_masks()),
    ]
    with pytest.raises(ExceptionGroup) as info:
        mask_files(jobs, executor=client.get_executor(), progress=False)
    group = info.value
    assert "2 of 3 masking jobs failed" in str(group)
    missing, junk = group.exceptions
    assert isinstance(missing, FileNotFoundError)
    assert isinstance(junk, pm.VideoError) and "not a readable video" in str(junk)
    assert any("job 2" in note and "junk.mkv" in note for note in junk.__notes__)
    assert (tmp_path / "out1.mkv").exists()
    assert not (tmp_path / "out0.mkv").exists() and not (tmp_path / "out2.mkv").exists()
