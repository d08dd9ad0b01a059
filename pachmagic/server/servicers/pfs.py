"""``pfs_v2.API``: thin gRPC adapters over ``Storage``.

Each method converts the request, runs the storage call on the runtime's thread
pool, and converts the answer. Pachyderm semantics live in ``server/storage``.
"""

from __future__ import annotations

import tarfile
import urllib.request
from typing import Any, AsyncIterator, Callable

from google.protobuf import empty_pb2, wrappers_pb2

from ...errors import FailedPrecondition, InvalidArgument, NotFound
from ..._proto import pfs_pb2, pfs_pb2_grpc
from ..storage import CommitRef, Storage
from ..storage.chunks import CHUNK_SIZE
from ..storage.files import WriteSession
from ..storage.model import CommitInfo
from . import _convert as cv
from ._base import Runtime, rpc

__all__ = ["PfsServicer", "commit_reached"]

_BATCH_MESSAGES = 512
_BATCH_BYTES = 8 * 1024 * 1024


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


class PfsServicer(pfs_pb2_grpc.APIServicer):
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
            rows = self.storage.catalog.list_commits(repo)  # newest first
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

    # --- files -----------------------------------------------------------------

    @rpc
    async def ModifyFile(self, request_iterator: Any, context: Any) -> empty_pb2.Empty:
        ref: CommitRef | None = None
        session: WriteSession | None = None
        batch: list[pfs_pb2.ModifyFileRequest] = []
        size = 0
        async for req in request_iterator:
            body = req.WhichOneof("body")
            if body == "set_commit":
                if session is not None and ref is not None:
                    await self.rt.blocking(self._apply_batch, session, batch)
                    await self.rt.blocking(self.storage.apply, ref, session)
                    batch, size = [], 0
                ref = cv.commit_ref(req.set_commit)
                await self.rt.blocking(self._check_writable, ref)
                session = self.storage.write_session()
                continue
            if session is None:
                raise InvalidArgument("ModifyFile: the first message must be set_commit")
            batch.append(req)
            if body == "add_file" and req.add_file.WhichOneof("source") == "raw":
                size += len(req.add_file.raw.value)
            if len(batch) >= _BATCH_MESSAGES or size >= _BATCH_BYTES:
                await self.rt.blocking(self._apply_batch, session, batch)
                batch, size = [], 0
        if session is None or ref is None:
            raise InvalidArgument("ModifyFile: the stream had no set_commit")
        await self.rt.blocking(self._apply_batch, session, batch)
        await self.rt.blocking(self.storage.apply, ref, session)
        return empty_pb2.Empty()

    def _check_writable(self, ref: CommitRef) -> None:
        """Fail fast, before any data arrives, on a missing repo or finished commit."""
        self.storage.inspect_repo(ref.repo)
        if ref.id:
            info = self.storage.inspect_commit(ref)
            if info.finishing is not None:
                raise FailedPrecondition(f"commit {info.key} has already finished")

    def _apply_batch(self, session: WriteSession, batch: list[pfs_pb2.ModifyFileRequest]) -> None:
        for req in batch:
            body = req.WhichOneof("body")
            if body == "add_file":
                add = req.add_file
                source = add.WhichOneof("source")
                if source == "url":
                    self._add_url(session, add.path, add.url.URL, add.datum)
                else:
                    session.add(add.path, add.raw.value, add.datum)
            elif body == "delete_file":
                session.delete(req.delete_file.path)
            elif body == "copy_file":
                copy = req.copy_file
                src_ref, src_path = cv.file_ref(copy.src)
                reader = self.storage.reader(src_ref)
                reader.inspect(src_path)  # NOT_FOUND for a missing source
                session.copy(reader.tree, src_path, copy.dst, append=copy.append, datum=copy.datum)

    @staticmethod
    def _add_url(session: WriteSession, path: str, url: str, datum: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidArgument(f"unsupported URL {url!r}: only http and https sources are supported")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - scheme checked above
                session.add(path, b"", datum)
                while True:
                    data = response.read(CHUNK_SIZE)
                    if not data:
                        break
                    session.add(path, data, datum)
        except OSError as err:
            raise InvalidArgument(f"could not download {url}: {err}") from err

    @rpc
    async def GetFile(self, request: pfs_pb2.GetFileRequest, context: Any) -> AsyncIterator[wrappers_pb2.BytesValue]:
        if request.URL:
            raise InvalidArgument("GetFile with URL (writing to object storage) is not supported by the embedded server")
        ref, path = cv.file_ref(request.file)
        entry = await self.rt.blocking(lambda: self.storage.reader(ref).get_entry(path))
        if entry.size == 0 or request.offset >= entry.size:
            yield wrappers_pb2.BytesValue()
            return
        async for data in self.rt.stream(lambda: self.storage.read_chunks(entry.chunks, request.offset), batch=1):
            yield wrappers_pb2.BytesValue(value=data)

    @rpc
    async def GetFileTAR(self, request: pfs_pb2.GetFileRequest, context: Any) -> AsyncIterator[wrappers_pb2.BytesValue]:
        ref, path = cv.file_ref(request.file)

        def pieces() -> Any:
            reader = self.storage.reader(ref)
            reader.inspect(path)
            for entry in reader.files_under(path):
                info = tarfile.TarInfo(entry.path.lstrip("/"))
                info.size = entry.size
                info.mode = 0o644
                info.mtime = int(reader.committed or 0)
                yield info.tobuf(format=tarfile.PAX_FORMAT)
                yield from self.storage.read_chunks(entry.chunks)
                if entry.size % 512:
                    yield b"\0" * (512 - entry.size % 512)
            yield b"\0" * 1024

        async for data in self.rt.stream(pieces, batch=1):
            yield wrappers_pb2.BytesValue(value=data)

    @rpc
    async def InspectFile(self, request: pfs_pb2.InspectFileRequest, context: Any) -> pfs_pb2.FileInfo:
        ref, path = cv.file_ref(request.file)
        info = await self.rt.blocking(lambda: self.storage.reader(ref).inspect(path))
        return cv.file_info_pb(info)

    @rpc
    async def ListFile(self, request: pfs_pb2.ListFileRequest, context: Any) -> AsyncIterator[pfs_pb2.FileInfo]:
        ref, path = cv.file_ref(request.file)
        marker = request.paginationMarker.path if request.HasField("paginationMarker") else ""

        def infos() -> Any:
            items: Any = self.storage.reader(ref).children(path)
            if request.reverse:
                items = reversed(list(items))
            count = 0
            for info in items:
                if marker and ((info.path <= marker) if not request.reverse else (info.path >= marker)):
                    continue
                yield cv.file_info_pb(info)
                count += 1
                if request.number and count >= request.number:
                    return

        async for msg in self.rt.stream(infos):
            yield msg

    @rpc
    async def WalkFile(self, request: pfs_pb2.WalkFileRequest, context: Any) -> AsyncIterator[pfs_pb2.FileInfo]:
        ref, path = cv.file_ref(request.file)

        def infos() -> Any:
            count = 0
            for info in self.storage.reader(ref).walk(path):
                yield cv.file_info_pb(info)
                count += 1
                if request.number and count >= request.number:
                    return

        async for msg in self.rt.stream(infos):
            yield msg

    @rpc
    async def GlobFile(self, request: pfs_pb2.GlobFileRequest, context: Any) -> AsyncIterator[pfs_pb2.FileInfo]:
        ref = cv.commit_ref(request.commit)
        async for msg in self.rt.stream(
            lambda: (cv.file_info_pb(i) for i in self.storage.reader(ref).glob(request.pattern))
        ):
            yield msg

    @rpc
    async def DiffFile(self, request: pfs_pb2.DiffFileRequest, context: Any) -> AsyncIterator[pfs_pb2.DiffFileResponse]:
        new_ref, new_path = cv.file_ref(request.new_file)
        old_ref = old_path = None
        if request.HasField("old_file") and (request.old_file.commit.id or request.old_file.commit.branch.name):
            old_ref, old_path = cv.file_ref(request.old_file)

        def pairs() -> Any:
            for new, old in self.storage.diff(new_ref, new_path, old_ref, old_path):
                msg = pfs_pb2.DiffFileResponse()
                if new is not None:
                    msg.new_file.CopyFrom(cv.file_info_pb(new))
                if old is not None:
                    msg.old_file.CopyFrom(cv.file_info_pb(old))
                yield msg

        async for msg in self.rt.stream(pairs):
            yield msg

