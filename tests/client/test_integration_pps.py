"""``client.pps`` against both servers over real gRPC: pipelines, jobs, datums, logs.

Tests whose pipelines must run (jobs, outputs, datums, logs) are marked
``workers``: on the reference they get a pachd that runs its pipelines
(``real_pachd_workers``).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from pachmagic import errors
from pachmagic.client import Client, Job, Pipeline, to_frame
from tests.dual_server import settles

COPY = (
    "import os, shutil\n"
    "for name in os.listdir('/pfs/photos'):\n"
    "    shutil.copy(os.path.join('/pfs/photos', name), '/pfs/out/' + name)\n"
    "    print('copied', name)\n"
)
SPEC = {
    "pipeline": {"name": "copy"},
    "description": "copies photos",
    "transform": {"image": "python:3.12", "cmd": ["python3", "-c", COPY]},
    "input": {"pfs": {"repo": "photos", "glob": "/*"}},
}


@pytest.fixture
def created(client: Client) -> Client:
    """Repo ``photos`` with two files and pipeline ``copy`` (its first job not waited for)."""
    client.pfs.create_repo("photos")
    client.pfs.put_files("photos@master", {"/a.txt": b"a", "/b.txt": b"bb"})
    assert client.pps.create_pipeline(json.dumps(SPEC)) == [Pipeline("copy", "default")]
    return client


@pytest.fixture
def pipeline(created: Client) -> Client:
    """``created`` once the first job is done (needs workers)."""
    job = created.pps.list_job(pipeline="copy")[0]
    assert created.pps.wait_job(job.job).state == "success"
    return created


@pytest.mark.workers
def test_pipeline_info_and_frame(pipeline: Client) -> None:
    info = pipeline.pps.inspect_pipeline("copy")
    assert (info.name, info.project, info.version, info.input, info.description) == (
        "copy", "default", 1, "photos:/*", "copies photos",
    )
    assert info.state in ("running", "starting", "standby") and info.last_job_state == "success"
    assert info.spec["transform"]["cmd"][0] == "python3" and info.created is not None
    listed = pipeline.pps.list_pipeline(details=True)
    assert [p.name for p in listed] == ["copy"]
    frame = to_frame(listed)
    assert frame.loc[0, "input"] == "photos:/*" and frame.loc[0, "version"] == 1
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    every_type = to_frame(pipeline.pfs.list_repo(type=None))
    assert {"photos", "copy", "copy.spec", "copy.meta"} <= set(every_type["name"])
    assert [r.type for r in pipeline.pfs.list_repo(type="spec")] == ["spec"]


@pytest.mark.workers
def test_jobs_and_outputs(pipeline: Client) -> None:
    jobs = pipeline.pps.list_job(pipeline="copy")
    assert len(jobs) == 1
    job = jobs[0]
    assert job.state == "success" and job.done and job.data_total == 2 and job.data_processed == 2
    assert job.duration is not None and job.duration >= timedelta(0)
    assert job.output_commit is not None and job.output_commit.repo.name == "copy"
    assert pipeline.pfs.get_file("copy@master:/b.txt") == b"bb"
    assert pipeline.pps.inspect_job(f"copy@{job.id}", details=True).id == job.id
    assert pipeline.pps.inspect_job(("copy", job.id)).state == "success"
    assert [j.pipeline for j in pipeline.pps.inspect_job_set(job.id, wait=True)] == ["copy"]
    assert [j.id for j in pipeline.pps.list_job()] == [job.id]
    frame = to_frame(jobs)
    assert frame.loc[0, "progress"] == "2 + 0 / 2" and frame.loc[0, "total"] == 2
    assert frame["duration"].dtype == "timedelta64[ns]"

    # a new input commit: a second job that skips the unchanged datum
    pipeline.pfs.put_file("photos@master", "/c.txt", b"ccc")
    second = pipeline.pps.wait_job(Job(Pipeline("copy"), pipeline.pfs.inspect_commit("photos@master").id))
    assert (second.data_processed, second.data_skipped, second.data_total) == (1, 2, 3)
    assert len(pipeline.pps.list_job(pipeline="copy")) == 2


@pytest.mark.workers
def test_datums(pipeline: Client) -> None:
    job = pipeline.pps.list_job(pipeline="copy")[0]
    datums = pipeline.pps.list_datum(job.job)
    assert len(datums) == 2 and {d.state for d in datums} == {"success"}
    paths = sorted(f.path for d in datums for f in d.files)
    assert paths == ["/a.txt", "/b.txt"]
    one = pipeline.pps.inspect_datum(f"copy@{job.id}", datums[0].id)
    assert one.id == datums[0].id and one.job_id == job.id
    frame = to_frame(datums)
    assert list(frame.columns) == ["id", "files", "state", "time"]
    assert frame["files"].str.contains("photos@").all()


@pytest.mark.workers
def test_logs(pipeline: Client) -> None:
    job = pipeline.pps.list_job(pipeline="copy")[0]
    user_lines = sorted(m.message for m in pipeline.pps.get_logs(job=job.job) if m.user)
    assert user_lines == ["copied a.txt", "copied b.txt"]
    assert any(m.message == "copied a.txt" for m in pipeline.pps.get_logs(pipeline="copy"))
    messages = list(pipeline.pps.get_logs(pipeline="copy"))
    frame = to_frame(messages)
    assert frame["user"].dtype == bool and frame["ts"].notna().all()


@pytest.mark.workers
def test_update_stop_start_delete(pipeline: Client) -> None:
    updated = dict(SPEC, description="v2")
    with pytest.raises(errors.AlreadyExists):
        pipeline.pps.create_pipeline(updated)
    pipeline.pps.create_pipeline(updated, update=True)
    assert pipeline.pps.inspect_pipeline("copy").version == 2
    for job in pipeline.pps.list_job(pipeline="copy"):
        pipeline.pps.wait_job(job.job)
    pipeline.pps.stop_pipeline("copy")
    assert pipeline.pps.inspect_pipeline("copy").stopped
    assert settles(lambda: pipeline.pps.inspect_pipeline("copy").state == "paused")
    pipeline.pps.start_pipeline("copy")
    assert not pipeline.pps.inspect_pipeline("copy").stopped
    pipeline.pps.delete_pipeline("copy", force=True)
    with pytest.raises(errors.NotFound):
        pipeline.pps.inspect_pipeline("copy")
    assert pipeline.pps.list_pipeline() == []
    assert "copy" not in [r.name for r in pipeline.pfs.list_repo()]


def test_yaml_multi_document_and_bad_specs(client: Client) -> None:
    client.pfs.create_repo("photos")
    text = (
        "pipeline: {name: one}\ntransform: {image: x, cmd: [python3, -c, 'pass']}\n"
        "input: {pfs: {repo: photos, glob: /}}\n---\n"
        "pipeline: {name: two}\ntransform: {image: x, cmd: [python3, -c, 'pass']}\n"
        "input: {pfs: {repo: one, glob: /}}\n"
    )
    assert [p.name for p in client.pps.create_pipeline(text)] == ["one", "two"]
    assert sorted(to_frame(client.pps.list_pipeline(details=True))["name"]) == ["one", "two"]
    with pytest.raises(errors.InvalidArgument, match='unknown field "imagee"'):
        client.pps.create_pipeline({"pipeline": {"name": "bad"}, "transform": {"imagee": "x"}})
    with pytest.raises(errors.NotFound):
        client.pps.create_pipeline({"pipeline": {"name": "orphan"}, "transform": {"image": "x", "cmd": ["true"]},
                                    "input": {"pfs": {"repo": "missing", "glob": "/"}}})


def test_delete_all_and_empty_frames(created: Client) -> None:
    pipeline = created
    pipeline.pps.delete_all()
    assert pipeline.pps.list_pipeline() == []
    empty_jobs = to_frame(pipeline.pps.list_job())
    assert len(empty_jobs) == 0 and empty_jobs["started"].dtype == pd.DatetimeTZDtype("ns", "UTC")


def test_stop_job(client: Client) -> None:
    client.pfs.create_repo("photos")
    client.pfs.put_file("photos@master", "/a", b"a")
    client.pps.create_pipeline({
        "pipeline": {"name": "slow"},
        "transform": {"image": "x", "cmd": ["python3", "-c", "import time; time.sleep(120)"]},
        "input": {"pfs": {"repo": "photos", "glob": "/"}},
    })
    job = client.pps.list_job(pipeline="slow")[0]
    client.pps.stop_job(job.job, reason="enough")
    stopped = client.pps.wait_job(job.job)
    assert stopped.state == "killed" and "enough" in stopped.reason


def test_dry_run_creates_nothing_and_history_lists_versions(created: Client) -> None:
    pipeline = created
    other = dict(SPEC, pipeline={"name": "dry"})
    assert pipeline.pps.create_pipeline(json.dumps(other), dry_run=True) == [Pipeline("dry", "default")]
    assert [p.name for p in pipeline.pps.list_pipeline()] == ["copy"]
    pipeline.pps.create_pipeline(json.dumps(dict(SPEC, description="v2")), update=True)
    versions = pipeline.pps.list_pipeline("copy", history=-1)
    assert [(p.version, p.description) for p in versions] == [(2, "v2"), (1, "copies photos")]
    assert [p.version for p in pipeline.pps.list_pipeline("copy")] == [2]
