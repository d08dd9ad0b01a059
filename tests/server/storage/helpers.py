"""Helpers for storage tests: write and read files through ``Storage``'s API."""

from __future__ import annotations

from pachmagic.server.storage import CommitRef, RepoKey, Storage
from pachmagic.server.storage.model import CommitInfo


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

