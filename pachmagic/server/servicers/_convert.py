"""Conversions between protobuf messages and the storage layer's keys and records.

Absorbs the differences between clients listed in the wire reference: a project
may be absent, empty or ``default``; ``Commit.repo`` may be missing (then the
branch's repo is meant); a repo's type may be empty (``user``).
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from ...errors import InvalidArgument
from ..._proto import pfs_pb2
from ..storage import BranchKey, CommitKey, CommitRef, RepoKey
from ..storage.model import (
    DEFAULT_PROJECT,
    USER,
    BranchInfo,
    CommitInfo,
    FileInfo,
    ProjectInfo,
    RepoInfo,
)

__all__ = [
    "timestamp",
    "repo_key",
    "branch_key",
    "commit_ref",
    "file_ref",
    "commit_picker_ref",
    "repo_pb",
    "branch_pb",
    "commit_pb",
    "repo_info_pb",
    "branch_info_pb",
    "commit_info_pb",
    "file_info_pb",
    "project_info_pb",
]


def timestamp(seconds: float | None) -> Timestamp | None:
    if seconds is None:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def project_name(project: pfs_pb2.Project) -> str:
    return project.name or DEFAULT_PROJECT


def repo_key(repo: pfs_pb2.Repo) -> RepoKey:
    if not repo.name:
        raise InvalidArgument("no repo specified")
    return RepoKey(project_name(repo.project), repo.name, repo.type or USER)


def branch_key(branch: pfs_pb2.Branch) -> BranchKey:
    if not branch.name:
        raise InvalidArgument("no branch specified")
    return BranchKey(repo_key(branch.repo), branch.name)


def commit_ref(commit: pfs_pb2.Commit) -> CommitRef:
    repo = commit.repo if commit.repo.name else commit.branch.repo
    return CommitRef(repo_key(repo), commit.branch.name, commit.id)


def file_ref(file: pfs_pb2.File) -> tuple[CommitRef, str]:
    return commit_ref(file.commit), file.path


def _repo_picker(picker: pfs_pb2.RepoPicker) -> RepoKey:
    name = picker.name
    if not name.name:
        raise InvalidArgument("no repo specified in picker")
    return RepoKey(name.project.name or DEFAULT_PROJECT, name.name, name.type or USER)


def commit_picker_ref(picker: pfs_pb2.CommitPicker) -> CommitRef:
    """A 2.12 ``CommitPicker`` as a ``CommitRef`` (ancestry written the pachctl way)."""
    kind = picker.WhichOneof("picker")
    if kind == "branch_head":
        branch = picker.branch_head.name
        return CommitRef(_repo_picker(branch.repo), branch.name)
    if kind == "id":
        return CommitRef(_repo_picker(picker.id.repo), id=picker.id.id)
    if kind == "branch_root":
        branch = picker.branch_root.branch.name
        return CommitRef(_repo_picker(branch.repo), id=f"{branch.name}.{picker.branch_root.offset + 1}")
    if kind == "ancestor":
        start = commit_picker_ref(picker.ancestor.start)
        return CommitRef(start.repo, id=f"{start.id or start.branch}~{picker.ancestor.offset}")
    raise InvalidArgument("empty commit picker")


def repo_pb(key: RepoKey) -> pfs_pb2.Repo:
    return pfs_pb2.Repo(name=key.name, type=key.type, project=pfs_pb2.Project(name=key.project))


def branch_pb(key: BranchKey) -> pfs_pb2.Branch:
    return pfs_pb2.Branch(repo=repo_pb(key.repo), name=key.name)


def commit_pb(key: CommitKey, branch: BranchKey | None = None) -> pfs_pb2.Commit:
    msg = pfs_pb2.Commit(repo=repo_pb(key.repo), id=key.id)
    if branch is not None:
        msg.branch.CopyFrom(branch_pb(branch))
    return msg


def repo_info_pb(info: RepoInfo) -> pfs_pb2.RepoInfo:
    return pfs_pb2.RepoInfo(
        repo=repo_pb(info.key),
        created=timestamp(info.created),
        size_bytes_upper_bound=info.size_bytes,
        description=info.description,
        branches=[branch_pb(b) for b in info.branches],
        details=pfs_pb2.RepoInfo.Details(size_bytes=info.size_bytes),
    )


def branch_info_pb(info: BranchInfo) -> pfs_pb2.BranchInfo:
    msg = pfs_pb2.BranchInfo(
        branch=branch_pb(info.key),
        provenance=[branch_pb(b) for b in info.provenance],
        subvenance=[branch_pb(b) for b in info.subvenance],
        direct_provenance=[branch_pb(b) for b in info.direct_provenance],
        created_at=timestamp(info.created or None),
    )
    if info.head is not None:
        msg.head.CopyFrom(commit_pb(info.head, info.key))
    if info.trigger:
        msg.trigger.ParseFromString(bytes.fromhex(info.trigger))
    return msg


def commit_info_pb(info: CommitInfo) -> pfs_pb2.CommitInfo:
    msg = pfs_pb2.CommitInfo(
        commit=commit_pb(info.key, info.branch),
        origin=pfs_pb2.CommitOrigin(kind=pfs_pb2.OriginKind.Name(info.origin)),
        description=info.description,
        child_commits=[commit_pb(c) for c in info.children],
        started=timestamp(info.started),
        finishing=timestamp(info.finishing),
        finished=timestamp(info.finished),
        direct_provenance=[commit_pb(c) for c in info.direct_provenance],
        direct_subvenance=[commit_pb(c) for c in info.direct_subvenance],
        error=info.error,
        size_bytes_upper_bound=info.size_bytes,
        created_at=timestamp(info.started),
    )
    if info.parent is not None:
        msg.parent_commit.CopyFrom(commit_pb(info.parent))
    if info.finished is not None:
        msg.details.size_bytes = info.size_bytes
    return msg


def file_info_pb(info: FileInfo) -> pfs_pb2.FileInfo:
    # As pachd: the commit names the branch it was made on, so clients can build
    # ``project/repo@branch=id:/path`` URIs (jupyterlab-pachyderm's file_uri).
    branch = BranchKey(info.commit.repo, info.branch) if info.branch else None
    msg = pfs_pb2.FileInfo(
        file=pfs_pb2.File(commit=commit_pb(info.commit, branch), path=info.path, datum=info.datum if info.type == 1 else ""),
        file_type=pfs_pb2.FileType.Name(info.type),
        size_bytes=info.size,
        hash=info.hash,
    )
    committed = timestamp(info.committed)
    if committed is not None:
        msg.committed.CopyFrom(committed)
    return msg


def project_info_pb(info: ProjectInfo) -> pfs_pb2.ProjectInfo:
    return pfs_pb2.ProjectInfo(
        project=pfs_pb2.Project(name=info.name),
        description=info.description,
        created_at=timestamp(info.created),
    )
