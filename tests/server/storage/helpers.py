"""Helpers for storage tests: write and read files through ``Storage``'s API, and look inside it.

``Storage`` keeps its parts (database, catalog, chunk store, packs, node cache)
private; storage's own white-box tests reach them through ``parts`` and damage
them with ``corrupt_byte``, and nothing else does.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from pachmagic.server.storage import CommitRef, RepoKey, Storage
from pachmagic.server.storage.model import CommitInfo
from pachmagic.server.storage.packs import DiskPacks, MemoryPacks


def parts(storage: Storage) -> Any:
    """The private parts of ``storage``: ``db``, ``catalog``, ``chunks``, ``packs``, ``node_cache``."""
    return SimpleNamespace(
        db=storage._db, catalog=storage._catalog, chunks=storage._chunks,  # noqa: SLF001 - white-box tests
        packs=storage._packs, node_cache=storage._node_cache,  # noqa: SLF001
    )


def corrupt_byte(storage: Storage, pack: int, offset: int) -> None:
    """Flip one stored byte (tests of verification and fsck)."""
    packs = parts(storage).packs
    if isinstance(packs, MemoryPacks):
        packs._data[offset] ^= 0xFF  # noqa: SLF001
        return
    assert isinstance(packs, DiskPacks)
    fd = os.open(packs._path(pack), os.O_RDWR)  # noqa: SLF001
    try:
        byte = os.pread(fd, 1, offset)
        os.pwrite(fd, bytes([byte[0] ^ 0xFF]), offset)
    finally:
        os.close(fd)


def put(
    storage: Storage,
    repo: str,
    ref: str,
    files: dict[str, bytes],
    *,
    delete: tuple[str, ...] = (),
    append: bool = False,
) -> CommitInfo:
    """Write ``files`` to ``repo@ref`` in one atomic change (overwriting unless ``append``)."""
    session = storage.write_session()
    for path in delete:
        session.delete(path)
    for path, data in files.items():
        if not append:
            session.delete(path)
        session.add(path, data)
    key = RepoKey("default", repo)
    target = CommitRef(key, id=ref) if len(ref) == 32 else CommitRef(key, ref)
    return storage.apply(target, session)


def read(storage: Storage, repo: str, ref: str, path: str) -> bytes:
    entry = storage.reader(CommitRef(RepoKey("default", repo), ref)).get_entry(path)
    return b"".join(storage.read_chunks(entry.chunks))

