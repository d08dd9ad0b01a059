"""``Storage``: the embedded server's versioned file system, in one object.

It ties together the metadata catalog (projects, repos, branches, commits),
the chunk store and the commit trees, and tells watchers when something
changed (waits, subscriptions and the pipeline engine listen). Servicers and
the pipeline engine call its methods; its parts (database, catalog, chunks,
nodes) stay private to ``storage/``. The engine's own tables are ``pps``
(``pipeline_tables``), and what only the engine needs of PFS is in
``storage_engine``. It raises ``pachmagic.errors`` exceptions and never imports
gRPC.
"""

from __future__ import annotations

import os
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ...errors import FailedPrecondition, InvalidArgument, NotFound, Unknown
from . import history
from .catalog import Catalog, CommitRef, CommitRow
from .catalog_base import BranchNotFound
from .chunks import ChunkStore, DiskPacks, MemoryPacks, Packs, Piece
from .datadir import lock_data_dir, private_dir, private_file
from .db import DATABASE_FILE, Database
from .files import Reader, WriteSession, diff, replay
from .fsck import FsckReport, fsck
from .model import (
    BranchInfo,
    BranchKey,
    CommitInfo,
    ORIGIN_AUTO,
    FileInfo,
    ProjectInfo,
    RepoInfo,
    RepoKey,
)
from .nodes import SqliteNodeStore
from .refusals import refusal
from .pipeline_tables import PipelineTables
from .storage_engine import EngineSupport
from .tree import NodeCache, Tree

__all__ = ["Storage"]

Listener = Callable[[], None]


