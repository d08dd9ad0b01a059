"""The ``Catalog``'s commits: resolution, commit info, start/finish, propagation, listing.

Split out of ``catalog`` to keep modules small; mixed into ``Catalog`` there.
Holds commit resolution (branch heads, ids, ancestry, global ids) and the
propagation of open AUTO commits downstream. Every method that changes state
runs inside one database transaction. No gRPC here.
"""

from __future__ import annotations

import time
from typing import Any

from ...errors import FailedPrecondition, InvalidArgument, NotFound
from .catalog_base import _COMMIT_COLS, BranchNotFound, CatalogBase, CommitRef, CommitRow, new_commit_id
from .model import (
    ORIGIN_AUTO,
    ORIGIN_USER,
    BranchKey,
    CommitInfo,
    CommitKey,
    RepoKey,
    is_commit_id,
    parse_ancestry,
    validate_name,
)

__all__ = ["CatalogCommits"]


class CatalogCommits(CatalogBase):
    """Commits and commit sets (part of ``Catalog``)."""

    # --- commits ---------------------------------------------------------------

    def _commit_row(self, where: str, params: tuple[Any, ...]) -> CommitRow | None:
        row = self.db.one(f"SELECT {_COMMIT_COLS} FROM commits WHERE {where}", params)
        return CommitRow(*row) if row else None

    def commit_row(self, seq: int) -> CommitRow:
        row = self._commit_row("seq = ?", (seq,))
        if row is None:
            raise NotFound(f"commit with internal sequence {seq} not found")
        return row

    def commit_key(self, seq: int) -> CommitKey:
        row = self.db.one("SELECT repo_id, id FROM commits WHERE seq = ?", (seq,))
        if row is None:  # deleted since it was resolved (a forced repo delete, a squash)
            raise NotFound(f"commit with internal sequence {seq} not found")
        return CommitKey(self.repo_key(row[0]), row[1])

    def resolve(self, ref: CommitRef) -> CommitRow:
        """Find the commit a request names (see ``CommitRef``)."""
        repo_id = self.repo_id(ref.repo)
        text = ref.id or ref.branch
        if not text:
            raise InvalidArgument(f"commit in repo {ref.repo} must name a branch or a commit id")
        base, back, nth = parse_ancestry(text)
        row: CommitRow | None
        if is_commit_id(base):
            row = self._commit_row("repo_id = ? AND id = ?", (repo_id, base))
            if row is None:
                row = self._global_id_lookup(repo_id, base)
            if row is None:
                raise NotFound(f"commit {ref.repo}@{base} not found")
        else:
            if not base:
                raise InvalidArgument(f"invalid commit reference {text!r}")
            branch = self.db.one("SELECT head_seq FROM branches WHERE repo_id = ? AND name = ?", (repo_id, base))
            if branch is None:
                if ref.id and ref.branch and not back and nth is None:
                    raise NotFound(f"commit {ref.repo}@{ref.id} not found")
                raise BranchNotFound(f'branch "{base}" not found in repo {ref.repo}')
            if branch[0] is None:
                raise NotFound(f'branch "{base}" in repo {ref.repo} has no head commit')
            row = self.commit_row(branch[0])
            if nth is not None:
                chain = [row]
                while chain[-1].parent_seq is not None:
                    chain.append(self.commit_row(chain[-1].parent_seq))
                chain.reverse()
                if nth > len(chain):
                    raise NotFound(f"commit {ref.repo}@{text} not found")
                row = chain[nth - 1]
        for _ in range(back):
            if row.parent_seq is None:
                raise NotFound(f"commit {ref.repo}@{text} not found")
            row = self.commit_row(row.parent_seq)
        return row

    def _global_id_lookup(self, repo_id: int, commit_set: str) -> CommitRow | None:
        """``repo@<id>`` for a set that has no commit in ``repo``: its commit in the set's provenance."""
        frontier = [r[0] for r in self.db.all("SELECT seq FROM commits WHERE id = ?", (commit_set,))]
        seen = set(frontier)
        while frontier:
            nxt = []
            for seq in frontier:
                for (prov,) in self.db.all("SELECT prov_seq FROM commit_provenance WHERE commit_seq = ?", (seq,)):
                    if prov in seen:
                        continue
                    seen.add(prov)
                    row = self.commit_row(prov)
                    if row.repo_id == repo_id:
                        return row
                    nxt.append(prov)
            frontier = nxt
        return None

    def commit_info(self, row: CommitRow) -> CommitInfo:
        repo = self.repo_key(row.repo_id)
        children = [
            CommitKey(repo, r[0]) for r in self.db.all("SELECT id FROM commits WHERE parent_seq = ? ORDER BY seq", (row.seq,))
        ]
        prov = [self.commit_key(r[0]) for r in self.db.all("SELECT prov_seq FROM commit_provenance WHERE commit_seq = ?", (row.seq,))]
        subv = [self.commit_key(r[0]) for r in self.db.all("SELECT commit_seq FROM commit_provenance WHERE prov_seq = ?", (row.seq,))]
        return CommitInfo(
            key=CommitKey(repo, row.id),
            branch=BranchKey(repo, row.branch) if row.branch else None,
            parent=self.commit_key(row.parent_seq) if row.parent_seq is not None else None,
            children=children,
            origin=row.origin,
            description=row.description,
            started=row.started,
            finishing=row.finishing,
            finished=row.finished,
            error=row.error,
            size_bytes=row.size_bytes,
            direct_provenance=sorted(prov),
            direct_subvenance=sorted(subv),
        )

    def is_output_branch(self, repo_id: int, branch: str | None) -> bool:
        if not branch:
            return False
        row = self.db.one(
            "SELECT 1 FROM branches b JOIN branch_provenance bp ON bp.branch_id = b.id WHERE b.repo_id = ? AND b.name = ?",
            (repo_id, branch),
        )
        return row is not None

    def start_commit(
        self, branch: BranchKey, parent: CommitRef | None = None, description: str = ""
    ) -> CommitRow:
        """Open a USER commit on ``branch`` and propagate it downstream."""
        validate_name(branch.name)
        if is_commit_id(branch.name):
            raise InvalidArgument("invalid branch picker: name refers to a commit, not a branch")
        with self.db.transaction():
            repo_id = self.repo_id(branch.repo)
            row = self.db.one("SELECT id, head_seq FROM branches WHERE repo_id = ? AND name = ?", (repo_id, branch.name))
            if row is not None and self.direct_provenance_ids(row[0]):
                raise FailedPrecondition(f"cannot start a commit on an output branch: {branch}")
            parent_row: CommitRow | None = None
            if parent is not None and (parent.id or parent.branch):
                parent_row = self.resolve(parent)
            elif row is not None and row[1] is not None:
                parent_row = self.commit_row(row[1])
            if parent_row is not None and parent_row.is_open:
                raise FailedPrecondition(
                    f"parent commit {self.commit_key(parent_row.seq)} has not been finished"
                )
            branch_id = row[0] if row is not None else self._insert_branch(repo_id, branch.name)
            set_id = new_commit_id()
            seq = self._new_commit(
                branch_id, set_id, ORIGIN_USER, description=description,
                parent_seq=parent_row.seq if parent_row else None,
            )
            self.propagate([branch_id], set_id)
            return self.commit_row(seq)

    def _new_commit(
        self,
        branch_id: int,
        set_id: str,
        origin: int,
        *,
        finished: bool = False,
        description: str = "",
        parent_seq: int | None = None,
        use_head_as_parent: bool = True,
    ) -> int:
        """Insert a commit on a branch, make it the head, record its provenance."""
        repo_id, name, head_seq = self.db.one("SELECT repo_id, name, head_seq FROM branches WHERE id = ?", (branch_id,))
        if parent_seq is None and use_head_as_parent:
            parent_seq = head_seq
        root = None
        size = 0
        if parent_seq is not None:
            root, size = self.db.one("SELECT root, size_bytes FROM commits WHERE seq = ?", (parent_seq,))
        now = time.time()
        done = now if finished else None
        existing = self.db.one("SELECT seq FROM commits WHERE repo_id = ? AND id = ?", (repo_id, set_id))
        if existing is not None:
            raise FailedPrecondition(
                f"commit {self.repo_key(repo_id)}@{set_id} already exists in this commit set"
            )
        cur = self.db.execute(
            "INSERT INTO commits(repo_id, id, branch, parent_seq, origin, description, started, finishing, finished, root, size_bytes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (repo_id, set_id, name, parent_seq, origin, description, now, done, done, root, size),
        )
        seq = int(cur.lastrowid or 0)
        self.db.execute("UPDATE branches SET head_seq = ? WHERE id = ?", (seq, branch_id))
        for prov_id in self.direct_provenance_ids(branch_id):
            prov_head = self.db.one("SELECT head_seq FROM branches WHERE id = ?", (prov_id,))[0]
            if prov_head is not None:
                self.db.execute(
                    "INSERT OR IGNORE INTO commit_provenance(commit_seq, prov_seq) VALUES (?, ?)", (seq, prov_head)
                )
        return seq

    def propagate(self, sources: list[int], set_id: str, include_sources: bool = False) -> list[int]:
        """Open an AUTO commit in set ``set_id`` on every branch downstream of ``sources``.

        Branches are visited in topological order so that each new commit's
        provenance points at the upstream commits of the same set.
        """
        downstream: set[int] = set()
        for source in sources:
            downstream.update(self.subvenance_ids(source))
        if include_sources:
            downstream.update(sources)
        order: list[int] = []
        visiting: set[int] = set()

        def visit(branch_id: int) -> None:
            if branch_id in order or branch_id in visiting:
                return
            visiting.add(branch_id)
            for prov in self.direct_provenance_ids(branch_id):
                if prov in downstream:
                    visit(prov)
            order.append(branch_id)

        for branch_id in sorted(downstream):
            visit(branch_id)
        created = []
        for branch_id in order:
            repo_id = self.db.one("SELECT repo_id FROM branches WHERE id = ?", (branch_id,))[0]
            if self.db.one("SELECT 1 FROM commits WHERE repo_id = ? AND id = ?", (repo_id, set_id)):
                continue
            created.append(self._new_commit(branch_id, set_id, ORIGIN_AUTO, finished=False))
        return created

    def set_commit_root(self, seq: int, expected_root: bytes | None, root: bytes | None, size: int) -> None:
        """Compare-and-swap an open commit's tree root."""
        cur = self.db.execute(
            "UPDATE commits SET root = ?, size_bytes = ? WHERE seq = ? AND finishing IS NULL AND root IS ?",
            (root, size, seq, expected_root),
        )
        if cur.rowcount != 1:
            row = self.commit_row(seq)
            if not row.is_open:
                raise FailedPrecondition(f"commit {self.commit_key(seq)} has already finished")
            raise FailedPrecondition(f"commit {self.commit_key(seq)} changed during the write; try again")

    def finish_commit(
        self,
        row: CommitRow,
        *,
        description: str | None = None,
        error: str = "",
        force: bool = False,
        size: int | None = None,
    ) -> None:
        with self.db.transaction():
            current = self.commit_row(row.seq)
            key = self.commit_key(row.seq)
            if not current.is_open:
                raise FailedPrecondition(f"commit {key} has already finished")
            if not force and current.origin == ORIGIN_AUTO and self.is_output_branch(current.repo_id, current.branch):
                raise FailedPrecondition("cannot finish a pipeline output or meta commit, use 'stop job' instead")
            now = time.time()
            self.db.execute(
                "UPDATE commits SET finishing = ?, finished = ?, error = ?, description = COALESCE(?, description), "
                "size_bytes = COALESCE(?, size_bytes) WHERE seq = ?",
                (now, now, error, description, size, row.seq),
            )

    def list_commits(
        self,
        repo: RepoKey,
        *,
        to: CommitRef | None = None,
        from_: CommitRef | None = None,
        number: int = 0,
        reverse: bool = False,
        all_origins: bool = True,
        origin: int = 0,
    ) -> list[CommitRow]:
        repo_id = self.repo_id(repo)
        if to is not None:
            rows = []
            current: CommitRow | None = self.resolve(to)
            stop = self.resolve(from_).seq if from_ is not None else None
            while current is not None and current.seq != stop:
                rows.append(current)
                current = self.commit_row(current.parent_seq) if current.parent_seq is not None else None
        else:
            rows = [
                CommitRow(*r)
                for r in self.db.all(f"SELECT {_COMMIT_COLS} FROM commits WHERE repo_id = ? ORDER BY seq DESC", (repo_id,))
            ]
            if from_ is not None:
                floor = self.resolve(from_).seq
                rows = [r for r in rows if r.seq > floor]
        if origin:
            rows = [r for r in rows if r.origin == origin]
        if reverse:  # oldest first, then the limit (pachd: the first ``number`` commits)
            rows.reverse()
        if number:
            rows = rows[:number]
        return rows

    def last_seq(self) -> int:
        """The sequence number of the newest commit of any repo (0 for none)."""
        return int(self.db.one("SELECT MAX(seq) FROM commits")[0] or 0)

    def commits_after(self, repo: RepoKey, branch: str, after_seq: int) -> list[CommitRow]:
        """Commits made on ``branch`` after ``after_seq``, oldest first (the pipeline engine's feed)."""
        repo_id = self.repo_id(repo)
        rows = self.db.all(
            f"SELECT {_COMMIT_COLS} FROM commits WHERE repo_id = ? AND branch = ? AND seq > ? ORDER BY seq",
            (repo_id, branch, after_seq),
        )
        return [CommitRow(*r) for r in rows]

    def commit_set(self, set_id: str) -> list[CommitRow]:
        rows = [CommitRow(*r) for r in self.db.all(f"SELECT {_COMMIT_COLS} FROM commits WHERE id = ? ORDER BY seq", (set_id,))]
        if not rows:
            raise NotFound(f"no commits found for commitset {set_id}")
        return rows

    def list_commit_sets(self) -> list[tuple[str, list[CommitRow]]]:
        sets: dict[str, list[CommitRow]] = {}
        for r in self.db.all(f"SELECT {_COMMIT_COLS} FROM commits ORDER BY seq DESC"):
            row = CommitRow(*r)
            sets.setdefault(row.id, []).append(row)
        return list(sets.items())
