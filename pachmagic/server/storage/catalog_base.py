"""Shared pieces of the ``Catalog``: commit naming types and the mixins' common base.

``new_commit_id``, ``CommitRef`` and ``CommitRow`` live here (and are
re-exported by ``catalog``) so that each part of the ``Catalog`` can use them
without importing ``catalog`` itself, which would be circular. ``CatalogBase``
declares, for the type checker only, ``db``, the repo key cache and the methods
one part calls on another; at run time they come from the parts composed into
``Catalog``. No gRPC here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...errors import NotFound
from .db import Database
from .model import BranchKey, CommitKey, RepoKey

__all__ = ["CatalogBase", "CommitRef", "CommitRow", "BranchNotFound", "new_commit_id"]


class BranchNotFound(NotFound):
    """A branch that does not exist (as opposed to a repo, or a branch without a head commit)."""


def new_commit_id() -> str:
    """A commit set ID as pachd makes them: a UUIDv4 as 32 lowercase hex digits."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class CommitRef:
    """A request's way of naming a commit: a repo plus a branch and/or an id.

    ``id`` may carry ancestry (``master^2``, ``<id>~1``, ``master.3``) or be a
    branch name; when both are set the id wins, as in pachd.
    """

    repo: RepoKey
    branch: str = ""
    id: str = ""

    def __str__(self) -> str:
        return f"{self.repo}@{self.id or self.branch}"


@dataclass
class CommitRow:
    seq: int
    repo_id: int
    id: str
    branch: str | None
    parent_seq: int | None
    origin: int
    description: str
    started: float
    finishing: float | None
    finished: float | None
    error: str
    root: bytes | None
    size_bytes: int

    @property
    def is_open(self) -> bool:
        return self.finishing is None


_COMMIT_COLS = (
    "seq, repo_id, id, branch, parent_seq, origin, description, started, "
    "finishing, finished, error, root, size_bytes"
)


class CatalogBase:
    """What every part of ``Catalog`` may use: the database, the repo key cache,
    and (declared only for type checking) the methods defined in other parts."""

    db: Database
    _repo_cache: dict[int, RepoKey]

    if TYPE_CHECKING:
        # catalog_repos
        def repo_key(self, repo_id: int) -> RepoKey: ...
        def repo_id(self, key: RepoKey) -> int: ...

        # catalog_branches
        def _branch_key(self, branch_id: int) -> BranchKey: ...
        def direct_provenance_ids(self, branch_id: int) -> list[int]: ...
        def subvenance_ids(self, branch_id: int) -> list[int]: ...
        def _insert_branch(self, repo_id: int, name: str) -> int: ...

        # catalog_commits
        def commit_row(self, seq: int) -> CommitRow: ...
        def commit_key(self, seq: int) -> CommitKey: ...
        def resolve(self, ref: CommitRef) -> CommitRow: ...
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
        ) -> int: ...
        def propagate(self, sources: list[int], set_id: str, include_sources: bool = False) -> list[int]: ...
