"""The same PFS behaviour through the official pachyderm-sdk 2.12 client.

The SDK always sends ``project: default`` and ``type: user``, builds commits
with ``Commit.repo`` set, and reads errors as raw gRPC statuses: codes and
pachd's texts are checked here as that client sees them.
"""

from __future__ import annotations

import io
import tarfile
from typing import Any

import grpc
import pytest
from pachyderm_sdk.api import pfs


def status(fn: Any) -> tuple[grpc.StatusCode, str]:
    try:
        result = fn()
        if hasattr(result, "__next__"):
            list(result)
    except grpc.RpcError as err:
        return err.code(), err.details()  # type: ignore[attr-defined]
    raise AssertionError("no error")


def test_repos_projects_branches(sdk: Any) -> None:
    sdk.pfs.create_project(project=pfs.Project(name="lab"), description="x")
    assert {p.project.name for p in sdk.pfs.list_project()} == {"default", "lab"}
    photos = pfs.Repo(name="photos")
    sdk.pfs.create_repo(repo=photos, description="raw")
    sdk.pfs.create_repo(repo=pfs.Repo(name="photos", project=pfs.Project(name="lab")))
    assert status(lambda: sdk.pfs.create_repo(repo=photos)) == (
        grpc.StatusCode.ALREADY_EXISTS, "repo default/photos already exists")
    assert status(lambda: sdk.pfs.inspect_repo(repo=pfs.Repo(name="nope"))) == (
        grpc.StatusCode.NOT_FOUND, "repo default/nope not found")
    assert status(lambda: sdk.pfs.create_repo(repo=pfs.Repo(name="a.b")))[0] == grpc.StatusCode.INVALID_ARGUMENT
    sdk.pfs.create_repo(repo=photos, description="cooked", update=True)
    assert sdk.pfs.inspect_repo(repo=photos).description == "cooked"
    assert [r.repo.project.name for r in sdk.pfs.list_repo()] == ["default", "lab"]
    branch = pfs.Branch(repo=photos, name="master")
    with sdk.pfs.commit(branch=branch) as commit:
        commit.put_file_from_bytes(path="/a.txt", data=b"hello")
    sdk.pfs.create_branch(branch=pfs.Branch(repo=photos, name="dev"), head=pfs.Commit(branch=branch, repo=photos))
    assert sdk.pfs.inspect_branch(branch=pfs.Branch(repo=photos, name="dev")).head.id == commit.id
    assert sorted(b.branch.name for b in sdk.pfs.list_branch(repo=photos)) == ["dev", "master"]
    assert status(lambda: sdk.pfs.inspect_branch(branch=pfs.Branch(repo=photos, name="nope"))) == (
        grpc.StatusCode.NOT_FOUND, 'branch "nope" not found in repo default/photos')
    sdk.pfs.delete_branch(branch=pfs.Branch(repo=photos, name="dev"))
    deleted = sdk.pfs.delete_repos(projects=[pfs.Project(name="lab")])
    assert [r.name for r in deleted.repos] == ["photos"]
    assert sdk.pfs.inspect_repo(repo=photos).size_bytes_upper_bound == 5


def test_commits_wait_sets_and_errors(sdk: Any) -> None:
    repo = pfs.Repo(name="r")
    sdk.pfs.create_repo(repo=repo)
    master = pfs.Branch(repo=repo, name="master")
    commit = sdk.pfs.start_commit(branch=master, description="one")
    assert status(lambda: sdk.pfs.start_commit(branch=master))[0] == grpc.StatusCode.FAILED_PRECONDITION
    sdk.pfs.put_file_from_bytes(commit=commit, path="/x", data=b"1")
    sdk.pfs.finish_commit(commit=commit)
    info = sdk.pfs.inspect_commit(commit=commit, wait=pfs.CommitState.FINISHED)
    assert info.finished and info.description == "one" and info.origin.kind == pfs.OriginKind.USER
    assert status(lambda: sdk.pfs.put_file_from_bytes(commit=commit, path="/y", data=b"")) == (
        grpc.StatusCode.FAILED_PRECONDITION, f"commit default/r@{commit.id} has already finished")
    second = sdk.pfs.start_commit(branch=master)
    sdk.pfs.finish_commit(commit=second, error="failed on purpose")
    assert sdk.pfs.inspect_commit(commit=second).error == "failed on purpose"
    assert [c.commit.id for c in sdk.pfs.list_commit(repo=repo)] == [second.id, commit.id]
    assert [c.commit.id for c in sdk.pfs.list_commit(repo=repo, reverse=True, number=1)] == [commit.id]
    parent = sdk.pfs.inspect_commit(commit=pfs.Commit.from_uri("r@master^"))
    assert parent.commit.id == commit.id
    members = list(sdk.pfs.inspect_commit_set(commit_set=pfs.CommitSet(id=commit.id), wait=True))
    assert [m.commit.id for m in members] == [commit.id]
    sdk.pfs.squash_commit_set(commit_set=pfs.CommitSet(id=commit.id))
    assert [c.commit.id for c in sdk.pfs.list_commit(repo=repo)] == [second.id]
    sdk.pfs.drop_commit_set(commit_set=pfs.CommitSet(id=second.id))
    assert list(sdk.pfs.list_commit(repo=repo)) == []
    missing = "0123456789ab4def0123456789abcdef"
    assert status(lambda: sdk.pfs.inspect_commit(commit=pfs.Commit(repo=repo, id=missing))) == (
        grpc.StatusCode.NOT_FOUND, f"commit default/r@{missing} not found")
    assert status(lambda: sdk.pfs.inspect_commit_set(commit_set=pfs.CommitSet(id=missing))) == (
        grpc.StatusCode.NOT_FOUND, f"no commits found for commitset {missing}")


