"""PPS jobs over real gRPC: commit sets, waits, listings, job sets, subscriptions, stop, delete."""

from __future__ import annotations

import threading
from typing import Any, Iterator

import grpc
import pytest
from pachyderm_sdk.api import pfs, pps

from pachmagic.client import Client, Job, Pipeline, connect

COPY = {"image": "busybox", "cmd": ["sh", "-c", "cp -r /pfs/in/. /pfs/out/; echo copied"]}


def spec(name: str, repo: str = "in", glob: str = "/*", transform: dict[str, Any] | None = None) -> dict[str, Any]:
    t = dict(transform or COPY)
    if repo != "in":
        t = {"image": "busybox", "cmd": ["sh", "-c", f"cp -r /pfs/{repo}/. /pfs/out/"]}
    return {"pipeline": {"name": name}, "transform": t, "input": {"pfs": {"repo": repo, "glob": glob}}}


@pytest.fixture
def client(server: Any) -> Iterator[Client]:
    with connect(server.address) as c:
        c.pfs.create_repo("in")
        yield c


@pytest.fixture
def dag(client: Client) -> Client:
    """in → copy → again, first jobs done."""
    client.pps.create_pipeline(spec("copy"))
    client.pps.create_pipeline(spec("again", repo="copy", glob="/"))
    for name in ("copy", "again"):
        client.pps.wait_job(client.pps.list_job(pipeline=name)[0].job)
    return client


def test_wait_commit_right_after_a_put_waits_for_new_results(dag: Client) -> None:
    # The downstream output commits of the put's commit set are open from the start.
    dag.pfs.put_file("in@master", "/a", b"A")
    head = dag.pfs.inspect_commit("again@master")
    assert head.finished is None
    done = dag.pfs.wait_commit("again@master")
    assert done.id == head.id and done.finished is not None
    assert dag.pfs.get_file("again@master:/a") == b"A"
    # The same with a commit that stays open for a while.
    commit = dag.pfs.start_commit("in@master")
    assert dag.pfs.inspect_commit(f"copy@{commit.id}").finished is None
    dag.pfs.put_file(commit, "/b", b"B")
    dag.pfs.finish_commit(commit)
    assert dag.pfs.wait_commit("again@master").id == commit.id
    assert dag.pfs.get_file("again@master:/b") == b"B"


def test_jobs_share_the_commit_set_id(dag: Client, sdk: Any) -> None:
    dag.pfs.put_file("in@master", "/a", b"A")
    set_id = dag.pfs.inspect_commit("in@master").id
    jobs = list(sdk.pps.inspect_job_set(job_set=pps.JobSet(id=set_id), wait=True))
    assert sorted(j.job.pipeline.name for j in jobs) == ["again", "copy"]
    assert all(j.job.id == set_id and j.state == pps.JobState.JOB_SUCCESS for j in jobs)
    assert all(j.output_commit.id == set_id for j in jobs)
    sets = list(sdk.pps.list_job_set())
    assert sets[0].job_set.id == set_id and len(sets[0].jobs) == 2
    assert len(list(sdk.pps.list_job_set(number=1))) == 1


def test_job_info_counters_timings_and_details(dag: Client, sdk: Any) -> None:
    dag.pfs.put_files("in@master", {"/a": b"A", "/b": b"BB"})
    set_id = dag.pfs.inspect_commit("in@master").id
    info = sdk.pps.inspect_job(job=pps.Job(pipeline=pps.Pipeline(name="copy"), id=set_id), wait=True, details=True)
    assert (info.data_processed, info.data_skipped, info.data_total, info.data_failed) == (2, 0, 2, 0)
    assert info.state == pps.JobState.JOB_SUCCESS and info.reason == ""
    assert info.created <= info.started <= info.finished
    assert info.stats.upload_bytes == 3 and info.stats.download_bytes == 3
    assert info.details.transform.cmd == COPY["cmd"] and info.details.datum_tries == 3
    assert info.pipeline_version == 1 and info.output_commit.repo.name == "copy"
    again = dag.pps.inspect_job(Job(Pipeline("again"), set_id), wait=True)
    assert (again.data_processed, again.data_total) == (1, 1)


