"""Server behaviours found by running pachctl and Pachyderm's Go client against the server.

pachctl itself runs in ``tests/test_pachctl.py`` (it needs a Go build); each
test here pins, over real gRPC with our own stubs, one answer that pachctl
depends on, so the behaviour stays covered on machines without Go.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any, Iterator

import grpc
import pytest
from google.protobuf import duration_pb2, empty_pb2, wrappers_pb2

from pachmagic._proto import pfs_pb2, pfs_pb2_grpc, pps_pb2, pps_pb2_grpc
from pachmagic.server import LocalServer


@pytest.fixture
def stubs(server: LocalServer) -> Iterator[tuple[Any, Any]]:
    channel = grpc.insecure_channel(server.address)
    yield pfs_pb2_grpc.APIStub(channel), pps_pb2_grpc.APIStub(channel)
    channel.close()


def _repo(name: str) -> pfs_pb2.Repo:
    return pfs_pb2.Repo(name=name, type="user", project=pfs_pb2.Project(name="default"))


def _put(pfs: Any, repo: str, files: dict[str, bytes]) -> None:
    commit = pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=_repo(repo), name="master"))
    reqs = [pfs_pb2.ModifyFileRequest(set_commit=commit)]
    for path, data in files.items():
        reqs.append(pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path=path, raw=wrappers_pb2.BytesValue(value=data))))
    pfs.ModifyFile(iter(reqs))


def _pipeline(pps: Any, name: str, repo: str, cmd: list[str]) -> pps_pb2.Pipeline:
    pipeline = pps_pb2.Pipeline(name=name, project=pfs_pb2.Project(name="default"))
    pps.CreatePipeline(
        pps_pb2.CreatePipelineRequest(
            pipeline=pipeline,
            transform=pps_pb2.Transform(cmd=cmd, image="busybox"),
            input=pps_pb2.Input(pfs=pps_pb2.PFSInput(repo=repo, glob="/")),
        )
    )
    return pipeline


def _only_job(pps: Any, pipeline: pps_pb2.Pipeline) -> pps_pb2.JobInfo:
    (job,) = list(pps.ListJob(pps_pb2.ListJobRequest(pipeline=pipeline)))
    return job


def test_get_logs_with_zero_since_returns_all_logs(stubs: tuple[Any, Any]) -> None:
    """pachctl's ``logs -p P`` sends ``since: 0s`` (no --since): pachd treats 0 as no bound.

    Reading it as "logs newer than now" made ``pachctl logs`` print nothing.
    """
    pfs, pps = stubs
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=_repo("in")))
    _put(pfs, "in", {"/a.txt": b"a"})
    pipeline = _pipeline(pps, "talk", "in", ["sh", "-c", "echo hello from user code"])
    job = _only_job(pps, pipeline)
    done = pps.InspectJob(pps_pb2.InspectJobRequest(job=job.job, wait=True))
    assert done.state == pps_pb2.JOB_SUCCESS, done.reason

    def messages(**kwargs: Any) -> list[str]:
        request = pps_pb2.GetLogsRequest(pipeline=pipeline, **kwargs)
        return [m.message for m in pps.GetLogs(request) if m.user]

    assert "hello from user code" in messages(since=duration_pb2.Duration(seconds=0))
    assert "hello from user code" in messages()  # field absent: same thing
    assert "hello from user code" in messages(since=duration_pb2.Duration(seconds=3600))
    job_request = pps_pb2.GetLogsRequest(job=job.job, since=duration_pb2.Duration(seconds=0))
    assert "hello from user code" in [m.message for m in pps.GetLogs(job_request) if m.user]


def test_job_info_always_carries_stats(stubs: tuple[Any, Any]) -> None:
    """pachctl's job table reads ``jobInfo.Stats.DownloadBytes`` without a nil check.

    A job with nothing recorded yet (here: no datums) came back without
    ``stats``, and ``pachctl list job <id>`` / ``wait job`` crashed with a nil
    pointer dereference.
    """
    pfs, pps = stubs
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=_repo("empty")))
    pipeline = _pipeline(pps, "idle", "empty", ["true"])
    job = _only_job(pps, pipeline)
    assert job.HasField("stats")
    done = pps.InspectJob(pps_pb2.InspectJobRequest(job=job.job, wait=True))
    assert done.HasField("stats")
    detailed = pps.InspectJob(pps_pb2.InspectJobRequest(job=job.job, details=True))
    assert detailed.HasField("stats") and detailed.HasField("details")
    for info in pps.InspectJobSet(pps_pb2.InspectJobSetRequest(job_set=pps_pb2.JobSet(id=job.job.id), wait=True)):
        assert info.HasField("stats")
    for job_set in pps.ListJobSet(pps_pb2.ListJobSetRequest()):
        assert all(info.HasField("stats") for info in job_set.jobs)


def test_get_file_tar_names_are_absolute_paths(stubs: tuple[Any, Any]) -> None:
    """pachd names GetFileTAR entries by their absolute path (``/dir/a.txt``).

    ``pachctl get file -r repo@master:/dir -o out`` strips the inspected path
    (``/dir/``) from every name; relative names put the files in ``out/dir/``.
    """
    pfs, _ = stubs
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=_repo("tree")))
    _put(pfs, "tree", {"/dir/a.txt": b"alpha", "/dir/sub/b.txt": b"beta", "/top.txt": b"top"})
    commit = pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=_repo("tree"), name="master"))

    def tar_of(path: str) -> dict[str, bytes]:
        data = b"".join(m.value for m in pfs.GetFileTAR(pfs_pb2.GetFileRequest(file=pfs_pb2.File(commit=commit, path=path))))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]

    assert tar_of("/dir") == {"/dir/a.txt": b"alpha", "/dir/sub/b.txt": b"beta"}
    assert tar_of("/top.txt") == {"/top.txt": b"top"}
    assert sorted(tar_of("/")) == ["/dir/a.txt", "/dir/sub/b.txt", "/top.txt"]


def test_cluster_and_project_defaults_as_pachd_answers_them(stubs: tuple[Any, Any]) -> None:
    """``pachctl inspect defaults`` reads GetClusterDefaults/GetProjectDefaults.

    They were unimplemented, then answered ``{}``; a fresh pachd 2.12.2 answers its
    cluster defaults (resource requests, tests/conformance), takes any JSON
    object as new ones, and answers ``{}`` for a project. Non-empty project
    defaults are refused plainly here.
    """
    _, pps = stubs
    cluster = pps.GetClusterDefaults(pps_pb2.GetClusterDefaultsRequest())
    assert json.loads(cluster.cluster_defaults_json) == {"createPipelineRequest": {
        "resourceRequests": {"cpu": 1, "memory": "256Mi", "disk": "1Gi"},
        "sidecarResourceRequests": {"cpu": 1, "memory": "256Mi", "disk": "1Gi"}}}
    project = pps.GetProjectDefaults(pps_pb2.GetProjectDefaultsRequest(project=pfs_pb2.Project(name="default")))
    assert project.project_defaults_json == "{}"
    assert pps.GetProjectDefaults(pps_pb2.GetProjectDefaultsRequest()).project_defaults_json == "{}"
    with pytest.raises(grpc.RpcError) as missing:
        pps.GetProjectDefaults(pps_pb2.GetProjectDefaultsRequest(project=pfs_pb2.Project(name="nope")))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    mine = '{"create_pipeline_request": {"datum_tries": 5}}'
    pps.SetClusterDefaults(pps_pb2.SetClusterDefaultsRequest(cluster_defaults_json=mine, dry_run=True))
    assert pps.GetClusterDefaults(pps_pb2.GetClusterDefaultsRequest()).cluster_defaults_json != mine
    pps.SetClusterDefaults(pps_pb2.SetClusterDefaultsRequest(cluster_defaults_json=mine))
    assert pps.GetClusterDefaults(pps_pb2.GetClusterDefaultsRequest()).cluster_defaults_json == mine
    pps.SetProjectDefaults(pps_pb2.SetProjectDefaultsRequest(project_defaults_json='{"create_pipeline_request": {}}'))
    with pytest.raises(grpc.RpcError) as refused:
        pps.SetProjectDefaults(
            pps_pb2.SetProjectDefaultsRequest(project_defaults_json='{"create_pipeline_request": {"datum_tries": 5}}')
        )
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "defaults are not supported" in refused.value.details()
    with pytest.raises(grpc.RpcError) as bad:
        pps.SetClusterDefaults(pps_pb2.SetClusterDefaultsRequest(cluster_defaults_json="{"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_unimplemented_methods_say_so_plainly(stubs: tuple[Any, Any]) -> None:
    """A method without a handler answers UNIMPLEMENTED "method X not implemented ...".

    grpc.aio reported the generated stubs as "Unexpected <class
    'NotImplementedError'>: Method not implemented!", which pachctl printed
    verbatim (``pachctl find commit``, ``pachctl inspect defaults``).
    """
    # Kubernetes events and load tests exist only in a cluster.
    _, pps = stubs
    with pytest.raises(grpc.RpcError) as streamed:
        list(pps.GetKubeEvents(pps_pb2.LokiRequest()))
    assert streamed.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert streamed.value.details() == "method GetKubeEvents not implemented by the pachmagic embedded server"
    with pytest.raises(grpc.RpcError) as unary:
        pps.RunLoadTestDefault(empty_pb2.Empty())
    assert unary.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert unary.value.details() == "method RunLoadTestDefault not implemented by the pachmagic embedded server"
