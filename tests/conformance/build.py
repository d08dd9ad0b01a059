"""Small builders for the requests scenarios send (raw gRPC messages).

Clients send the same thing in several shapes (pachyderm-wire.md §9): a
project absent, empty or ``default``; ``Commit.repo`` set or only
``Commit.branch.repo``. The builders make each shape on request, so scenarios
can cover them all.
"""

from __future__ import annotations

from pachmagic._proto import pfs_pb2 as pfs
from pachmagic._proto import pps_pb2 as pps

__all__ = ["pfs", "pps", "repo", "branch", "commit", "file", "pipeline", "put", "put_many", "set_commit"]


def repo(name: str, project: str | None = "default", type: str = "user") -> pfs.Repo:
    msg = pfs.Repo(name=name, type=type)
    if project is not None:
        msg.project.name = project
    return msg


def branch(repo_name: str, name: str = "master", project: str | None = "default") -> pfs.Branch:
    return pfs.Branch(repo=repo(repo_name, project), name=name)


def commit(repo_name: str, ref: str = "master", *, id: str = "", project: str | None = "default", with_repo: bool = True) -> pfs.Commit:
    """A commit by branch name (``ref``) and/or ``id``; ``with_repo=False`` leaves ``Commit.repo`` empty."""
    msg = pfs.Commit(id=id)
    if ref:
        msg.branch.CopyFrom(branch(repo_name, ref, project))
    if with_repo or not ref:
        msg.repo.CopyFrom(repo(repo_name, project))
    return msg


def of(c: pfs.Commit) -> pfs.Commit:
    """A commit as returned by the server, by id only (branch dropped)."""
    return pfs.Commit(repo=c.repo if c.repo.name else c.branch.repo, id=c.id)


def file(repo_name: str, ref: str = "master", path: str = "/", *, id: str = "", project: str | None = "default") -> pfs.File:
    return pfs.File(commit=commit(repo_name, ref, id=id, project=project), path=path)


def file_at(c: pfs.Commit, path: str) -> pfs.File:
    return pfs.File(commit=c, path=path)


def set_commit(c: pfs.Commit) -> pfs.ModifyFileRequest:
    return pfs.ModifyFileRequest(set_commit=c)


def put(c: pfs.Commit, path: str, data: bytes, *, datum: str = "") -> list[pfs.ModifyFileRequest]:
    """The SDK's shape of one put: set_commit, delete, an empty add, then the data."""
    empty = pfs.AddFile(path=path, datum=datum)
    empty.raw.SetInParent()
    return [
        set_commit(c),
        pfs.ModifyFileRequest(delete_file=pfs.DeleteFile(path=path, datum=datum)),
        pfs.ModifyFileRequest(add_file=empty),
        pfs.ModifyFileRequest(add_file=pfs.AddFile(path=path, datum=datum, raw={"value": data})),
    ]


def put_many(c: pfs.Commit, files: dict[str, bytes]) -> list[pfs.ModifyFileRequest]:
    msgs = [set_commit(c)]
    for path, data in files.items():
        msgs.append(pfs.ModifyFileRequest(add_file=pfs.AddFile(path=path, raw={"value": data})))
    return msgs


def pipeline(name: str, project: str | None = None) -> pps.Pipeline:
    msg = pps.Pipeline(name=name)
    if project is not None:
        msg.project.name = project
    return msg
