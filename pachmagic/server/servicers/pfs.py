"""``pfs_v2.API``: thin gRPC adapters over ``Storage``.

Each method converts the request, runs the storage call on the runtime's thread
pool, and converts the answer. Pachyderm semantics live in ``server/storage``.
Projects, repos, commits and branches are here; file RPCs are in
``pfs_files.py``.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Iterator

from google.protobuf import empty_pb2

from ...errors import InvalidArgument, NotFound
from ..._proto import pfs_pb2, pfs_pb2_grpc
from ..storage import CommitRef, Storage
from ..storage.model import CommitInfo
from . import _convert as cv
from ._base import Runtime, add_raw, rpc
from .pfs_files import RAW_RESPONSES, FileRpcs

__all__ = ["PfsServicer", "add_to_server", "commit_reached"]


def add_to_server(servicer: "PfsServicer", server: Any) -> None:
    """Register ``pfs_v2.API`` as the generated function does, the listings answering bytes (``RAW_RESPONSES``)."""
    add_raw(pfs_pb2_grpc.add_APIServicer_to_server, servicer, server, RAW_RESPONSES)


def commit_reached(storage: Storage, info: CommitInfo, state: int) -> bool:
    """Has the commit reached a ``pfs_v2.CommitState``?"""
    if state in (0, pfs_pb2.STARTED):
        return True
    if state == pfs_pb2.READY:
        for prov in info.direct_provenance:
            if storage.inspect_commit(CommitRef(prov.repo, id=prov.id)).finished is None:
                return False
        return True
    if state == pfs_pb2.FINISHING:
        return info.finishing is not None
    return info.finished is not None


class PfsServicer(FileRpcs, pfs_pb2_grpc.APIServicer):
    """The PFS API of the embedded server.

    Parameters
    ----------
    storage:
        The file system to serve.
    runtime:
        Thread pool and change notifications.
    guard_repo_delete:
        Called with a repo key before a repo is deleted; raises if the repo
        belongs to a pipeline (the pipeline layer knows which do).
    """

    def __init__(
        self,
        storage: Storage,
        runtime: Runtime,
        guard_repo_delete: Callable[[Any], None] | None = None,
        on_delete_all: Callable[[], None] | None = None,
    ) -> None:
        self.storage = storage
        self.rt = runtime
        self.guard_repo_delete = guard_repo_delete or (lambda key: None)
        self.on_delete_all = on_delete_all

    # --- projects --------------------------------------------------------------

    @rpc
    async def CreateProject(self, request: pfs_pb2.CreateProjectRequest, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(
            self.storage.create_project, request.project.name, request.description, request.update
        )
        return empty_pb2.Empty()

    @rpc
    async def InspectProject(self, request: pfs_pb2.InspectProjectRequest, context: Any) -> pfs_pb2.ProjectInfo:
        info = await self.rt.blocking(self.storage.inspect_project, cv.project_name(request.project))
        return cv.project_info_pb(info)

    @rpc
    async def ListProject(self, request: pfs_pb2.ListProjectRequest, context: Any) -> AsyncIterator[pfs_pb2.ProjectInfo]:
        for info in await self.rt.blocking(self.storage.list_projects):
            yield cv.project_info_pb(info)

    @rpc
    async def DeleteProject(self, request: pfs_pb2.DeleteProjectRequest, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.storage.delete_project, cv.project_name(request.project), request.force)
        return empty_pb2.Empty()

    # --- repos -----------------------------------------------------------------

    @rpc
    async def CreateRepo(self, request: pfs_pb2.CreateRepoRequest, context: Any) -> empty_pb2.Empty:
        key = cv.repo_key(request.repo)
        await self.rt.blocking(self.storage.create_repo, key, request.description, request.update)
        return empty_pb2.Empty()

    @rpc
    async def InspectRepo(self, request: pfs_pb2.InspectRepoRequest, context: Any) -> pfs_pb2.RepoInfo:
        info = await self.rt.blocking(self.storage.inspect_repo, cv.repo_key(request.repo))
        return cv.repo_info_pb(info)

    @rpc
    async def ListRepo(self, request: pfs_pb2.ListRepoRequest, context: Any) -> AsyncIterator[pfs_pb2.RepoInfo]:
        projects = [cv.project_name(p) for p in request.projects]
        for info in await self.rt.blocking(self.storage.list_repos, request.type, projects):
            yield cv.repo_info_pb(info)

    def _delete_repo(self, key: Any, force: bool) -> bool:
        self.guard_repo_delete(key)
        return self.storage.delete_repo(key, force)

    @rpc
    async def DeleteRepo(self, request: pfs_pb2.DeleteRepoRequest, context: Any) -> pfs_pb2.DeleteRepoResponse:
        deleted = await self.rt.blocking(self._delete_repo, cv.repo_key(request.repo), request.force)
        return pfs_pb2.DeleteRepoResponse(deleted=deleted)

    @rpc
    async def DeleteRepos(self, request: pfs_pb2.DeleteReposRequest, context: Any) -> pfs_pb2.DeleteReposResponse:
        if not request.all and not request.projects:
            raise InvalidArgument("DeleteRepos needs projects or all")
        projects = [] if request.all else [cv.project_name(p) for p in request.projects]

        def delete() -> list[Any]:
            deleted = []
            for info in self.storage.list_repos("user", projects):
                if self._delete_repo(info.key, request.force):
                    deleted.append(info.key)
            return deleted

        keys = await self.rt.blocking(delete)
        return pfs_pb2.DeleteReposResponse(repos=[cv.repo_pb(k) for k in keys])

    @rpc
    async def DeleteAll(self, request: empty_pb2.Empty, context: Any) -> empty_pb2.Empty:
        if self.on_delete_all is not None:
            await self.rt.blocking(self.on_delete_all)
        await self.rt.blocking(self.storage.delete_all)
        return empty_pb2.Empty()

    # --- commits ---------------------------------------------------------------

    @rpc
    async def StartCommit(self, request: pfs_pb2.StartCommitRequest, context: Any) -> pfs_pb2.Commit:
        branch = cv.branch_key(request.branch)
        parent = cv.commit_ref(request.parent) if request.parent.id or request.parent.branch.name else None
        if parent is not None and not parent.repo.name:
            parent = CommitRef(branch.repo, parent.branch, parent.id)
        info = await self.rt.blocking(self.storage.start_commit, branch, parent, request.description)
        return cv.commit_pb(info.key, branch)

    @rpc
    async def FinishCommit(self, request: pfs_pb2.FinishCommitRequest, context: Any) -> empty_pb2.Empty:
        ref = cv.commit_ref(request.commit)
        await self.rt.blocking(
            lambda: self.storage.finish_commit(
                ref, description=request.description or None, error=request.error, force=request.force
            )
        )
        return empty_pb2.Empty()

    async def _wait_commit(self, ref: CommitRef, state: int) -> CommitInfo:
        # Pin the commit first: a branch head may move while we wait.
        first = await self.rt.blocking(self.storage.inspect_commit, ref)
        pinned = CommitRef(first.key.repo, id=first.key.id)
        return await self.rt.wait_for(
            lambda: self.storage.inspect_commit(pinned),
            lambda info: commit_reached(self.storage, info, state),
        )

    @rpc
    async def InspectCommit(self, request: pfs_pb2.InspectCommitRequest, context: Any) -> pfs_pb2.CommitInfo:
        info = await self._wait_commit(cv.commit_ref(request.commit), request.wait)
        return cv.commit_info_pb(info)

    @rpc
    async def ListCommit(self, request: pfs_pb2.ListCommitRequest, context: Any) -> AsyncIterator[pfs_pb2.CommitInfo]:
        repo = cv.repo_key(request.repo)

        def ref(commit: pfs_pb2.Commit) -> CommitRef | None:
            if not commit.id and not commit.branch.name:
                return None
            r = cv.commit_ref(commit) if (commit.repo.name or commit.branch.repo.name) else None
            return r or CommitRef(repo, commit.branch.name, commit.id)

        kwargs = dict(
            to=ref(getattr(request, "to")),
            from_=ref(getattr(request, "from")),
            number=request.number,
            reverse=request.reverse,
            origin=request.origin_kind,
        )
        for info in await self.rt.blocking(lambda: self.storage.list_commits(repo, **kwargs)):
            yield cv.commit_info_pb(info)

    @rpc
    async def InspectCommitSet(self, request: pfs_pb2.InspectCommitSetRequest, context: Any) -> AsyncIterator[pfs_pb2.CommitInfo]:
        set_id = request.commit_set.id
        if request.wait:
            infos = await self.rt.wait_for(
                lambda: self.storage.commit_set(set_id), lambda cs: all(c.finished is not None for c in cs)
            )
        else:
            infos = await self.rt.blocking(self.storage.commit_set, set_id)
        for info in infos:
            yield cv.commit_info_pb(info)

    @rpc
    async def ListCommitSet(self, request: pfs_pb2.ListCommitSetRequest, context: Any) -> AsyncIterator[pfs_pb2.CommitSetInfo]:
        for set_id, infos in await self.rt.blocking(self.storage.list_commit_sets):
            yield pfs_pb2.CommitSetInfo(
                commit_set=pfs_pb2.CommitSet(id=set_id), commits=[cv.commit_info_pb(i) for i in infos]
            )

    @rpc
    async def SubscribeCommit(self, request: pfs_pb2.SubscribeCommitRequest, context: Any) -> AsyncIterator[pfs_pb2.CommitInfo]:
        """Every commit of the repo, oldest first, then each new one; the stream never ends.

        As pachd's ``subscribeCommit``: only commits made on ``branch`` when one
        is given, only ``origin_kind`` commits unless ``all``, never the ``from``
        commit itself, and each one once it has reached ``state`` (in order: a
        commit still waiting holds back the ones after it).
        """
        repo = cv.repo_key(request.repo)
        await self.rt.blocking(self.storage.inspect_repo, repo)  # NOT_FOUND for a missing repo
        skip = getattr(request, "from").id
        origin = 0 if request.all else request.origin_kind
        pending: list[str] = []
        seen = [0]  # highest commit seq already queued

        def ready() -> list[CommitInfo]:
            rows = self.storage.commit_rows(repo)  # newest first
            for row in reversed(rows):
                if row.seq <= seen[0]:
                    continue
                seen[0] = row.seq
                if request.branch and row.branch != request.branch:
                    continue
                if (origin and row.origin != origin) or row.id == skip:
                    continue
                pending.append(row.id)
            out = []
            while pending:
                try:
                    info = self.storage.inspect_commit(CommitRef(repo, id=pending[0]))
                except NotFound:  # deleted (squashed, dropped) while queued
                    pending.pop(0)
                    continue
                if not commit_reached(self.storage, info, request.state):
                    break
                out.append(info)
                pending.pop(0)
            return out

        async for _ in self.rt.changes():
            for info in await self.rt.blocking(ready):
                yield cv.commit_info_pb(info)

    # --- branches --------------------------------------------------------------

    @rpc
    async def CreateBranch(self, request: pfs_pb2.CreateBranchRequest, context: Any) -> empty_pb2.Empty:
        key = cv.branch_key(request.branch)
        head = None
        if request.head.id or request.head.branch.name:
            head = cv.commit_ref(request.head) if (request.head.repo.name or request.head.branch.repo.name) else CommitRef(key.repo, request.head.branch.name, request.head.id)
        provenance = [cv.branch_key(b) for b in request.provenance]
        trigger = request.trigger.SerializeToString().hex() if request.HasField("trigger") else ""
        await self.rt.blocking(lambda: self.storage.create_branch(key, head, provenance, trigger))
        return empty_pb2.Empty()

    @rpc
    async def InspectBranch(self, request: pfs_pb2.InspectBranchRequest, context: Any) -> pfs_pb2.BranchInfo:
        info = await self.rt.blocking(self.storage.inspect_branch, cv.branch_key(request.branch))
        return cv.branch_info_pb(info)

    @rpc
    async def ListBranch(self, request: pfs_pb2.ListBranchRequest, context: Any) -> AsyncIterator[pfs_pb2.BranchInfo]:
        infos = await self.rt.blocking(self.storage.list_branches, cv.repo_key(request.repo))
        if request.reverse:
            infos.reverse()
        for info in infos:
            yield cv.branch_info_pb(info)

    @rpc
    async def DeleteBranch(self, request: pfs_pb2.DeleteBranchRequest, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.storage.delete_branch, cv.branch_key(request.branch), request.force)
        return empty_pb2.Empty()

    # --- history and maintenance -----------------------------------------------

    @rpc
    async def SquashCommitSet(self, request: pfs_pb2.SquashCommitSetRequest, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.storage.squash_commit_set, _set_id(request.commit_set))
        return empty_pb2.Empty()

    @rpc
    async def DropCommitSet(self, request: pfs_pb2.DropCommitSetRequest, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.storage.drop_commit_set, _set_id(request.commit_set))
        return empty_pb2.Empty()

    @rpc
    async def SquashCommit(self, request: pfs_pb2.SquashCommitRequest, context: Any) -> pfs_pb2.SquashCommitResponse:
        ref = cv.commit_ref(request.commit)
        await self.rt.blocking(lambda: self.storage.squash_commit(ref, recursive=request.recursive))
        return pfs_pb2.SquashCommitResponse()

    @rpc
    async def DropCommit(self, request: pfs_pb2.DropCommitRequest, context: Any) -> pfs_pb2.DropCommitResponse:
        ref = cv.commit_ref(request.commit)
        await self.rt.blocking(lambda: self.storage.drop_commit(ref, recursive=request.recursive))
        return pfs_pb2.DropCommitResponse()

    @rpc
    async def ClearCommit(self, request: pfs_pb2.ClearCommitRequest, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.storage.clear_commit, cv.commit_ref(request.commit))
        return empty_pb2.Empty()

    @rpc
    async def InspectProjectV2(
        self, request: pfs_pb2.InspectProjectV2Request, context: Any
    ) -> pfs_pb2.InspectProjectV2Response:
        info = await self.rt.blocking(self.storage.inspect_project, cv.project_name(request.project))
        return pfs_pb2.InspectProjectV2Response(info=cv.project_info_pb(info), defaults_json="{}")

    @rpc
    async def WalkCommitProvenance(
        self, request: pfs_pb2.WalkCommitProvenanceRequest, context: Any
    ) -> AsyncIterator[pfs_pb2.CommitInfo]:
        async for info in self._walk_commits(request, "direct_provenance"):
            yield info

    @rpc
    async def WalkCommitSubvenance(
        self, request: pfs_pb2.WalkCommitSubvenanceRequest, context: Any
    ) -> AsyncIterator[pfs_pb2.CommitInfo]:
        async for info in self._walk_commits(request, "direct_subvenance"):
            yield info

    async def _walk_commits(self, request: Any, edge: str) -> AsyncIterator[pfs_pb2.CommitInfo]:
        """Breadth-first from the start commits along ``edge``, bounded like pachd's walks."""
        starts = [cv.commit_picker_ref(p) for p in request.start]
        if not starts:
            raise InvalidArgument("no start commits given")
        max_commits = request.max_commits or 1000
        max_depth = request.max_depth or 1000

        def walk() -> Iterator[CommitInfo]:
            frontier = [self.storage.inspect_commit(ref) for ref in starts]
            seen = {info.key for info in frontier}
            count = depth = 0
            while frontier and depth <= max_depth:
                nxt = []
                for info in frontier:
                    yield info
                    count += 1
                    if count >= max_commits:
                        return
                    for key in getattr(info, edge):
                        if key not in seen:
                            seen.add(key)
                            nxt.append(self.storage.inspect_commit(CommitRef(key.repo, id=key.id)))
                frontier, depth = nxt, depth + 1

        async for info in self.rt.stream(walk):
            yield cv.commit_info_pb(info)

    @rpc
    async def Fsck(self, request: pfs_pb2.FsckRequest, context: Any) -> AsyncIterator[pfs_pb2.FsckResponse]:
        """pachd's consistency check, answered with the storage fsck (never fixes)."""
        if request.fix:
            raise InvalidArgument("fsck --fix is not supported by the embedded server: it only reports")
        report = await self.rt.blocking(self.storage.fsck)
        for problem in report.problems:
            yield pfs_pb2.FsckResponse(error=problem)


def _set_id(commit_set: pfs_pb2.CommitSet) -> str:
    if not commit_set.id:
        raise InvalidArgument("no commit set id given")
    return commit_set.id
