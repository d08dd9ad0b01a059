"""``client.pfs``: projects, repos, branches, commits and files (``pfs_v2.API``).

Arguments are refs or pachctl URI strings (``"photos@master:/a.png"``); refs
without a project use the client's current project. Results are records
(``records.py``), listings a ``RecordList``. Every RPC goes through the
transport, so every failure is a ``pachmagic.errors.PachError``.

File writes happen in one ModifyFile stream per call (``put_files`` writes many
files at once); ``with client.pfs.commit("repo@branch") as c:`` groups several
calls into one commit. This module does no pandas conversion (``frames.py``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from google.protobuf import empty_pb2

from pachmagic._proto import pfs_pb2
from pachmagic.client import _convert as cv
from pachmagic.client._pfs_files import CommitLike, FileOps, OpenCommit
from pachmagic.client._transport import Transport
from pachmagic.client.reads import ReadRecorder
from pachmagic.client.records import BranchInfo, CommitInfo, ProjectInfo, RecordList, RepoInfo
from pachmagic.client._coerce import to_branch, to_commit, to_repo
from pachmagic.client.refs import Branch, Commit, Repo

__all__ = ["Pfs", "OpenCommit"]

_WAIT = {
    "started": pfs_pb2.STARTED,
    "ready": pfs_pb2.READY,
    "finishing": pfs_pb2.FINISHING,
    "finished": pfs_pb2.FINISHED,
}
_ORIGINS = {"USER": pfs_pb2.USER, "AUTO": pfs_pb2.AUTO, "FSCK": pfs_pb2.FSCK}


class Pfs(FileOps):
    """The PFS API of a client (``client.pfs``).

    Parameters
    ----------
    transport:
        The client's transport.
    project:
        Returns the client's current project (for refs without one).
    recorder:
        Records file reads and resolves them through a lock (``reads.py``); None: no recording.
    """

    def __init__(
        self, transport: Transport, project: Callable[[], str], recorder: ReadRecorder | None = None
    ) -> None:
        super().__init__(transport, project, recorder)

    # --- projects ---------------------------------------------------------

    def create_project(self, name: str, *, description: str = "", update: bool = False) -> None:
        """Create a project (or update its description with ``update=True``)."""
        request = pfs_pb2.CreateProjectRequest(
            project=cv.project_pb(name), description=description, update=update
        )
        self._t.unary(self._t.pfs.CreateProject, request)

    def inspect_project(self, name: str | None = None) -> ProjectInfo:
        """Inspect a project (the current one by default)."""
        request = pfs_pb2.InspectProjectRequest(project=cv.project_pb(name or self._project()))
        return cv.project_info(self._t.unary(self._t.pfs.InspectProject, request))

    def list_project(self) -> RecordList[ProjectInfo]:
        """List all projects."""
        stream = self._t.stream(self._t.pfs.ListProject, pfs_pb2.ListProjectRequest())
        return RecordList(ProjectInfo, (cv.project_info(pb) for pb in stream))

    def delete_project(self, name: str, *, force: bool = False) -> None:
        """Delete a project (``force`` deletes it even if it has repos)."""
        request = pfs_pb2.DeleteProjectRequest(project=cv.project_pb(name), force=force)
        self._t.unary(self._t.pfs.DeleteProject, request)

    # --- repos ------------------------------------------------------------

    def create_repo(self, repo: Repo | str, *, description: str = "", update: bool = False) -> Repo:
        """Create a repo.

        Parameters
        ----------
        repo:
            ``Repo`` or ``[project/]name``.
        description:
            Free text shown by ``list repo``.
        update:
            If the repo exists, update its description instead of failing.

        Returns
        -------
        Repo
            The repo's ref.
        """
        ref = to_repo(repo)
        request = pfs_pb2.CreateRepoRequest(
            repo=cv.repo_pb(ref, self._project()), description=description, update=update
        )
        self._t.unary(self._t.pfs.CreateRepo, request)
        return ref

    def inspect_repo(self, repo: Repo | str) -> RepoInfo:
        """Return a repo's info; ``NotFound`` if it does not exist."""
        request = pfs_pb2.InspectRepoRequest(repo=cv.repo_pb(to_repo(repo), self._project()))
        return cv.repo_info(self._t.unary(self._t.pfs.InspectRepo, request))

    def list_repo(
        self, *, type: str | None = "user", project: str | None = None, all_projects: bool = False
    ) -> RecordList[RepoInfo]:
        """List repos.

        Parameters
        ----------
        type:
            Repo type to list (``user``, ``spec``, ``meta``); None lists all types.
        project:
            Project to list (default: the client's current project).
        all_projects:
            List repos of every project.

        Returns
        -------
        RecordList[RepoInfo]
            In the server's order (pachd: by project, then name).
        """
        projects = [] if all_projects else [cv.project_pb(project or self._project())]
        request = pfs_pb2.ListRepoRequest(type=type or "", projects=projects)
        stream = self._t.stream(self._t.pfs.ListRepo, request)
        return RecordList(RepoInfo, (cv.repo_info(pb) for pb in stream))

    def delete_repo(self, repo: Repo | str, *, force: bool = False) -> bool:
        """Delete a repo; returns False when it did not exist (pachd does not fail)."""
        request = pfs_pb2.DeleteRepoRequest(repo=cv.repo_pb(to_repo(repo), self._project()), force=force)
        return bool(self._t.unary(self._t.pfs.DeleteRepo, request).deleted)

    # --- branches ---------------------------------------------------------

    def create_branch(
        self,
        branch: Branch | str,
        *,
        head: CommitLike | None = None,
        provenance: Iterable[Branch | str] = (),
    ) -> Branch:
        """Create or move a branch.

        Parameters
        ----------
        branch:
            ``repo@branch``.
        head:
            The commit the branch should point at (default: keep/none).
        provenance:
            Branches this branch is computed from.

        Returns
        -------
        Branch
            The branch's ref.
        """
        ref = to_branch(branch)
        project = self._project()
        request = pfs_pb2.CreateBranchRequest(
            branch=cv.branch_pb(ref, project),
            provenance=[cv.branch_pb(to_branch(b), project) for b in provenance],
        )
        if head is not None:
            request.head.CopyFrom(cv.commit_pb(to_commit(head), project))
        self._t.unary(self._t.pfs.CreateBranch, request)
        return ref

    def inspect_branch(self, branch: Branch | str) -> BranchInfo:
        """Return a branch's info."""
        request = pfs_pb2.InspectBranchRequest(branch=cv.branch_pb(to_branch(branch), self._project()))
        return cv.branch_info(self._t.unary(self._t.pfs.InspectBranch, request))

    def list_branch(self, repo: Repo | str) -> RecordList[BranchInfo]:
        """List the branches of a repo."""
        request = pfs_pb2.ListBranchRequest(repo=cv.repo_pb(to_repo(repo), self._project()))
        stream = self._t.stream(self._t.pfs.ListBranch, request)
        return RecordList(BranchInfo, (cv.branch_info(pb) for pb in stream))

    def delete_branch(self, branch: Branch | str, *, force: bool = False) -> None:
        """Delete a branch (its commits stay)."""
        request = pfs_pb2.DeleteBranchRequest(
            branch=cv.branch_pb(to_branch(branch), self._project()), force=force
        )
        self._t.unary(self._t.pfs.DeleteBranch, request)

    # --- commits ----------------------------------------------------------

    def start_commit(
        self, branch: Branch | str, *, parent: CommitLike | None = None, description: str = ""
    ) -> Commit:
        """Open a commit on a branch and return its ref (with branch and id)."""
        project = self._project()
        branch_ref = to_branch(branch)
        request = pfs_pb2.StartCommitRequest(
            branch=cv.branch_pb(branch_ref, project), description=description
        )
        if parent is not None:
            request.parent.CopyFrom(cv.commit_pb(to_commit(parent), project))
        started = cv.commit_from_pb(self._t.unary(self._t.pfs.StartCommit, request))
        # pachd answers with the commit's id and repo but no branch; the commit is on the one we asked for.
        return started if started.branch else Commit(started.repo, branch_ref.name, started.id)

    def finish_commit(
        self,
        commit: CommitLike,
        *,
        description: str | None = None,
        error: str = "",
        force: bool = False,
    ) -> None:
        """Finish an open commit (``error`` marks it failed; downstream jobs do not use it)."""
        request = pfs_pb2.FinishCommitRequest(
            commit=cv.commit_pb(to_commit(commit), self._project()),
            description=description or "",
            error=error,
            force=force,
        )
        self._t.unary(self._t.pfs.FinishCommit, request)

    @contextmanager
    def commit(
        self, branch: Branch | str, *, parent: CommitLike | None = None, description: str = ""
    ) -> Iterator[OpenCommit]:
        """Open a commit for the ``with`` block and finish it afterwards.

        On a normal exit the commit is finished. If the block raises, the
        commit is finished *with an error* recording the exception (unlike
        pachyderm-sdk, which finishes normally): a half-written commit then
        never looks like good data to pipelines or to later reads, which use
        the last good commit as their base. The exception propagates.
        Either way the block ends once the server has finished the commit
        (pachd finishes commits in the background, after FinishCommit
        returns), so its info, sizes included, is final.

        Parameters
        ----------
        branch:
            ``repo@branch`` to commit to.
        parent:
            An explicit parent commit.
        description:
            The commit message.

        Yields
        ------
        OpenCommit
            With ``put_file``, ``put_files``, ``delete_file``, ``copy_file``...
        """
        ref = self.start_commit(branch, parent=parent, description=description)
        open_commit = OpenCommit(self, ref)
        try:
            yield open_commit
        except BaseException as exc:
            reason = ": ".join(part for part in (type(exc).__name__, str(exc)) if part)
            try:
                self.finish_commit(ref, error=reason)
                self.wait_commit(ref)
            except Exception as finish_error:  # keep the user's exception; mention ours
                add_note = getattr(exc, "add_note", None)  # Python 3.11+
                if callable(add_note):
                    add_note(f"pachmagic: could not finish commit {ref} with an error: {finish_error}")
            raise
        self.finish_commit(ref)
        self.wait_commit(ref)

    def inspect_commit(self, commit: CommitLike, *, wait: str | None = None) -> CommitInfo:
        """Return a commit's info, optionally waiting for a state.

        Parameters
        ----------
        commit:
            ``repo@branch``, ``repo@id``, ``repo@master^2``...
        wait:
            None (no wait), ``"started"``, ``"ready"``, ``"finishing"`` or ``"finished"``.
        """
        state = _WAIT[wait] if wait is not None else pfs_pb2.STARTED
        request = pfs_pb2.InspectCommitRequest(
            commit=cv.commit_pb(to_commit(commit), self._project()), wait=state
        )
        return cv.commit_info(self._t.unary(self._t.pfs.InspectCommit, request, cancellable=wait is not None))

    def wait_commit(self, commit: CommitLike) -> CommitInfo:
        """Block until a commit is finished and return its info."""
        return self.inspect_commit(commit, wait="finished")

    def list_commit(
        self,
        repo_or_branch: Repo | CommitLike,
        *,
        number: int = 0,
        reverse: bool = False,
        all: bool = False,
        origin: str | None = None,
    ) -> RecordList[CommitInfo]:
        """List commits, newest first.

        Parameters
        ----------
        repo_or_branch:
            A repo (all its commits) or a branch/commit (its ancestry).
        number:
            At most this many (0 = all).
        reverse:
            Oldest first.
        all:
            Include every origin (AUTO commits too).
        origin:
            Only commits of this origin: ``USER``, ``AUTO`` or ``FSCK``.
        """
        project = self._project()
        request = pfs_pb2.ListCommitRequest(number=number, reverse=reverse, all=all)
        if origin is not None:
            request.origin_kind = _ORIGINS[origin.upper()]
        if isinstance(repo_or_branch, Repo) or (isinstance(repo_or_branch, str) and "@" not in repo_or_branch):
            request.repo.CopyFrom(cv.repo_pb(to_repo(repo_or_branch), project))
        else:
            commit = to_commit(repo_or_branch)
            request.repo.CopyFrom(cv.repo_pb(commit.repo, project))
            getattr(request, "to").CopyFrom(cv.commit_pb(commit, project))
        stream = self._t.stream(self._t.pfs.ListCommit, request)
        return RecordList(CommitInfo, (cv.commit_info(pb) for pb in stream))

    def inspect_commit_set(self, commit_set_id: str, *, wait: bool = False) -> RecordList[CommitInfo]:
        """The commits of one global id (one per repo), optionally after they all finish."""
        request = pfs_pb2.InspectCommitSetRequest(
            commit_set=pfs_pb2.CommitSet(id=commit_set_id), wait=wait
        )
        stream = self._t.stream(self._t.pfs.InspectCommitSet, request)
        return RecordList(CommitInfo, (cv.commit_info(pb) for pb in stream))

    def squash_commit_set(self, commit_set_id: str) -> None:
        """Remove a commit set's commits, keeping their data in their children."""
        request = pfs_pb2.SquashCommitSetRequest(commit_set=pfs_pb2.CommitSet(id=commit_set_id))
        self._t.unary(self._t.pfs.SquashCommitSet, request)

    def drop_commit_set(self, commit_set_id: str) -> None:
        """Remove a commit set's commits and their data (none may have children)."""
        request = pfs_pb2.DropCommitSetRequest(commit_set=pfs_pb2.CommitSet(id=commit_set_id))
        self._t.unary(self._t.pfs.DropCommitSet, request)

    def list_commit_set(self) -> list[tuple[str, RecordList[CommitInfo]]]:
        """Every commit set, newest first, as ``(id, commits)``."""
        stream = self._t.stream(self._t.pfs.ListCommitSet, pfs_pb2.ListCommitSetRequest())
        return [
            (pb.commit_set.id, RecordList(CommitInfo, (cv.commit_info(c) for c in pb.commits))) for pb in stream
        ]

    def delete_all(self) -> None:
        """Delete every repo and project of the cluster (``pachctl delete all`` for PFS)."""
        self._t.unary(self._t.pfs.DeleteAll, empty_pb2.Empty())
