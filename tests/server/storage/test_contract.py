"""The storage contract, run against the memory and the disk implementation alike.

Immutable objects (chunks, tree nodes) are content-addressed, deduplicated and
verified on read; mutable refs (commit roots, branch heads) change only by
compare-and-swap inside transactions; a change set applies all or nothing; a
one-file commit writes a bounded number of nodes whatever the repo's size.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pachmagic.errors import DataLoss, FailedPrecondition, InvalidArgument, NotFound, Unknown
from pachmagic.server.storage import BranchKey, CommitRef, RepoKey, Storage
from pachmagic.server.storage import chunks
from pachmagic.server.storage.chunks import CHUNK_SIZE, VERIFY_ONCE_MIN
from pachmagic.server.storage.packs import DiskPacks
from tests.server.storage.helpers import corrupt_byte, parts, put, read

REPO = RepoKey("default", "data")


@pytest.fixture
def repo(storage: Storage) -> RepoKey:
    storage.create_repo(REPO)
    return REPO


def chunk_count(storage: Storage) -> int:
    return int(parts(storage).db.one("SELECT COUNT(*) FROM chunks")[0])


def node_count(storage: Storage) -> int:
    return int(parts(storage).db.one("SELECT COUNT(*) FROM nodes")[0])


def test_write_read_roundtrip_across_chunk_boundaries(storage: Storage, repo: RepoKey) -> None:
    big = bytes(range(256)) * (CHUNK_SIZE // 256 * 2 + 3)  # two full chunks and a tail
    put(storage, "data", "master", {"/big": big, "/small": b"hi", "/empty": b""})
    assert read(storage, "data", "master", "/big") == big
    assert read(storage, "data", "master", "/small") == b"hi"
    assert read(storage, "data", "master", "/empty") == b""
    entry = storage.reader(CommitRef(repo, "master")).get_entry("/big")
    assert len(entry.chunks) == 3 and entry.size == len(big)


def test_read_from_offset(storage: Storage, repo: RepoKey) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE // 128)
    put(storage, "data", "master", {"/f": data})
    entry = storage.reader(CommitRef(repo, "master")).get_entry("/f")
    for offset in (0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 5, len(data)):
        assert b"".join(storage.read_chunks(entry.chunks, offset)) == data[offset:]


def test_identical_content_is_stored_once_across_repos_and_commits(storage: Storage, repo: RepoKey) -> None:
    storage.create_repo(RepoKey("default", "other"))
    payload = b"x" * (CHUNK_SIZE + 10)
    put(storage, "data", "master", {"/a": payload})
    before = chunk_count(storage)
    put(storage, "data", "master", {"/b": payload})
    put(storage, "other", "master", {"/c/d": payload})
    put(storage, "other", "dev", {"/e": payload})
    assert chunk_count(storage) == before
    infos = [storage.reader(CommitRef(RepoKey("default", r), b)).inspect(p) for r, b, p in
             [("data", "master", "/a"), ("data", "master", "/b"), ("other", "master", "/c/d"), ("other", "dev", "/e")]]
    assert len({i.hash for i in infos}) == 1


def test_appends_concatenate_and_hash_like_a_single_write(storage: Storage, repo: RepoKey) -> None:
    put(storage, "data", "master", {"/log": b"one\n"})
    put(storage, "data", "master", {"/log": b"two\n"}, append=True)
    assert read(storage, "data", "master", "/log") == b"one\ntwo\n"
    put(storage, "data", "master", {"/same": b"one\ntwo\n"})
    reader = storage.reader(CommitRef(repo, "master"))
    assert reader.inspect("/log").hash == reader.inspect("/same").hash


def test_change_set_is_all_or_nothing(storage: Storage, repo: RepoKey) -> None:
    put(storage, "data", "master", {"/keep": b"1"})
    head = storage.inspect_commit(CommitRef(repo, "master"))
    session = storage.write_session()
    session.add("/new", b"2")
    session.add("/keep/under-a-file", b"3")  # collides with the file /keep
    with pytest.raises(InvalidArgument, match="path collision"):
        storage.apply(CommitRef(repo, "master"), session)
    # No new commit, no partial file.
    assert storage.inspect_commit(CommitRef(repo, "master")).key == head.key
    with pytest.raises(NotFound):
        storage.reader(CommitRef(repo, "master")).inspect("/new")


def test_open_commit_root_changes_only_by_compare_and_swap(storage: Storage, repo: RepoKey) -> None:
    info = storage.start_commit(BranchKey(repo, "master"))
    put(storage, "data", info.key.id, {"/a": b"a"})
    row = storage.resolve(CommitRef(repo, id=info.key.id))
    assert row.root is not None
    with pytest.raises(FailedPrecondition, match="changed during the write"):
        parts(storage).catalog.set_commit_root(row.seq, None, row.root, 1)  # stale expectation
    storage.finish_commit(CommitRef(repo, id=info.key.id))
    with pytest.raises(Unknown, match="has already finished"):  # pachd's code for it
        parts(storage).catalog.set_commit_root(row.seq, row.root, None, 0)
    with pytest.raises(Unknown, match="has already finished"):
        put(storage, "data", info.key.id, {"/b": b"b"})


def test_finished_commits_are_immutable_snapshots(storage: Storage, repo: RepoKey) -> None:
    first = put(storage, "data", "master", {"/f": b"v1"})
    put(storage, "data", "master", {"/f": b"v2"})
    assert read(storage, "data", first.key.id, "/f") == b"v1"
    assert read(storage, "data", "master", "/f") == b"v2"
    assert read(storage, "data", "master^", "/f") == b"v1"


def test_one_file_commit_cost_does_not_grow_with_the_repo(storage: Storage, repo: RepoKey) -> None:
    put(storage, "data", "master", {f"/d{i % 10}/f{i:05d}": b"" for i in range(20000)})
    before = node_count(storage)
    put(storage, "data", "master", {"/d3/new": b"x"})
    # Only the nodes on one root-to-leaf path are new (the tree is 3 levels deep here).
    assert node_count(storage) - before <= 4


def test_corrupt_chunk_is_detected_on_read(storage: Storage, repo: RepoKey) -> None:
    put(storage, "data", "master", {"/f": b"precious bytes"})
    entry = storage.reader(CommitRef(repo, "master")).get_entry("/f")
    pack, offset, _size = parts(storage).chunks.location(entry.chunks[0])  # type: ignore[misc]
    corrupt_byte(storage, pack, offset)
    with pytest.raises(DataLoss, match="failed verification"):
        read(storage, "data", "master", "/f")
    report = storage.fsck()
    assert not report.ok and any("corrupt" in p for p in report.problems)


def test_large_chunks_are_verified_on_their_first_read_small_ones_on_every_read(
        storage: Storage, repo: RepoKey, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guarantee that replaced hashing every read (see ``chunks.py``): each large chunk once per process."""
    big, small = os.urandom(VERIFY_ONCE_MIN + 5), b"small bytes"
    put(storage, "data", "master", {"/big": big, "/small": small})
    hashed: list[int] = []
    real = chunks.chunk_id_of
    monkeypatch.setattr(chunks, "chunk_id_of", lambda data: hashed.append(len(data)) or real(data))
    for _ in range(3):
        assert read(storage, "data", "master", "/big") == big
        assert read(storage, "data", "master", "/small") == small
    assert sorted(hashed) == [len(small)] * 3 + [len(big)]


