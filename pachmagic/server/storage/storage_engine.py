"""What the pipeline engine needs of PFS, as ``Storage`` methods: output commits, provenance, job trees.

A pipeline's repos, branches and provenance are ordinary PFS objects; the engine
creates and rewires them (``ensure_repo``, ``set_provenance``, ``make_commit``,
``propagate``), watches output commits appear (``last_commit_seq``,
``commits_after``), writes the trees its jobs produce (``chunk_writer``,
``write_trees``) and finishes a job's commits (``finish_job_commit``). Each method
joins an outer transaction (``Storage.changing``), so a lifecycle step or a job's
end stays one transaction. Mixed into ``Storage``; no gRPC here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ContextManager, Iterable, Mapping

from ...errors import NotFound
from .catalog_base import CommitRef, CommitRow
from .chunks import ChunkStore, ChunkWriter
from .model import BranchInfo, BranchKey, RepoKey
from .tree import Changes, NodeCache, Tree

if TYPE_CHECKING:
    from .catalog import Catalog
    from .nodes import SqliteNodeStore

__all__ = ["EngineSupport", "KEEP"]


class _Keep:
    """``finish_job_commit(root=KEEP)``: the commit keeps its tree."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


class EngineSupport:
    """The pipeline engine's PFS operations (a part of ``Storage``)."""

    if TYPE_CHECKING:  # provided by Storage
        _catalog: Catalog
        _chunks: ChunkStore
        _nodes: SqliteNodeStore
        _node_cache: NodeCache

        def changing(self) -> ContextManager[None]: ...

    # --- output commits ------------------------------------------------------------

    def last_commit_seq(self) -> int:
        """The sequence number of the newest commit of any repo: when it has not moved, nothing is new."""
        return self._catalog.last_seq()

    def commits_after(self, repo: RepoKey, branch: str, after_seq: int) -> list[CommitRow]:
        """Commits made on ``branch`` after ``after_seq``, oldest first ([] for a repo that is gone)."""
        try:
            return self._catalog.commits_after(repo, branch, after_seq)
        except NotFound:
            return []

    def commit_row(self, seq: int) -> CommitRow:
        return self._catalog.commit_row(seq)

    def finish_job_commit(self, ref: CommitRef, *, error: str, root: bytes | None | _Keep = KEEP) -> bool:
        """Finish a job's open output or meta commit, first setting its tree to ``root`` (unless KEEP).

        Pipeline commits cannot be finished by users; this is the engine's way.
        False if the commit is gone or already finished.
        """
        with self.changing():
            try:
                row = self._catalog.resolve(ref)
            except NotFound:
                return False
            if not row.is_open:
                return False
            size = None
            if not isinstance(root, _Keep):
                size = Tree(self._nodes, root, self._node_cache).stats()[1]
                self._catalog.set_commit_root(row.seq, row.root, root, size)
            self._catalog.finish_commit(row, error=error, force=True, size=size)
            return True

    # --- a pipeline's repos, branches and provenance --------------------------------

    def ensure_repo(self, key: RepoKey, description: str) -> None:
        """Create ``key`` unless it exists."""
        with self.changing():
            try:
                self._catalog.inspect_repo(key)
            except NotFound:
                self._catalog.create_repo(key, description)

    def ensure_branch(self, key: BranchKey, set_id: str) -> None:
        """Create ``key`` (with a first commit in ``set_id``) unless it exists."""
        with self.changing():
            self._catalog.ensure_branch(key, set_id)

    def declare_branch(self, key: BranchKey) -> None:
        """Create ``key`` without a commit unless it exists."""
        with self.changing():
            self._catalog.declare_branch(key)

    def set_provenance(self, key: BranchKey, provenance: Iterable[BranchKey]) -> None:
        with self.changing():
            self._catalog.set_provenance(key, provenance)

    def clear_provenance(self, repo: RepoKey) -> None:
        """Drop the provenance of every branch of ``repo`` (a pipeline's output repo kept as a plain repo)."""
        with self.changing():
            try:
                branches: list[BranchInfo] = self._catalog.list_branches(repo)
            except NotFound:
                return
            for branch in branches:
                self._catalog.set_provenance(branch.key, [])

    def make_commit(self, key: BranchKey, set_id: str, *, finished: bool, propagate: bool = True) -> CommitRow:
        """An empty commit in ``set_id`` on ``key`` (creating the branch), propagated downstream unless told not to."""
        with self.changing():
            return self._catalog.make_commit(key, set_id, finished=finished, propagate=propagate)

    def propagate(self, key: BranchKey, set_id: str) -> None:
        """Open a commit in ``set_id`` on every branch downstream of ``key``."""
        with self.changing():
            self._catalog.propagate([self._catalog.branch_id(key)], set_id)

    # --- trees written by jobs --------------------------------------------------------

    def chunk_writer(self) -> ChunkWriter:
        """A writer for new chunks; nothing refers to them until ``write_trees``."""
        return self._chunks.writer()

    def write_trees(
        self, writer: ChunkWriter, changes: Mapping[str, tuple[bytes | None, Changes]]
    ) -> dict[str, bytes | None]:
        """Index ``writer``'s chunks, then apply each (base root, changes); the new roots, by the same keys.

        The chunks are indexed before the trees that use them are stored: rows
        that a crash leaves unreferenced are harmless (content-addressed).
        """
        self._chunks.index(writer.finish())
        return {name: Tree(self._nodes, root, self._node_cache).apply(change).root
                for name, (root, change) in changes.items()}
