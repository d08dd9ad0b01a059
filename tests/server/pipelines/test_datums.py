"""Datum planning over real commits: globs, cross/union/join/group/cron, IDs and hashes."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Iterator

import pytest

from pachmagic.pachyderm.datums import Datum, plan
from pachmagic.pachyderm.spec import parse_pipeline_spec
from pachmagic.server.pipelines.planner import CommitSource as Source
from pachmagic.server.pipelines.spec import default_input
from pachmagic.server.storage import CommitRef, RepoKey, Storage


def commit(storage: Storage, repo: str, files: dict[str, str]) -> Source:
    key = RepoKey("default", repo)
    try:
        storage.inspect_repo(key)
    except Exception:  # noqa: BLE001 - first commit creates the repo
        storage.create_repo(key)
    session = storage.write_session()
    for path, text in files.items():
        session.add(path, text.encode())
    info = storage.apply(CommitRef(key, branch="master"), session)
    return Source(storage.reader(CommitRef(key, id=info.key.id)), info.key.id)


def datums(node: dict, sources: dict[str, Source]) -> list[Datum]:
    request = parse_pipeline_spec(json.dumps({"pipeline": {"name": "p"}, "input": node}))
    default_input(request.input, "default", "p")
    return plan(request.input, sources)


def paths(ds: list[Datum]) -> list[tuple[str, ...]]:
    return sorted(tuple(f"{i.name}:{i.path}" for i in d.inputs) for d in ds)


def go_datum_id(*inputs: tuple[str, str, str, str]) -> str:
    """``common.DatumID`` written out: name, repo, branch, path, each followed by its int64-BE length."""
    h = hashlib.blake2b(digest_size=32)
    for fields in inputs:
        for text in fields:
            h.update(text.encode())
            h.update(struct.pack(">q", len(text.encode())))
    return h.hexdigest()


def test_pfs_globs(storage: Storage) -> None:
    src = commit(storage, "photos", {"/a.png": "a", "/b.png": "b", "/dir/c.png": "c", "/dir/sub/d.txt": "d"})
    s = {"photos": src}
    assert paths(datums({"pfs": {"repo": "photos", "glob": "/"}}, s)) == [("photos:/",)]
    assert paths(datums({"pfs": {"repo": "photos", "glob": "/*"}}, s)) == [
        ("photos:/a.png",), ("photos:/b.png",), ("photos:/dir/",)]
    assert paths(datums({"pfs": {"repo": "photos", "glob": "/*/*"}}, s)) == [("photos:/dir/c.png",), ("photos:/dir/sub/",)]
    assert paths(datums({"pfs": {"repo": "photos", "glob": "/**"}}, s)) == [
        ("photos:/a.png",), ("photos:/b.png",), ("photos:/dir/",), ("photos:/dir/c.png",), ("photos:/dir/sub/",),
        ("photos:/dir/sub/d.txt",)]
    assert paths(datums({"pfs": {"repo": "photos", "glob": "/{a,dir}*"}}, s)) == [("photos:/a.png",), ("photos:/dir/",)]
    assert paths(datums({"pfs": {"repo": "photos", "glob": "/[!a]*.png"}}, s)) == [("photos:/b.png",)]
    assert paths(datums({"pfs": {"repo": "photos", "glob": "/?.png"}}, s)) == [("photos:/a.png",), ("photos:/b.png",)]
    assert paths(datums({"pfs": {"repo": "photos", "glob": "/**/*.txt"}}, s)) == [("photos:/dir/sub/d.txt",)]
    named = datums({"pfs": {"repo": "photos", "glob": "/a*", "name": "pics"}}, {"pics": src})
    assert paths(named) == [("pics:/a.png",)]


def test_empty_commit_has_no_datums_even_for_root_glob(storage: Storage) -> None:
    storage.create_repo(RepoKey("default", "empty"))
    info = storage.apply(CommitRef(RepoKey("default", "empty"), branch="master"), storage.write_session())
    src = Source(storage.reader(CommitRef(RepoKey("default", "empty"), id=info.key.id)), info.key.id)
    assert datums({"pfs": {"repo": "empty", "glob": "/"}}, {"empty": src}) == []
    assert datums({"pfs": {"repo": "empty", "glob": "/*"}}, {"empty": src}) == []


def test_ids_follow_pachyderms_formula_and_hashes_follow_content(storage: Storage) -> None:
    one = commit(storage, "photos", {"/a.png": "a"})
    (d,) = datums({"pfs": {"repo": "photos", "glob": "/*"}}, {"photos": one})
    assert d.id == go_datum_id(("photos", "photos", "master", "/a.png"))
    h = hashlib.blake2b(d.id.encode(), digest_size=32)
    h.update(d.inputs[0].hash)
    h.update(b"salt")
    assert d.hash("salt") == h.hexdigest()
    assert d.hash("other") != d.hash("salt")
    two = commit(storage, "photos", {"/a.png": "changed"})
    (d2,) = datums({"pfs": {"repo": "photos", "glob": "/*"}}, {"photos": two})
    assert d2.id == d.id and d2.hash("salt") != d.hash("salt")


def test_cross_union_and_nesting(storage: Storage) -> None:
    s = {"a": commit(storage, "a", {"/1": "", "/2": ""}), "b": commit(storage, "b", {"/x": "", "/y": "", "/z": ""})}
    cross = datums({"cross": [{"pfs": {"repo": "b", "glob": "/*"}}, {"pfs": {"repo": "a", "glob": "/*"}}]}, s)
    assert len(cross) == 6
    # pachd sorts by the names a spec gives, before it defaults them: unnamed inputs keep their order.
    assert all([i.name for i in d.inputs] == ["b", "a"] for d in cross)
    assert cross[0].id == go_datum_id(*((i.name, i.repo, i.branch, i.path) for i in cross[0].inputs))
    union = datums({"union": [{"pfs": {"repo": "a", "glob": "/*"}}, {"pfs": {"repo": "b", "glob": "/*"}}]}, s)
    assert paths(union) == [("a:/1",), ("a:/2",), ("b:/x",), ("b:/y",), ("b:/z",)]
    # A union of overlapping inputs yields each datum once (merged by datum ID).
    dup = datums({"union": [{"pfs": {"repo": "a", "glob": "/*"}}, {"pfs": {"repo": "a", "glob": "/1"}}]}, s)
    assert paths(dup) == [("a:/1",), ("a:/2",)]
    nested = datums({"cross": [{"union": [{"pfs": {"repo": "a", "glob": "/1"}}, {"pfs": {"repo": "a", "glob": "/2"}}]},
                               {"pfs": {"repo": "b", "glob": "/"}}]}, s)
    assert paths(nested) == [("a:/1", "b:/"), ("a:/2", "b:/")]


def test_join_inner_and_outer(storage: Storage) -> None:
    s = {
        "left": commit(storage, "left", {"/1.txt": "", "/2.txt": "", "/3.txt": ""}),
        "right": commit(storage, "right", {"/1.json": "", "/2.json": "", "/2.yaml": "", "/4.json": ""}),
    }
    left = {"pfs": {"repo": "left", "glob": "/(*).txt", "join_on": "$1"}}
    right = {"pfs": {"repo": "right", "glob": "/(*).*", "join_on": "$1"}}
    inner = datums({"join": [left, right]}, s)
    assert paths(inner) == [("left:/1.txt", "right:/1.json"), ("left:/2.txt", "right:/2.json"),
                            ("left:/2.txt", "right:/2.yaml")]
    assert {i.join_on for d in inner for i in d.inputs} == {"1", "2"}
    outer_left = datums({"join": [dict(left, pfs=dict(left["pfs"], outer_join=True)), right]}, s)
    assert ("left:/3.txt",) in paths(outer_left) and ("right:/4.json",) not in paths(outer_left)
    both = datums({"join": [dict(left, pfs=dict(left["pfs"], outer_join=True)),
                            dict(right, pfs=dict(right["pfs"], outer_join=True))]}, s)
    assert paths(both) == [("left:/1.txt", "right:/1.json"), ("left:/2.txt", "right:/2.json"),
                           ("left:/2.txt", "right:/2.yaml"), ("left:/3.txt",), ("right:/4.json",)]


def test_group(storage: Storage) -> None:
    s = {
        "sales": commit(storage, "sales", {"/2023-01-a.csv": "", "/2023-01-b.csv": "", "/2023-02-a.csv": ""}),
        "notes": commit(storage, "notes", {"/2023-01.md": "", "/2024-01.md": ""}),
    }
    groups = datums({"group": [
        {"pfs": {"repo": "sales", "glob": "/(*)-(*)-*.csv", "group_by": "$1-$2"}},
        {"pfs": {"repo": "notes", "glob": "/(*).md", "group_by": "$1"}},
    ]}, s)
    # Unnamed children keep the spec's order: "sales" files come first in a group.
    assert [i.name for i in max(groups, key=lambda d: len(d.inputs)).inputs] == ["sales", "sales", "notes"]
    assert sorted(tuple(sorted(p)) for p in paths(groups)) == [
        ("notes:/2023-01.md", "sales:/2023-01-a.csv", "sales:/2023-01-b.csv"),
        ("notes:/2024-01.md",),
        ("sales:/2023-02-a.csv",),
    ]
    by_key = {frozenset(i.group_by for i in d.inputs): len(d.inputs) for d in groups}
    assert by_key == {frozenset({"2023-01"}): 3, frozenset({"2023-02"}): 1, frozenset({"2024-01"}): 1}


def test_cron_inputs_are_the_repo_with_glob_star(storage: Storage) -> None:
    src = commit(storage, "p_tick", {"/2024-01-01T00:00:00Z": "", "/2024-01-01T00:00:10Z": ""})
    ds = datums({"cron": {"name": "tick", "spec": "@every 10s", "repo": "p_tick"}}, {"tick": src})
    assert paths(ds) == [("tick:/2024-01-01T00:00:00Z",), ("tick:/2024-01-01T00:00:10Z",)]


def test_many_files_give_distinct_sorted_datums(storage: Storage) -> None:
    src = commit(storage, "many", {f"/f{i:05d}": "" for i in range(3000)})
    ds = datums({"pfs": {"repo": "many", "glob": "/*"}}, {"many": src})
    assert len(ds) == 3000 and len({d.id for d in ds}) == 3000
    assert [d.id for d in ds] == sorted(d.id for d in ds)


# Datum IDs a genuine pachd 2.12.2 gave (tests/realpachd -workers, ListDatum), for the same
# repos, files and specs: the order of inputs inside a datum is part of its ID.
LOGS = {"/a-1.log": "", "/a-2.log": "", "/a-3.log": "", "/b-1.log": "", "/c-9.log": ""}


def test_cross_order_is_pachds(storage: Storage) -> None:
    s = {"logs": commit(storage, "logs", LOGS), "params": commit(storage, "params", {"/x": ""})}
    (unnamed,) = datums({"cross": [{"pfs": {"repo": "params", "glob": "/*"}}, {"pfs": {"repo": "logs", "glob": "/b-1.log"}}]}, s)
    assert [i.name for i in unnamed.inputs] == ["params", "logs"]
    assert unnamed.id == "03c5e79e2c353ce3c65779b1e8cd4403aa331a9464c72a582d454b74aefe1c31"
    s = {"zz": s["logs"], "aa": s["params"]}
    named = datums({"cross": [{"pfs": {"repo": "logs", "glob": "/*", "name": "zz"}},
                              {"pfs": {"repo": "params", "glob": "/*", "name": "aa"}}]}, s)
    assert all([i.name for i in d.inputs] == ["aa", "zz"] for d in named)
    by_path = {d.inputs[1].path: d.id for d in named}
    assert by_path["/b-1.log"] == "7f27991895d34e677ba5bce1386571a2afa9ffa001789d98d90ca32db03305ad"


def test_group_members_come_in_datum_id_order(storage: Storage) -> None:
    s = {"logs": commit(storage, "logs", LOGS)}
    groups = {d.inputs[0].group_by: d for d in datums({"group": [{"pfs": {"repo": "logs", "glob": "/(*)-*.log", "group_by": "$1"}}]}, s)}
    assert [i.path for i in groups["a"].inputs] == ["/a-3.log", "/a-2.log", "/a-1.log"]
    assert groups["a"].id == "d89ecec54b8db8259452a2b4674e7b54f721848149bc35789bdf0b1ff4cf067d"
    assert groups["b"].id == "6ec5a322ae468a20d2a86375361277241b3bf02143f87f517a2da5cbbfb5248d"


# --- planning's speed work leaves its results alone (#19) ---------------------------------


class _FileInfoSource:
    """A source yielding GlobFile's ``FileInfo`` for every match (what planning read before #19)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.commit = source.commit

    def glob(self, pattern: str) -> Iterator[object]:
        return iter(self.source.reader.glob(pattern))

    def is_empty(self) -> bool:
        return self.source.is_empty()


