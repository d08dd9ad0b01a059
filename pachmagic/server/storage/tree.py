"""Persistent (copy-on-write) B+tree mapping file paths to file entries.

Every commit's file system is one of these trees, named by its root node's id.
Nodes are immutable and content-addressed, so a commit that changes one file
writes only the nodes on the path from that leaf to the root and shares every
other node with its parent commit: the cost of a change grows with the change
(and the tree's depth), not with the number of files in the repo.

Keys are cleaned absolute file paths (``/a/b.txt``); directories are implicit
(a directory exists while some key lies under it). Internal nodes keep, for each
child, the number of files and their total size below it, so the size of any key
range (a directory) is computed without visiting every file.

This module knows nothing about commits, repos or gRPC.

Over 400 lines because the node format, the bulk ``apply`` and the range queries are one data
structure: each relies on the invariants the others keep.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from operator import attrgetter
from typing import Iterable, Iterator, NamedTuple, Protocol

from ...errors import DataLoss

__all__ = ["Entry", "NodeStore", "MemoryNodeStore", "Tree", "Changes", "LEAF_MAX", "INNER_MAX"]

LEAF_MAX = 256
INNER_MAX = 256


class Entry(NamedTuple):
    """One regular file: its path, size, content hash, chunk ids and datum tag."""

    path: str
    size: int
    hash: bytes
    chunks: tuple[bytes, ...]
    datum: str = "default"

    @property
    def is_dir(self) -> bool:
        """Never: an entry is a regular file (directories are implicit). Lets an entry stand for a glob match."""
        return False


class NodeStore(Protocol):
    """Where tree nodes live: immutable bytes addressed by their SHA-256."""

    def get_node(self, node_id: bytes) -> bytes: ...

    def put_nodes(self, nodes: dict[bytes, bytes]) -> None: ...


class MemoryNodeStore:
    """A node store in a dict, for tests and throwaway trees."""

    def __init__(self) -> None:
        self._nodes: dict[bytes, bytes] = {}

    def get_node(self, node_id: bytes) -> bytes:
        data = self._nodes.get(node_id)
        if data is None or hashlib.sha256(data).digest() != node_id:
            raise DataLoss(f"tree node {node_id.hex()} is missing or corrupt")
        return data

    def put_nodes(self, nodes: dict[bytes, bytes]) -> None:
        self._nodes.update(nodes)

    def __len__(self) -> int:
        return len(self._nodes)


# --- node encoding -----------------------------------------------------------
# A leaf is ["L", [[path, size, hash_hex, [chunk_hex...], datum], ...]].
# An inner node is ["I", [[first_key, child_id_hex, count, size], ...]].
# JSON keeps nodes inspectable by fsck and decodes fast in C.


_PATH = attrgetter("path")
_SIZE = attrgetter("size")
_COUNT = attrgetter("count")
_FIRST_KEY = attrgetter("first_key")


@dataclass(frozen=True)
class _Leaf:
    entries: list[Entry]

    @functools.cached_property
    def keys(self) -> list[str]:
        """The entries' paths, for bisecting (made once per decoded node, not per lookup)."""
        return list(map(_PATH, self.entries))


@dataclass(frozen=True)
class _Child:
    first_key: str
    node_id: bytes
    count: int
    size: int


@dataclass(frozen=True)
class _Inner:
    children: list[_Child]

    @functools.cached_property
    def keys(self) -> list[str]:
        """The children's first keys, for bisecting."""
        return list(map(_FIRST_KEY, self.children))


def _encode_leaf(entries: list[Entry]) -> bytes:
    rows = [[e.path, e.size, e.hash.hex(), list(map(bytes.hex, e.chunks)), e.datum] for e in entries]
    return json.dumps(["L", rows], separators=(",", ":")).encode()


def _encode_inner(children: list[_Child]) -> bytes:
    rows = [[c.first_key, c.node_id.hex(), c.count, c.size] for c in children]
    return json.dumps(["I", rows], separators=(",", ":")).encode()


