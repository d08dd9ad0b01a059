"""PPS datums and logs over real gRPC: listings, dry runs, inspect, restart, GetLogs and follow."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any, Iterator

import grpc
import pytest
from pachyderm_sdk.api import pfs, pps

from pachmagic.client import Client, Job, Pipeline, connect

TALK = "for f in /pfs/in/*; do echo \"saw $(basename $f)\"; echo warn >&2; cp $f /pfs/out/; done"


def spec(name: str, script: str, glob: str = "/*", workdir: Any = None, **extra: Any) -> dict[str, Any]:
    # A host directory the test signals through must be the transform's working
    # directory: the sandbox shows the host's /tmp to it only there (read-only, live).
    transform = {"image": "x", "cmd": ["sh", "-c", script], **({"working_dir": str(workdir)} if workdir else {})}
    return {"pipeline": {"name": name}, "transform": transform, "input": {"pfs": {"repo": "in", "glob": glob}}, **extra}


@pytest.fixture
def client(server: Any) -> Iterator[Client]:
    with connect(server.address) as c:
        c.pfs.create_repo("in")
        c.pfs.put_files("in@master", {"/a.txt": b"A", "/b.txt": b"B", "/c.csv": b"C"})
        yield c


def first_job(client: Client, name: str) -> Any:
    return client.pps.wait_job(client.pps.list_job(pipeline=name)[0].job)


def test_list_and_inspect_datums(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(spec("talk", TALK))
    job = first_job(client, "talk")
    datums = client.pps.list_datum(job.job)
    assert len(datums) == 3 and {d.state for d in datums} == {"success"}
    assert sorted(f.path for d in datums for f in d.files) == ["/a.txt", "/b.txt", "/c.csv"]
    raw = list(sdk.pps.list_datum(job=pps.Job(pipeline=pps.Pipeline(name="talk"), id=job.id)))
    assert [d.datum.id for d in raw] == sorted(d.datum.id for d in raw)
    # As pachd 2.12.2 (tests/conformance/runs): ListDatum sends no pfs_state; InspectDatum does, on the
    # meta repo's output branch; datum FileInfos name their commit by id only and carry the default datum.
    assert all(not d.is_set("pfs_state") for d in raw)
    assert all(d.stats.process_time is not None and d.image_id == "x" for d in raw)
    assert all(f.file.datum == "default" and not f.file.commit.is_set("branch") for d in raw for f in d.data)
    one = sdk.pps.inspect_datum(datum=pps.Datum(job=pps.Job(pipeline=pps.Pipeline(name="talk"), id=job.id), id=raw[0].datum.id))
    assert one.datum.id == raw[0].datum.id and one.state == pps.DatumState.SUCCESS
    assert one.data[0].file.commit.repo.name == "in" and one.data[0].size_bytes == 1
    assert one.data[0].committed is not None
    assert (one.pfs_state.commit.repo.type, one.pfs_state.commit.branch.name, one.pfs_state.path) == (
        "meta", "master", f"/pfs/{one.datum.id}")
    # The next job: unchanged datums are SKIPPED in it.
    client.pfs.put_file("in@master", "/d.txt", b"D")
    second = client.pps.wait_job(Job(Pipeline("talk"), client.pfs.inspect_commit("in@master").id))
    states = sorted(d.state for d in client.pps.list_datum(second.job))
    assert states == ["skipped", "skipped", "skipped", "success"]
    # A skipped datum names the job that processed it, as pachd's ListDatum does.
    listed = list(sdk.pps.list_datum(job=pps.Job(pipeline=pps.Pipeline(name="talk"), id=second.id)))
    assert sorted((d.state == pps.DatumState.SKIPPED, d.datum.job.id) for d in listed) == sorted(
        [(True, job.id)] * 3 + [(False, second.id)])
    only = list(sdk.pps.list_datum(job=pps.Job(pipeline=pps.Pipeline(name="talk"), id=second.id),
                                   filter=pps.ListDatumRequestFilter(state=[pps.DatumState.SUCCESS])))
    assert len(only) == 1
    assert len(list(sdk.pps.list_datum(job=pps.Job(pipeline=pps.Pipeline(name="talk"), id=second.id), number=2))) == 2
    with pytest.raises(grpc.RpcError) as err:
        sdk.pps.inspect_datum(datum=pps.Datum(job=pps.Job(pipeline=pps.Pipeline(name="talk"), id=job.id), id="f" * 64))
    assert err.value.code() == grpc.StatusCode.UNKNOWN  # as pachd
    assert err.value.details() == f"datum {'f' * 64} not found in job default/talk@{job.id}"


def test_failed_and_recovered_datum_states(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(spec("picky", "[ ! -e /pfs/in/c.csv ] && cp /pfs/in/* /pfs/out/", datum_tries=1,
                                    transform={"image": "x", "cmd": ["sh", "-c", "[ ! -e /pfs/in/c.csv ] && cp /pfs/in/* /pfs/out/"],
                                               "err_cmd": ["sh", "-c", "[ -e /pfs/in/c.csv ]"]}))
    job = first_job(client, "picky")
    assert (job.state, job.data_processed, job.data_recovered) == ("success", 2, 1)
    assert sorted(d.state for d in client.pps.list_datum(job.job)) == ["recovered", "success", "success"]
    client.pps.create_pipeline(spec("strict", "[ ! -e /pfs/in/c.csv ]", datum_tries=1))
    job = first_job(client, "strict")
    assert job.state == "failure" and sorted(d.state for d in client.pps.list_datum(job.job)) == ["failed", "success", "success"]


def test_dry_run_datums_for_an_input_spec(client: Client, sdk: Any) -> None:
    planned = list(sdk.pps.list_datum(input=pps.Input(pfs=pps.PfsInput(repo="in", glob="/*.txt"))))
    assert sorted(d.data[0].file.path for d in planned) == ["/a.txt", "/b.txt"]
    assert all(d.state == pps.DatumState.UNKNOWN for d in planned)
    client.pfs.create_repo("other")
    client.pfs.put_file("other@master", "/x", b"x")
    cross = pps.Input(cross=[pps.Input(pfs=pps.PfsInput(repo="in", glob="/*")),
                             pps.Input(pfs=pps.PfsInput(repo="other", glob="/"))])
    assert len(list(sdk.pps.list_datum(input=cross))) == 3
    # Nothing ran: no pipeline, no job.
    assert client.pps.list_pipeline() == [] and client.pps.list_job() == []
    requests = iter([
        pps.CreateDatumRequest(start=pps.StartCreateDatumRequest(input=cross, number=2)),
        pps.CreateDatumRequest(continue_=pps.ContinueCreateDatumRequest(number=5)),
    ])
    assert len(list(sdk.pps.create_datum(requests))) == 3
    with pytest.raises(grpc.RpcError) as err:
        list(sdk.pps.list_datum(input=pps.Input(pfs=pps.PfsInput(repo="nope", glob="/"))))
    # As pachd, which plans on a worker: every failure comes back UNKNOWN
    assert (err.value.code(), err.value.details()) == (grpc.StatusCode.UNKNOWN, "repo default/nope not found")


def test_datum_files_carry_their_commits_time(client: Client, sdk: Any) -> None:
    """As pachd's: every datum FileInfo has ``committed`` (its commit's finishing time), for dry runs
    (ListDatum/CreateDatum with an input spec: jupyterlab-pachyderm's Test panel shows it as the files'
    modification time) and for a job's datums alike."""
    finishing = client.pfs.inspect_commit("in@master").finishing
    assert finishing is not None
    spec_input = pps.Input(pfs=pps.PfsInput(repo="in", glob="/*"))
    requests = iter([pps.CreateDatumRequest(start=pps.StartCreateDatumRequest(input=spec_input, number=10))])
    client.pps.create_pipeline(spec("copy", "cp /pfs/in/* /pfs/out/"))
    job = first_job(client, "copy")
    for how, datums in (
        ("ListDatum input", list(sdk.pps.list_datum(input=spec_input))),
        ("CreateDatum", list(sdk.pps.create_datum(requests))),
        ("ListDatum job", list(sdk.pps.list_datum(job=pps.Job(pipeline=pps.Pipeline(name="copy"), id=job.id)))),
    ):
        assert len(datums) == 3, how
        for datum in datums:
            committed = datum.data[0].committed
            assert committed is not None, how
            assert abs(committed - finishing) < timedelta(milliseconds=1), (how, committed, finishing)


