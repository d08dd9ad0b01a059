"""PFS behaviour through real gRPC with pachmagic's client: projects, repos, branches, commits.

Files are in ``test_pfs_files.py``; the same semantics through pachyderm-sdk in
``test_pfs_sdk.py``. Error classes are gRPC codes and texts are pachd 2.12's, as
the conformance corpus (tests/conformance) measured them: pachd answers UNKNOWN
for bad input and refused operations, NOT_FOUND / ALREADY_EXISTS otherwise.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pachmagic.errors import AlreadyExists, FailedPrecondition, NotFound, Unknown
from pachmagic.server import LocalServer


@pytest.fixture
def client(server: LocalServer) -> Any:
    with server.client() as c:
        yield c


def test_projects(client: Any) -> None:
    assert [p.name for p in client.pfs.list_project()] == ["default"]
    client.pfs.create_project("research", description="lab")
    assert client.pfs.inspect_project("research").description == "lab"
    with pytest.raises(AlreadyExists, match="^project research already exists$"):
        client.pfs.create_project("research")
    client.pfs.create_project("research", description="new", update=True)
    assert client.pfs.inspect_project("research").description == "new"
    with pytest.raises(NotFound, match='^project "nope" not found$'):
        client.pfs.inspect_project("nope")
    with pytest.raises(Unknown, match="must start with an alphanumeric"):
        client.pfs.create_project("_x")
    client.pfs.create_repo("research/data")
    with pytest.raises(FailedPrecondition):
        client.pfs.delete_project("research")
    client.pfs.delete_project("research", force=True)
    assert [p.name for p in client.pfs.list_project()] == ["default"]


def test_repos_description_types_projects_size(client: Any) -> None:
    client.pfs.create_repo("photos", description="raw")
    with pytest.raises(AlreadyExists, match="^repo default/photos already exists$"):
        client.pfs.create_repo("photos")
    client.pfs.create_repo("photos", description="cooked", update=True)
    assert client.pfs.inspect_repo("photos").description == "cooked"
    with pytest.raises(Unknown, match="invalid repo type"):
        client.pfs.create_repo("a.b")  # "b" is read as the repo type (system repos are name.type)
    with pytest.raises(NotFound, match="^repo default/nope not found$"):
        client.pfs.inspect_repo("nope")
    client.pfs.create_repo("photos.spec")  # a system repo, shown only when asked
    assert [r.name for r in client.pfs.list_repo()] == ["photos"]
    assert sorted((r.name, r.type) for r in client.pfs.list_repo(type=None)) == [("photos", "spec"), ("photos", "user")]
    client.pfs.create_project("other")
    client.pfs.create_repo("other/photos")
    assert [r.project for r in client.pfs.list_repo(all_projects=True)] == ["default", "other"]
    client.pfs.put_files("photos@master", {"/a": b"12345", "/b/c": b"678"})
    client.pfs.put_files("photos@dev", {"/big": b"x" * 1000})
    assert client.pfs.inspect_repo("photos").size_bytes == 8  # the master head only
    assert client.pfs.delete_repo("photos") is True
    assert client.pfs.delete_repo("photos") is False  # pachd does not fail
    assert [r.name for r in client.pfs.list_repo(type=None)] == []


def test_delete_repo_in_provenance_needs_force(client: Any) -> None:
    client.pfs.create_repo("up")
    client.pfs.create_repo("down")
    client.pfs.create_branch("down@master", provenance=["up@master"])
    with pytest.raises(Unknown, match='^branch "default/up@master" cannot be deleted because it'):
        client.pfs.delete_repo("up")
    assert client.pfs.delete_repo("up", force=True)
    assert client.pfs.inspect_branch("down@master").direct_provenance == ()


def test_branches_heads_provenance_subvenance(client: Any) -> None:
    client.pfs.create_repo("a")
    client.pfs.create_repo("b")
    client.pfs.put_file("a@master", "/1", b"1")
    first = client.pfs.inspect_commit("a@master").id
    client.pfs.put_file("a@master", "/2", b"2")
    client.pfs.create_branch("a@old", head=f"a@{first}")
    assert client.pfs.inspect_branch("a@old").head == first
    client.pfs.create_branch("b@master", provenance=["a@master"])
    assert client.pfs.inspect_branch("a@master").subvenance == ("default/b@master",)
    assert client.pfs.inspect_branch("b@master").provenance == ("default/a@master",)
    with pytest.raises(Unknown, match="^parent commit default/b@.* has not been finished$"):
        client.pfs.start_commit("b@master")  # pachd checks the open output head before the branch kind
    assert sorted(b.name for b in client.pfs.list_branch("a")) == ["master", "old"]
    with pytest.raises(Unknown, match=r"cannot be deleted because it's in the direct provenance of"):
        client.pfs.delete_branch("a@master")
    client.pfs.delete_branch("a@old")
    with pytest.raises(NotFound, match='^branch "old" not found in repo default/a$'):
        client.pfs.inspect_branch("a@old")
    assert len(client.pfs.list_commit("a")) >= 2  # commits outlive their branch


def test_commit_lifecycle_parent_description_error(client: Any) -> None:
    client.pfs.create_repo("r")
    c1 = client.pfs.start_commit("r@master", description="first")
    with pytest.raises(Unknown, match="has not been finished"):
        client.pfs.start_commit("r@master")
    client.pfs.put_file(c1, "/f", b"v1")
    client.pfs.finish_commit(c1, description="first, done")
    info = client.pfs.inspect_commit(f"r@{c1.id}")
    # pachd names no branch in CommitInfo.commit (tests/conformance), so neither do we
    assert (info.description, info.state, info.branch, info.origin) == ("first, done", "finished", None, "USER")
    with pytest.raises(Unknown, match=rf"^commit default/r@{c1.id} has already finished$"):
        client.pfs.put_file(f"r@{c1.id}", "/g", b"")
    c2 = client.pfs.start_commit("r@feature", parent=f"r@{c1.id}")
    client.pfs.finish_commit(c2, error="bad data")
    info2 = client.pfs.inspect_commit("r@feature")
    assert info2.parent == c1.id and info2.error == "bad data"
    assert client.pfs.get_file("r@feature:/f") == b"v1"


def test_inspect_commit_waits(client: Any) -> None:
    client.pfs.create_repo("r")
    commit = client.pfs.start_commit("r@master")
    threading.Timer(0.3, lambda: client.pfs.finish_commit(commit)).start()
    assert client.pfs.inspect_commit(commit, wait="finished").finished is not None
    assert client.pfs.inspect_commit(commit, wait="started").id == commit.id


def test_list_commit_filters_and_ancestry(client: Any) -> None:
    client.pfs.create_repo("r")
    ids = []
    for i in range(5):
        client.pfs.put_file("r@master", f"/f{i}", str(i).encode())
        ids.append(client.pfs.inspect_commit("r@master").id)
    assert [c.id for c in client.pfs.list_commit("r")] == ids[::-1]
    assert [c.id for c in client.pfs.list_commit("r", number=2)] == ids[:2:-1][:2]
    assert [c.id for c in client.pfs.list_commit("r", reverse=True)] == ids
    assert [c.id for c in client.pfs.list_commit("r", origin="AUTO")] == []
    refs = {"master": 4, "master^": 3, "master^3": 1, "master~2": 2, "master.1": 0, "master.3": 2, "master^^": 2}
    for ref, index in refs.items():
        assert client.pfs.inspect_commit(f"r@{ref}").id == ids[index], ref
    assert client.pfs.inspect_commit(f"r@{ids[1]}").id == ids[1]
    assert client.pfs.inspect_commit(f"r@master={ids[1]}").id == ids[1]
    assert client.pfs.get_file(f"r@{ids[4]}~4:/f0") == b"0"
    with pytest.raises(Unknown, match=r"invalid offset for ancestor of commit: default/r\.user@.*, offset requested: 9, offset traversable: 4$"):
        client.pfs.inspect_commit("r@master^9")
    assert client.pfs.inspect_commit("r@master.6").id == ids[4]  # pachd: one past the head is the head
    with pytest.raises(Unknown, match="invalid offset from branch root for head commit: .*, offset: 6, maximum depth: 5$"):
        client.pfs.inspect_commit("r@master.7")
    with pytest.raises(NotFound, match="^commit default/r@0123456789ab4def0123456789abcdef not found$"):
        client.pfs.inspect_commit("r@0123456789ab4def0123456789abcdef")


def test_commit_sets_global_ids_squash_drop(client: Any) -> None:
    client.pfs.create_repo("in")
    client.pfs.create_repo("out")
    client.pfs.create_branch("out@master", provenance=["in@master"])
    client.pfs.put_file("in@master", "/x", b"1")
    set_id = client.pfs.inspect_commit("in@master").id
    # The same id names the downstream (open, AUTO) commit: one commit set.
    out = client.pfs.inspect_commit(f"out@{set_id}")
    assert out.origin == "AUTO" and out.finished is None
    members = client.pfs.inspect_commit_set(set_id)
    assert sorted(c.repo for c in members) == ["in", "out"]
    assert set_id in [sid for sid, _ in client.pfs.list_commit_set()]
    waiter: list[Any] = []
    thread = threading.Thread(target=lambda: waiter.append(client.pfs.inspect_commit_set(set_id, wait=True)))
    thread.start()
    time.sleep(0.2)
    assert not waiter
    client.pfs.finish_commit(f"out@{set_id}", force=True)
    thread.join(10)
    assert all(c.finished is not None for c in waiter[0])
    # Squash needs children; drop works on the heads.
    with pytest.raises(Unknown, match="cannot squash a commit that has no children"):
        client.pfs.squash_commit_set(set_id)
    client.pfs.drop_commit_set(set_id)
    with pytest.raises(NotFound, match=f"^no commits found for commitset {set_id}$"):
        client.pfs.inspect_commit_set(set_id)


def test_squash_keeps_data_in_children(client: Any) -> None:
    client.pfs.create_repo("r")
    client.pfs.put_file("r@master", "/a", b"1")
    middle = client.pfs.inspect_commit("r@master").id
    client.pfs.put_file("r@master", "/b", b"2")
    client.pfs.squash_commit_set(middle)
    head = client.pfs.inspect_commit("r@master")
    assert head.parent is None and len(client.pfs.list_commit("r")) == 1
    assert client.pfs.get_file("r@master:/a") == b"1"
    with pytest.raises(Unknown, match="cannot drop a commit that has children"):
        client.pfs.put_file("r@master", "/c", b"3") or client.pfs.drop_commit_set(head.id)