class Storage(EngineSupport):
    """The versioned file system of one data directory (or of memory).

    Parameters
    ----------
    data_dir:
        Directory holding ``pfs.sqlite`` and ``packs/``; ``None`` keeps
        everything in memory (tests, throwaway servers).
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir
        self._lock_fd: int | None = None
        packs: Packs
        if data_dir is None:
            self._db = Database(None)
            packs = MemoryPacks()
        else:
            private_dir(data_dir)
            self._lock_fd = lock_data_dir(data_dir)
            self._db = Database(private_file(data_dir / DATABASE_FILE))
            packs = DiskPacks(private_dir(data_dir / "packs"))
        self._packs = packs
        self._catalog = Catalog(self._db)
        self._chunks = ChunkStore(self._db, packs)
        self._nodes = SqliteNodeStore(self._db)
        self._node_cache = NodeCache(self._nodes)
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()
        self.recovered_bytes = self._chunks.recover()
        self._catalog.ensure_default_project()
        self.pps = PipelineTables(self._db)

    def close(self) -> None:
        if isinstance(self._packs, DiskPacks):
            self._packs.close()
        self._db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def fsck(self, *, verify_data: bool = True) -> FsckReport:
        """Check every reference and hash of this store (see ``fsck.py``)."""
        return fsck(self._db, self._packs, verify_data=verify_data)

    # --- change notification ---------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener()`` (from any thread) after every committed change."""
        with self._listeners_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def notify(self) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    @contextmanager
    def changing(self) -> Iterator[None]:
        """One transaction (joining an outer one), then tell every listener."""
        with self._db.transaction():
            yield
        self.notify()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction (joining an outer one) that listeners need not hear of."""
        with self._db.transaction():
            yield

    def cluster_id(self) -> str:
        """This store's cluster ID, made on first use and kept."""
        return self._db.meta_value("cluster_id", lambda: secrets.token_hex(16))

    def snapshot(self) -> threading.RLock:
        """Hold this while reading several rows that must agree (no write lands in between).

        Without it, a repo deleted between resolving a commit and describing it
        made the description fail with a TypeError (INTERNAL) instead of NOT_FOUND.
        """
        return self._db.lock

    # --- projects and repos ----------------------------------------------------

    def create_project(self, name: str, description: str = "", update: bool = False) -> None:
        with self.changing():
            self._catalog.create_project(name, description, update)

    def inspect_project(self, name: str) -> ProjectInfo:
        with self.snapshot():
            return self._catalog.inspect_project(name)

    def list_projects(self) -> list[ProjectInfo]:
        with self.snapshot():
            return self._catalog.list_projects()

    def delete_project(self, name: str, force: bool = False) -> None:
        with self.changing():
            self._catalog.delete_project(name, force)

    def create_repo(self, key: RepoKey, description: str = "", update: bool = False) -> bool:
        with self.changing():
            return self._catalog.create_repo(key, description, update)

    def inspect_repo(self, key: RepoKey) -> RepoInfo:
        with self.snapshot():
            return self._catalog.inspect_repo(key)

    def list_repos(self, repo_type: str = "", projects: Iterable[str] = ()) -> list[RepoInfo]:
        with self.snapshot():
            return self._catalog.list_repos(repo_type, projects)

    def delete_repo(self, key: RepoKey, force: bool = False) -> bool:
        with self.changing():
            return self._catalog.delete_repo(key, force)

    def delete_all(self) -> None:
        with self.changing():
            self._catalog.delete_all()

    # --- branches --------------------------------------------------------------

    def create_branch(
        self,
        key: BranchKey,
        head: CommitRef | None = None,
        provenance: Iterable[BranchKey] = (),
        trigger: str = "",
        commit_set: str | None = None,
        trigger_branch: str = "",
    ) -> str | None:
        with self.changing():
            return self._catalog.create_branch(key, head, provenance, trigger, commit_set, trigger_branch)

    def inspect_branch(self, key: BranchKey) -> BranchInfo:
        with self.snapshot():
            try:
                self._catalog.repo_id(key.repo)
            except NotFound:  # pachd's answer ends with the branch, not the repo
                raise NotFound(f'branch "{key.name}" not found in repo {key.repo}') from None
            return self._catalog.inspect_branch(key)

    def list_branches(self, repo: RepoKey) -> list[BranchInfo]:
        with self.snapshot():
            return self._catalog.list_branches(repo)

    def delete_branch(self, key: BranchKey, force: bool = False) -> None:
        with self.changing():
            self._catalog.delete_branch(key, force)

    # --- commits ---------------------------------------------------------------

    def start_commit(self, branch: BranchKey, parent: CommitRef | None = None, description: str = "") -> CommitInfo:
        with self.changing():
            row = self._catalog.start_commit(branch, parent, description)
        return self._catalog.commit_info(row)

    def resolve(self, ref: CommitRef) -> CommitRow:
        return self._catalog.resolve(ref)

    def inspect_commit(self, ref: CommitRef) -> CommitInfo:
        with self.snapshot():
            return self._catalog.commit_info(self._catalog.resolve(ref))

    def commit_info(self, row: CommitRow) -> CommitInfo:
        with self.snapshot():
            return self._catalog.commit_info(row)

    def finish_commit(
        self, ref: CommitRef, *, description: str | None = None, error: str = "", force: bool = False
    ) -> CommitInfo:
        with self.changing():
            row = self._catalog.resolve(ref)
            self._catalog.finish_commit(row, description=description, error=error, force=force)
            return self._catalog.commit_info(self._catalog.commit_row(row.seq))

    def list_commits(self, repo: RepoKey, **kwargs: object) -> list[CommitInfo]:
        with self.snapshot():
            rows = self._catalog.list_commits(repo, **kwargs)  # type: ignore[arg-type]
            infos = [self._catalog.commit_info(r) for r in rows]
        for info, row in zip(infos, rows):
            # pachd sizes an open commit from its base, and reports 0 while that is open too
            if row.is_open and row.parent_seq is not None and self._catalog.commit_row(row.parent_seq).is_open:
                info.size_bytes = 0
        return infos

    def commit_set(self, set_id: str) -> list[CommitInfo]:
        with self.snapshot():
            return [self._catalog.commit_info(r) for r in self._catalog.commit_set(set_id)]

    def commit_set_view(self, set_id: str) -> list[CommitInfo]:
        """InspectCommitSet's answer: the set with its provenance commits (may be empty)."""
        with self.snapshot():
            return [self._catalog.commit_info(r) for r in self._catalog.commit_set_view(set_id)]

    def list_commit_sets(self, project: str | None = None) -> list[tuple[str, list[CommitInfo]]]:
        with self.snapshot():
            return [
                (sid, [self._catalog.commit_info(r) for r in rows]) for sid, rows in self._catalog.list_commit_sets(project)
            ]

    def squash_commit_set(self, set_id: str) -> None:
        with self.changing():
            history.remove_commits(self._catalog, self._catalog.commit_set(set_id), squash=True)

    def drop_commit_set(self, set_id: str) -> None:
        with self.changing():
            history.remove_commits(self._catalog, self._catalog.commit_set(set_id), squash=False)

    def squash_commit(self, ref: CommitRef, *, recursive: bool = False) -> None:
        with self.changing():
            rows = history.commits_for_squash_or_drop(self._catalog, self._catalog.resolve(ref), recursive)
            history.remove_commits(self._catalog, rows, squash=True)

    def drop_commit(self, ref: CommitRef, *, recursive: bool = False) -> None:
        with self.changing():
            rows = history.commits_for_squash_or_drop(self._catalog, self._catalog.resolve(ref), recursive)
            history.remove_commits(self._catalog, rows, squash=False)

    def clear_commit(self, ref: CommitRef) -> None:
        with self.changing():
            history.clear_commit(self._catalog, self._catalog.resolve(ref))

    # --- files: writes ---------------------------------------------------------

    def write_session(self) -> WriteSession:
        """Start recording one atomic change (see ``files.WriteSession``)."""
        return WriteSession(self._chunks.writer())

    def apply(self, ref: CommitRef, session: WriteSession) -> CommitInfo:
        """Apply a recorded change to the commit ``ref`` names, atomically.

        ``ref`` naming an open commit (by id, or a branch whose head is open)
        writes into it. A branch whose head is finished, or that does not exist
        yet, gets a new commit that is started, written and finished at once, as
        pachd does for one-off puts. Naming a finished commit by id is an error.
        """
        ops = session.close()
        with self.changing():
            row, one_off = self._writable_commit(ref)
            base = self.tree(row)
            changes = replay(base, ops, session.writer)
            self._chunks.index(session.writer.finish())
            new = base.apply(changes)
            size = new.stats()[1]
            self._catalog.set_commit_root(row.seq, base.root, new.root, size)
            if one_off:
                self._catalog.finish_commit(self._catalog.commit_row(row.seq), size=size)
            # Inside the transaction: a repo deleted right after must not turn this into an error.
            info = self._catalog.commit_info(self._catalog.commit_row(row.seq))
        return info

    def _writable_commit(self, ref: CommitRef) -> tuple[CommitRow, bool]:
        """The open commit a write goes to, and whether it is a one-off commit."""
        if ref.id:
            row = self._catalog.resolve(ref)
            if not row.is_open:
                raise Unknown(f"commit {self._catalog.commit_key(row.seq)} has already finished")
            return row, False
        if not ref.branch:
            raise InvalidArgument(f"a write to repo {ref.repo} must name a branch or a commit")
        branch = BranchKey(ref.repo, ref.branch)
        try:
            head: CommitRow | None = self._catalog.resolve(ref)
        except BranchNotFound:
            head = None
        if head is not None and head.is_open:
            return head, False
        return self._catalog.start_commit(branch), True

    # --- files: reads ----------------------------------------------------------

    def tree(self, row: CommitRow) -> Tree:
        return Tree(self._nodes, row.root, self._node_cache)

    def reader(self, ref: CommitRef) -> Reader:
        with self.snapshot():
            row = self._catalog.resolve(ref)
            reader = self.reader_for(row)
        reader.requested_id = ref.id
        return reader

    def reader_for(self, row: CommitRow) -> Reader:
        # Once resolved, a commit's tree is immutable: reading it needs no lock.
        tree, key = self.tree(row), self._catalog.commit_key(row.seq)
        reader = Reader(tree, key, row.finishing, branch=row.branch)
        if row.error and row.origin == ORIGIN_AUTO and key.repo.type == "user":
            # A job's output commit whose datums' outputs clash: pachd refuses the reads that meet the clash.
            reader.refusal = refusal(row.error, tree)
        return reader

    def read_chunks(self, chunks: Iterable[bytes], offset: int = 0) -> Iterator[bytes]:
        """Yield a file's bytes chunk by chunk, starting at ``offset`` (see ``ChunkStore.read_file``)."""
        return self._chunks.read_file(chunks, offset)

    def file_pieces(self, chunks: Iterable[bytes], offset: int = 0) -> list[Piece]:
        """Where each chunk of a file read from ``offset`` is, located once (``ChunkStore.pieces``)."""
        return self._chunks.pieces(chunks, offset)

    def read_piece(self, piece: Piece) -> bytes:
        """A located chunk's bytes (after its ``skip``), verified; may wait for the disk."""
        return self._chunks.read_piece(piece)

    def read_piece_cached(self, piece: Piece) -> bytes | None:
        """``read_piece`` when it can answer at once from memory, else None: never waits (the event loop's read)."""
        return self._chunks.read_piece_cached(piece)

    def verified(self, piece: Piece) -> bool:
        """Whether reading this piece again needs no hashing (``read_piece_cached`` may answer it)."""
        return self._chunks.verified(piece)

    def advise(self, pieces: list[Piece]) -> None:
        """Ask the kernel to start reading these pieces into the page cache (a hint)."""
        self._chunks.advise(pieces)

    def diff(self, new: CommitRef, new_path: str, old: CommitRef | None, old_path: str | None) -> Iterator[tuple[FileInfo | None, FileInfo | None]]:
        with self.snapshot():
            new_row = self._catalog.resolve(new)
            new_reader = self.reader_for(new_row)
            if old is None:
                if new_row.parent_seq is None:
                    old_reader = Reader(Tree(self._nodes, None, self._node_cache), new_reader.commit, None, branch=new_reader.branch)
                else:
                    old_reader = self.reader_for(self._catalog.commit_row(new_row.parent_seq))
            else:
                old_reader = self.reader(old)
        return diff(new_reader, old_reader, new_path, old_path or new_path)

    def commit_rows(self, repo: RepoKey) -> list[CommitRow]:
        """A repo's commits as rows, newest first (cheap: for subscriptions that poll)."""
        with self.snapshot():
            return self._catalog.list_commits(repo)
