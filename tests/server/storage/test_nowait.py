"""``_nowait.read_cached``: the page cache's bytes or None, never a wait for the disk and never part of a read."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pachmagic.server.storage import _nowait

pytestmark = pytest.mark.skipif(not _nowait.AVAILABLE, reason="needs Linux preadv2(RWF_NOWAIT) and CPython")


def _cached_file(path: Path, data: bytes) -> int:
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    assert os.pread(fd, len(data), 0) == data  # in the page cache now
    if _nowait.read_cached(fd, 1, 0) is None:
        os.close(fd)
        pytest.skip(f"{path.parent}'s file system does not answer RWF_NOWAIT reads (e.g. tmpfs)")
    return fd


def test_cached_bytes_are_read_and_anything_short_is_none(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    fd = _cached_file(tmp_path / "f", data)
    try:
        for size, offset in ((len(data), 0), (4096, 5), (1, len(data) - 1), (1024 * 1024, 2 * 1024 * 1024 + 3)):
            got = _nowait.read_cached(fd, size, offset)
            assert got == data[offset : offset + size] and type(got) is bytes
        assert _nowait.read_cached(fd, 10, len(data) - 5) is None  # only part of it exists
        assert _nowait.read_cached(fd, 10, len(data) + 5) is None
        assert _nowait.read_cached(fd, 0, 0) is None
    finally:
        os.close(fd)


def test_bytes_not_in_the_page_cache_are_none(tmp_path: Path) -> None:
    data = os.urandom(1024 * 1024)
    fd = _cached_file(tmp_path / "f", data)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # clean pages: the kernel drops them
        try:
            os.preadv(fd, [bytearray(4096)], 0, os.RWF_NOWAIT)
            pytest.skip("the kernel kept the pages cached")
        except BlockingIOError:
            pass
        assert _nowait.read_cached(fd, len(data), 0) is None
        assert os.pread(fd, len(data), 0) == data  # what the caller does then
    finally:
        os.close(fd)


def test_a_read_error_is_raised() -> None:
    with pytest.raises(OSError) as caught:
        _nowait.read_cached(10_000, 10, 0)  # not an open descriptor
    assert caught.value.errno == errno.EBADF
