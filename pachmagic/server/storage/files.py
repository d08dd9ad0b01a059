"""File operations on commit trees: atomic write sessions and every kind of read.

A ``WriteSession`` collects one ModifyFile stream's operations — add (append to
what the change set holds so far), delete (file, or a directory with a trailing
``/``), copy — while file data is cut into chunks and written to packs. Nothing
is visible until ``Storage`` applies the session: then the operations are
replayed, in order, against the open commit's current tree inside one database
transaction, together with the chunk index rows. A stream that breaks off
applies nothing.

Reads take a ``Tree`` (one commit's files) and answer Pachyderm's file queries:
implicit directories, lexicographic listings, glob patterns, diffs. No gRPC here.

Over 400 lines because the write session, its replay and the reader share the private
operation types and path rules of one commit tree; apart, each would import the others' internals.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ...errors import FailedPrecondition, InvalidArgument, NotFound, PachError, Unknown
from ...pachyderm.globs import _GLOB_CHARS, compile_glob, glob_regex, has_glob
from ...pachyderm.paths import clean_path
from .chunks import CHUNK_SIZE, ChunkWriter
from .model import DIR, FILE, CommitKey, FileInfo, validate_write_path
from .refusals import Refusal
from .tree import Changes, Entry, Tree

__all__ = [
    "WriteSession",
    "replay",
    "file_hash",
    "Reader",
    "compile_glob",
    "has_glob",
]

def file_hash(chunks: tuple[bytes, ...]) -> bytes:
    """A file's content hash: BLAKE2b-256 over its chunk ids (chunking is canonical)."""
    h = hashlib.blake2b(digest_size=32)
    for chunk in chunks:
        h.update(chunk)
    return h.digest()


# --- writes --------------------------------------------------------------------


@dataclass
class _Write:
    path: str
    chunks: list[bytes]
    size: int
    datum: str


@dataclass
class _Delete:
    path: str
    directory: bool


@dataclass
class _Copy:
    src: Tree
    src_path: str
    dst_path: str
    append: bool
    datum: str


@dataclass
class WriteSession:
    """The operations of one atomic change, recorded in order."""

    writer: ChunkWriter
    ops: list[_Write | _Delete | _Copy] = field(default_factory=list)
    bytes_written: int = 0
    _current: _Write | None = None
    # Data not yet cut into chunks: the callers' buffers, referenced, not copied.
    _parts: list[memoryview] = field(default_factory=list)
    _parts_len: int = 0

    def add(self, path: str, data: bytes | memoryview, datum: str = "default") -> None:
        """Append ``data`` to ``path`` (consecutive adds to one path form one write).

        ``data`` is referenced until cut into chunks, never copied: callers
        must not change it afterwards.
        """
        cleaned = validate_write_path(path)
        datum = datum or "default"
        cur = self._current
        if cur is None or cur.path != cleaned or cur.datum != datum:
            self._close_current()
            cur = self._current = _Write(cleaned, [], 0, datum)
        if data:
            self._parts.append(memoryview(data))
            self._parts_len += len(data)
        cur.size += len(data)
        self.bytes_written += len(data)
        while self._parts_len >= CHUNK_SIZE:
            cur.chunks.append(self.writer.put_parts(self._take(CHUNK_SIZE)))

    def _take(self, size: int) -> list[memoryview]:
        """The next ``size`` buffered bytes, as views (no copy)."""
        out: list[memoryview] = []
        need = size
        while need:
            part = self._parts[0]
            if len(part) <= need:
                out.append(part)
                del self._parts[0]
                need -= len(part)
            else:
                out.append(part[:need])
                self._parts[0] = part[need:]
                need = 0
        self._parts_len -= size
        return out

    def _close_current(self) -> None:
        cur = self._current
        if cur is None:
            return
        if self._parts_len:
            cur.chunks.append(self.writer.put_parts(self._take(self._parts_len)))
        self.ops.append(cur)
        self._current = None

    def delete(self, path: str) -> None:
        self._close_current()
        directory = path.endswith("/")
        cleaned = clean_path(path)
        if cleaned != "/":
            validate_write_path(cleaned)
        self.ops.append(_Delete(cleaned, directory))

    def copy(self, src: Tree, src_path: str, dst_path: str, *, append: bool = False, datum: str = "default") -> None:
        self._close_current()
        self.ops.append(_Copy(src, clean_path(src_path), validate_write_path(dst_path), append, datum or "default"))

    def close(self) -> list[_Write | _Delete | _Copy]:
        self._close_current()
        return self.ops


