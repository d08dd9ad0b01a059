"""``gc``: reclaim the space of deleted repos, commits and files (``pachmagic gc``).

Deleting a repo or squashing a commit removes metadata rows only: tree nodes
and chunks are shared by content across commits and repos, so they cannot be
freed on the spot. Garbage collection finds what is still reachable, from the
root of every commit that exists (open or finished, in every repo, including
pipelines' output and meta repos), and removes the rest:

1. Mark: walk every commit tree; collect the live node ids and chunk ids. A
   missing or undecodable node stops the collection before anything changes
   (``pachmagic fsck`` says more): a damaged store is not the time to delete.
2. Copy: packs with enough dead bytes have their live chunks copied, each read
   verified against its id, into a new pack, which is then synced.
3. Switch: one transaction points the moved chunks at their new places and
   deletes the dead chunk and node rows.
4. Remove the old packs (and any empty ones crashes left), and compact the
   metadata database (``VACUUM``).

A crash anywhere leaves a consistent store: before step 3 the new pack is an
unreferenced tail (trimmed at the next start); after it, the old packs are.

It runs only with the server stopped: it takes the data directory's lock, so
no write can dedupe against a chunk while it is being deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ...errors import DataLoss
from .chunks import ChunkStore
from .db import existing_database
from .packs import DiskPacks
from .tree import _Leaf, decode_node

__all__ = ["GcReport", "collect_garbage", "gc_data_dir"]

# A pack is rewritten once this share of its bytes is dead (an all-dead pack is
# simply removed): rewriting copies the live rest, so it must pay for itself.
REWRITE_DEAD_SHARE = 0.2


@dataclass
class GcReport:
    """What a collection found and did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    live_nodes: int = 0
    live_chunks: int = 0
    dead_nodes: int = 0
    dead_chunks: int = 0
    packs_removed: list[int] = field(default_factory=list)
    packs_rewritten: list[int] = field(default_factory=list)
    pack_bytes_before: int = 0
    pack_bytes_after: int = 0

    @property
    def reclaimed_bytes(self) -> int:
        return self.pack_bytes_before - self.pack_bytes_after

    def lines(self) -> Iterator[str]:
        verb = "would remove" if self.dry_run else "removed"
        yield (f"{verb} {self.dead_nodes} tree nodes and {self.dead_chunks} chunks "
               f"(kept {self.live_nodes} nodes and {self.live_chunks} chunks)")
        packs = len(self.packs_removed) + len(self.packs_rewritten)
        yield (f"{'would reclaim' if self.dry_run else 'reclaimed'} {_size(self.reclaimed_bytes)} of pack files "
               f"({_size(self.pack_bytes_before)} -> {_size(self.pack_bytes_after)}; "
               f"{packs} pack(s) {'to rewrite or remove' if self.dry_run else 'rewritten or removed'})")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def _mark(chunks: ChunkStore) -> tuple[set[bytes], set[bytes]]:
    """The node ids and chunk ids reachable from any commit's root."""
    db = chunks.db
    live_nodes: set[bytes] = set()
    live_chunks: set[bytes] = set()
    stack = [root for (root,) in db.all("SELECT DISTINCT root FROM commits WHERE root IS NOT NULL")]
    while stack:
        node_id = stack.pop()
        if node_id in live_nodes:
            continue
        row = db.one("SELECT data FROM nodes WHERE id = ?", (node_id,))
        if row is None:
            raise DataLoss(f"tree node {node_id.hex()} is missing: nothing was collected (see pachmagic fsck)")
        try:
            node = decode_node(row[0])
        except Exception as err:  # noqa: BLE001 - any decoding failure means damage
            raise DataLoss(f"tree node {node_id.hex()} cannot be decoded ({err}): nothing was collected") from None
        live_nodes.add(node_id)
        if isinstance(node, _Leaf):
            for entry in node.entries:
                live_chunks.update(entry.chunks)
        else:
            stack.extend(child.node_id for child in node.children if child.node_id not in live_nodes)
    return live_nodes, live_chunks