@pytest.mark.parametrize("glob", ["/*", "/**", "/a/*", "/", "/*/*.txt"])
def test_planning_from_tree_entries_gives_the_datums_of_fileinfos(storage: Storage, glob: str) -> None:
    # Planning reads files as tree entries (no FileInfo per file): the same datums,
    # inputs, IDs and hashes as from GlobFile's FileInfos, for files and directories.
    src = commit(storage, "in", {"/a/x.txt": "1", "/a/y": "22", "/b.txt": "333", "/c/d/e.txt": "4", "/top": ""})
    node = {"pfs": {"repo": "in", "glob": glob}}
    fast, slow = datums(node, {"in": src}), datums(node, {"in": _FileInfoSource(src)})  # type: ignore[dict-item]
    assert fast == slow and fast
    assert [d.hash("salt") for d in fast] == [d.hash("salt") for d in slow]
    assert [m.path for m in src.reader.glob(glob)] == [m.path for m in src.reader.glob_matches(glob)]


def test_a_datums_hash_is_the_formula_for_one_input_and_many(storage: Storage) -> None:
    # The one-input shortcut hashes the same bytes as the general loop: ID, input hashes, salt.
    a, b = commit(storage, "a", {"/x": "1"}), commit(storage, "b", {"/y": "2"})
    one = datums({"pfs": {"repo": "a", "glob": "/*"}}, {"a": a})[0]
    two = datums({"cross": [{"pfs": {"repo": "a", "glob": "/*"}}, {"pfs": {"repo": "b", "glob": "/*"}}]},
                 {"a": a, "b": b})[0]
    for d in (one, two):
        h = hashlib.blake2b(d.id.encode(), digest_size=32)
        for item in d.inputs:
            h.update(item.hash)
        h.update(b"salt")
        assert d.hash("salt") == h.hexdigest()
    assert one.id == go_datum_id(("a", "a", "master", "/x"))


def test_the_collector_is_paused_only_while_planning() -> None:
    import gc
    import threading

    from pachmagic.server.pipelines.planner import _collector_paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with _collector_paused():
            assert not gc.isenabled()
            raise RuntimeError("a planner fails")
    assert gc.isenabled()  # back on after an error too
    # Two planners on two threads: the collector is back on when the last one is done.
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with _collector_paused():
            entered.set()
            release.wait(30)

    thread = threading.Thread(target=other)
    thread.start()
    assert entered.wait(30)
    with _collector_paused():
        pass
    assert not gc.isenabled()  # the other planner is still at work
    release.set()
    thread.join(30)
    assert gc.isenabled()
    # An application that turned the collector off keeps it off.
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
