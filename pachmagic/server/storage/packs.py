"""Pack files: the append-only byte storage under the chunk store.

A pack is addressed by (pack number, offset). ``DiskPacks`` keeps numbered
files in one directory; ``MemoryPacks`` keeps one bytearray (tests, throwaway
servers). Durability is the caller's to ask for: ``sync(locations)`` makes
everything appended so far durable and reports a failed write at any of the
caller's locations, so an index row never points at bytes that did not reach
the disk.

Large appends (whole chunks of an upload) are written with O_DIRECT by one
background writer thread: the caller copies the chunk into an aligned buffer,
gets its location at once and goes on hashing the next chunk while the disk
works. Measured on a 1 GiB upload, writing in line cost about a third of the
upload's speed (the disk's time was on the critical path); at most
``_MAX_QUEUED`` writes wait, so memory stays bounded.

Over 400 lines because both implementations follow one contract (tested together), and the
O_DIRECT writer thread is part of ``DiskPacks``' durability.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import mmap
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Protocol

from ...errors import DataLoss
from . import _nowait

__all__ = ["Packs", "DiskPacks", "MemoryPacks"]


class Packs(Protocol):
    """Append-only byte storage addressed by (pack number, offset)."""

    def append(self, data: bytes) -> tuple[int, int]: ...

    def append_parts(self, parts: list[memoryview]) -> tuple[int, int]: ...

    def read(self, pack: int, offset: int, size: int) -> bytes: ...

    def read_cached(self, pack: int, offset: int, size: int) -> bytes | None: ...

    def advise(self, pack: int, offset: int, size: int) -> None: ...

    def sync(self, locations: Iterable[tuple[int, int]] = ()) -> None: ...

    def trim(self, ends: dict[int, int]) -> int: ...

    def sizes(self) -> dict[int, int]: ...


# Large uploads start the disk's writeback every this many bytes (Linux).
_WRITEBACK_EVERY = 32 * 1024 * 1024
# Large chunks are written with O_DIRECT where the file system allows it: the
# disk's DMA instead of copying through the page cache, which costs this
# process about a CPU-second per GiB here (measured: 0.2 s vs 0.7-2.6 s). The
# data is copied once into an aligned buffer and padded to the alignment.
_DIRECT_MIN = 1024 * 1024
# Background O_DIRECT writes allowed to wait at once (each holds a chunk's buffer).
_MAX_QUEUED = 2
_DIRECT_ALIGN = 4096
_O_DIRECT = getattr(os, "O_DIRECT", 0)


def _align_up(value: int) -> int:
    return -(-value // _DIRECT_ALIGN) * _DIRECT_ALIGN


class _AlignedBuffers:
    """Page-aligned buffers for O_DIRECT writes, reused across threads.

    A small free list rather than one buffer per thread: the server's pool has
    many threads, and a 4 MiB buffer kept by each would show up as RSS.
    """

    KEEP = _MAX_QUEUED + 1  # every queued write's buffer, and the one being filled

    def __init__(self) -> None:
        self._free: list[mmap.mmap] = []
        self._lock = threading.Lock()

    def take(self, size: int) -> mmap.mmap:
        with self._lock:
            while self._free:
                buffer = self._free.pop()
                if len(buffer) >= size:
                    return buffer
                buffer.close()
        return mmap.mmap(-1, _align_up(size))

    def give(self, buffer: mmap.mmap) -> None:
        with self._lock:
            if len(self._free) < self.KEEP:
                self._free.append(buffer)
                return
        buffer.close()


def _load_sync_file_range() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


_SYNC_FILE_RANGE = _load_sync_file_range() if sys.platform.startswith("linux") else None


def _start_writeback(fd: int, offset: int, size: int) -> None:
    """``sync_file_range(SYNC_FILE_RANGE_WRITE)``: begin writeback, do not wait (a hint only)."""
    if _SYNC_FILE_RANGE is not None and offset >= 0:
        _SYNC_FILE_RANGE(fd, offset, size, 2)  # SYNC_FILE_RANGE_WRITE; errors are ignored


class MemoryPacks:
    """Packs held in memory (tests, throwaway servers)."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._lock = threading.Lock()

    def append(self, data: bytes) -> tuple[int, int]:
        with self._lock:
            offset = len(self._data)
            self._data += data
            return 0, offset

    def append_parts(self, parts: list[memoryview]) -> tuple[int, int]:
        return self.append(b"".join(parts))

    def read(self, pack: int, offset: int, size: int) -> bytes:
        return bytes(self._data[offset : offset + size])

    def read_cached(self, pack: int, offset: int, size: int) -> bytes | None:
        return self.read(pack, offset, size) if offset + size <= len(self._data) else None

    def sync(self, locations: Iterable[tuple[int, int]] = ()) -> None:
        pass

    def trim(self, ends: dict[int, int]) -> int:
        with self._lock:
            end = ends.get(0, 0)
            cut = max(len(self._data) - end, 0)
            del self._data[end:]
            return cut

    def sizes(self) -> dict[int, int]:
        return {0: len(self._data)} if self._data else {}

    def advise(self, pack: int, offset: int, size: int) -> None:
        pass


