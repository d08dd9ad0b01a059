"""Rewriting history: squash and drop commits and commit sets, clear open commits.

Pachyderm 2.x semantics (``src/server/pfs/server``): *squash* removes commits
whose data lives on in their children (every removed commit must have a
child); *drop* removes commits together with their data (none may have a
child). Either way, branch heads on a removed commit move to its parent, and a
commit that another commit set still depends on (through commit provenance)
blocks the operation. Because every commit's tree is a full snapshot, removing
a commit never rewrites any other commit's files: children simply get the
removed commit's parent as their new parent.

Runs inside the caller's transaction (``Storage`` opens it and notifies).
No gRPC here.
"""

from __future__ import annotations

from ...errors import Unknown
from .catalog import Catalog, CommitRow, new_commit_id
from .model import ORIGIN_AUTO, ORIGIN_USER, SPEC

__all__ = ["remove_commits", "commits_for_squash_or_drop", "clear_commit"]


def commits_for_squash_or_drop(catalog: Catalog, row: CommitRow, recursive: bool) -> list[CommitRow]:
    """The commits ``SquashCommit``/``DropCommit`` of ``row`` affect.

    Without ``recursive`` only ``row`` itself, which then must not have
    subvenant commits; with it, ``row`` and every commit downstream of it.
    """
    subvenant = _subvenance(catalog, [row.seq])
    if subvenant and not recursive:
        raise Unknown(
            f"cannot squash or drop commit {catalog.commit_key(row.seq)} with subvenance without recursive"
        )
    return [row] + [catalog.commit_row(seq) for seq in subvenant]


def remove_commits(catalog: Catalog, rows: list[CommitRow], *, squash: bool) -> None:
    """Squash (``squash=True``) or drop ``rows``; see the module docstring.

    As pachd: no rows (an unknown commit set) is no error; commit sets that
    depend on these commits block it first, then each commit is checked, then
    each is removed once its children have finished.
    """
    db = catalog.db
    if not rows:
        return
    sets = sorted({r.id for r in rows})
    outside = _subvenant_sets(catalog, rows)
    if outside:
        # pachd prints CommitSet messages in protobuf's text form (id:"..."), the first one quoted again (%q)
        named = " ".join(f'id:"{s}"' for s in outside)
        raise Unknown(
            f'commit set "id:\\"{sets[0]}\\"" cannot be dropped because it has subvenant commit sets: [{named}]'
        )
    for row in rows:
        key = catalog.commit_key(row.seq)
        repo = catalog.repo_key(row.repo_id)
        if repo.type == SPEC and row.origin == ORIGIN_USER:
            raise Unknown(f"cannot squash commit {key} because it updated a pipeline")
        has_children = db.one("SELECT 1 FROM commits WHERE parent_seq = ?", (row.seq,)) is not None
        if squash and not has_children:
            raise Unknown(
                "cannot squash a commit that has no children as that would cause data loss, "
                f"use the drop operation instead: {key}"
            )
        if not squash and has_children:
            raise Unknown(f"cannot drop a commit that has children: {key}")
    for row in rows:
        for (child_seq,) in db.all("SELECT seq FROM commits WHERE parent_seq = ? ORDER BY seq", (row.seq,)):
            child = catalog.commit_row(child_seq)
            if child.finished is None:
                suffix = ", consider using WaitCommit" if child.finishing is not None else ""
                raise Unknown(f"cannot squash until child commit {catalog.commit_key(child_seq)} is finished{suffix}")
        # Children inherit the parent (their trees already hold the data);
        # branch heads fall back to the parent, or to a new empty commit (pachd's
        # branches always have a head).
        db.execute("UPDATE commits SET parent_seq = ? WHERE parent_seq = ?", (row.parent_seq, row.seq))
        heads = [r[0] for r in db.all("SELECT id FROM branches WHERE head_seq = ?", (row.seq,))]
        db.execute("DELETE FROM commit_provenance WHERE commit_seq = ? OR prov_seq = ?", (row.seq, row.seq))
        db.execute("DELETE FROM commits WHERE seq = ?", (row.seq,))
        if row.parent_seq is not None:
            db.execute("UPDATE branches SET head_seq = ? WHERE head_seq = ?", (row.parent_seq, row.seq))
        elif heads:
            db.execute(f"UPDATE branches SET head_seq = NULL WHERE id IN ({','.join('?' * len(heads))})", heads)
            empty = catalog._new_commit(  # noqa: SLF001 - the catalog's own helper, as propagation uses it
                heads[0], new_commit_id(), ORIGIN_AUTO,
                finished=not catalog.direct_provenance_ids(heads[0]), use_head_as_parent=False,
            )
            for other in heads[1:]:
                db.execute("UPDATE branches SET head_seq = ? WHERE id = ?", (empty, other))


def clear_commit(catalog: Catalog, row: CommitRow) -> None:
    """Drop every pending change of an open commit (its tree becomes its parent's)."""
    if not row.is_open:
        raise Unknown("cannot clear finished commit")
    root, size = None, 0
    if row.parent_seq is not None:
        parent = catalog.commit_row(row.parent_seq)
        root, size = parent.root, parent.size_bytes
    catalog.set_commit_root(row.seq, row.root, root, size)


def _subvenant_sets(catalog: Catalog, rows: list[CommitRow]) -> list[str]:
    """The commit sets that depend on ``rows``, as pachd counts them: the sets of every
    commit downstream of them, then, set by set, the sets downstream of any commit of
    those sets (a later input commit depends on a pipeline's spec commit, whose set
    depends on ``rows``: it counts too)."""
    start = {r.id for r in rows}
    seqs = [r.seq for r in rows]
    found: set[str] = set()
    while seqs:
        new = {catalog.commit_row(s).id for s in _subvenance(catalog, seqs)} - start - found
        found |= new
        seqs = [r.seq for sid in sorted(new) for r in catalog.commit_set(sid)]
    return sorted(found)


def _subvenance(catalog: Catalog, seqs: list[int]) -> list[int]:
    """Every commit that (transitively) has one of ``seqs`` in its provenance."""
    found: list[int] = []
    seen = set(seqs)
    frontier = list(seqs)
    while frontier:
        nxt = []
        for seq in frontier:
            for (sub,) in catalog.db.all("SELECT commit_seq FROM commit_provenance WHERE prov_seq = ?", (seq,)):
                if sub not in seen:
                    seen.add(sub)
                    found.append(sub)
                    nxt.append(sub)
        frontier = nxt
    return found
