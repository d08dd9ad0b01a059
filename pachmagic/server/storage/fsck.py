"""``fsck``: check every reference and every hash of a data directory.

Walks the metadata (projects → repos → branches → commits → provenance), every
commit tree reachable from a commit root (each node's SHA-256 against its id,
the per-child count/size aggregates, key order, file hashes against their
chunk lists) and every indexed chunk (present in its pack, bytes matching the
id). Problems are collected, never fixed, and never raised: a damaged store is
exactly what this has to describe. Pack bytes past the last indexed chunk are
the harmless remains of an interrupted write (the next start trims them) and
are reported as a note, not as damage.

It reads through the same ``Database``/``Packs`` objects as the server but
never writes; it does not import gRPC.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .chunks import DiskPacks, Packs, chunk_id_of
from .db import Database, existing_database
from .files import file_hash
from .tree import _Inner, _Leaf, decode_node

__all__ = ["FsckReport", "fsck", "fsck_data_dir"]


@dataclass
class FsckReport:
    """What ``fsck`` found: ``problems`` is empty for a healthy store."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> Iterator[str]:
        for problem in self.problems:
            yield f"DAMAGE: {problem}"
        for note in self.notes:
            yield f"note: {note}"
        summary = ", ".join(f"{v} {_singular(k) if v == 1 else k}" for k, v in self.counts.items())
        yield f"{'ok' if self.ok else f'{len(self.problems)} problem(s)'}: checked {summary}"


def _singular(plural: str) -> str:
    """``1 project``, not ``1 projects`` (``branches`` → ``branch``, ``tree nodes`` → ``tree node``)."""
    if plural.endswith("ches"):
        return plural[:-2]
    return plural[:-1] if plural.endswith("s") else plural


def fsck(db: Database, packs: Packs, *, verify_data: bool = True, max_problems: int = 1000) -> FsckReport:
    """Check a store; return a report (see the module docstring).

    Parameters
    ----------
    db, packs:
        The store's metadata database and pack storage.
    verify_data:
        Read every indexed chunk and check its hash (the slow part).
    max_problems:
        Stop collecting after this many problems.
    """
    checker = _Checker(db, packs, report=FsckReport(), max_problems=max_problems)
    # One read transaction: a consistent snapshot even while a server writes (WAL).
    with db.lock:
        db.execute("BEGIN")
        try:
            checker.check_sqlite()
            checker.check_catalog()
            chunk_sizes = checker.check_chunks(verify_data)
            checker.check_trees(chunk_sizes)
        finally:
            db.execute("ROLLBACK")
    return checker.report