def collect_garbage(chunks: ChunkStore, packs: DiskPacks, *, dry_run: bool = False) -> GcReport:
    """Collect the store's garbage (see the module docstring); the caller holds the data directory's lock."""
    db = chunks.db
    report = GcReport(dry_run=dry_run)
    live_nodes, live_chunks = _mark(chunks)
    rows = db.all("SELECT id, pack, offset, size FROM chunks")
    indexed = {row[0] for row in rows}
    missing = live_chunks - indexed
    if missing:
        raise DataLoss(f"{len(missing)} referenced chunk(s) are missing from the index, e.g. "
                       f"{next(iter(missing)).hex()}: nothing was collected (see pachmagic fsck)")
    node_count = db.one("SELECT COUNT(*) FROM nodes")[0]
    report.live_nodes, report.dead_nodes = len(live_nodes), node_count - len(live_nodes)
    report.live_chunks, report.dead_chunks = len(live_chunks), len(indexed) - len(live_chunks)

    sizes = packs.sizes()
    live_bytes: dict[int, int] = {}
    for chunk_id, pack, _, size in rows:
        if chunk_id in live_chunks:
            live_bytes[pack] = live_bytes.get(pack, 0) + size
    remove = sorted(p for p in sizes if not live_bytes.get(p))
    rewrite = sorted(p for p, size in sizes.items()
                     if live_bytes.get(p) and (size - live_bytes[p]) >= REWRITE_DEAD_SHARE * size)
    report.packs_removed, report.packs_rewritten = remove, rewrite
    report.pack_bytes_before = sum(sizes.values())
    kept = sum(size for p, size in sizes.items() if p not in remove and p not in rewrite)
    report.pack_bytes_after = kept + sum(live_bytes[p] for p in rewrite)  # before alignment padding
    if dry_run:
        return report
    for pack in packs.empty_packs():  # nothing points into them: just files to tidy away
        packs.remove(pack)
    if not report.dead_nodes and not report.dead_chunks and not remove and not rewrite:
        return report

    # Copy the live chunks of the packs being rewritten into a new pack.
    packs.start_new_pack()
    moves = []
    for chunk_id, pack, offset, size in sorted(rows, key=lambda r: (r[1], r[2])):
        if pack in rewrite and chunk_id in live_chunks:
            data = chunks._read_verified(chunk_id, pack, offset, size)  # noqa: SLF001 - the store's own verified read
            new_pack, new_offset = packs.append_parts([memoryview(data)])
            moves.append((chunk_id, new_pack, new_offset, size))
    packs.sync([(pack, offset) for _, pack, offset, _ in moves])

    with db.transaction():
        db.execute("CREATE TEMP TABLE gc_live_nodes (id BLOB PRIMARY KEY) WITHOUT ROWID")
        db.execute("CREATE TEMP TABLE gc_live_chunks (id BLOB PRIMARY KEY) WITHOUT ROWID")
        db.executemany("INSERT INTO gc_live_nodes VALUES (?)", ((n,) for n in live_nodes))
        db.executemany("INSERT INTO gc_live_chunks VALUES (?)", ((c,) for c in live_chunks))
        db.execute("DELETE FROM nodes WHERE id NOT IN (SELECT id FROM gc_live_nodes)")
        db.execute("DELETE FROM chunks WHERE id NOT IN (SELECT id FROM gc_live_chunks)")
        db.executemany("UPDATE chunks SET pack = ?, offset = ? WHERE id = ?",
                       ((pack, offset, chunk_id) for chunk_id, pack, offset, _ in moves))
        db.execute("DROP TABLE gc_live_nodes")
        db.execute("DROP TABLE gc_live_chunks")
    for pack in remove + rewrite:
        packs.remove(pack)
    db.execute("VACUUM")
    report.pack_bytes_after = sum(packs.sizes().values())
    return report


def gc_data_dir(data_dir: Path, *, dry_run: bool = False) -> GcReport:
    """Collect the garbage of the store in ``data_dir`` (``pachmagic gc``); the server must be stopped."""
    from .storage import Storage

    existing_database(data_dir)  # gc never creates a store
    storage = Storage(data_dir)  # takes the lock: FailedPrecondition while a server runs
    try:
        assert isinstance(storage._packs, DiskPacks)  # noqa: SLF001 - gc works on the parts
        return collect_garbage(storage._chunks, storage._packs, dry_run=dry_run)  # noqa: SLF001
    finally:
        storage.close()
