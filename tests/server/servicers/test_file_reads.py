"""GetFile's byte path: a warm download is read on the event loop, a cold one on the pool, the bytes the same.

The in-process server's thread pool is watched (its ``submit`` counted), not
replaced: every read still happens for real, on the real server, over gRPC.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest

from pachmagic._proto import pfs_pb2
from pachmagic.client._ext import ExtTransfer
from pachmagic.client._transfer import Transfer
from pachmagic.server import LocalServer
from pachmagic.server.storage import _nowait
from pachmagic.server.storage.chunks import CHUNK_SIZE, VERIFY_ONCE_MIN

# Two full chunks and a last one large enough to be verified once (not on every read).
_DATA = os.urandom(2 * CHUNK_SIZE + VERIFY_ONCE_MIN + 99)


def _answers_nowait(directory: Path) -> bool:
    probe = directory / "nowait-probe"
    probe.write_bytes(b"x" * 4096)
    fd = os.open(probe, os.O_RDONLY)
    try:
        os.pread(fd, 4096, 0)
        return _nowait.read_cached(fd, 4096, 0) is not None
    finally:
        os.close(fd)
        probe.unlink()


def _downloads(server: LocalServer) -> dict[str, Callable[[int], bytes]]:
    """Each framing a client can get: ext version 2 (bare chunks), version 1 and the standard GetFile."""
    fast, plain = server.client(), server.client()
    plain.pfs._transfer = Transfer(plain.pfs._t)  # noqa: SLF001 - force the standard RPC
    version_1 = ExtTransfer(fast.pfs._t, 1)  # noqa: SLF001 - what a version 1 client gets

    def v1(offset: int) -> bytes:
        request = pfs_pb2.GetFileRequest(offset=offset)
        request.file.commit.branch.repo.name, request.file.commit.branch.repo.type = "data", "user"
        request.file.commit.branch.repo.project.name = "default"
        request.file.commit.branch.name, request.file.path = "master", "/big"
        return b"".join(version_1.get_file(request))

    fast.pfs.create_repo("data")
    fast.pfs.put_file("data@master", "/big", _DATA)
    return {
        "ext v2": lambda offset: fast.pfs.get_file("data@master:/big", offset=offset),
        "ext v1": v1,
        "standard": lambda offset: plain.pfs.get_file("data@master:/big", offset=offset),
    }


def test_a_warm_download_is_read_on_the_event_loop(server: LocalServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if not _answers_nowait(tmp_path):
        pytest.skip(f"{tmp_path}'s file system does not answer RWF_NOWAIT reads (e.g. tmpfs): every read goes to the pool")
    downloads = _downloads(server)
    pool = server._threaded.app.runtime.pool  # noqa: SLF001 - the in-process server's pool, watched
    hops: list[str] = []
    submit = pool.submit
    monkeypatch.setattr(pool, "submit", lambda fn, *a, **k: hops.append(getattr(fn, "__name__", "?")) or submit(fn, *a, **k))
    assert downloads["ext v2"](0) == _DATA  # the first read of each chunk verifies it, on the pool
    assert hops.count("read_from") == 1, hops
    for name, download in downloads.items():
        del hops[:]
        assert download(0) == _DATA, name
        assert "read_from" not in hops and len(hops) == 1, (name, hops)  # only finding the file and its chunks
        del hops[:]
        offset = CHUNK_SIZE + 5  # a first chunk cut by the offset comes from the pool, the rest from memory
        assert download(offset) == _DATA[offset:], name
        assert hops.count("read_from") == 1, (name, hops)


def test_a_chunk_that_left_the_page_cache_comes_from_the_pool_and_the_rest_from_memory(
        server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not _answers_nowait(tmp_path):
        pytest.skip(f"{tmp_path}'s file system does not answer RWF_NOWAIT reads (e.g. tmpfs): every read goes to the pool")
    data = os.urandom(9 * CHUNK_SIZE)  # more than two pool batches of chunks
    client = server.client()
    client.pfs.create_repo("data")
    client.pfs.put_file("data@master", "/nine", data)
    assert client.pfs.get_file("data@master:/nine") == data  # verified, and in the page cache
    app = server._threaded.app  # noqa: SLF001 - the in-process server: its storage and pool
    first = app.storage.file_pieces(app.storage.reader(_ref()).get_entry("/nine").chunks)[0]
    fd = os.open(Path(server.data_dir) / "packs" / f"{first.pack:06d}.pack", os.O_RDONLY)
    try:
        os.posix_fadvise(fd, first.offset, first.size, os.POSIX_FADV_DONTNEED)  # clean pages: dropped
        try:
            os.preadv(fd, [bytearray(4096)], first.offset, os.RWF_NOWAIT)
            pytest.skip("the kernel kept the chunk's pages cached")
        except BlockingIOError:
            pass
    finally:
        os.close(fd)
    hops: list[str] = []
    submit = app.runtime.pool.submit
    monkeypatch.setattr(app.runtime.pool, "submit",
                        lambda fn, *a, **k: hops.append(getattr(fn, "__name__", "?")) or submit(fn, *a, **k))
    assert client.pfs.get_file("data@master:/nine") == data
    assert hops.count("read_from") == 1, hops  # the first batch from the disk, then from memory again


def _ref() -> Any:
    from pachmagic.server.storage import CommitRef, RepoKey

    return CommitRef(RepoKey("default", "data"), "master")