def _dir_range(path: str) -> tuple[str, str]:
    """The key range of everything below directory ``path``."""
    prefix = "/" if path == "/" else path + "/"
    return prefix, prefix[:-1] + "0"  # "0" sorts right after "/"


def replay(base: Tree, ops: list[_Write | _Delete | _Copy], writer: ChunkWriter) -> Changes:
    """Turn recorded operations into tree changes against ``base``, checking collisions."""
    changes = Changes()
    for op in ops:
        if isinstance(op, _Write):
            existing = changes.get(base, op.path)
            if existing is not None and existing.size:
                chunks = _join(existing.chunks, existing.size, op.chunks, op.size, writer)
            else:
                chunks = tuple(op.chunks)
            size = (existing.size if existing is not None else 0) + op.size
            _check_collision(base, changes, op.path)
            changes.put(Entry(op.path, size, file_hash(chunks), chunks, op.datum))
        elif isinstance(op, _Delete):
            if op.path == "/":
                changes.delete_range("", "\uffff")
                continue
            # As in pachd, only a trailing "/" deletes a directory; without it
            # the path names a file (deleting a missing one is a no-op).
            if op.directory:
                lo, hi = _dir_range(op.path)
                changes.delete_range(lo, hi)
            else:
                changes.delete(op.path)
        else:
            _apply_copy(base, changes, op, writer)
    return changes


def _join(
    old: tuple[bytes, ...], old_size: int, new: list[bytes], new_size: int, writer: ChunkWriter
) -> tuple[bytes, ...]:
    """Append chunks, re-cutting from the old file's last partial chunk on.

    A file's chunks are always its content cut every ``CHUNK_SIZE`` bytes from
    the start, so equal contents have equal chunk lists (and hashes, and
    storage) however they were written.
    """
    if not old_size % CHUNK_SIZE or not old:
        return (*old, *new)
    out = list(old[:-1])
    buffer = bytearray(writer.read(old[-1]))
    for chunk in new:
        buffer += writer.read(chunk)
        while len(buffer) >= CHUNK_SIZE:
            out.append(writer.put(bytes(buffer[:CHUNK_SIZE])))
            del buffer[:CHUNK_SIZE]
    if buffer:
        out.append(writer.put(bytes(buffer)))
    return tuple(out)


def _has_files_under(base: Tree, changes: Changes, directory: str) -> bool:
    """Whether ``directory`` holds any file once ``changes`` apply to ``base``."""
    if changes.has_puts_under(directory):
        return True
    lo, hi = _dir_range(directory)
    first = base.first_at_or_after(lo)
    if first is None or first.path >= hi:
        return False
    if not changes.puts and not changes.ranges:
        return True
    return any(changes.get(base, e.path) is not None for e in base.iter_range(lo, hi))


def _check_collision(base: Tree, changes: Changes, path: str) -> None:
    """Reject a file at ``path`` if an ancestor is a file or ``path`` is a directory."""
    i = path.rfind("/")
    while i > 0:
        ancestor = path[:i]
        if changes.has_puts_under(ancestor):
            break  # a directory in this change set, and so are all its ancestors
        if changes.get(base, ancestor) is not None:
            raise InvalidArgument(f"file / directory path collision ({path}): {ancestor} is a file")
        i = path.rfind("/", 0, i)
    if _has_files_under(base, changes, path):
        raise InvalidArgument(f"file / directory path collision ({path}): it is a directory")


def _apply_copy(base: Tree, changes: Changes, op: _Copy, writer: ChunkWriter) -> None:
    src_entry = op.src.get(op.src_path) if op.src_path != "/" else None
    if src_entry is not None:
        sources = [(op.dst_path, src_entry)]
    else:
        lo, hi = _dir_range(op.src_path)
        prefix_len = len(lo)
        sources = [(op.dst_path + "/" + e.path[prefix_len:], e) for e in op.src.iter_range(lo, hi)]
        if not sources:
            raise NotFound(f"file {op.src_path} not found in the source commit of the copy")
    if not op.append:
        changes.delete(op.dst_path)
        dlo, dhi = _dir_range(op.dst_path)
        changes.delete_range(dlo, dhi)
    for dst, entry in sources:
        existing = changes.get(base, dst) if op.append else None
        if existing is not None and existing.size:
            chunks = _join(existing.chunks, existing.size, list(entry.chunks), entry.size, writer)
            size = existing.size + entry.size
        else:
            chunks, size = entry.chunks, entry.size
        _check_collision(base, changes, dst)
        changes.put(Entry(dst, size, file_hash(chunks), chunks, op.datum))


# --- reads ---------------------------------------------------------------------


