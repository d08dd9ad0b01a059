"""Projects, repos, branches and commits: PFS's mutable metadata (the refs).

Implements Pachyderm 2.x semantics for the metadata side of PFS: commit sets
(one ID shared by every commit a change creates across the DAG), propagation of
open AUTO commits to every branch downstream of a changed branch, commit
resolution (branch heads, ids, ancestry such as ``master^2`` / ``master.1``,
global ids), and the error texts of pachd. Every method that changes state runs
inside one database transaction; the caller (``Storage``) notifies watchers once
the transaction has committed. No gRPC here.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from ...errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from .db import Database
from .model import (
    DEFAULT_PROJECT,
    META,
    ORIGIN_AUTO,
    ORIGIN_USER,
    REPO_TYPES,
    SPEC,
    USER,
    BranchInfo,
    BranchKey,
    CommitInfo,
    CommitKey,
    ProjectInfo,
    RepoInfo,
    RepoKey,
    is_commit_id,
    parse_ancestry,
    validate_name,
    validate_project_name,
)

__all__ = ["Catalog", "CommitRef", "CommitRow", "new_commit_id"]


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


class Catalog:
    """Metadata operations over one ``Database``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._repo_cache: dict[int, RepoKey] = {}

    # --- projects --------------------------------------------------------------

    def ensure_default_project(self) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO projects(name, description, created) VALUES (?, ?, ?)",
            (DEFAULT_PROJECT, "The default project.", time.time()),
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
            repos = self.db.all("SELECT name, type FROM repos WHERE project = ?", (name,))
            if repos and not force:
                raise FailedPrecondition(
                    f"cannot delete project {name}: it still contains repos "
                    f"({', '.join(sorted(r[0] + ('' if r[1] == USER else '.' + r[1]) for r in repos))})"
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
        if key.type not in REPO_TYPES:
            raise InvalidArgument(f"invalid repo type {key.type!r}: must be one of user, spec, meta")
        with self.db.transaction():
            self._require_project(key.project)
            if key.type != USER and self.db.one(
                "SELECT 1 FROM repos WHERE project = ? AND name = ? AND type = ?", (key.project, key.name, USER)
            ) is None:
                raise FailedPrecondition("cannot create a system repo without a corresponding 'user' repo")
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
                    names = sorted(str(self._branch_key(r[0])) for r in outside)
                    raise FailedPrecondition(
                        f"repo {key} cannot be deleted because its branches are in the provenance of "
                        f"{', '.join(names)}; use force to delete it anyway"
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

    # --- branches --------------------------------------------------------------

    def _branch_row(self, key: BranchKey) -> Any:
        repo_id = self.repo_id(key.repo)
        row = self.db.one(
            "SELECT id, repo_id, name, head_seq, trigger, created FROM branches WHERE repo_id = ? AND name = ?",
            (repo_id, key.name),
        )
        if row is None:
            raise NotFound(f'branch "{key.name}" not found in repo {key.repo}')
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
                raise NotFound(f'branch "{base}" not found in repo {ref.repo}')
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

    def delete_all(self) -> None:
        with self.db.transaction():
            for table in ("branch_provenance", "commit_provenance", "branches", "commits", "repos", "projects"):
                self.db.execute(f"DELETE FROM {table}")
            self._repo_cache.clear()
            self.ensure_default_project()


# Re-exported for callers that build keys for system repos.
SYSTEM_TYPES = (SPEC, META)
