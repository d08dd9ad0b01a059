"""A datum slot's host directory: each datum's input laid out, the next one staged while a datum runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pachmagic.pachyderm.datums import Datum, DatumInput
from pachmagic.server.pipelines import slot as slot_module
from pachmagic.server.pipelines.slot import Slot
from pachmagic.server.storage import CommitRef, RepoKey, Storage


def commit(storage: Storage, repo: str, files: dict[str, bytes]) -> str:
    key = RepoKey("default", repo)
    storage.create_repo(key)
    session = storage.write_session()
    for path, data in files.items():
        session.add(path, data)
    return storage.apply(CommitRef(key, branch="master"), session).key.id


def datum(datum_id: str, *shares: tuple[str, str, str], empty: bool = False) -> Datum:
    """A datum of (input name, commit, path) shares of repo ``in``."""
    return Datum(datum_id, tuple(DatumInput(name, "default", "in", "master", c, path, b"", path.endswith("/"), 0,
                                            empty_files=empty) for name, c, path in shares))


def tree(directory: Path) -> dict[str, bytes]:
    found = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = Path(root, name)
            found["/" + str(path.relative_to(directory))] = path.read_bytes()
    return found


def make_slot(storage: Storage, tmp_path: Path) -> Slot:
    readers = {}

    def reader(project: str, repo: str, repo_type: str, commit_id: str):  # type: ignore[no-untyped-def]
        key = (project, repo, repo_type, commit_id)
        if key not in readers:
            readers[key] = storage.reader(CommitRef(RepoKey(project, repo, repo_type), id=commit_id))
        return readers[key]

    return Slot(tmp_path / "slot0", storage, reader)


FILES = {"/a": b"A", "/dir/b": b"BB", "/dir/sub/c": b"CCC", "/big": b"x" * 1000}


@pytest.mark.parametrize("staged", [False, True])
def test_each_datum_sees_exactly_its_own_input(storage: Storage, tmp_path: Path, staged: bool) -> None:
    c = commit(storage, "in", FILES)
    slot = make_slot(storage, tmp_path)
    sequence = [datum("1", ("in", c, "/dir/")), datum("2", ("in", c, "/a")),
                datum("3", ("in", c, "/a"), ("in", c, "/dir/sub/")),  # two shares of one input: one directory
                datum("4", ("left", c, "/a"), ("right", c, "/dir/b")), datum("5", ("in", c, "/big"), empty=True)]
    expected = [({"in": {"/dir/b": b"BB", "/dir/sub/c": b"CCC"}}, 5),
                ({"in": {"/a": b"A"}}, 1),
                ({"in": {"/a": b"A", "/dir/sub/c": b"CCC"}}, 4),
                ({"left": {"/a": b"A"}, "right": {"/dir/b": b"BB"}}, 3),
                ({"in": {"/big": b""}}, 0)]
    for index, (d, (want, size)) in enumerate(zip(sequence, expected)):
        if staged and index:
            slot.stage(d)  # as while the previous datum's command runs
        mounts, total, staging_s = slot.materialize(d)
        (mounts["out"] / "left-over").write_text("from the command")  # the next datum must not see it
        assert list(mounts) == [*want, "out"]
        assert {name: tree(mounts[name]) for name in want} == want
        assert sorted(os.listdir(slot.path)) == sorted([*want, "out"])
        assert total == size and (staging_s > 0) == (staged and index > 0)
    mounts, _, _ = slot.materialize(sequence[1])
    assert tree(mounts["out"]) == {} and tree(mounts["in"]) == {"/a": b"A"}


def test_the_slot_directories_are_the_same_from_datum_to_datum(storage: Storage, tmp_path: Path) -> None:
    # The sandbox worker keeps its mounts while the directories are the same ones (device and inode).
    c = commit(storage, "in", FILES)
    slot = make_slot(storage, tmp_path)
    first, _, _ = slot.materialize(datum("1", ("in", c, "/a")))
    before = {name: os.stat(path).st_ino for name, path in first.items()}
    slot.stage(datum("2", ("in", c, "/dir/")))
    second, _, _ = slot.materialize(datum("2", ("in", c, "/dir/")))
    assert {name: os.stat(path).st_ino for name, path in second.items()} == before


def test_what_is_staged_is_used_only_by_its_own_datum(storage: Storage, tmp_path: Path) -> None:
    c = commit(storage, "in", FILES)
    slot = make_slot(storage, tmp_path)
    slot.materialize(datum("1", ("in", c, "/a")))
    slot.stage(datum("2", ("in", c, "/dir/")))
    mounts, _, staging_s = slot.materialize(datum("3", ("in", c, "/big")))  # not the staged one
    assert tree(mounts["in"]) == {"/big": b"x" * 1000} and staging_s == 0
    mounts, _, staging_s = slot.materialize(datum("2", ("in", c, "/dir/")))  # staged before datum 3: written afresh
    assert tree(mounts["in"]) == {"/dir/b": b"BB", "/dir/sub/c": b"CCC"} and staging_s == 0
    slot.stage(datum("2", ("in", c, "/dir/")))
    slot.materialize(datum("4", ("in", c, "/big")))  # what was staged for 2 stays unused ...
    slot.stage(datum("5", ("in", c, "/a")))  # ... and is not moved in with the next staged datum
    mounts, _, staging_s = slot.materialize(datum("5", ("in", c, "/a")))
    assert tree(mounts["in"]) == {"/a": b"A"} and staging_s > 0


def test_large_inputs_are_not_staged(storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = commit(storage, "in", FILES)
    slot = make_slot(storage, tmp_path)
    slot.materialize(datum("1", ("in", c, "/a")))
    monkeypatch.setattr(slot_module, "STAGE_MAX_BYTES", 999)
    slot.stage(datum("2", ("in", c, "/big")))
    assert not slot.staging.exists()
    mounts, total, staging_s = slot.materialize(datum("2", ("in", c, "/big")))
    assert tree(mounts["in"]) == {"/big": b"x" * 1000} and total == 1000 and staging_s == 0
    monkeypatch.setattr(slot_module, "STAGE_MAX_FILES", 1)
    slot.stage(datum("3", ("in", c, "/dir/")))
    assert not (slot.staging / "in").exists() or os.listdir(slot.staging / "in") == []


def test_an_input_that_cannot_be_read_is_left_to_its_turn(storage: Storage, tmp_path: Path) -> None:
    c = commit(storage, "in", FILES)
    slot = make_slot(storage, tmp_path)
    slot.materialize(datum("1", ("in", c, "/a")))
    slot.stage(datum("2", ("in", "0" * 32, "/a")))  # no such commit: staging says nothing
    with pytest.raises(Exception):
        slot.materialize(datum("2", ("in", "0" * 32, "/a")))  # its turn reports it
