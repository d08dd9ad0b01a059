"""Contract tests of the two object stores, each bound to both implementations.

Packs (``MemoryPacks``/``DiskPacks``) are append-only byte stores; node stores
(``MemoryNodeStore``/``SqliteNodeStore``) hold immutable content-addressed tree
nodes and verify every read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import pytest

from pachmagic.errors import DataLoss, FailedPrecondition
from pachmagic.server.storage import Storage
from pachmagic.server.storage.chunks import DiskPacks, MemoryPacks, Packs
from pachmagic.server.storage.db import Database
from pachmagic.server.storage.nodes import SqliteNodeStore
from pachmagic.server.storage.tree import MemoryNodeStore, NodeStore


@pytest.fixture(params=["memory", "disk"])
def packs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Packs]:
    if request.param == "memory":
        yield MemoryPacks()
        return
    disk = DiskPacks(tmp_path / "packs", max_size=1024)
    yield disk
    disk.close()


@pytest.fixture(params=["memory", "sqlite"])
def nodes(request: pytest.FixtureRequest) -> NodeStore:
    return MemoryNodeStore() if request.param == "memory" else SqliteNodeStore(Database(None))


def test_packs_append_read_and_sizes(packs: Packs) -> None:
    assert packs.sizes() == {}
    locations = [packs.append(bytes([i]) * 600) for i in range(4)]
    packs.sync()
    for i, (pack, offset) in enumerate(locations):
        assert packs.read(pack, offset, 600) == bytes([i]) * 600
    assert sum(packs.sizes().values()) == 2400


def test_packs_trim_cuts_back_to_the_indexed_end(packs: Packs) -> None:
    pack, offset = packs.append(b"a" * 100)
    packs.append(b"b" * 50)
    assert packs.trim({pack: offset + 100}) == 50
    assert packs.sizes()[pack] == 100
    pack2, offset2 = packs.append(b"c" * 10)  # appending continues after the cut
    assert packs.read(pack2, offset2, 10) == b"c" * 10


def test_node_store_roundtrip_is_idempotent(nodes: NodeStore) -> None:
    data = b'["L",[]]'
    node_id = hashlib.sha256(data).digest()
    nodes.put_nodes({node_id: data})
    nodes.put_nodes({node_id: data})
    assert nodes.get_node(node_id) == data


def test_node_store_verifies_reads(nodes: NodeStore) -> None:
    node_id = hashlib.sha256(b"real").digest()
    nodes.put_nodes({node_id: b"forged"})
    with pytest.raises(DataLoss):
        nodes.get_node(node_id)
    with pytest.raises(DataLoss):
        nodes.get_node(b"\0" * 32)


def test_one_server_per_data_directory(tmp_path: Path) -> None:
    first = Storage(tmp_path)
    with pytest.raises(FailedPrecondition, match="in use by another pachmagic server"):
        Storage(tmp_path)
    first.close()
    Storage(tmp_path).close()  # the lock goes with the store


@pytest.mark.parametrize("where", ["tmp_path", "dev_shm"])
def test_large_appends_use_o_direct_where_allowed_and_read_back(where: str, tmp_path: Path) -> None:
    """Large chunks go through O_DIRECT (aligned, padded) or, where the file
    system refuses it (tmpfs), through buffered writes; either way they read back
    byte for byte, interleaved with small buffered appends."""
    if where == "dev_shm":
        if not Path("/dev/shm").is_dir():
            pytest.skip("no /dev/shm on this machine")
        import tempfile

        base = Path(tempfile.mkdtemp(dir="/dev/shm"))
    else:
        base = tmp_path
    disk = DiskPacks(base / "packs")
    try:
        small = b"s" * 100
        big = bytes(range(256)) * (5 * 4096 + 7)  # over 1 MiB, not a multiple of 4096
        first = disk.append(small)
        second = disk.append_parts([memoryview(big[:1000]), memoryview(big[1000:])])
        third = disk.append(small)
        disk.sync()
        assert disk.read(*first, len(small)) == small
        assert disk.read(*second, len(big)) == big
        assert disk.read(*third, len(small)) == small
        if disk._direct:  # noqa: SLF001 - which path ran is what this test is about
            assert second[1] % 4096 == 0
        assert third[1] >= second[1] + len(big)
    finally:
        disk.close()
        if where == "dev_shm":
            import shutil

            shutil.rmtree(base, ignore_errors=True)


def _big(seed: int) -> bytes:
    return hashlib.sha256(bytes([seed])).digest() * (40_000 + seed)  # over 1 MiB, unaligned


def test_queued_o_direct_writes_keep_order_across_roll_over_and_small_appends(tmp_path: Path) -> None:
    """Most large chunks are written by the background writer; whatever the
    interleaving with small appends, reads and pack roll-over, every chunk reads
    back and nothing overlaps."""
    disk = DiskPacks(tmp_path / "packs", max_size=6 * 1024 * 1024)
    try:
        written = []
        for i in range(12):
            data = _big(i)
            written.append((disk.append_parts([memoryview(data)]), data))
            if i % 4 == 3:
                small = bytes([i]) * 10
                written.append((disk.append(small), small))
            if i == 6:
                (pack, offset), data = written[-1]
                assert disk.read(pack, offset, len(data)) == data  # read before the sync
        disk.sync([loc for loc, _ in written])
        for (pack, offset), data in written:
            assert disk.read(pack, offset, len(data)) == data
        spans = sorted((pack, offset, offset + len(data)) for (pack, offset), data in written)
        assert all(a[0] != b[0] or a[2] <= b[1] for a, b in zip(spans, spans[1:]))
        assert len({pack for pack, _, _ in spans}) > 1  # rolled over
    finally:
        disk.close()


def test_a_failed_background_write_fails_only_its_own_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk error in the writer thread (injected: ENOSPC on one write) is raised
    by the sync of the change that wrote there, never by another change's sync,
    and its chunk is never indexed."""
    import errno
    import os as real_os

    from pachmagic.server.storage import packs as packs_module
    from pachmagic.server.storage.chunks import ChunkStore

    store = ChunkStore(Database(None), DiskPacks(tmp_path / "packs"))
    first, second = store.writer(), store.writer()
    first.put(_big(1))  # the in-line O_DIRECT probe write
    doomed: list[int] = []
    real_pwrite = real_os.pwrite

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        if offset in doomed:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(packs_module.os, "pwrite", pwrite)
    disk = store.packs
    assert isinstance(disk, DiskPacks)
    doomed.append(-(-disk._size // 4096) * 4096)  # noqa: SLF001 - the next large chunk's offset
    bad_id = first.put(_big(2))
    good_id = second.put(_big(3))
    if not disk._direct:  # noqa: SLF001
        pytest.skip("this file system refuses O_DIRECT: no background writes")
    rows = second.finish()
    assert [row[0] for row in rows] == [good_id]
    with pytest.raises(OSError, match="No space left"):
        first.finish()
    for row in rows:
        store.db.execute("INSERT INTO chunks (id, pack, offset, size) VALUES (?, ?, ?, ?)", row)
    assert store.read(good_id) == _big(3)
    assert store.location(bad_id) is None
    disk.close()
