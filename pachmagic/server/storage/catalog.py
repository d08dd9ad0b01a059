"""Projects, repos, branches and commits: PFS's mutable metadata (the refs).

Implements Pachyderm 2.x semantics for the metadata side of PFS: commit sets
(one ID shared by every commit a change creates across the DAG), propagation of
open AUTO commits to every branch downstream of a changed branch, commit
resolution (branch heads, ids, ancestry such as ``master^2`` / ``master.1``,
global ids), and the error texts of pachd. Every method that changes state runs
inside one database transaction; the caller (``Storage``) notifies watchers once
the transaction has committed. No gRPC here.

The class is composed of parts kept in their own modules to keep each small:
``catalog_repos`` (projects and repos), ``catalog_branches`` (branches and
their provenance) and ``catalog_commits`` (commits, resolution, propagation);
``catalog_base`` holds ``CommitRef``, ``CommitRow``, ``new_commit_id`` and the
parts' shared base. This module keeps the public names.
"""

from __future__ import annotations

from .catalog_base import CommitRef, CommitRow, new_commit_id
from .catalog_branches import CatalogBranches
from .catalog_commits import CatalogCommits
from .catalog_repos import CatalogRepos
from .db import Database
from .model import RepoKey

__all__ = ["Catalog", "CommitRef", "CommitRow", "new_commit_id"]


class Catalog(CatalogRepos, CatalogBranches, CatalogCommits):
    """Metadata operations over one ``Database``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._repo_cache: dict[int, RepoKey] = {}

    def delete_all(self) -> None:
        with self.db.transaction():
            for table in ("branch_provenance", "commit_provenance", "branches", "commits", "repos", "projects"):
                self.db.execute(f"DELETE FROM {table}")
            self._repo_cache.clear()
            self.ensure_default_project()

