"""The ``Catalog``'s projects and repos: create, inspect, list and delete them.

Split out of ``catalog`` to keep modules small; mixed into ``Catalog`` there.
Every method that changes state runs inside one database transaction. No gRPC
here.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from ...errors import AlreadyExists, FailedPrecondition, NotFound, Unknown
from .catalog_base import CatalogBase, db_repo_text
from .model import (
    DEFAULT_PROJECT,
    REPO_TYPES,
    USER,
    BranchKey,
    ProjectInfo,
    RepoInfo,
    RepoKey,
    validate_name,
    validate_project_name,
)

__all__ = ["CatalogRepos"]


class CatalogRepos(CatalogBase):
    """Projects and repos (part of ``Catalog``)."""

    # --- projects --------------------------------------------------------------

    def ensure_default_project(self) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO projects(name, description, created) VALUES (?, ?, ?)",
            (DEFAULT_PROJECT, "", time.time()),
        )

    def create_project(self, name: str, description: str = "", update: bool = False) -> None:
        validate_project_name(name)
        with self.db.transaction():
            row = self.db.one("SELECT name FROM projects WHERE name = ?", (name,))
            if row is not None:
                if not update:
                    raise AlreadyExists(f"project {name} already exists")
                self.db.execute("UPDATE projects SET description = ? WHERE name = ?", (description, name))
                return
            self.db.execute(
                "INSERT INTO projects(name, description, created) VALUES (?, ?, ?)",
                (name, description, time.time()),
            )

    def inspect_project(self, name: str) -> ProjectInfo:
        row = self.db.one("SELECT name, description, created FROM projects WHERE name = ?", (name or DEFAULT_PROJECT,))
        if row is None:
            raise NotFound(f'project "{name}" not found')
        return ProjectInfo(*row)

    def list_projects(self) -> list[ProjectInfo]:
        return [ProjectInfo(*r) for r in self.db.all("SELECT name, description, created FROM projects ORDER BY name")]

    def delete_project(self, name: str, force: bool = False) -> None:
        with self.db.transaction():
            self.inspect_project(name)
            # pachd lists them by name (its database orders repos of one name as it happens to)
            repos = self.db.all("SELECT name, type FROM repos WHERE project = ? ORDER BY name, id", (name,))
            if repos and not force:
                raise FailedPrecondition(
                    f"cannot delete project {name}: "
                    + "\n".join(f"repo {RepoKey(name, r[0], r[1])} still exists" for r in repos)
                )
            for repo_name, repo_type in repos:
                if repo_type == USER:
                    self.delete_repo(RepoKey(name, repo_name, USER), force=True)
            self.db.execute("DELETE FROM projects WHERE name = ?", (name,))
            if name == DEFAULT_PROJECT:
                self.ensure_default_project()

    def _require_project(self, name: str) -> None:
        if self.db.one("SELECT 1 FROM projects WHERE name = ?", (name,)) is None:
            raise NotFound(f'project "{name}" not found')

    # --- repos -----------------------------------------------------------------

    def repo_key(self, repo_id: int) -> RepoKey:
        key = self._repo_cache.get(repo_id)
        if key is None:
            row = self.db.one("SELECT project, name, type FROM repos WHERE id = ?", (repo_id,))
            if row is None:
                raise NotFound(f"repo with internal id {repo_id} not found")
            key = RepoKey(*row)
            self._repo_cache[repo_id] = key
        return key

    def repo_id(self, key: RepoKey) -> int:
        row = self.db.one(
            "SELECT id FROM repos WHERE project = ? AND name = ? AND type = ?",
            (key.project, key.name, key.type),
        )
        if row is None:
            raise NotFound(f"repo {key} not found")
        return int(row[0])

    def create_repo(self, key: RepoKey, description: str = "", update: bool = False) -> bool:
        """Create a repo; return True if it was created, False if updated."""
        validate_name(key.name)
        if key.type not in REPO_TYPES:  # pachd's database refuses it (with an SQL error)
            raise Unknown(f"invalid repo type {key.type!r}: must be one of user, spec, meta")
        with self.db.transaction():
            self._require_project(key.project)
            if key.type != USER and self.db.one(
                "SELECT 1 FROM repos WHERE project = ? AND name = ? AND type = ?", (key.project, key.name, USER)
            ) is None:
                raise NotFound(
                    "cannot create a system repo without a corresponding 'user' repo: "
                    + db_repo_text(RepoKey(key.project, key.name, USER))
                )
            existing = self.db.one(
                "SELECT id FROM repos WHERE project = ? AND name = ? AND type = ?",
                (key.project, key.name, key.type),
            )
            if existing is not None:
                if not update:
                    raise AlreadyExists(f"repo {key} already exists")
                self.db.execute("UPDATE repos SET description = ? WHERE id = ?", (description, existing[0]))
                return False
            self.db.execute(
                "INSERT INTO repos(project, name, type, description, created) VALUES (?, ?, ?, ?, ?)",
                (key.project, key.name, key.type, description, time.time()),
            )
            return True

    def inspect_repo(self, key: RepoKey) -> RepoInfo:
        row = self.db.one(
            "SELECT id, description, created FROM repos WHERE project = ? AND name = ? AND type = ?",
            (key.project, key.name, key.type),
        )
        if row is None:
            raise NotFound(f"repo {key} not found")
        return self._repo_info(row[0], key, row[1], row[2])

    def _repo_info(self, repo_id: int, key: RepoKey, description: str, created: float) -> RepoInfo:
        branches = [
            BranchKey(key, r[0]) for r in self.db.all("SELECT name FROM branches WHERE repo_id = ? ORDER BY name", (repo_id,))
        ]
        size_row = self.db.one(
            "SELECT c.size_bytes FROM branches b JOIN commits c ON c.seq = b.head_seq "
            "WHERE b.repo_id = ? AND b.name = 'master'",
            (repo_id,),
        )
        return RepoInfo(key, description, created, int(size_row[0]) if size_row else 0, branches)

    def list_repos(self, repo_type: str = "", projects: Iterable[str] = ()) -> list[RepoInfo]:
        projects = [p or DEFAULT_PROJECT for p in projects]
        sql = "SELECT id, project, name, type, description, created FROM repos"
        where, params = [], []  # type: list[str], list[Any]
        if repo_type:
            where.append("type = ?")
            params.append(repo_type)
        if projects:
            where.append(f"project IN ({','.join('?' * len(projects))})")
            params.extend(projects)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY project, name, type"
        return [
            self._repo_info(r[0], RepoKey(r[1], r[2], r[3]), r[4], r[5]) for r in self.db.all(sql, params)
        ]

    def delete_repo(self, key: RepoKey, force: bool = False) -> bool:
        """Delete a repo (a user repo takes its spec/meta siblings along)."""
        with self.db.transaction():
            try:
                repo_id = self.repo_id(key)
            except NotFound:
                return False
            ids = [repo_id]
            if key.type == USER:
                ids += [
                    r[0]
                    for r in self.db.all(
                        "SELECT id FROM repos WHERE project = ? AND name = ? AND type != ?",
                        (key.project, key.name, USER),
                    )
                ]
            marks = ",".join("?" * len(ids))
            branch_ids = [r[0] for r in self.db.all(f"SELECT id FROM branches WHERE repo_id IN ({marks})", ids)]
            if branch_ids:
                bmarks = ",".join("?" * len(branch_ids))
                outside = self.db.all(
                    f"SELECT DISTINCT bp.branch_id FROM branch_provenance bp JOIN branches b ON b.id = bp.branch_id "
                    f"WHERE bp.prov_id IN ({bmarks}) AND b.repo_id NOT IN ({marks})",
                    branch_ids + ids,
                )
                if outside and not force:
                    # pachd deletes branch by branch and stops at the first one others depend on
                    for branch_id in branch_ids:
                        subv = self.db.all("SELECT branch_id FROM branch_provenance WHERE prov_id = ?", (branch_id,))
                        if any(self._branch_key(s[0]).repo not in {self.repo_key(i) for i in ids} for s in subv):
                            names = " ".join(sorted(str(self._branch_key(s[0])) for s in subv))
                            branch = self._branch_key(branch_id)
                            raise Unknown(
                                f'branch "{branch}" cannot be deleted because it\'s in the direct provenance of [{names}]'
                            )
                self.db.execute(f"DELETE FROM branch_provenance WHERE branch_id IN ({bmarks}) OR prov_id IN ({bmarks})", branch_ids * 2)
                self.db.execute(f"DELETE FROM branches WHERE id IN ({bmarks})", branch_ids)
            seqs = [r[0] for r in self.db.all(f"SELECT seq FROM commits WHERE repo_id IN ({marks})", ids)]
            for start in range(0, len(seqs), 500):
                part = seqs[start : start + 500]
                smarks = ",".join("?" * len(part))
                self.db.execute(
                    f"DELETE FROM commit_provenance WHERE commit_seq IN ({smarks}) OR prov_seq IN ({smarks})", part * 2
                )
            self.db.execute(f"DELETE FROM commits WHERE repo_id IN ({marks})", ids)
            self.db.execute(f"DELETE FROM repos WHERE id IN ({marks})", ids)
            for i in ids:
                self._repo_cache.pop(i, None)
            return True
