"""Jobs and datums as pachd 2.12.2 reports them once its workers ran them.

Each fact here was found by the run corpus (tests/conformance/runs: the same scenarios
on our server and on a genuine pachd with workers) and is pinned here too, so it is
checked where no reference pachd can be had.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from pachyderm_sdk.api import pfs, pps

from pachmagic.client import Client, Job, Pipeline, connect


def spec(name: str, script: str, repo: str = "in", **extra: Any) -> dict[str, Any]:
    return {"pipeline": {"name": name}, "transform": {"image": "ubuntu:22.04", "cmd": ["sh", "-c", script]},
            "input": {"pfs": {"repo": repo, "glob": "/*"}}, **extra}


@pytest.fixture
def client(server: Any) -> Iterator[Client]:
    with connect(server.address) as c:
        c.pfs.create_repo("in")
        c.pfs.put_files("in@master", {"/a": b"A", "/bad": b"bad"})
        yield c


def _job(sdk: Any, name: str, job_id: str) -> Any:
    return sdk.pps.inspect_job(job=pps.Job(pipeline=pps.Pipeline(name=name), id=job_id), details=True)


def test_job_details_name_the_job_set_in_each_input(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(spec("copy", "cp /pfs/in/* /pfs/out/"))
    job = client.pps.wait_job(client.pps.list_job(pipeline="copy")[0].job)
    # pachd puts the job's commit set id (it resolves in every input repo), not the input commit's own id.
    assert _job(sdk, "copy", job.id).details.input.pfs.commit == job.id


def test_datum_files_carry_their_datum_tag(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(spec("first", "cp /pfs/in/* /pfs/out/", datum_tries=1))
    client.pps.create_pipeline(spec("second", "cp /pfs/first/* /pfs/out/", repo="first"))
    job = client.pps.wait_job(client.pps.list_job(pipeline="second")[0].job)
    produced = {f.file.path: f.file.datum for f in sdk.pfs.list_file(file=pfs.File.from_uri("first@master:/"))}
    datums = list(sdk.pps.list_datum(job=pps.Job(pipeline=pps.Pipeline(name="second"), id=job.id)))
    assert {f.file.path: f.file.datum for d in datums for f in d.data} == produced
    assert all(tag not in ("", "default") for tag in produced.values())


def test_a_job_that_processed_nothing_still_reports_its_times(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(spec("copy", "cp /pfs/in/* /pfs/out/"))
    client.pps.wait_job(client.pps.list_job(pipeline="copy")[0].job)
    client.pfs.delete_file("in@master", "/bad")  # nothing to run: /a is skipped
    second = client.pps.wait_job(Job(Pipeline("copy"), client.pfs.inspect_commit("in@master").id))
    assert (second.state, second.data_processed, second.data_skipped) == ("success", 0, 1)
    stats = _job(sdk, "copy", second.id).stats
    assert stats.is_set("download_time") and stats.is_set("process_time") and stats.is_set("upload_time")


def test_failed_and_recovered_datums_report_no_upload_time(client: Client, sdk: Any) -> None:
    failing = "if grep -q bad /pfs/in/*; then exit 1; fi; cp /pfs/in/* /pfs/out/"
    client.pps.create_pipeline(spec("fails", failing, datum_tries=1))
    client.pps.create_pipeline(spec("recovers", failing, datum_tries=1,
                                    transform={"image": "x", "cmd": ["sh", "-c", failing], "err_cmd": ["true"]}))
    for name in ("fails", "recovers"):
        job = client.pps.wait_job(client.pps.list_job(pipeline=name)[0].job)
        datums = list(sdk.pps.list_datum(job=pps.Job(pipeline=pps.Pipeline(name=name), id=job.id)))
        by_state = {d.state: d for d in datums}
        assert by_state[pps.DatumState.SUCCESS].stats.is_set("upload_time")
        odd = by_state[pps.DatumState.FAILED if name == "fails" else pps.DatumState.RECOVERED]
        assert not odd.stats.is_set("upload_time") and odd.stats.is_set("process_time")


def test_list_job_without_a_pipeline_shows_current_versions_only(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(spec("up", "cp /pfs/in/* /pfs/out/"))
    client.pps.wait_job(client.pps.list_job(pipeline="up")[0].job)
    client.pps.create_pipeline(spec("up", "cp /pfs/in/* /pfs/out/; true"), update=True)
    client.pps.wait_job(client.pps.list_job(pipeline="up")[0].job)
    assert [j.pipeline_version for j in sdk.pps.list_job()] == [2]
    assert [j.pipeline_version for j in sdk.pps.list_job(history=-1)] == [2, 1]


def test_a_job_set_lists_upstream_jobs_first(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(spec("first", "cp /pfs/in/* /pfs/out/"))
    client.pps.create_pipeline(spec("second", "cp /pfs/first/* /pfs/out/", repo="first"))
    client.pfs.put_file("in@master", "/c", b"C")
    set_id = client.pfs.inspect_commit("in@master").id
    jobs = list(sdk.pps.inspect_job_set(job_set=pps.JobSet(id=set_id), wait=True))
    assert [j.job.pipeline.name for j in jobs] == ["first", "second"]
    (listed,) = [s for s in sdk.pps.list_job_set() if s.job_set.id == set_id]
    assert [j.job.pipeline.name for j in listed.jobs] == ["first", "second"]


def test_a_killed_job_that_counted_its_datums_reports_times(client: Client, sdk: Any) -> None:
    import time

    client.pps.create_pipeline(spec("slow", "sleep 600"))
    deadline = time.monotonic() + 60
    while True:
        job = client.pps.list_job(pipeline="slow")[0]
        if job.state == "running" and job.data_total >= 1:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    client.pps.stop_job(job.job, reason="enough")
    killed = client.pps.wait_job(job.job)
    assert killed.state == "killed"
    stats = _job(sdk, "slow", killed.id).stats
    assert stats.is_set("download_time") and stats.is_set("process_time") and stats.is_set("upload_time")