class Reader:
    """Pachyderm's file queries over one commit's tree."""

    def __init__(
        self, tree: Tree, commit: CommitKey, committed: float | None, requested_id: str | None = None, branch: str | None = None
    ) -> None:
        self.tree = tree
        self.commit = commit
        self.committed = committed
        self.requested_id = requested_id
        self.branch = branch  # the commit's own branch, carried into every FileInfo
        # Set on an output commit whose datums' outputs clash: the queries below refuse the
        # reads pachd refuses (its scans are path prefixes: the cleaned path, or a glob's literal part).
        self.refusal: Refusal | None = None

    def _scan(self, prefix: str) -> None:
        if self.refusal is not None:
            self.refusal.check(prefix)

    def not_found(self, path: str) -> NotFound:
        # pachd names the commit as requested: no id when the request named a branch.
        commit_id = self.commit.id if self.requested_id is None else self.requested_id
        return NotFound(f"file {path} not found in repo {self.commit.repo} at commit {commit_id}")

    def _file(self, entry: Entry) -> FileInfo:
        return FileInfo(self.commit, entry.path, FILE, entry.size, entry.hash, self.committed, entry.datum, self.branch)

    def _dir(self, path: str) -> FileInfo:
        lo, hi = _dir_range(path)
        h = hashlib.blake2b(digest_size=32)
        size = 0
        for entry in self.tree.iter_range(lo, hi):
            h.update(entry.path[len(lo) :].encode())
            h.update(entry.hash)
            size += entry.size
        name = path if path == "/" else path + "/"
        return FileInfo(self.commit, name, DIR, size, h.digest(), self.committed, branch=self.branch)

    def is_dir(self, path: str) -> bool:
        if path == "/":  # as pachd: an empty commit has no root directory either
            return self.tree.first_at_or_after("/") is not None
        lo, hi = _dir_range(path)
        first = self.tree.first_at_or_after(lo)
        return first is not None and first.path < hi

    def inspect(self, path: str) -> FileInfo:
        cleaned = clean_path(path)
        self._scan("" if cleaned == "/" else cleaned)
        entry = self.tree.get(cleaned) if cleaned != "/" else None
        if entry is not None:
            return self._file(entry)
        if self.is_dir(cleaned):
            return self._dir(cleaned)
        raise self.not_found(path)

    def children(self, path: str, *, with_dir_details: bool = True, after: str = "") -> Iterator[FileInfo]:
        """Immediate children of a directory in path order (or the file itself).

        ``after`` (a path from an earlier page, directories ending in ``/``)
        starts the listing right after it, found by a tree seek.
        """
        cleaned = clean_path(path)
        self._scan(cleaned)
        entry = self.tree.get(cleaned) if cleaned != "/" else None
        if entry is not None:
            if not after or entry.path > after:
                yield self._file(entry)
            return
        if not self.is_dir(cleaned):
            if cleaned == "/":
                return
            raise self.not_found(path)
        lo, hi = _dir_range(cleaned)
        key = lo
        if after:
            # A directory marker skips that whole subdirectory; a file marker, the file.
            key = max(lo, after[:-1] + "0" if after.endswith("/") else after + "\0")
        while True:
            nxt = self.tree.first_at_or_after(key)
            if nxt is None or nxt.path >= hi:
                return
            rest = nxt.path[len(lo) :]
            if "/" in rest:
                child = lo + rest.split("/", 1)[0]
                if with_dir_details:
                    yield self._dir(child)
                else:
                    yield FileInfo(self.commit, child + "/", DIR, 0, b"", self.committed, branch=self.branch)
                key = child + "0"  # skip the rest of that subdirectory
            else:
                # A run of plain files: stream them until the next subdirectory.
                for entry in self.tree.iter_range(key, hi):
                    if "/" in entry.path[len(lo) :]:
                        key = entry.path
                        break
                    yield self._file(entry)
                else:
                    return

    def walk(self, path: str) -> Iterator[FileInfo]:
        """The directory itself and everything below it, in path order."""
        cleaned = clean_path(path)
        self._scan("" if cleaned == "/" else cleaned)
        entry = self.tree.get(cleaned) if cleaned != "/" else None
        if entry is not None:
            yield self._file(entry)
            return
        if not self.is_dir(cleaned):
            if cleaned == "/":
                return
            raise self.not_found(path)
        yield self._dir(cleaned)
        lo, hi = _dir_range(cleaned)
        emitted: set[str] = set()
        for entry in self.tree.iter_range(lo, hi):
            parts = entry.path.split("/")
            for i in range(len(lo.split("/")), len(parts)):
                d = "/".join(parts[:i])
                if d not in emitted:
                    emitted.add(d)
                    yield self._dir(d)
            yield self._file(entry)

    def glob(self, pattern: str, stop: Callable[[], None] | None = None) -> Iterator[FileInfo]:
        """Every file and directory whose path matches ``pattern``, in path order.

        ``stop`` is called every few hundred paths and raises to end the scan (the
        request's deadline passed or its client went away): a glob over a large
        commit that matches little does all its work before yielding anything.
        """
        for match in self.glob_matches(pattern, stop):
            yield match if isinstance(match, FileInfo) else self._file(match)

    def glob_matches(self, pattern: str, stop: Callable[[], None] | None = None) -> Iterator[FileInfo | Entry]:
        """``glob``, with each matching file as its tree ``Entry`` (no ``FileInfo`` made for it).

        Datum planning needs only a match's path, size, hash, datum and ``is_dir``,
        which an entry has: 100,000 files make 100,000 fewer objects.
        """
        cleaned = clean_path(pattern)
        self._scan(_literal_prefix(cleaned))
        if cleaned == "/":
            if self.is_dir("/"):
                yield self._dir("/")
            return
        match = compile_glob(cleaned)
        literal = _literal_prefix(cleaned)
        lo = literal.rsplit("/", 1)[0] + "/" if "/" in literal else "/"
        seen_dirs: set[str] = set()
        for count, entry in enumerate(self.tree.iter_range(lo, lo[:-1] + "0" if lo != "/" else None)):
            if stop is not None and not count % 256:
                stop()
            parts = entry.path.split("/")
            for i in range(2, len(parts)):
                d = "/".join(parts[:i])
                if d not in seen_dirs:
                    seen_dirs.add(d)
                    if match(d):
                        yield self._dir(d)
            if match(entry.path):
                yield entry

    def get_entry(self, path: str, stop: Callable[[], None] | None = None) -> Entry:
        """The one regular file ``path`` (a glob allowed) names, as GetFile needs."""
        cleaned = clean_path(path)
        self._scan(_literal_prefix(cleaned))
        if has_glob(cleaned):
            try:
                glob_regex(cleaned)
            except PachError as err:  # pachd's words for a malformed glob in a GetFile path
                raise type(err)(f"get file: {err.details}") from None
            matches = list(self.glob(cleaned, stop))
            if not matches:
                raise self.not_found(path)
            if len(matches) > 1:
                raise Unknown("matched multiple files. Use GetFileTAR instead")
            if matches[0].type != FILE:
                raise Unknown("cannot get directory or non-regular file. Use GetFileTAR instead")
            entry = self.tree.get(matches[0].path)
            assert entry is not None
            return entry
        entry = self.tree.get(cleaned) if cleaned != "/" else None
        if entry is None:
            if self.is_dir(cleaned):
                raise Unknown("cannot get directory or non-regular file. Use GetFileTAR instead")
            raise self.not_found(path)
        return entry

    def files_under(self, path: str) -> Iterator[Entry]:
        """Every file at or below ``path`` (GetFileTAR, copies, downloads)."""
        cleaned = clean_path(path)
        entry = self.tree.get(cleaned) if cleaned != "/" else None
        if entry is not None:
            yield entry
            return
        lo, hi = _dir_range(cleaned)
        yield from self.tree.iter_range(lo, hi if cleaned != "/" else None)