def test_a_read_locates_each_chunk_once(storage: Storage, repo: RepoKey, monkeypatch: pytest.MonkeyPatch) -> None:
    """One index lookup per chunk read (announcing chunks ahead of the read used to look each up again)."""
    data = os.urandom(CHUNK_SIZE * 2 + 10)
    put(storage, "data", "master", {"/f": data})
    entry = storage.reader(CommitRef(repo, "master")).get_entry("/f")
    store = parts(storage).chunks
    looked_up: list[bytes] = []
    real = store.location
    monkeypatch.setattr(store, "location", lambda chunk_id: looked_up.append(chunk_id) or real(chunk_id))
    assert b"".join(storage.read_chunks(entry.chunks)) == data
    assert looked_up == list(entry.chunks)


def test_only_verified_large_chunks_are_read_without_waiting(storage: Storage, repo: RepoKey) -> None:
    """``read_piece_cached`` (the event loop's read) answers only what needs no hashing and no disk."""
    big, small = os.urandom(VERIFY_ONCE_MIN + 5), b"small bytes"
    put(storage, "data", "master", {"/big": big, "/small": small})
    reader = storage.reader(CommitRef(repo, "master"))
    [big_piece] = storage.file_pieces(reader.get_entry("/big").chunks)
    [small_piece] = storage.file_pieces(reader.get_entry("/small").chunks)
    assert storage.read_piece_cached(big_piece) is None  # not verified yet in this process
    assert read(storage, "data", "master", "/big") == big and read(storage, "data", "master", "/small") == small
    if storage.read_piece_cached(big_piece) is None and isinstance(parts(storage).packs, DiskPacks):
        pytest.skip("this file system does not answer RWF_NOWAIT reads (e.g. tmpfs): every read goes to the pool")
    assert storage.read_piece_cached(big_piece) == big
    assert storage.read_piece_cached(small_piece) is None  # small chunks are hashed on every read
    [skipping] = storage.file_pieces(reader.get_entry("/big").chunks, 3)
    assert storage.read_piece_cached(skipping) is None and storage.read_piece(skipping) == big[3:]


