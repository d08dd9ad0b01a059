"""The ``Catalog``'s commit sets: one set's commits, InspectCommitSet's view of it, every set.

Split out of ``catalog_commits`` to keep modules small; mixed into ``Catalog``.
Reads only. pachd's InspectCommitSet also shows, before a set's own commits, the
commits of other sets they build on (provenance first). No gRPC here.
"""

from __future__ import annotations

from .catalog_base import _COMMIT_COLS, CommitRow
from .catalog_commits import CatalogCommits

__all__ = ["CatalogSets"]


class CatalogSets(CatalogCommits):
    """Commit-set queries (a part of ``Catalog``)."""

    def commit_set(self, set_id: str) -> list[CommitRow]:
        """The commits of one set (every commit when ``set_id`` is empty, as pachd's filter)."""
        if not set_id:
            return [CommitRow(*r) for r in self.db.all(f"SELECT {_COMMIT_COLS} FROM commits ORDER BY seq")]
        return [CommitRow(*r) for r in self.db.all(f"SELECT {_COMMIT_COLS} FROM commits WHERE id = ? ORDER BY seq", (set_id,))]

    def commit_set_view(self, set_id: str) -> list[CommitRow]:
        """What pachd's InspectCommitSet shows: the set's commits and, before them, every
        commit of other sets in their provenance, in topological order (provenance first).

        An empty ``set_id`` means every commit (pachd's filter has no id then).
        """
        if set_id:
            members = [CommitRow(*r) for r in self.db.all(f"SELECT {_COMMIT_COLS} FROM commits WHERE id = ? ORDER BY seq", (set_id,))]
        else:
            members = [CommitRow(*r) for r in self.db.all(f"SELECT {_COMMIT_COLS} FROM commits ORDER BY seq")]
        aliases: dict[int, CommitRow] = {}
        frontier = [r.seq for r in members] if set_id else []
        seen = set(frontier)
        while frontier:
            nxt = []
            for seq in frontier:
                for (prov,) in self.db.all("SELECT prov_seq FROM commit_provenance WHERE commit_seq = ?", (seq,)):
                    if prov not in seen:
                        seen.add(prov)
                        nxt.append(prov)
                        row = self.commit_row(prov)
                        if row.id != set_id:
                            aliases[prov] = row
            frontier = nxt
        rows = [aliases[s] for s in sorted(aliases)] + members
        by_seq = {r.seq: r for r in rows}
        order: list[CommitRow] = []
        done: set[int] = set()

        def visit(row: CommitRow) -> None:
            if row.seq in done:
                return
            done.add(row.seq)
            for (prov,) in self.db.all("SELECT prov_seq FROM commit_provenance WHERE commit_seq = ? ORDER BY prov_seq", (row.seq,)):
                if prov in by_seq:
                    visit(by_seq[prov])
            order.append(row)

        for row in rows:
            visit(row)
        return order

    def list_commit_sets(self, project: str | None = None) -> list[tuple[str, list[CommitRow]]]:
        """Every commit set, the one with the newest commit first (as pachd), each as
        ``commit_set_view`` shows it; ``project`` keeps the sets whose newest commit is in it."""
        out = []
        seen: set[str] = set()
        for seq, set_id, repo_id in self.db.all("SELECT seq, id, repo_id FROM commits ORDER BY seq DESC"):
            if set_id in seen or (project and self.repo_key(repo_id).project != project):
                continue
            seen.add(set_id)
            out.append((set_id, self.commit_set_view(set_id)))
        return out