def _literal_prefix(pattern: str) -> str:
    for i, ch in enumerate(pattern):
        if ch in _GLOB_CHARS or ch == "\\":
            return pattern[:i]
    return pattern


def diff(new: Reader, old: Reader, new_path: str, old_path: str) -> Iterator[tuple[FileInfo | None, FileInfo | None]]:
    """What differs between two trees under the given paths, as (new, old) pairs.

    As pachd's differ: both sides are walked (directories included, with their
    sizes), merged by full path, and a path present on both sides is reported
    when its hash differs; a missing path is an empty side, not an error.
    """

    def walk(reader: Reader, path: str) -> list[FileInfo]:
        try:
            if next(reader.files_under(path), None) is None:
                return []  # pachd's sources list files; no file, not even a directory
            return list(reader.walk(path))
        except NotFound:
            return []

    olds, news = walk(old, old_path), walk(new, new_path)
    i = j = 0
    while i < len(olds) or j < len(news):
        o = olds[i] if i < len(olds) else None
        n = news[j] if j < len(news) else None
        if n is None or (o is not None and o.path < n.path):
            yield None, o
            i += 1
        elif o is None or n.path < o.path:
            yield n, None
            j += 1
        else:
            if o.hash != n.hash:
                yield n, o
            i, j = i + 1, j + 1