def test_files(sdk: Any) -> None:
    repo = pfs.Repo(name="files")
    sdk.pfs.create_repo(repo=repo)
    branch = pfs.Branch(repo=repo, name="master")
    with sdk.pfs.commit(branch=branch) as c:
        c.put_file_from_bytes(path="/d/a.txt", data=b"A" * 10)
        c.put_file_from_bytes(path="/d/b.csv", data=b"b")
        c.put_file_from_bytes(path="/top", data=b"t")
        c.put_file_from_file(path="/stream", file=io.BytesIO(b"s" * 100_000))
    with sdk.pfs.commit(branch=branch) as c:
        c.put_file_from_bytes(path="/top", data=b"+", append=True)
        c.copy_file(src=pfs.File.from_uri("files@master:/d"), dst="/copy")
        c.delete_file(path="/d/b.csv")
    head = pfs.Commit.from_uri("files@master")
    listing = [(f.file.path, f.file_type, f.size_bytes) for f in sdk.pfs.list_file(file=pfs.File(commit=head, path="/"))]
    assert listing == [("/copy/", pfs.FileType.DIR, 11), ("/d/", pfs.FileType.DIR, 10),
                       ("/stream", pfs.FileType.FILE, 100_000), ("/top", pfs.FileType.FILE, 2)]
    with sdk.pfs.pfs_file(file=pfs.File(commit=head, path="/top")) as f:
        assert f.read() == b"t+"
    walked = [f.file.path for f in sdk.pfs.walk_file(file=pfs.File(commit=head, path="/copy"))]
    assert walked == ["/copy/", "/copy/a.txt", "/copy/b.csv"]
    assert [f.file.path for f in sdk.pfs.glob_file(commit=head, pattern="/*/*.txt")] == ["/copy/a.txt", "/d/a.txt"]
    tar = b"".join(m.value for m in sdk.pfs.get_file_tar(file=pfs.File(commit=head, path="/d")))
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        assert [m.size for m in archive.getmembers()] == [10]
    diffs = [(d.new_file.file.path, d.old_file.file.path) for d in sdk.pfs.diff_file(new_file=pfs.File(commit=head, path="/"))]
    assert diffs == [("/copy/a.txt", ""), ("/copy/b.csv", ""), ("", "/d/b.csv"), ("/top", "/top")]
    info = sdk.pfs.inspect_file(file=pfs.File(commit=head, path="/copy/a.txt"))
    assert info.hash == sdk.pfs.inspect_file(file=pfs.File(commit=head, path="/d/a.txt")).hash
    assert status(lambda: sdk.pfs.inspect_file(file=pfs.File(commit=head, path="/nope"))) == (
        grpc.StatusCode.NOT_FOUND, "file /nope not found in repo default/files at commit ")
    assert status(lambda: sdk.pfs.put_file_from_bytes(commit=pfs.Commit(branch=branch, repo=repo), path="/d/a.txt/x", data=b""))[0] \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert sdk.pfs.path_exists(file=pfs.File(commit=head, path="/stream"))


def test_file_infos_name_the_commits_branch(sdk: Any) -> None:
    """FileInfo.file.commit carries the branch the commit was made on, as pachd's
    (``default/photos@master=<id>:/a.txt``), whether the request named the branch or the id:
    jupyterlab-pachyderm's "Copy Pachyderm File URI" is ``str(file_info.file)``."""
    repo = pfs.Repo(name="photos")
    sdk.pfs.create_repo(repo=repo)
    with sdk.pfs.commit(branch=pfs.Branch(repo=repo, name="master")) as first:
        first.put_file_from_bytes(path="/a.txt", data=b"a")
        first.put_file_from_bytes(path="/d/b.txt", data=b"b")
    with sdk.pfs.commit(branch=pfs.Branch(repo=repo, name="dev")) as dev:
        dev.put_file_from_bytes(path="/c.txt", data=b"c")
    for ref, branch, cid in (("photos@master", "master", first.id), (f"photos@{first.id}", "master", first.id),
                             ("photos@dev", "dev", dev.id)):
        commit = pfs.Commit.from_uri(ref)
        infos = [
            *sdk.pfs.list_file(file=pfs.File(commit=commit, path="/")),
            sdk.pfs.inspect_file(file=pfs.File(commit=commit, path="/")),
            *sdk.pfs.walk_file(file=pfs.File(commit=commit, path="/")),
            *sdk.pfs.glob_file(commit=commit, pattern="/**"),
        ]
        for d in sdk.pfs.diff_file(new_file=pfs.File(commit=commit, path="/")):
            infos.extend(f for f in (d.new_file, d.old_file) if f.file.path)
        assert len(infos) > 4
        for info in infos:
            assert (info.file.commit.branch.name, info.file.commit.branch.repo.name, info.file.commit.id) == (branch, "photos", cid), ref
            assert str(info.file) == f"default/photos@{branch}={cid}:{info.file.path}"


def test_list_commit_from_to_and_fsck_rpc(sdk: Any) -> None:
    repo = pfs.Repo(name="hist")
    sdk.pfs.create_repo(repo=repo)
    ids = []
    for i in range(4):
        with sdk.pfs.commit(branch=pfs.Branch(repo=repo, name="master")) as c:
            c.put_file_from_bytes(path=f"/{i}", data=b"x")
        ids.append(c.id)
    between = sdk.pfs.list_commit(repo=repo, from_=pfs.Commit(repo=repo, id=ids[0]), to=pfs.Commit(repo=repo, id=ids[2]))
    assert [c.commit.id for c in between] == [ids[2], ids[1]]
    assert [c.commit.id for c in sdk.pfs.list_commit(repo=repo, all=True, number=1)] == [ids[3]]
    assert list(sdk.pfs.fsck()) == []  # a healthy store: no errors to stream
