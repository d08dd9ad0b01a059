"""The ``Catalog``'s commits: resolution, commit info, start/finish, propagation, listing.

Split out of ``catalog`` to keep modules small; mixed into ``Catalog`` there.
Holds commit resolution (branch heads, ids, ancestry, global ids) and the
propagation of open AUTO commits downstream. Every method that changes state
runs inside one database transaction. No gRPC here.
"""

from __future__ import annotations

import time
from typing import Any

from ...errors import FailedPrecondition, NotFound, Unknown
from .triggers import fire_triggers
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
        """Find the commit a request names (see ``CommitRef``), with pachd's errors.

        ``branch.N`` is the N-th commit from the branch's root; as in pachd one
        past the head still gives the head, further is an error. ``^``/``~``
        beyond the root is an error naming how far one could go.
        """
        repo_id = self.repo_id(ref.repo)
        text = ref.id or ref.branch
        if not text:
            raise Unknown("cannot pick commit with no ID or branch")
        base, back, nth = parse_ancestry(text)
        row: CommitRow | None
        if is_commit_id(base):
            row = self._commit_row("repo_id = ? AND id = ?", (repo_id, base))
            if row is None:
                row = self._global_id_lookup(repo_id, base)
            if row is None:
                raise NotFound(f"commit {ref.repo}@{base} not found")
        else:
            branch = self.db.one("SELECT head_seq FROM branches WHERE repo_id = ? AND name = ?", (repo_id, base))
            if branch is None:
                if ref.id and ref.branch and not back and nth is None:
                    raise NotFound(f"commit {ref.repo}@{ref.id} not found")
                raise BranchNotFound(f'branch "{ref.branch or text}" not found in repo {ref.repo}')
            if branch[0] is None:
                raise NotFound(f'branch "{base}" in repo {ref.repo} has no head commit')
            row = self.commit_row(branch[0])
            if nth is not None:
                row = self._from_root(row, nth - 1 if nth else 2**32 - 1)
        if back:
            row = self._ancestor(row, back)
        return row

    def _typed_key(self, row: CommitRow) -> str:
        """pachd's database key of a commit, ``project/repo.type@id`` (in its picker errors)."""
        repo = self.repo_key(row.repo_id)
        return f"{repo.project}/{repo.name}.{repo.type}@{row.id}"

    def _ancestor(self, start: CommitRow, back: int) -> CommitRow:
        row, depth = start, 0
        while depth < back and row.parent_seq is not None:
            row, depth = self.commit_row(row.parent_seq), depth + 1
        if depth != back:
            raise Unknown(
                f"picking commit: invalid offset for ancestor of commit: {self._typed_key(start)}, "
                f"offset requested: {back}, offset traversable: {depth}"
            )
        return row

    def _from_root(self, head: CommitRow, offset: int) -> CommitRow:
        chain = [head]
        while chain[-1].parent_seq is not None:
            chain.append(self.commit_row(chain[-1].parent_seq))
        if len(chain) < offset:
            raise Unknown(
                f"picking commit: invalid offset from branch root for head commit: {self._typed_key(head)}, "
                f"offset: {offset}, maximum depth: {len(chain)}"
            )
        return chain[len(chain) - 1 - min(offset, len(chain) - 1)]

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
        branch_of: dict[CommitKey, str] = {}

        def related(sql: str) -> list[CommitKey]:
            keys = []
            for repo_id, id_, branch in self.db.all(sql, (row.seq,)):
                key = CommitKey(self.repo_key(repo_id), id_)
                if branch:
                    branch_of[key] = branch
                keys.append(key)
            return keys

        children = related("SELECT repo_id, id, branch FROM commits WHERE parent_seq = ? ORDER BY seq")
        prov = related(
            "SELECT c.repo_id, c.id, c.branch FROM commit_provenance p JOIN commits c ON c.seq = p.prov_seq"
            " WHERE p.commit_seq = ?"
        )
        subv = related(
            "SELECT c.repo_id, c.id, c.branch FROM commit_provenance p JOIN commits c ON c.seq = p.commit_seq"
            " WHERE p.prov_seq = ?"
        )
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
            branch_of=branch_of,
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
        """Open a USER commit on ``branch`` and propagate it downstream.

        Checks in pachd's order: a branch named, the repo, the name, the parent
        (found, finished), a name that is not a commit id, not an output branch.
        """
        if not branch.name:
            raise Unknown("branch must be specified")
        with self.db.transaction():
            repo_id = self.repo_id(branch.repo)
            validate_name(branch.name)
            row = self.db.one("SELECT id, head_seq FROM branches WHERE repo_id = ? AND name = ?", (repo_id, branch.name))
            parent_row: CommitRow | None = None
            if parent is not None and (parent.id or parent.branch):
                parent_row = self.resolve(parent)
            elif row is not None and row[1] is not None:
                parent_row = self.commit_row(row[1])
            if parent_row is not None and parent_row.is_open:
                raise Unknown(f"parent commit {self.commit_key(parent_row.seq)} has not been finished")
            if is_commit_id(branch.name):
                raise Unknown("branch name cannot be a UUID V4")
            if row is not None and self.direct_provenance_ids(row[0]):
                raise Unknown(f"cannot start a commit on an output branch: {branch}")
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
                raise Unknown(f"commit {self.commit_key(seq)} has already finished")
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
                raise Unknown(f"commit {key} has already finished")
            if not force and current.origin == ORIGIN_AUTO and self.is_output_branch(current.repo_id, current.branch):
                raise Unknown("cannot finish a pipeline output or meta commit, use 'stop job' instead")
            now = time.time()
            self.db.execute(
                "UPDATE commits SET finishing = ?, finished = ?, error = ?, description = COALESCE(?, description), "
                "size_bytes = COALESCE(?, size_bytes) WHERE seq = ?",
                (now, now, error, description, size, row.seq),
            )
            if not error:
                fire_triggers(self, self.commit_row(row.seq))

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
        stop = self.resolve(from_).id if from_ is not None else None
        if to is not None:
            if reverse:
                raise Unknown("cannot use 'Reverse' while also using 'From' or 'To'")
            rows = []
            current: CommitRow | None = self.resolve(to)
            while current is not None and current.id != stop:
                rows.append(current)
                current = self.commit_row(current.parent_seq) if current.parent_seq is not None else None
        else:
            if from_ is not None:
                raise Unknown("cannot use `from` commit without `to` commit")
            rows = [
                CommitRow(*r)
                for r in self.db.all(f"SELECT {_COMMIT_COLS} FROM commits WHERE repo_id = ? ORDER BY seq DESC", (repo_id,))
            ]
        if origin:
            rows = [r for r in rows if r.origin == origin]
        if reverse:  # oldest first, then the limit (pachd: the first ``number`` commits)
            rows.reverse()
        if number > 0:  # pachd: 0 and negative numbers mean all
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