class _Checker:
    def __init__(self, db: Database, packs: Packs, *, report: FsckReport, max_problems: int) -> None:
        self.db = db
        self.packs = packs
        self.report = report
        self.max_problems = max_problems

    def problem(self, text: str) -> None:
        if len(self.report.problems) < self.max_problems:
            self.report.problems.append(text)

    def check_sqlite(self) -> None:
        rows = self.db.all("PRAGMA quick_check")
        if [r[0] for r in rows] != ["ok"]:
            for (text,) in rows[:20]:
                self.problem(f"metadata database: {text}")

    def check_catalog(self) -> None:
        db = self.db
        projects = {r[0] for r in db.all("SELECT name FROM projects")}
        repos = {r[0]: (r[1], r[2], r[3]) for r in db.all("SELECT id, project, name, type FROM repos")}
        for repo_id, (project, name, _type) in repos.items():
            if project not in projects:
                self.problem(f"repo {project}/{name} (id {repo_id}) belongs to missing project {project!r}")
        commits = {r[0]: (r[1], r[2], r[3]) for r in db.all("SELECT seq, repo_id, parent_seq, id FROM commits")}
        for seq, (repo_id, parent, commit_id) in commits.items():
            if repo_id not in repos:
                self.problem(f"commit {commit_id} (seq {seq}) belongs to missing repo id {repo_id}")
            if parent is not None:
                if parent not in commits:
                    self.problem(f"commit {commit_id} (seq {seq}) has missing parent seq {parent}")
                elif commits[parent][0] != repo_id:
                    self.problem(f"commit {commit_id} (seq {seq}) has a parent in another repo")
        for branch_id, repo_id, name, head in db.all("SELECT id, repo_id, name, head_seq FROM branches"):
            if repo_id not in repos:
                self.problem(f"branch {name} (id {branch_id}) belongs to missing repo id {repo_id}")
            if head is not None:
                if head not in commits:
                    self.problem(f"branch {name} (id {branch_id}) points at missing commit seq {head}")
                elif commits[head][0] != repo_id:
                    self.problem(f"branch {name} (id {branch_id}) points at a commit in another repo")
        branches = {r[0] for r in db.all("SELECT id FROM branches")}
        for branch_id, prov_id in db.all("SELECT branch_id, prov_id FROM branch_provenance"):
            if branch_id not in branches or prov_id not in branches:
                self.problem(f"branch provenance {branch_id} -> {prov_id} names a missing branch")
        for commit_seq, prov_seq in db.all("SELECT commit_seq, prov_seq FROM commit_provenance"):
            if commit_seq not in commits or prov_seq not in commits:
                self.problem(f"commit provenance {commit_seq} -> {prov_seq} names a missing commit")
        self.report.counts.update(projects=len(projects), repos=len(repos), branches=len(branches), commits=len(commits))

    def check_chunks(self, verify_data: bool) -> dict[bytes, int]:
        rows = self.db.all("SELECT id, pack, offset, size FROM chunks")
        sizes = self.packs.sizes()  # after the rows: packs only grow while a server runs
        chunk_sizes: dict[bytes, int] = {}
        ends: dict[int, int] = {}
        for chunk_id, pack, offset, size in rows:
            chunk_sizes[chunk_id] = size
            ends[pack] = max(ends.get(pack, 0), offset + size)
            if pack not in sizes or offset + size > sizes[pack]:
                self.problem(f"chunk {chunk_id.hex()} lies outside pack {pack} (offset {offset}, size {size})")
                continue
            if verify_data:
                try:
                    data = self.packs.read(pack, offset, size)
                except Exception as err:  # noqa: BLE001 - reported, not raised
                    self.problem(f"chunk {chunk_id.hex()} cannot be read: {err}")
                    continue
                if chunk_id_of(data) != chunk_id:
                    self.problem(f"chunk {chunk_id.hex()} is corrupt (pack {pack} offset {offset})")
        tail = sum(size - ends.get(pack, 0) for pack, size in sizes.items() if size > ends.get(pack, 0))
        if tail:
            self.report.notes.append(f"{tail} bytes of unreferenced pack tail (an interrupted write; trimmed at start)")
        self.report.counts["chunks"] = len(chunk_sizes)
        return chunk_sizes

    def check_trees(self, chunk_sizes: dict[bytes, int]) -> None:
        seen: dict[bytes, tuple[int, int] | None] = {}  # node id -> (count, size) or None if bad
        rows = self.db.all("SELECT seq, id, root, size_bytes, finishing FROM commits WHERE root IS NOT NULL")
        for seq, commit_id, root, size_bytes, finishing in rows:
            totals = self._node(root, seen, chunk_sizes, f"commit {commit_id} (seq {seq})")
            if totals is not None and finishing is not None and totals[1] != size_bytes:
                self.problem(f"commit {commit_id} (seq {seq}) records size {size_bytes} but its files hold {totals[1]}")
        self.report.counts["tree nodes"] = len(seen)

    def _node(
        self,
        root: bytes,
        seen: dict[bytes, tuple[int, int] | None],
        chunk_sizes: dict[bytes, int],
        where: str,
    ) -> tuple[int, int] | None:
        # Iterative post-order walk: trees are shallow, but a damaged one need not be.
        stack: list[tuple[bytes, bool]] = [(root, False)]
        while stack:
            node_id, expanded = stack.pop()
            if node_id in seen and not expanded:
                continue
            if not expanded:
                row = self.db.one("SELECT data FROM nodes WHERE id = ?", (node_id,))
                if row is None:
                    self.problem(f"{where}: tree node {node_id.hex()} is missing")
                    seen[node_id] = None
                    continue
                data = row[0]
                if hashlib.sha256(data).digest() != node_id:
                    self.problem(f"{where}: tree node {node_id.hex()} is corrupt")
                    seen[node_id] = None
                    continue
                try:
                    node = decode_node(data)
                except Exception as err:  # noqa: BLE001 - reported, not raised
                    self.problem(f"{where}: tree node {node_id.hex()} cannot be decoded: {err}")
                    seen[node_id] = None
                    continue
                if isinstance(node, _Leaf):
                    seen[node_id] = self._leaf(node, node_id, chunk_sizes, where)
                    continue
                stack.append((node_id, True))
                stack.extend((c.node_id, False) for c in node.children if c.node_id not in seen)
                continue
            node = decode_node(self.db.one("SELECT data FROM nodes WHERE id = ?", (node_id,))[0])
            assert isinstance(node, _Inner)
            seen[node_id] = self._inner(node, node_id, seen, where)
        return seen.get(root)

    def _leaf(self, node: _Leaf, node_id: bytes, chunk_sizes: dict[bytes, int], where: str) -> tuple[int, int]:
        paths = [e.path for e in node.entries]
        if paths != sorted(set(paths)):
            self.problem(f"{where}: leaf {node_id.hex()} keys are not sorted and unique")
        total = 0
        for entry in node.entries:
            total += entry.size
            stored = 0
            for chunk in entry.chunks:
                size = chunk_sizes.get(chunk)
                if size is None:
                    self.problem(f"{where}: file {entry.path} references missing chunk {chunk.hex()}")
                else:
                    stored += size
            if stored != entry.size and all(c in chunk_sizes for c in entry.chunks):
                self.problem(f"{where}: file {entry.path} records size {entry.size} but its chunks hold {stored}")
            if file_hash(entry.chunks) != entry.hash:
                self.problem(f"{where}: file {entry.path} has a hash that does not match its chunks")
        return len(node.entries), total

    def _inner(
        self, node: _Inner, node_id: bytes, seen: dict[bytes, tuple[int, int] | None], where: str
    ) -> tuple[int, int] | None:
        keys = [c.first_key for c in node.children]
        if keys != sorted(set(keys)):
            self.problem(f"{where}: inner node {node_id.hex()} keys are not sorted and unique")
        count = size = 0
        for child in node.children:
            actual = seen.get(child.node_id)
            if actual is None:
                return None
            if actual != (child.count, child.size):
                self.problem(
                    f"{where}: inner node {node_id.hex()} records {child.count} files / {child.size} bytes "
                    f"below child {child.node_id.hex()}, which holds {actual[0]} / {actual[1]}"
                )
            count += actual[0]
            size += actual[1]
        return count, size


def fsck_data_dir(data_dir: Path, *, verify_data: bool = True) -> FsckReport:
    """Check the store in ``data_dir`` without changing it (``pachmagic fsck``).

    Works while a server runs on the directory (SQLite readers do not block
    it); pack tails are then only reported, never trimmed.
    """
    db = Database(existing_database(data_dir))
    packs = DiskPacks(data_dir / "packs", read_only=True)
    try:
        return fsck(db, packs, verify_data=verify_data)
    finally:
        packs.close()
        db.close()
