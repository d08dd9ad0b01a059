"""The ``Catalog``'s branches: lookups, provenance closures, create/update/delete.

Split out of ``catalog`` to keep modules small; mixed into ``Catalog`` there.
Creating a branch or changing its provenance makes commits through the commit
part (``_new_commit``, ``propagate``). Every method that changes state runs
inside one database transaction. No gRPC here.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from ...errors import FailedPrecondition, InvalidArgument, NotFound
from .catalog_base import BranchNotFound, CatalogBase, CommitRef, CommitRow, new_commit_id
from .model import ORIGIN_AUTO, BranchInfo, BranchKey, RepoKey, is_commit_id, validate_name

__all__ = ["CatalogBranches"]


class CatalogBranches(CatalogBase):
    """Branches and branch provenance (part of ``Catalog``)."""

    # --- branches --------------------------------------------------------------

    def _branch_row(self, key: BranchKey) -> Any:
        repo_id = self.repo_id(key.repo)
        row = self.db.one(
            "SELECT id, repo_id, name, head_seq, trigger, created FROM branches WHERE repo_id = ? AND name = ?",
            (repo_id, key.name),
        )
        if row is None:
            raise BranchNotFound(f'branch "{key.name}" not found in repo {key.repo}')
        return row

    def _branch_key(self, branch_id: int) -> BranchKey:
        row = self.db.one("SELECT repo_id, name FROM branches WHERE id = ?", (branch_id,))
        return BranchKey(self.repo_key(row[0]), row[1])

    def branch_id(self, key: BranchKey) -> int:
        return int(self._branch_row(key)[0])

    def direct_provenance_ids(self, branch_id: int) -> list[int]:
        return [r[0] for r in self.db.all("SELECT prov_id FROM branch_provenance WHERE branch_id = ?", (branch_id,))]

    def _closure(self, start: int, sql: str) -> list[int]:
        seen: list[int] = []
        stack = [start]
        while stack:
            current = stack.pop()
            for (nxt,) in self.db.all(sql, (current,)):
                if nxt not in seen:
                    seen.append(nxt)
                    stack.append(nxt)
        return seen

    def provenance_ids(self, branch_id: int) -> list[int]:
        return self._closure(branch_id, "SELECT prov_id FROM branch_provenance WHERE branch_id = ?")

    def subvenance_ids(self, branch_id: int) -> list[int]:
        return self._closure(branch_id, "SELECT branch_id FROM branch_provenance WHERE prov_id = ?")

    def inspect_branch(self, key: BranchKey) -> BranchInfo:
        row = self._branch_row(key)
        return self._branch_info(row)

    def _branch_info(self, row: Any) -> BranchInfo:
        branch_id, repo_id, name, head_seq, trigger, created = row
        key = BranchKey(self.repo_key(repo_id), name)
        head = self.commit_key(head_seq) if head_seq is not None else None
        return BranchInfo(
            key=key,
            head=head,
            direct_provenance=sorted(self._branch_key(i) for i in self.direct_provenance_ids(branch_id)),
            provenance=sorted(self._branch_key(i) for i in self.provenance_ids(branch_id)),
            subvenance=sorted(self._branch_key(i) for i in self.subvenance_ids(branch_id)),
            trigger=trigger,
            created=created,
        )

    def list_branches(self, repo: RepoKey) -> list[BranchInfo]:
        repo_id = self.repo_id(repo)
        rows = self.db.all(
            "SELECT id, repo_id, name, head_seq, trigger, created FROM branches WHERE repo_id = ? ORDER BY created DESC, name",
            (repo_id,),
        )
        return [self._branch_info(r) for r in rows]

    def create_branch(
        self,
        key: BranchKey,
        head: CommitRef | None = None,
        provenance: Iterable[BranchKey] = (),
        trigger: str = "",
        commit_set: str | None = None,
    ) -> str | None:
        """Create or update a branch; return the commit set ID of any new commits.

        As in pachd: missing provenance branches are created with an empty
        commit; a branch with no head, or whose provenance changed, gets a new
        empty AUTO commit (open when it has provenance), propagated downstream.
        """
        validate_name(key.name)
        if is_commit_id(key.name):
            raise InvalidArgument("invalid branch name: it refers to a commit, not a branch")
        provenance = list(dict.fromkeys(provenance))
        for prov in provenance:
            if prov.repo == key.repo:
                raise InvalidArgument(f"branch {key} cannot be in its own provenance ({prov})")
        with self.db.transaction():
            repo_id = self.repo_id(key.repo)
            set_id = commit_set or new_commit_id()
            prov_ids = []
            for prov in provenance:
                validate_name(prov.name)
                try:
                    prov_ids.append(self.branch_id(prov))
                except NotFound:
                    self.repo_id(prov.repo)  # the repo must exist
                    prov_ids.append(self._insert_branch(self.repo_id(prov.repo), prov.name))
                    self._new_commit(prov_ids[-1], set_id, ORIGIN_AUTO, finished=True)
            row = self.db.one("SELECT id, head_seq FROM branches WHERE repo_id = ? AND name = ?", (repo_id, key.name))
            branch_id = row[0] if row else self._insert_branch(repo_id, key.name)
            for prov_id in prov_ids:
                if branch_id in self.provenance_ids(prov_id) or prov_id == branch_id:
                    raise InvalidArgument(f"branch {key} cannot be in its own provenance")
            old_prov = set(self.direct_provenance_ids(branch_id))
            if trigger:
                self.db.execute("UPDATE branches SET trigger = ? WHERE id = ?", (trigger, branch_id))
            if head is not None:
                target = self.resolve(head)
                if target.repo_id != repo_id:
                    raise InvalidArgument(f"branch {key} cannot point at a commit in another repo ({head})")
                self.db.execute("UPDATE branches SET head_seq = ? WHERE id = ?", (target.seq, branch_id))
            if set(prov_ids) != old_prov:
                self.db.execute("DELETE FROM branch_provenance WHERE branch_id = ?", (branch_id,))
                self.db.executemany(
                    "INSERT INTO branch_provenance(branch_id, prov_id) VALUES (?, ?)",
                    [(branch_id, p) for p in prov_ids],
                )
                if prov_ids:
                    self.propagate([branch_id], set_id, include_sources=True)
                    return set_id
            has_head = self.db.one("SELECT head_seq FROM branches WHERE id = ?", (branch_id,))[0] is not None
            if not has_head:
                self._new_commit(branch_id, set_id, ORIGIN_AUTO, finished=not prov_ids)
                self.propagate([branch_id], set_id)
                return set_id
            if head is not None:
                self.propagate([branch_id], set_id)
                return set_id
            return None

    def ensure_branch(self, key: BranchKey, set_id: str) -> int:
        """Return the branch's id, creating it with an empty finished commit if missing."""
        validate_name(key.name)
        with self.db.transaction():
            repo_id = self.repo_id(key.repo)
            row = self.db.one("SELECT id FROM branches WHERE repo_id = ? AND name = ?", (repo_id, key.name))
            if row is not None:
                return int(row[0])
            branch_id = self._insert_branch(repo_id, key.name)
            self._new_commit(branch_id, set_id, ORIGIN_AUTO, finished=True)
            return branch_id

    def declare_branch(self, key: BranchKey) -> int:
        """Return the branch's id, creating it without any commit if missing."""
        validate_name(key.name)
        with self.db.transaction():
            repo_id = self.repo_id(key.repo)
            row = self.db.one("SELECT id FROM branches WHERE repo_id = ? AND name = ?", (repo_id, key.name))
            return int(row[0]) if row is not None else self._insert_branch(repo_id, key.name)

    def set_provenance(self, key: BranchKey, provenance: Iterable[BranchKey]) -> None:
        """Replace a branch's direct provenance without creating commits."""
        with self.db.transaction():
            branch_id = self.branch_id(key)
            prov_ids = [self.branch_id(p) for p in dict.fromkeys(provenance)]
            for prov_id in prov_ids:
                if prov_id == branch_id or branch_id in self.provenance_ids(prov_id):
                    raise InvalidArgument(f"branch {key} cannot be in its own provenance")
            self.db.execute("DELETE FROM branch_provenance WHERE branch_id = ?", (branch_id,))
            self.db.executemany(
                "INSERT INTO branch_provenance(branch_id, prov_id) VALUES (?, ?)", [(branch_id, p) for p in prov_ids]
            )

    def make_commit(
        self, key: BranchKey, set_id: str, *, finished: bool, origin: int = ORIGIN_AUTO, propagate: bool = True
    ) -> CommitRow:
        """Add an empty commit in ``set_id`` on ``key`` (creating the branch) and propagate it."""
        with self.db.transaction():
            repo_id = self.repo_id(key.repo)
            row = self.db.one("SELECT id FROM branches WHERE repo_id = ? AND name = ?", (repo_id, key.name))
            branch_id = int(row[0]) if row is not None else self._insert_branch(repo_id, key.name)
            seq = self._new_commit(branch_id, set_id, origin, finished=finished)
            if propagate:
                self.propagate([branch_id], set_id)
            return self.commit_row(seq)

    def _insert_branch(self, repo_id: int, name: str) -> int:
        cur = self.db.execute(
            "INSERT INTO branches(repo_id, name, created) VALUES (?, ?, ?)", (repo_id, name, time.time())
        )
        return int(cur.lastrowid or 0)

    def delete_branch(self, key: BranchKey, force: bool = False) -> None:
        with self.db.transaction():
            branch_id = self.branch_id(key)
            dependents = self.db.all("SELECT branch_id FROM branch_provenance WHERE prov_id = ?", (branch_id,))
            if dependents and not force:
                names = ", ".join(sorted(str(self._branch_key(r[0])) for r in dependents))
                raise FailedPrecondition(
                    f'branch "{key.name}" cannot be deleted because it\'s in the direct provenance of [{names}]'
                )
            self.db.execute("DELETE FROM branch_provenance WHERE branch_id = ? OR prov_id = ?", (branch_id, branch_id))
            self.db.execute("DELETE FROM branches WHERE id = ?", (branch_id,))