def test_list_job_newest_first_by_pipeline_and_by_input_commit(dag: Client, sdk: Any) -> None:
    first = dag.pfs.put_file("in@master", "/a", b"A") or dag.pfs.inspect_commit("in@master").id
    dag.pfs.put_file("in@master", "/b", b"B")
    second = dag.pfs.inspect_commit("in@master").id
    dag.pps.wait_job(Job(Pipeline("again"), second))
    copy_jobs = [j.id for j in dag.pps.list_job(pipeline="copy")]
    assert copy_jobs[0] == second and copy_jobs[1] == first and len(copy_jobs) == 3
    everything = list(sdk.pps.list_job())
    assert [j.job.id for j in everything][:2] == [second, second] and len(everything) == 6
    by_input = list(sdk.pps.list_job(input_commit=[pfs.Commit.from_uri(f"in@{first}")]))
    assert sorted(j.job.pipeline.name for j in by_input) == ["again", "copy"]
    assert {j.job.id for j in by_input} == {first}
    assert [j.job.id for j in sdk.pps.list_job(pipeline=pps.Pipeline(name="copy"), reverse=True)][-1] == second
    assert len(list(sdk.pps.list_job(number=2))) == 2


def test_list_job_history_follows_pipeline_versions(dag: Client, sdk: Any) -> None:
    dag.pps.create_pipeline(dict(spec("copy"), description="v2"), update=True)
    newest = dag.pps.list_job(pipeline="copy")[0]
    dag.pps.wait_job(newest.job)
    current = list(sdk.pps.list_job(pipeline=pps.Pipeline(name="copy")))
    assert {j.pipeline_version for j in current} == {2}
    every = list(sdk.pps.list_job(pipeline=pps.Pipeline(name="copy"), history=-1))
    assert {j.pipeline_version for j in every} == {1, 2}


def test_subscribe_job(dag: Client, sdk: Any) -> None:
    seen: list[Any] = []
    done = threading.Event()

    def read() -> None:
        stream = sdk.pps.subscribe_job(pipeline=pps.Pipeline(name="copy"))
        for info in stream:
            seen.append((info.job.id, info.state))
            if sum(1 for _, s in seen if s == pps.JobState.JOB_SUCCESS) >= 2:
                break
        stream.close()  # cancels the call
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    dag.pfs.put_file("in@master", "/a", b"A")
    set_id = dag.pfs.inspect_commit("in@master").id
    assert done.wait(60)
    # The first job (already done) first, then the new one's states as they change.
    states = [s for j, s in seen if j == set_id]
    assert states[-1] == pps.JobState.JOB_SUCCESS
    assert seen[0][1] == pps.JobState.JOB_SUCCESS and seen[0][0] != set_id


def test_stop_and_delete_job(client: Client, sdk: Any) -> None:
    client.pfs.put_file("in@master", "/a", b"A")
    client.pps.create_pipeline(spec("slow", transform={"image": "x", "cmd": ["sleep", "60"]}))
    job = client.pps.list_job(pipeline="slow")[0]
    sdk.pps.stop_job(job=pps.Job(pipeline=pps.Pipeline(name="slow"), id=job.id), reason="no time")
    stopped = client.pps.inspect_job(job.job, wait=True)
    assert (stopped.state, stopped.reason) == ("killed", "no time")
    assert client.pfs.inspect_commit(f"slow@{job.id}").error == "no time"
    sdk.pps.delete_job(job=pps.Job(pipeline=pps.Pipeline(name="slow"), id=job.id))
    with pytest.raises(grpc.RpcError) as err:
        sdk.pps.inspect_job(job=pps.Job(pipeline=pps.Pipeline(name="slow"), id=job.id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_inspect_job_errors(client: Client, sdk: Any) -> None:
    with pytest.raises(grpc.RpcError) as err:
        sdk.pps.inspect_job(job=pps.Job(pipeline=pps.Pipeline(name="nope"), id="0" * 32))
    # pachd's words, whether the pipeline or only the job is missing
    assert (err.value.code(), err.value.details()) == (grpc.StatusCode.NOT_FOUND, f"jobs default/nope@{'0' * 32} not found")
    client.pps.create_pipeline(spec("copy"))
    with pytest.raises(grpc.RpcError) as err:
        sdk.pps.inspect_job(job=pps.Job(pipeline=pps.Pipeline(name="copy"), id="0" * 32))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
