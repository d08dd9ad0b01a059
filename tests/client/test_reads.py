"""Recorded reads and locked resolution (``pachmagic.client.reads``) on real servers.

Every file read of a client given a ``ReadRecorder`` is recorded with the commit
it read, and under a lock reads the pinned commit whatever the branch did since.
Each test runs on the embedded server and on the reference pachd.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import fsspec
import pandas as pd
import pytest

from pachmagic.client import Client
from pachmagic.client.lockfile import DataLock, RefKey
from pachmagic.client.reads import ReadRecorder, RefNotLocked


@pytest.fixture
def notes() -> list[str]:
    return []


@pytest.fixture
def rec(notes: list[str]) -> ReadRecorder:
    return ReadRecorder(notify=notes.append)


@pytest.fixture(params=["embedded", "reference"])
def address(request: pytest.FixtureRequest) -> str:
    """Our embedded server, or a genuine pachd 2.12.2 (locks need only PFS)."""
    if request.param == "embedded":
        return str(request.getfixturevalue("pach_server").address)
    return str(request.getfixturevalue("real_pachd").address)


@pytest.fixture
def reader(address: str, rec: ReadRecorder) -> Iterator[Client]:
    """A recording client (writes through it are not reads, so set-up is not recorded)."""
    with Client(address, recorder=rec) as client:
        yield client


def _commit(client: Client, branch: str, files: dict[str, bytes]) -> str:
    with client.pfs.commit(branch) as c:
        c.put_files(files)
    client.pfs.wait_commit(f"{c.commit.repo}@{c.id}")  # pachd finishes commits asynchronously
    return c.id


def test_every_kind_of_read_is_recorded_with_its_commit(reader: Client, rec: ReadRecorder) -> None:
    reader.pfs.create_repo("data")
    first = _commit(reader, "data@master", {"/a.csv": b"x\n1\n", "/d/b.txt": b"b"})
    assert rec.reads == []  # writing is not reading
    reader.pfs.get_file("data@master:/a.csv")
    with reader.pfs.open_file("data@master:/a.csv") as handle:
        handle.read()
    b"".join(reader.pfs.iter_file("data@master:/d/b.txt"))
    reader.pfs.inspect_file("data@master:/a.csv")
    reader.pfs.list_file("data@master:/d")
    reader.pfs.walk_file("data@master:/")
    reader.pfs.glob_file("data@master", "/*.csv")
    reader.pfs.diff_file("data@master:/", "data@master:/")
    seen = {(r.written, r.commit, r.path, r.op) for r in rec.reads}
    assert seen == {
        ("data@master", first, "/a.csv", "get"),
        ("data@master", first, "/d/b.txt", "get"),
        ("data@master", first, "/a.csv", "inspect"),
        ("data@master", first, "/d", "list"),
        ("data@master", first, "/", "walk"),
        ("data@master", first, "/*.csv", "glob"),
        ("data@master", first, "/", "diff"),
    }
    frame = rec.to_frame()
    assert list(frame.columns) == ["ref", "project", "repo", "commit", "locked", "paths", "ops", "reads"]
    assert frame.loc[0, "ref"] == "data@master" and frame.loc[0, "commit"] == first
    assert frame.loc[0, "ops"] == "diff,get,glob,inspect,list,walk"


def test_a_locked_read_reads_the_pinned_commit_and_says_once_what_moved(
    reader: Client, rec: ReadRecorder, notes: list[str], tmp_path: Path
) -> None:
    reader.pfs.create_repo("data")
    first = _commit(reader, "data@master", {"/a.csv": b"x\n1\n"})
    assert reader.pfs.get_file("data@master:/a.csv") == b"x\n1\n"
    path = rec.save(tmp_path / "nb.pachlock.json")
    _commit(reader, "data@master", {"/a.csv": b"x\n2\n"})
    latest = _commit(reader, "data@master", {"/a.csv": b"x\n3\n", "/new.csv": b"n"})
    rec.use(path)
    assert reader.pfs.get_file("data@master:/a.csv") == b"x\n1\n"
    assert [i.path for i in reader.pfs.list_file("data@master")] == ["/a.csv"]
    assert notes == [f"data@master is 2 commits ahead of the lock; reading {first}"]
    # Without the lock, and through a client that does not record, the branch is as it is.
    assert reader.unrecorded().pfs.get_file("data@master:/a.csv") == b"x\n3\n"
    rec.use(None)
    assert reader.pfs.get_file("data@master:/a.csv") == b"x\n3\n"
    assert {r.commit for r in rec.reads} == {first, latest}
    assert rec.to_lock().get(RefKey("default", "data", "user", "master")).later_commits == (latest,)  # type: ignore[union-attr]


def test_pfs_urls_read_through_the_lock(reader: Client, rec: ReadRecorder, notes: list[str]) -> None:
    reader.pfs.create_repo("data")
    first = _commit(reader, "data@master", {"/a.csv": b"x\n1\n2\n"})
    assert len(pd.read_csv(fsspec.open("pfs://data@master/a.csv", client=reader).open())) == 2
    lock = rec.to_lock()
    rec.clear()
    _commit(reader, "data@master", {"/a.csv": b"x\n1\n2\n3\n"})
    rec.use(lock)
    assert len(pd.read_csv(fsspec.open("pfs://data@master/a.csv", client=reader).open())) == 2
    # pfs:// pins the commit it found for the rest of the read: one read, not two.
    assert [(r.written, r.commit, r.op) for r in rec.reads] == [("data@master", first, "inspect")]
    assert notes == [f"data@master is 1 commit ahead of the lock; reading {first}"]


def test_ancestry_and_pinned_refs(reader: Client, rec: ReadRecorder, notes: list[str]) -> None:
    reader.pfs.create_repo("data")
    first = _commit(reader, "data@master", {"/a": b"1"})
    second = _commit(reader, "data@master", {"/a": b"2"})
    assert reader.pfs.get_file("data@master^:/a") == b"1"
    assert reader.pfs.get_file(f"data@{second}:/a") == b"2"
    lock = rec.to_lock()
    assert {str(k): e.commit for k, e in lock.entries.items()} == {
        "default/data@master^": first, f"default/data@{second}": second,
    }
    _commit(reader, "data@master", {"/a": b"3"})
    rec.use(lock)
    assert reader.pfs.get_file("data@master^:/a") == b"1"   # master^ is now the second commit
    assert reader.pfs.get_file(f"data@{second}:/a") == b"2"
    assert notes == [f"data@master^ is 1 commit ahead of the lock; reading {first}"]


def test_a_branch_reset_elsewhere_or_deleted(reader: Client, rec: ReadRecorder, notes: list[str]) -> None:
    reader.pfs.create_repo("data")
    first = _commit(reader, "data@master", {"/a": b"1"})
    reader.pfs.get_file("data@master:/a")
    reader.pfs.create_branch("data@other")
    other = _commit(reader, "data@other", {"/a": b"other"})
    reader.pfs.create_branch("data@dev", head=f"data@{first}")
    reader.pfs.get_file("data@dev:/a")
    lock = rec.to_lock()
    reader.pfs.create_branch("data@master", head=f"data@{other}")   # master now on another line
    reader.pfs.delete_branch("data@dev")
    rec.use(lock)
    assert reader.pfs.get_file("data@master:/a") == b"1"
    assert reader.pfs.get_file("data@dev:/a") == b"1"
    assert notes == [
        f"data@master has moved to {other}, which does not descend from the locked commit; reading {first}",
        f"data@dev no longer exists; reading the locked commit {first}",
    ]
    drifts = {str(d.key): d for d in reader.pfs.check_lock(lock)}
    assert drifts["default/data@master"].status == "diverged"
    assert drifts["default/data@dev"].status == "missing"
    assert drifts["default/data@master"].line() == (
        f"default/data@master has moved to {other}, which does not descend from the locked commit {first}"
    )


def test_refs_outside_the_lock_read_live_or_fail_when_strict(
    reader: Client, rec: ReadRecorder, notes: list[str]
) -> None:
    reader.pfs.create_repo("data")
    _commit(reader, "data@master", {"/a": b"1"})
    reader.pfs.get_file("data@master:/a")
    lock = rec.to_lock()
    reader.pfs.create_branch("data@dev", head="data@master")
    dev = _commit(reader, "data@dev", {"/a": b"dev"})
    rec.use(lock)
    assert reader.pfs.get_file("data@dev:/a") == b"dev"
    assert reader.pfs.get_file("data@dev:/a") == b"dev"
    assert notes == [f"data@dev is not in the lock; reading its current commit {dev}"]
    rec.use(lock, strict=True)
    with pytest.raises(RefNotLocked) as info:
        reader.pfs.list_file("data@dev")
    assert info.value.code == "FAILED_PRECONDITION"
    assert "data@dev is not in the lock" in str(info.value)
    assert reader.pfs.get_file("data@master:/a") == b"1"


def test_check_lock_reports_each_ref(reader: Client, rec: ReadRecorder) -> None:
    reader.pfs.create_repo("data")
    first = _commit(reader, "data@master", {"/a": b"1", "/b": b"2"})
    reader.pfs.get_file("data@master:/a")
    reader.pfs.get_file(f"data@{first}:/b")
    lock = rec.to_lock()
    assert [d.status for d in reader.pfs.check_lock(lock)] == ["pinned", "same"]
    newest = _commit(reader, "data@master", {"/a": b"2"})
    drift = [d for d in reader.pfs.check_lock(lock) if d.key.ref == "master"][0]
    assert (drift.status, drift.ahead, drift.current) == ("ahead", 1, newest)
    assert drift.line() == f"default/data@master is 1 commit ahead of the lock ({first} → {newest})"
    assert len(rec.reads) == 2  # checking recorded nothing


def test_the_unrecorded_twin_shares_connection_and_project(reader: Client, rec: ReadRecorder) -> None:
    reader.pfs.create_project("other")
    twin = reader.unrecorded()
    assert twin.recorder is None and reader.recorder is rec
    reader.project = "other"
    assert twin.project == "other"
    twin.pfs.create_repo("data")
    _commit(twin, "data@master", {"/a": b"1"})
    assert twin.pfs.get_file("data@master:/a") == b"1"
    assert rec.reads == []
    twin.close()  # does not close the shared connection
    assert reader.pfs.get_file("other/data@master:/a") == b"1"
    assert rec.reads[0].key == RefKey("other", "data", "user", "master")


def test_a_lock_saved_from_one_session_reads_the_same_in_another(address: str, tmp_path: Path) -> None:
    """The lock file is the only thing shared: a fresh recorder and client read what the first read."""
    first_rec = ReadRecorder(notify=lambda _: None)
    with Client(address, recorder=first_rec) as one:
        one.pfs.create_repo("data")
        _commit(one, "data@master", {"/a": b"then"})
        then = one.pfs.get_file("data@master:/a")
        path = first_rec.save(tmp_path / "lock.json")
        _commit(one, "data@master", {"/a": b"now"})
    second_rec = ReadRecorder(notify=lambda _: None)
    second_rec.use(DataLock.load(path))
    with Client(address, recorder=second_rec) as two:
        assert two.pfs.get_file("data@master:/a") == then
        assert second_rec.to_lock().dumps() == DataLock.load(path).dumps()
