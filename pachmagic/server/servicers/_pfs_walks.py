"""PFS's commit provenance walks (``WalkCommitProvenance``, ``WalkCommitSubvenance``), as pachd walks them.

Mixed into ``PfsServicer``; reads only, through ``Storage``. pachd's walk is
breadth-first, leaves out the start commits and caps depth and count per start.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

from ..._proto import pfs_pb2
from ...errors import NotFound
from ..storage import CommitRef, Storage
from ..storage.model import CommitInfo
from . import _convert as cv
from ._base import Runtime, rpc

__all__ = ["WalkRpcs"]


class WalkRpcs:
    """The commit walks of ``pfs_v2.API``."""

    storage: Storage
    rt: Runtime

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
        """Breadth-first from each start commit along ``edge``, as pachd's walks: the start
        itself is not sent, nearer commits first, at most ``max_depth`` edges away and
        ``max_commits`` commits per start (defaults 1000 and 10,000)."""
        starts = [cv.commit_picker_ref(p) for p in request.start]
        max_commits = request.max_commits or 10_000
        max_depth = request.max_depth or 1000

        def pick(ref: CommitRef) -> CommitInfo:
            try:
                return self.storage.inspect_commit(ref)
            except NotFound:
                if not ref.id or any(c in ref.id for c in "^~."):
                    raise
                key = f"{ref.repo.project}/{ref.repo.name}.{ref.repo.type}@{ref.id}"  # pachd's database key
                raise NotFound(f"get commit by commit key: commit (int_id=0, commit_id={key}) not found") from None

        def walk_one(start: CommitInfo) -> Iterator[CommitInfo]:
            frontier, seen, count, depth = [start], {start.key}, 0, 0
            while frontier and depth < max_depth:
                nxt = []
                for info in frontier:
                    for key in getattr(info, edge):
                        if key not in seen:
                            seen.add(key)
                            found = self.storage.inspect_commit(CommitRef(key.repo, id=key.id))
                            yield found
                            count += 1
                            if count >= max_commits:
                                return
                            nxt.append(found)
                frontier, depth = nxt, depth + 1

        def walk() -> Iterator[CommitInfo]:
            for start in [pick(ref) for ref in starts]:
                yield from walk_one(start)

        async for info in self.rt.stream(walk):
            yield cv.commit_info_pb(info)