def test_a_large_chunk_damaged_after_its_first_read_is_found_by_the_next_process_and_fsck(tmp_path: Path) -> None:
    store = Storage(tmp_path / "data")
    store.create_repo(REPO)
    big = os.urandom(VERIFY_ONCE_MIN * 2)
    put(store, "data", "master", {"/big": big})
    with pytest.raises(DataLoss, match="failed verification"):  # damaged before the first read: found at once
        entry = store.reader(CommitRef(REPO, "master")).get_entry("/big")
        pack, offset, _size = parts(store).chunks.location(entry.chunks[0])
        corrupt_byte(store, pack, offset)
        read(store, "data", "master", "/big")
    corrupt_byte(store, pack, offset)  # repaired
    assert read(store, "data", "master", "/big") == big
    corrupt_byte(store, pack, offset + 7)  # damaged after the chunk was verified in this process
    assert not store.fsck().ok
    store.close()
    store = Storage(tmp_path / "data")
    try:
        with pytest.raises(DataLoss, match="failed verification"):
            read(store, "data", "master", "/big")
    finally:
        store.close()


def test_corrupt_tree_node_is_detected_on_read(storage: Storage, repo: RepoKey) -> None:
    put(storage, "data", "master", {"/f": b"x"})
    root = storage.resolve(CommitRef(repo, "master")).root
    parts(storage).db.execute("UPDATE nodes SET data = ? WHERE id = ?", (b'["L",[]]', root))
    parts(storage).node_cache._nodes.clear()  # noqa: SLF001 - force a read from the store
    with pytest.raises(DataLoss):
        storage.reader(CommitRef(repo, "master")).inspect("/f")
    assert any("tree node" in p for p in storage.fsck().problems)


def test_fsck_is_clean_on_a_busy_store(storage: Storage, repo: RepoKey) -> None:
    put(storage, "data", "master", {f"/f{i}": hashlib.sha256(str(i).encode()).digest() * i for i in range(300)})
    put(storage, "data", "master", {}, delete=("/f1", "/f2"))
    put(storage, "data", "dev", {"/x/y": b"z" * (CHUNK_SIZE + 1)})
    storage.start_commit(BranchKey(repo, "master"))  # an open commit too
    report = storage.fsck()
    assert report.ok, report.problems
    assert report.counts["commits"] == 4 and report.counts["chunks"] >= 300


def test_fsck_reports_dangling_references(storage: Storage, repo: RepoKey) -> None:
    put(storage, "data", "master", {"/f": b"x"})
    parts(storage).db.execute("UPDATE branches SET head_seq = 999")
    parts(storage).db.execute("DELETE FROM chunks")
    problems = storage.fsck().problems
    assert any("points at missing commit" in p for p in problems)
    assert any("missing chunk" in p for p in problems)


def test_unindexed_pack_tail_is_trimmed(storage: Storage, repo: RepoKey) -> None:
    put(storage, "data", "master", {"/f": b"kept"})
    writer = parts(storage).chunks.writer()
    writer.put(b"z" * (2 * 1024 * 1024))  # written to a pack, never indexed: a crash mid-upload
    writer.finish()
    report = storage.fsck()
    assert report.ok and any("unreferenced pack tail" in n for n in report.notes)
    # The tail is the unindexed chunk, plus the alignment padding of a chunk
    # written with O_DIRECT (disk packs on file systems that allow it).
    assert 2 * 1024 * 1024 <= parts(storage).chunks.recover() < 2 * 1024 * 1024 + 2 * 4096
    assert read(storage, "data", "master", "/f") == b"kept"
    assert storage.fsck().notes == []