def decode_node(data: bytes) -> _Leaf | _Inner:
    kind, rows = json.loads(data)
    if kind == "L":
        return _Leaf(
            [
                Entry(p, s, bytes.fromhex(h), tuple(bytes.fromhex(c) for c in cs), d)
                for p, s, h, cs, d in rows
            ]
        )
    if kind == "I":
        return _Inner([_Child(k, bytes.fromhex(n), c, s) for k, n, c, s in rows])
    raise ValueError(f"unknown node kind {kind!r}")


class Changes:
    """An ordered set of edits to apply to a tree in one go.

    Edits keep the order they were made in: deleting a directory and then
    adding a file inside it leaves the new file. ``get`` answers what a path
    holds after the edits so far, given the base tree. Every operation costs
    O(path depth), except deleting a key range, which scans the pending puts
    (directory deletes are rare next to file writes).
    """

    def __init__(self) -> None:
        self.puts: dict[str, Entry | None] = {}
        self.ranges: list[tuple[str, str]] = []  # deleted key ranges [lo, hi)
        self._under: dict[str, int] = {}  # directory -> live puts below it

    def __bool__(self) -> bool:
        return bool(self.puts or self.ranges)

    def _count(self, path: str, delta: int) -> None:
        i = path.rfind("/")
        while i > 0:
            directory = path[:i]
            self._under[directory] = self._under.get(directory, 0) + delta
            i = path.rfind("/", 0, i)

    def put(self, entry: Entry) -> None:
        if self.puts.get(entry.path) is None:
            self._count(entry.path, 1)
        self.puts[entry.path] = entry

    def delete(self, path: str) -> None:
        if self.puts.get(path) is not None:
            self._count(path, -1)
        self.puts[path] = None

    def has_puts_under(self, directory: str) -> bool:
        """Whether some pending put lies below ``directory`` (no trailing ``/``)."""
        return self._under.get(directory, 0) > 0

    def delete_range(self, lo: str, hi: str) -> None:
        for key in [k for k in self.puts if lo <= k < hi]:
            if self.puts[key] is not None:
                self._count(key, -1)
            del self.puts[key]
        self.ranges.append((lo, hi))

    def in_deleted_range(self, path: str) -> bool:
        return any(lo <= path < hi for lo, hi in self.ranges)

    def get(self, base: "Tree", path: str) -> Entry | None:
        if path in self.puts:
            return self.puts[path]
        if self.ranges and self.in_deleted_range(path):
            return None
        return base.get(path)