class DiskPacks:
    """Pack files ``NNNNNN.pack`` in one directory, rolled over at ``max_size``."""

    def __init__(self, directory: Path, max_size: int = 1 << 30, *, read_only: bool = False) -> None:
        self.directory = directory
        self.max_size = max_size
        self.read_only = read_only
        if not read_only:
            directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._read_fds: dict[int, int] = {}
        existing = sorted(int(p.stem) for p in directory.glob("*.pack") if p.stem.isdigit())
        self._current = existing[-1] if existing else 1
        self._fd = -1
        self._size = 0
        if not read_only:
            self._fd = self._open_append(self._current)
            self._size = os.fstat(self._fd).st_size
        self._direct_fds: dict[int, int] = {}
        # None: not tried yet; False: the file system refused O_DIRECT.
        self._direct: bool | None = None if _O_DIRECT else False
        self._aligned = _AlignedBuffers()
        self._written_gen = 0  # bumped by every append
        self._unflushed = 0  # bytes appended since writeback was last started
        self._synced_gen = 0  # the append generation the last finished sync covered
        # Background O_DIRECT writes: queued in order, failures kept by location
        # until the writer of that location asks (sync), never reported to another.
        self._writer: ThreadPoolExecutor | None = None
        self._queued: collections.deque[Future[None]] = collections.deque()
        self._failed: dict[tuple[int, int], OSError] = {}
        self._failed_lock = threading.Lock()
        self._queue_lock = threading.Lock()  # guards _queued; never held while waiting

    def _path(self, pack: int) -> Path:
        return self.directory / f"{pack:06d}.pack"

    def _open_append(self, pack: int) -> int:
        path = self._path(pack)
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if created:
            # The new file's name must be durable before any index row points into it.
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return fd

    def append(self, data: bytes) -> tuple[int, int]:
        return self.append_parts([memoryview(data)])

    def _roll_over_if_full(self, size: int) -> None:
        """Start the next pack when ``size`` more bytes would not fit (under the lock)."""
        if self._size and self._size + size > self.max_size:
            self._roll_over()

    def _roll_over(self) -> None:
        self._drain()  # the old pack's queued writes land before its final fsync
        os.fsync(self._fd)
        os.close(self._fd)
        self._current += 1
        self._fd = self._open_append(self._current)
        self._size = 0

    def start_new_pack(self) -> int:
        """Send later appends to a new, empty pack; return its number (garbage collection)."""
        with self._lock:
            if self._size:
                self._roll_over()
            return self._current

    def remove(self, pack: int) -> None:
        """Delete a pack that no index row points into (garbage collection)."""
        with self._lock:
            if pack == self._current:
                raise ValueError(f"pack {pack} is the one being appended to")
            for fds in (self._read_fds, self._direct_fds):
                fd = fds.pop(pack, None)
                if fd is not None:
                    os.close(fd)
            self._path(pack).unlink(missing_ok=True)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _direct_fd(self) -> int:
        """The O_DIRECT descriptor of the current pack (under the lock)."""
        fd = self._direct_fds.get(self._current)
        if fd is None:
            fd = os.open(self._path(self._current), os.O_WRONLY | _O_DIRECT)
            self._direct_fds[self._current] = fd
        return fd

    def _append_direct(self, parts: list[memoryview], size: int) -> tuple[int, int] | None:
        """Write one large chunk with O_DIRECT; None when the file system refuses it.

        The first such write is made here, to learn whether O_DIRECT works;
        later ones are queued for the writer thread.
        """
        padded = _align_up(size)
        buffer = self._aligned.take(padded)
        position = 0
        for part in parts:
            buffer[position : position + len(part)] = part
            position += len(part)
        if padded > size:
            buffer[size:padded] = bytes(padded - size)
        queued = False
        try:
            with self._lock:
                if self._direct is False:
                    return None
                self._roll_over_if_full(_align_up(self._size) - self._size + padded)
                offset = _align_up(self._size)
                fd, pack = self._direct_fd(), self._current
                if self._direct is None:
                    if not self._write_direct(fd, buffer, padded, offset):
                        return None
                else:
                    self._queue_write(fd, buffer, padded, pack, offset)
                    queued = True
                self._size = offset + padded
                self._written_gen += 1
        finally:
            if not queued:
                self._aligned.give(buffer)
        self._limit_queue()
        return pack, offset

    def _write_direct(self, fd: int, buffer: mmap.mmap, padded: int, offset: int) -> bool:
        """The first O_DIRECT write, in line: False (and no more tries) when refused."""
        try:
            written = os.pwrite(fd, memoryview(buffer)[:padded], offset)
        except OSError as err:
            if err.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
            self._direct = False  # e.g. tmpfs: stay with buffered writes from now on
            return False
        if written != padded:
            raise OSError(f"short O_DIRECT write to pack {self._current} ({written} of {padded} bytes)")
        self._direct = True
        return True

    def _queue_write(self, fd: int, buffer: mmap.mmap, padded: int, pack: int, offset: int) -> None:
        """Hand one aligned chunk to the writer thread (under the lock: queue order is file order)."""

        def write() -> None:
            try:
                written = os.pwrite(fd, memoryview(buffer)[:padded], offset)
                if written != padded:
                    raise OSError(errno.EIO, f"short O_DIRECT write to pack {pack} ({written} of {padded} bytes)")
            except OSError as err:
                with self._failed_lock:
                    self._failed[(pack, offset)] = err
            finally:
                self._aligned.give(buffer)

        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="pachmagic-packs")
        future = self._writer.submit(write)
        with self._queue_lock:
            self._queued.append(future)

    def _limit_queue(self) -> None:
        """Wait (outside the lock) until at most ``_MAX_QUEUED`` writes are queued."""
        while True:
            with self._queue_lock:
                if self._prune_done() <= _MAX_QUEUED:
                    return
                oldest = self._queued[0]
            oldest.result()

    def _drain(self) -> None:
        """Wait for every write queued so far (their failures are kept for ``sync``).

        One writer thread runs the queue in order, so the newest write being
        done means all are; nothing is taken off the queue before it is done.
        """
        with self._queue_lock:
            newest = self._queued[-1] if self._queued else None
        if newest is None:
            return
        newest.result()
        with self._queue_lock:
            self._prune_done()

    def _prune_done(self) -> int:
        """Drop the finished writes at the queue's head (under ``_queue_lock``); return how many remain."""
        while self._queued and self._queued[0].done():
            self._queued.popleft()
        return len(self._queued)

    def append_parts(self, parts: list[memoryview]) -> tuple[int, int]:
        """Append the concatenation of ``parts`` with ``writev`` (no joining copy).

        Large appends go through ``_append_direct`` when the file system
        supports O_DIRECT; the padding after them is never referenced.
        """
        if self.read_only:
            raise OSError("pack storage is open read-only")
        size = sum(len(p) for p in parts)
        if size >= _DIRECT_MIN and self._direct is not False:
            location = self._append_direct(parts, size)
            if location is not None:
                return location
        with self._lock:
            self._roll_over_if_full(size)
            self._drain()  # O_APPEND writes land at the file's end: queued writes first
            offset = self._size
            pending = [p for p in parts if len(p)]
            while pending:
                written = os.writev(self._fd, pending)
                while pending and written >= len(pending[0]):
                    written -= len(pending[0])
                    del pending[0]
                if written:
                    pending[0] = pending[0][written:]
            self._size += size
            self._written_gen += 1
            self._unflushed += size
            writeback = None
            if self._unflushed >= _WRITEBACK_EVERY:
                writeback = (self._fd, offset + size - self._unflushed, self._unflushed)
                self._unflushed = 0
            location = self._current, offset
        if writeback is not None:
            # Start writing back what is already in the page cache (outside the
            # lock: it may wait for the disk's queue), so the fdatasync that makes
            # a large upload durable has little left to do.
            _start_writeback(*writeback)
        return location

    def _read_fd(self, pack: int) -> int:
        fd = self._read_fds.get(pack)
        if fd is None:
            with self._lock:
                fd = self._read_fds.get(pack)
                if fd is None:
                    fd = os.open(self._path(pack), os.O_RDONLY)
                    self._read_fds[pack] = fd
        return fd

    def advise(self, pack: int, offset: int, size: int) -> None:
        """Start reading a range into the page cache in the background."""
        if hasattr(os, "posix_fadvise"):
            try:
                os.posix_fadvise(self._read_fd(pack), offset, size, os.POSIX_FADV_WILLNEED)
            except OSError:
                pass

    def read(self, pack: int, offset: int, size: int) -> bytes:
        if self._queued:
            self._drain()  # the chunk may still be on its way to the disk
        fd = self._read_fd(pack)
        data = os.pread(fd, size, offset)
        if len(data) != size:
            raise DataLoss(f"pack {pack} is shorter than the index says (offset {offset}, size {size})")
        return data

    def read_cached(self, pack: int, offset: int, size: int) -> bytes | None:
        """The bytes if all are in the page cache (``_nowait``), else None; never waits.

        None too while background writes are queued (the chunk may be one of
        them) or before the pack has been opened for reading (opening takes the lock).
        """
        fd = self._read_fds.get(pack)
        if fd is None or self._queued:
            return None
        return _nowait.read_cached(fd, size, offset)

    def sync(self, locations: Iterable[tuple[int, int]] = ()) -> None:
        """Make every byte appended so far durable; raise if a write at ``locations`` failed.

        ``fdatasync`` runs outside the lock (on a duplicate descriptor, in case
        the pack rolls over meanwhile) so that other writers keep appending;
        generation counters make a sync that started after ours count for us.
        A failed background write is reported only to the writer whose
        location it was (and then forgotten): its bytes are never indexed.
        """
        self._drain()
        if self._failed:
            with self._failed_lock:
                errors = [self._failed.pop(loc) for loc in locations if loc in self._failed]
            if errors:
                raise errors[0]
        with self._lock:
            target = self._written_gen
            if self._synced_gen >= target:
                return
            fd = os.dup(self._fd)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
        with self._lock:
            self._synced_gen = max(self._synced_gen, target)

    def sizes(self) -> dict[int, int]:
        found = {int(p.stem): p.stat().st_size for p in self.directory.glob("*.pack") if p.stem.isdigit()}
        return {pack: size for pack, size in found.items() if size}

    def empty_packs(self) -> list[int]:
        """Packs of no bytes but the one being appended to (left by trims after crashes)."""
        return sorted(int(p.stem) for p in self.directory.glob("*.pack")
                      if p.stem.isdigit() and int(p.stem) != self._current and not p.stat().st_size)

    def trim(self, ends: dict[int, int]) -> int:
        """Cut every pack back to the end of its last indexed chunk; return bytes cut."""
        if self.read_only:
            return 0
        cut = 0
        with self._lock:
            for pack, size in self.sizes().items():
                end = ends.get(pack, 0)
                if size > end:
                    os.truncate(self._path(pack), end)
                    cut += size - end
            self._size = os.fstat(self._fd).st_size
        return cut

    def close(self) -> None:
        self._drain()
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            for fd in self._direct_fds.values():
                os.close(fd)
            self._direct_fds.clear()
            for fd in self._read_fds.values():
                os.close(fd)
            self._read_fds.clear()
