"""What the conformance corpus found pachd 2.12.2 does, pinned on our server without a reference.

tests/conformance compares every answer with a real pachd where one can be
built; these tests keep the fixes it led to in place where it cannot (no Go,
no PostgreSQL), each with the behaviour it measured.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import grpc
import pytest

from pachmagic._proto import pfs_pb2, pfs_pb2_grpc, pps_pb2, pps_pb2_grpc
from pachmagic.server import LocalServer


@pytest.fixture
def stubs(server_factory: Any) -> Iterator[tuple[Any, Any]]:
    server = server_factory(run_jobs=False)
    with grpc.insecure_channel(server.address) as channel:
        yield pfs_pb2_grpc.APIStub(channel), pps_pb2_grpc.APIStub(channel)


def repo(name: str) -> pfs_pb2.Repo:
    return pfs_pb2.Repo(name=name, type="user", project=pfs_pb2.Project(name="default"))


def branch(r: str, name: str = "master") -> pfs_pb2.Branch:
    return pfs_pb2.Branch(repo=repo(r), name=name)


def commit(r: str, ref: str = "", id_: str = "") -> pfs_pb2.Commit:
    c = pfs_pb2.Commit(repo=repo(r), id=id_)
    if ref:
        c.branch.CopyFrom(branch(r, ref))
    return c


def put(pfs: Any, r: str, path: str, data: bytes, on: str = "master") -> str:
    add = pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path=path, raw={"value": data}))
    pfs.ModifyFile(iter([pfs_pb2.ModifyFileRequest(set_commit=commit(r, on)), add]))
    return str(pfs.InspectCommit(pfs_pb2.InspectCommitRequest(commit=commit(r, on), wait=pfs_pb2.FINISHED)).commit.id)


def error(fn: Any, *args: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        result = fn(*args)
        if not hasattr(result, "DESCRIPTOR"):
            list(result)
    return err.value.code(), err.value.details()  # type: ignore[attr-defined]


def test_commit_shapes(stubs: tuple[Any, Any]) -> None:
    pfs, _ = stubs
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=repo("r")))
    started = pfs.StartCommit(pfs_pb2.StartCommitRequest(branch=branch("r")))
    assert not started.HasField("branch") and started.repo.name == "r"  # pachd: repo and id only
    pfs.FinishCommit(pfs_pb2.FinishCommitRequest(commit=commit("r", id_=started.id)))
    second = put(pfs, "r", "/a", b"hello")
    info = pfs.InspectCommit(pfs_pb2.InspectCommitRequest(commit=commit("r", id_=started.id)))
    assert not info.commit.HasField("branch") and info.HasField("updated_at") and info.HasField("details")
    assert info.size_bytes_upper_bound == 0  # only listings carry it
    assert [(c.id, c.branch.name) for c in info.child_commits] == [(second, "master")]
    listed = list(pfs.ListCommit(pfs_pb2.ListCommitRequest(repo=repo("r"))))
    assert [c.size_bytes_upper_bound for c in listed] == [5, 0]
    assert listed[0].details.HasField("compacting_time")
    head = pfs.InspectBranch(pfs_pb2.InspectBranchRequest(branch=branch("r")))
    assert head.head.id == second and not head.head.HasField("branch") and head.HasField("updated_at")
    assert pfs.InspectRepo(pfs_pb2.InspectRepoRequest(repo=repo("r"))).details.size_bytes == 5
    assert [i.size_bytes_upper_bound for i in pfs.ListRepo(pfs_pb2.ListRepoRequest())] == [5]


def test_list_commit_and_ancestry_rules(stubs: tuple[Any, Any]) -> None:
    pfs, _ = stubs
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=repo("r")))
    ids = [put(pfs, "r", f"/f{i}", b"x") for i in range(3)]
    lc = pfs.ListCommit
    from_only = pfs_pb2.ListCommitRequest(repo=repo("r"), **{"from": commit("r", id_=ids[0])})
    assert error(lc, from_only) == (grpc.StatusCode.UNKNOWN, "cannot use `from` commit without `to` commit")
    reverse_to = pfs_pb2.ListCommitRequest(repo=repo("r"), to=commit("r", "master"), reverse=True)
    assert error(lc, reverse_to) == (grpc.StatusCode.UNKNOWN, "cannot use 'Reverse' while also using 'From' or 'To'")
    assert len(list(lc(pfs_pb2.ListCommitRequest(repo=repo("r"), number=-1)))) == 3
    ic = lambda ref: pfs.InspectCommit(pfs_pb2.InspectCommitRequest(commit=commit("r", ref))).commit.id  # noqa: E731
    assert (ic("master.1"), ic("master.3"), ic("master.4")) == (ids[0], ids[2], ids[2])  # one past the head: the head
    code, text = error(pfs.InspectCommit, pfs_pb2.InspectCommitRequest(commit=commit("r", "master.5")))
    assert code == grpc.StatusCode.UNKNOWN and text.endswith(", offset: 4, maximum depth: 3")
    code, text = error(pfs.InspectCommit, pfs_pb2.InspectCommitRequest(commit=commit("r", "master^^^")))
    assert code == grpc.StatusCode.UNKNOWN and text.endswith("offset requested: 3, offset traversable: 2")
    code, text = error(pfs.InspectCommit, pfs_pb2.InspectCommitRequest(commit=commit("r", "nope^")))
    assert (code, text) == (grpc.StatusCode.NOT_FOUND, 'branch "nope^" not found in repo default/r')


def test_commit_sets_squash_drop_and_aliases(stubs: tuple[Any, Any]) -> None:
    pfs, _ = stubs
    for name in ("in", "out"):
        pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=repo(name)))
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=repo("other")))
    put(pfs, "other", "/o", b"o")
    pfs.CreateBranch(pfs_pb2.CreateBranchRequest(branch=branch("out"), provenance=[branch("in"), branch("other")]))
    set_id = put(pfs, "in", "/a", b"a")
    members = list(pfs.InspectCommitSet(pfs_pb2.InspectCommitSetRequest(commit_set=pfs_pb2.CommitSet(id=set_id))))
    # As pachd: the set and, before them, the commits of other sets it builds on (other@...)
    assert sorted((m.commit.repo.name, m.commit.id == set_id) for m in members) == [
        ("in", True), ("other", False), ("out", True)]
    missing = pfs_pb2.CommitSet(id="0123456789ab4def8123456789abcdef")
    pfs.SquashCommitSet(pfs_pb2.SquashCommitSetRequest(commit_set=missing))  # no error
    pfs.DropCommitSet(pfs_pb2.DropCommitSetRequest(commit_set=missing))
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=repo("solo")))
    first = put(pfs, "solo", "/f", b"f")
    open_ = pfs.StartCommit(pfs_pb2.StartCommitRequest(branch=branch("solo")))
    code, text = error(pfs.SquashCommitSet, pfs_pb2.SquashCommitSetRequest(commit_set=pfs_pb2.CommitSet(id=first)))
    assert (code, text) == (grpc.StatusCode.UNKNOWN, f"cannot squash until child commit default/solo@{open_.id} is finished")
    pfs.FinishCommit(pfs_pb2.FinishCommitRequest(commit=open_))
    pfs.InspectCommit(pfs_pb2.InspectCommitRequest(commit=open_, wait=pfs_pb2.FINISHED))
    pfs.SquashCommitSet(pfs_pb2.SquashCommitSetRequest(commit_set=pfs_pb2.CommitSet(id=first)))
    only = open_.id
    pfs.DropCommitSet(pfs_pb2.DropCommitSetRequest(commit_set=pfs_pb2.CommitSet(id=only)))
    head = pfs.InspectBranch(pfs_pb2.InspectBranchRequest(branch=branch("solo"))).head
    assert head.id and head.id != only  # the branch keeps a head: a new empty commit


def test_a_set_that_later_sets_build_on_names_them_all(stubs: tuple[Any, Any]) -> None:
    pfs, pps = stubs
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=repo("photos")))
    first = put(pfs, "photos", "/a", b"a")
    spec = {"pipeline": {"name": "edges"}, "transform": {"cmd": ["true"]}, "input": {"pfs": {"repo": "photos", "glob": "/*"}}}
    pps.CreatePipelineV2(pps_pb2.CreatePipelineV2Request(create_pipeline_request_json=json.dumps(spec)))
    created = pfs.InspectCommit(pfs_pb2.InspectCommitRequest(commit=commit("edges", "master"))).commit.id
    latest = put(pfs, "photos", "/b", b"b")
    # As pachd: the pipeline's set builds on the first; the latest set on the pipeline's (its spec
    # commit), so on the first too. The set is printed as protobuf text, then quoted (%q).
    for call, request in ((pfs.SquashCommitSet, pfs_pb2.SquashCommitSetRequest), (pfs.DropCommitSet, pfs_pb2.DropCommitSetRequest)):
        code, text = error(call, request(commit_set=pfs_pb2.CommitSet(id=first)))
        named = " ".join(f'id:"{s}"' for s in sorted([created, latest]))
        assert (code, text) == (grpc.StatusCode.UNKNOWN, f'commit set "id:\\"{first}\\"" cannot be dropped because it has '
                                                         f"subvenant commit sets: [{named}]")


def test_triggers_follow_their_branch(stubs: tuple[Any, Any]) -> None:
    pfs, _ = stubs
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=repo("r")))
    trigger = pfs_pb2.Trigger(branch="master", commits=2)
    code, text = error(pfs.CreateBranch, pfs_pb2.CreateBranchRequest(branch=branch("r", "staged"), trigger=trigger))
    assert (code, text) == (grpc.StatusCode.NOT_FOUND, "branch (id=0, branch=default/r@master) not found")
    ids = [put(pfs, "r", "/first", b"x")]
    pfs.CreateBranch(pfs_pb2.CreateBranchRequest(branch=branch("r", "staged"), trigger=trigger))
    heads = []
    for i in range(3):
        ids.append(put(pfs, "r", f"/f{i}", b"x"))
        heads.append(pfs.InspectBranch(pfs_pb2.InspectBranchRequest(branch=branch("r", "staged"))).head.id)
    assert heads == [ids[1], ids[1], ids[3]]  # pachd's count of commits since the branch's head
    bad = pfs_pb2.CreateBranchRequest(branch=branch("r", "x"), trigger=pfs_pb2.Trigger(branch="master", size="lots"))
    assert error(pfs.CreateBranch, bad) == (grpc.StatusCode.UNKNOWN, "invalid trigger size: invalid size: 'lots'")


def test_file_listing_rules(stubs: tuple[Any, Any]) -> None:
    pfs, _ = stubs
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=repo("r")))
    head = put(pfs, "r", "/d/a", b"a")
    missing = pfs_pb2.File(commit=commit("r", "master"), path="/missing")
    assert list(pfs.ListFile(pfs_pb2.ListFileRequest(file=missing))) == []
    assert error(pfs.WalkFile, pfs_pb2.WalkFileRequest(file=missing)) == (
        grpc.StatusCode.NOT_FOUND, f"commit/{head} does not contain item: (/missing)")
    root = pfs_pb2.File(commit=commit("r", "master"), path="/")
    assert error(pfs.ListFile, pfs_pb2.ListFileRequest(file=root, reverse=True)) == (
        grpc.StatusCode.UNKNOWN, "number must be > 0 when reverse is true")


def _spec(name: str, **extra: Any) -> str:
    return json.dumps({"pipeline": {"name": name}, "transform": {"cmd": ["true"]},
                       "input": {"pfs": {"repo": "in", "glob": "/*"}}, **extra})


def test_pipeline_specs_as_pachd_takes_them(stubs: tuple[Any, Any]) -> None:
    pfs, pps = stubs
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=repo("in")))
    create = lambda text, **kw: pps.CreatePipelineV2(pps_pb2.CreatePipelineV2Request(  # noqa: E731
        create_pipeline_request_json=text, **kw))
    code, text = error(create, "pipeline:\n  name: y\n")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and text.endswith("syntax error (line 1:1): invalid value pipeline")
    answer = json.loads(create(_spec("p")).effective_create_pipeline_request_json)
    assert answer["transform"]["image"] == "ubuntu:20.04" and answer["resourceRequests"]["memory"] == "256Mi"
    info = pps.InspectPipeline(pps_pb2.InspectPipelineRequest(pipeline=pps_pb2.Pipeline(name="p"), details=True))
    assert json.loads(info.effective_spec_json)["datumTries"] == "3" and info.user_spec_json == _spec("p")
    assert info.details.resource_requests.disk == "1Gi" and not info.details.HasField("parallelism_spec")
    assert error(create, _spec("a.b")) == (grpc.StatusCode.UNKNOWN, 'invalid ancestry syntax "a.b", cannot mix . and b characters')
    time.sleep(0.01)
    create(_spec("q"))
    assert [i.pipeline.name for i in pps.ListPipeline(pps_pb2.ListPipelineRequest())] == ["q", "p"]  # newest first
    kept = pps.ListPipeline(pps_pb2.ListPipelineRequest(jqFilter='.pipeline.name == "p"'))
    assert [i.pipeline.name for i in kept] == ["p"]
    pps.StopPipeline(pps_pb2.StopPipelineRequest(pipeline=pps_pb2.Pipeline(name="nope")))  # no error, as pachd
    job = pps_pb2.Job(pipeline=pps_pb2.Pipeline(name="p"), id="0123456789ab4def8123456789abcdef")
    assert error(pps.InspectJob, pps_pb2.InspectJobRequest(job=job)) == (
        grpc.StatusCode.NOT_FOUND, f"jobs default/p@{job.id} not found")
    assert list(pps.InspectJobSet(pps_pb2.InspectJobSetRequest(job_set=pps_pb2.JobSet(id=job.id)))) == []


def test_an_empty_commit_has_no_root(stubs: tuple[Any, Any]) -> None:
    pfs, _ = stubs
    pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=repo("r")))
    started = pfs.StartCommit(pfs_pb2.StartCommitRequest(branch=branch("r")))
    pfs.FinishCommit(pfs_pb2.FinishCommitRequest(commit=started))
    pfs.InspectCommit(pfs_pb2.InspectCommitRequest(commit=started, wait=pfs_pb2.FINISHED))
    root = pfs_pb2.File(commit=commit("r", "master"), path="/")
    # pachd: a walk or glob of "/" yields nothing and "/" cannot be inspected until a file exists
    assert list(pfs.WalkFile(pfs_pb2.WalkFileRequest(file=root))) == []
    assert list(pfs.GlobFile(pfs_pb2.GlobFileRequest(commit=commit("r", "master"), pattern="/"))) == []
    code, _ = error(pfs.InspectFile, pfs_pb2.InspectFileRequest(file=root))
    assert code == grpc.StatusCode.NOT_FOUND
    put(pfs, "r", "/a", b"a")
    assert [i.file.path for i in pfs.WalkFile(pfs_pb2.WalkFileRequest(file=root))] == ["/", "/a"]


def test_deleting_a_project_names_its_repos_by_name(stubs: tuple[Any, Any]) -> None:
    pfs, _ = stubs
    lab = pfs_pb2.Project(name="lab")
    pfs.CreateProject(pfs_pb2.CreateProjectRequest(project=lab))
    for name in ("zz", "in", "aa"):
        pfs.CreateRepo(pfs_pb2.CreateRepoRequest(repo=pfs_pb2.Repo(name=name, type="user", project=lab)))
    code, text = error(pfs.DeleteProject, pfs_pb2.DeleteProjectRequest(project=lab))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert text == ("cannot delete project lab: repo lab/aa still exists\nrepo lab/in still exists\n"
                    "repo lab/zz still exists")  # pachd lists them by project and name


def test_a_long_refused_spec_is_quoted_cut(stubs: tuple[Any, Any]) -> None:
    _, pps = stubs
    text = '{"pipeline": {"name": "p"}, "transform": {"cmd": ["true"]}, "nope": "' + "x" * 20_000 + '"}'
    code, message = error(pps.CreatePipelineV2, pps_pb2.CreatePipelineV2Request(create_pipeline_request_json=text))
    # pachd quotes the spec it could not parse; 20 KB of it would not fit in the error's trailers
    assert code == grpc.StatusCode.INVALID_ARGUMENT and 'unknown field "nope"' in message and len(message) < 5000