def test_restart_datum_over_grpc(client: Client, sdk: Any, tmp_path: Any) -> None:
    flag = tmp_path / "ok"
    client.pps.create_pipeline(spec("flaky", f"[ -e {flag} ] || [ -e /pfs/in/a.txt ] && cp /pfs/in/* /pfs/out/",
                                    workdir=tmp_path, datum_tries=1))
    job = first_job(client, "flaky")
    assert job.state == "failure"
    flag.touch()
    sdk.pps.restart_datum(job=pps.Job(pipeline=pps.Pipeline(name="flaky"), id=job.id), data_filters=["/b.txt"])
    retry = client.pps.list_job(pipeline="flaky")[0]
    assert retry.id != job.id and client.pps.wait_job(retry.job).state == "success"
    with pytest.raises(grpc.RpcError) as err:
        sdk.pps.restart_datum(job=pps.Job(pipeline=pps.Pipeline(name="flaky"), id=job.id), data_filters=["/zzz"])
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_logs_by_pipeline_job_and_datum(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(spec("talk", TALK))
    job = first_job(client, "talk")
    by_pipeline = [m for m in client.pps.get_logs(pipeline="talk") if m.user]
    assert sorted(m.message for m in by_pipeline) == ["saw a.txt", "saw b.txt", "saw c.csv", "warn", "warn", "warn"]
    assert all(m.ts is not None and m.job_id == job.id and m.datum_id for m in by_pipeline)
    by_job = list(sdk.pps.get_logs(job=pps.Job(pipeline=pps.Pipeline(name="talk"), id=job.id)))
    assert {m.message for m in by_job if m.user} == {"saw a.txt", "saw b.txt", "saw c.csv", "warn"}
    datum = next(m for m in by_job if m.message == "saw b.txt")
    assert [d.path for d in datum.data] == ["/b.txt"]
    one = list(sdk.pps.get_logs(datum=pps.Datum(job=pps.Job(pipeline=pps.Pipeline(name="talk"), id=job.id),
                                                id=datum.datum_id)))
    assert sorted(m.message for m in one) == ["saw b.txt", "warn"]
    filtered = list(sdk.pps.get_logs(pipeline=pps.Pipeline(name="talk"), data_filters=["/c.csv"]))
    assert sorted(m.message for m in filtered) == ["saw c.csv", "warn"]
    master = list(sdk.pps.get_logs(pipeline=pps.Pipeline(name="talk"), master=True))
    assert master and all(m.master and not m.user for m in master)
    assert any("3 datums" in m.message for m in master)
    # As a deployed pachd (logs from Loki): ``tail`` cuts nothing.
    everything = list(sdk.pps.get_logs(pipeline=pps.Pipeline(name="talk")))
    assert list(sdk.pps.get_logs(pipeline=pps.Pipeline(name="talk"), tail=2)) == everything and len(everything) > 2
    assert len(list(sdk.pps.get_logs(pipeline=pps.Pipeline(name="talk"), since=timedelta(hours=1)))) == len(
        list(sdk.pps.get_logs(pipeline=pps.Pipeline(name="talk"))))
    with pytest.raises(grpc.RpcError) as err:
        list(sdk.pps.get_logs(pipeline=pps.Pipeline(name="nope")))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_follow_logs_until_the_job_ends(client: Client, sdk: Any, tmp_path: Any) -> None:
    gate = tmp_path / "go"
    client.pps.create_pipeline(spec("slow", f"echo start; while [ ! -e {gate} ]; do sleep 0.05; done; echo end", glob="/",
                                    workdir=tmp_path))
    job = client.pps.list_job(pipeline="slow")[0]
    lines: list[str] = []
    started = threading.Event()

    def follow() -> None:
        for m in sdk.pps.get_logs(job=pps.Job(pipeline=pps.Pipeline(name="slow"), id=job.id), follow=True):
            if m.user:
                lines.append(m.message)
                started.set()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert started.wait(60) and lines == ["start"]
    gate.touch()
    reader.join(60)
    assert not reader.is_alive() and lines == ["start", "end"]


def test_follow_pipeline_logs_sees_new_jobs(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(spec("talk", "echo hello $(ls /pfs/in)"))
    first_job(client, "talk")
    seen = threading.Event()
    stream = client.pps.get_logs(pipeline="talk", follow=True)
    messages: list[str] = []

    def follow() -> None:
        for m in stream:
            messages.append(m.message)
            if m.message == "hello z.txt":
                seen.set()
                break

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    client.pfs.put_file("in@master", "/z.txt", b"Z")
    assert seen.wait(60)
    reader.join(10)
    assert "hello a.txt" in messages and messages[-1] == "hello z.txt"


def test_meta_repo_is_readable_over_pfs(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(spec("talk", TALK))
    job = first_job(client, "talk")
    meta = pfs.Commit(repo=pfs.Repo(name="talk", type="meta"), id=job.id)
    files = [f.file.path for f in sdk.pfs.walk_file(file=pfs.File(commit=meta, path="/meta"))]
    assert sum(1 for p in files if p.endswith("/meta")) == 3 and sum(1 for p in files if p.endswith("/logs")) == 3