class Tree:
    """A read view of one tree version plus the operation that derives the next.

    Parameters
    ----------
    store:
        Where nodes are read from and written to.
    root:
        The root node id, or ``None`` for the empty tree.
    cache:
        A shared ``NodeCache`` of decoded nodes.
    """

    def __init__(self, store: NodeStore, root: bytes | None, cache: "NodeCache | None" = None) -> None:
        self.store = store
        self.root = root
        self.cache = cache if cache is not None else NodeCache(store)

    # --- reads -----------------------------------------------------------------

    def _node(self, node_id: bytes) -> _Leaf | _Inner:
        return self.cache.get(node_id)

    def get(self, path: str) -> Entry | None:
        """Return the entry stored at exactly ``path``, or None."""
        for entry in self.iter_range(path, path + "\0"):
            return entry if entry.path == path else None
        return None

    def iter_range(self, lo: str = "", hi: str | None = None) -> Iterator[Entry]:
        """Yield entries with ``lo <= path < hi`` in path order."""
        if self.root is None:
            return
        yield from self._iter(self.root, lo, hi)

    def _iter(self, node_id: bytes, lo: str, hi: str | None) -> Iterator[Entry]:
        node = self._node(node_id)
        if isinstance(node, _Leaf):
            start = bisect.bisect_left(node.keys, lo)
            for entry in node.entries[start:]:
                if hi is not None and entry.path >= hi:
                    return
                yield entry
            return
        children = node.children
        start = max(bisect.bisect_right(node.keys, lo) - 1, 0)
        for child in children[start:]:
            if hi is not None and child.first_key >= hi:
                return
            yield from self._iter(child.node_id, lo, hi)

    def first_at_or_after(self, key: str) -> Entry | None:
        for entry in self.iter_range(key):
            return entry
        return None

    def stats(self, lo: str = "", hi: str | None = None) -> tuple[int, int]:
        """Return (number of files, total bytes) with ``lo <= path < hi``."""
        if self.root is None:
            return 0, 0
        return self._stats(self.root, lo, hi, None)

    def _stats(self, node_id: bytes, lo: str, hi: str | None, upper: str | None) -> tuple[int, int]:
        node = self._node(node_id)
        if isinstance(node, _Leaf):
            count = size = 0
            for entry in node.entries:
                if entry.path >= lo and (hi is None or entry.path < hi):
                    count += 1
                    size += entry.size
            return count, size
        count = size = 0
        children = node.children
        for i, child in enumerate(children):
            child_hi = children[i + 1].first_key if i + 1 < len(children) else upper
            if child_hi is not None and child_hi <= lo:
                continue
            if hi is not None and child.first_key >= hi:
                break
            covered = child.first_key >= lo and (hi is None or (child_hi is not None and child_hi <= hi))
            if covered:
                count += child.count
                size += child.size
            else:
                c, s = self._stats(child.node_id, lo, hi, child_hi)
                count += c
                size += s
        return count, size

    def __len__(self) -> int:
        return self.stats()[0]

    # --- writes ----------------------------------------------------------------

    def apply(self, changes: Changes) -> "Tree":
        """Return a new tree with ``changes`` applied; this tree is unchanged."""
        if not changes:
            return self
        puts = sorted(changes.puts.items())
        ranges = sorted(changes.ranges)
        new_nodes: dict[bytes, bytes] = {}
        if self.root is None:
            entries = [e for _, e in puts if e is not None]
            children = self._build_leaves(entries, new_nodes)
        else:
            children = self._apply(self.root, puts, ranges, None, new_nodes)
        while len(children) > 1:
            children = self._build_inners(children, new_nodes)
        root: bytes | None
        if not children:
            root = None
        else:
            root = children[0].node_id
            # Collapse inner roots with a single child.
            while True:
                node = decode_node(new_nodes[root]) if root in new_nodes else self._node(root)
                if isinstance(node, _Inner) and len(node.children) == 1:
                    root = node.children[0].node_id
                else:
                    break
        if new_nodes:
            self.store.put_nodes(new_nodes)
        return Tree(self.store, root, self.cache)

    def _apply(
        self,
        node_id: bytes,
        puts: list[tuple[str, Entry | None]],
        ranges: list[tuple[str, str]],
        upper: str | None,
        out: dict[bytes, bytes],
    ) -> list[_Child]:
        node = self._node(node_id)
        if isinstance(node, _Leaf):
            merged: dict[str, Entry]
            if ranges:
                merged = {}
                for entry in node.entries:
                    if not any(lo <= entry.path < hi for lo, hi in ranges):
                        merged[entry.path] = entry
            else:
                merged = dict(zip(node.keys, node.entries))
            for path, new in puts:
                if new is None:
                    merged.pop(path, None)
                else:
                    merged[path] = new
            return self._build_leaves([merged[k] for k in sorted(merged)], out)
        result: list[_Child] = []
        children = node.children
        put_keys = [p[0] for p in puts]
        if not ranges:
            # Only puts: visit just the children they fall in (found by bisecting), and
            # carry the others over as they are. A one-file commit into a wide node
            # then costs a few bisects, not a pass over every child.
            keys = node.keys
            done = 0
            start = 0
            while start < len(puts):
                i = max(bisect.bisect_right(keys, put_keys[start]) - 1, 0)
                hi_key = keys[i + 1] if i + 1 < len(children) else upper
                stop = len(puts) if hi_key is None else bisect.bisect_left(put_keys, hi_key, start)
                result.extend(children[done:i])
                result.extend(self._apply(children[i].node_id, puts[start:stop], ranges, hi_key, out))
                done, start = i + 1, stop
            result.extend(children[done:])
            if len(result) <= INNER_MAX:
                return self._emit_inner(result, out) if result else []
            return self._build_inners(result, out)
        for i, child in enumerate(children):
            lo_key = child.first_key if i > 0 else ""
            hi_key = children[i + 1].first_key if i + 1 < len(children) else upper
            # Puts belonging to this child: the first child also takes keys below its first key.
            # ``puts`` is sorted, so the child's share is one slice.
            start = bisect.bisect_left(put_keys, lo_key)
            stop = len(puts) if hi_key is None else bisect.bisect_left(put_keys, hi_key, start)
            child_puts = puts[start:stop]
            child_ranges = [
                r for r in ranges if r[1] > lo_key and (hi_key is None or r[0] < hi_key)
            ]
            if not child_puts and not child_ranges:
                result.append(child)
                continue
            if not child_puts and hi_key is not None and any(
                lo <= child.first_key and hi_key <= hi for lo, hi in child_ranges
            ):
                continue  # every key of this child is deleted: drop it unread
            result.extend(self._apply(child.node_id, child_puts, child_ranges, hi_key, out))
        if len(result) <= INNER_MAX:
            return self._emit_inner(result, out) if result else []
        return self._build_inners(result, out)

    def _build_leaves(self, entries: list[Entry], out: dict[bytes, bytes]) -> list[_Child]:
        children = []
        for part in _split(entries, LEAF_MAX):
            data = _encode_leaf(part)
            node_id = hashlib.sha256(data).digest()
            out[node_id] = data
            self.cache.put(node_id, _Leaf(part))
            children.append(_Child(part[0].path, node_id, len(part), sum(map(_SIZE, part))))
        return children

    def _emit_inner(self, children: list[_Child], out: dict[bytes, bytes]) -> list[_Child]:
        data = _encode_inner(children)
        node_id = hashlib.sha256(data).digest()
        out[node_id] = data
        self.cache.put(node_id, _Inner(children))
        return [
            _Child(
                children[0].first_key,
                node_id,
                sum(map(_COUNT, children)),
                sum(map(_SIZE, children)),
            )
        ]

    def _build_inners(self, children: list[_Child], out: dict[bytes, bytes]) -> list[_Child]:
        result = []
        for part in _split(children, INNER_MAX):
            result.extend(self._emit_inner(part, out))
        return result

    # --- bulk ------------------------------------------------------------------

    def reachable_nodes(self) -> Iterable[bytes]:
        """Yield every node id reachable from the root (for fsck and GC)."""
        if self.root is None:
            return
        stack = [self.root]
        while stack:
            node_id = stack.pop()
            yield node_id
            node = self._node(node_id)
            if isinstance(node, _Inner):
                stack.extend(c.node_id for c in node.children)


def _split(items: list, limit: int) -> list[list]:  # type: ignore[type-arg]
    """Split into the fewest parts of at most ``limit`` items, sized evenly.

    Even parts keep nodes about full after inserts into a full node, where
    "limit, then the rest" would leave a trail of one-entry nodes.
    """
    if not items:
        return []
    parts = -(-len(items) // limit)
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


class NodeCache:
    """A bounded LRU of decoded nodes shared by all trees over one store."""

    def __init__(self, store: NodeStore, capacity: int = 4096) -> None:
        self.store = store
        self.capacity = capacity
        self._nodes: OrderedDict[bytes, _Leaf | _Inner] = OrderedDict()

    def get(self, node_id: bytes) -> _Leaf | _Inner:
        node = self._nodes.get(node_id)
        if node is None:
            node = decode_node(self.store.get_node(node_id))
            self.put(node_id, node)
        else:
            self._nodes.move_to_end(node_id)
        return node

    def put(self, node_id: bytes, node: _Leaf | _Inner) -> None:
        self._nodes[node_id] = node
        self._nodes.move_to_end(node_id)
        while len(self._nodes) > self.capacity:
            self._nodes.popitem(last=False)
