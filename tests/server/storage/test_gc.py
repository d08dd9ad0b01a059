"""``pachmagic gc``: deleted data's space comes back; nothing live is lost, even on a crash."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from pachmagic.cli import main as cli
from pachmagic.errors import DataLoss, FailedPrecondition
from pachmagic.server.storage import CommitRef, RepoKey, Storage
from pachmagic.server.storage import gc as gc_module
from pachmagic.server.storage.chunks import CHUNK_SIZE
from pachmagic.server.storage.gc import gc_data_dir
from tests.server.storage.helpers import parts, put, read

MiB = 1024 * 1024


def blob(seed: str, size: int) -> bytes:
    """Bytes without repeats, so that every chunk of them is distinct."""
    return random.Random(seed).randbytes(size)


def pack_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in (data_dir / "packs").glob("*.pack"))


def counts(data_dir: Path) -> tuple[int, int]:
    storage = Storage(data_dir)
    try:
        return (parts(storage).db.one("SELECT COUNT(*) FROM chunks")[0], parts(storage).db.one("SELECT COUNT(*) FROM nodes")[0])
    finally:
        storage.close()


KEPT = {
    "/shared.bin": blob("shared", CHUNK_SIZE + 123),  # also in the deleted repo: must stay
    "/big.bin": blob("kept", 2 * CHUNK_SIZE + 5),  # O_DIRECT-sized chunks
    "/small.txt": b"small and kept",
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A store with one repo to keep, one deleted repo, and overwritten history."""
    data_dir = tmp_path / "data"
    storage = Storage(data_dir)
    try:
        storage.create_repo(RepoKey("default", "kept"))
        storage.create_repo(RepoKey("default", "gone"))
        put(storage, "gone", "master", {"/shared.bin": KEPT["/shared.bin"], "/only.bin": blob("gone", 3 * CHUNK_SIZE)})
        put(storage, "kept", "master", {"/old.bin": blob("old", 2 * CHUNK_SIZE)})
        put(storage, "kept", "master", KEPT, delete=("/old.bin",))
        # The first commit still holds /old.bin; squashing it makes that garbage.
        first = storage.list_commits(RepoKey("default", "kept"))[-1]
        storage.squash_commit(CommitRef(RepoKey("default", "kept"), id=first.key.id))
        storage.delete_repo(RepoKey("default", "gone"))
    finally:
        storage.close()
    return data_dir


def assert_kept_intact(data_dir: Path) -> None:
    storage = Storage(data_dir)
    try:
        for path, data in KEPT.items():
            assert read(storage, "kept", "master", path) == data
        report = storage.fsck()
        assert report.ok, list(report.lines())
    finally:
        storage.close()


def test_gc_reclaims_deleted_data_and_keeps_live_data(data_dir: Path) -> None:
    before = pack_bytes(data_dir)
    dry = gc_data_dir(data_dir, dry_run=True)
    assert pack_bytes(data_dir) == before  # a dry run changes nothing
    assert dry.dead_chunks >= 5 and dry.dead_nodes >= 1

    report = gc_data_dir(data_dir)
    assert (report.dead_chunks, report.dead_nodes) == (dry.dead_chunks, dry.dead_nodes)
    assert counts(data_dir) == (report.live_chunks, report.live_nodes)
    # What was deleted (3 chunks of /only.bin, 2 of /old.bin: 5 x 4 MiB) is gone from disk.
    assert before - pack_bytes(data_dir) >= 5 * CHUNK_SIZE
    assert pack_bytes(data_dir) < sum(len(d) for d in KEPT.values()) + 2 * MiB  # live data and alignment only
    assert_kept_intact(data_dir)

    again = gc_data_dir(data_dir)  # nothing left to collect
    assert (again.dead_chunks, again.dead_nodes, again.reclaimed_bytes) == (0, 0, 0)
    packs = sorted((data_dir / "packs").glob("*.pack"))
    assert all(p.stat().st_size for p in packs[:-1])  # only the pack being appended to may be empty

    # The store carries on: new writes, including content that was collected.
    storage = Storage(data_dir)
    try:
        storage.create_repo(RepoKey("default", "gone"))
        only = blob("gone", 3 * CHUNK_SIZE)
        put(storage, "gone", "master", {"/only.bin": only})
        assert read(storage, "gone", "master", "/only.bin") == only
        assert storage.fsck().ok
    finally:
        storage.close()


def test_gc_refuses_while_a_server_holds_the_directory(data_dir: Path) -> None:
    storage = Storage(data_dir)
    try:
        with pytest.raises(FailedPrecondition, match="in use by another pachmagic server"):
            gc_data_dir(data_dir)
        result = CliRunner().invoke(cli, ["gc", "--data-dir", str(data_dir)])
        assert result.exit_code == 1
        assert "stop it first" in result.output
    finally:
        storage.close()


@pytest.mark.parametrize("crash_at", ["switch", "remove"])
def test_a_crash_mid_way_loses_nothing(data_dir: Path, crash_at: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Die (an exception standing in for the process dying) after the copy and
    before the switch, or after the switch and before the old packs go: the
    next start finds a consistent store either way, and a later gc finishes."""

    class Crash(Exception):
        pass

    def crash(*args: object, **kwargs: object) -> None:
        raise Crash()

    if crash_at == "switch":
        monkeypatch.setattr(gc_module.DiskPacks, "sync", lambda self, locations=(): (_ for _ in ()).throw(Crash()))
    else:
        monkeypatch.setattr(gc_module.DiskPacks, "remove", crash)
    with pytest.raises(Crash):
        gc_data_dir(data_dir)
    monkeypatch.undo()
    assert_kept_intact(data_dir)  # the next start trims what the crash left unreferenced
    if crash_at == "remove":
        assert [p for p in (data_dir / "packs").glob("*.pack") if not p.stat().st_size]
    gc_data_dir(data_dir)
    assert_kept_intact(data_dir)
    assert gc_data_dir(data_dir).dead_chunks == 0
    packs = sorted((data_dir / "packs").glob("*.pack"))
    assert all(p.stat().st_size for p in packs[:-1])  # the trimmed-empty packs are gone too


def test_a_damaged_store_is_left_alone(data_dir: Path) -> None:
    storage = Storage(data_dir)
    try:
        row = parts(storage).db.one("SELECT root FROM commits WHERE root IS NOT NULL")
        parts(storage).db.execute("DELETE FROM nodes WHERE id = ?", (row[0],))
    finally:
        storage.close()
    before = (pack_bytes(data_dir), counts(data_dir))
    with pytest.raises(DataLoss, match="nothing was collected"):
        gc_data_dir(data_dir)
    assert (pack_bytes(data_dir), counts(data_dir)) == before


def test_cli_reports_what_it_reclaimed(data_dir: Path) -> None:
    runner = CliRunner()
    dry = runner.invoke(cli, ["gc", "--data-dir", str(data_dir), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[0].startswith("would remove ")
    done = runner.invoke(cli, ["gc", "--data-dir", str(data_dir)])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].startswith("removed ") and lines[1].startswith("reclaimed ")
    missing = runner.invoke(cli, ["gc", "--data-dir", str(data_dir / "nope")])
    assert missing.exit_code == 1 and "holds no pachmagic data" in missing.output
