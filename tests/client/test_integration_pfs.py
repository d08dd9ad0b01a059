"""``client.pfs`` against both servers (embedded and reference pachd) over real gRPC: every method, plus errors."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pachmagic import errors
from pachmagic.client import Branch, Client, Commit, File, Repo, connect, to_frame
from pachmagic.client._files import Source


@pytest.fixture
def photos(client: Client) -> Client:
    """A client whose server has repo ``photos`` with one commit of two files."""
    client.pfs.create_repo("photos", description="pictures")
    files: dict[str, Source] = {"/a.txt": b"alpha", "/dir/b.txt": "beta"}
    client.pfs.put_files("photos@master", files)
    return client


def test_version_and_cluster(client: Client) -> None:
    version = client.version()
    assert version.major == 2 and str(version).startswith(f"{version.major}.{version.minor}.{version.micro}")
    info = client.admin.inspect_cluster()
    assert info.id and info.warnings_ok


def test_projects(client: Client) -> None:
    client.pfs.create_project("images", description="imgs")
    names = [p.name for p in client.pfs.list_project()]
    assert {"default", "images"} <= set(names)
    assert client.pfs.inspect_project("images").description == "imgs"
    assert client.pfs.inspect_project().name == "default"
    client.pfs.create_repo("images/raw")
    client.project = "images"
    assert [r.name for r in client.pfs.list_repo()] == ["raw"]
    assert client.pfs.inspect_repo("raw").project == "images"
    assert {r.project for r in client.pfs.list_repo(all_projects=True)} >= {"images"}
    client.project = "default"
    assert [r.name for r in client.pfs.list_repo(project="images")] == ["raw"]
    # pachd cannot delete a project that still has repos, even with force (its database refuses).
    client.pfs.delete_repo("images/raw")
    client.pfs.delete_project("images")
    with pytest.raises(errors.NotFound):
        client.pfs.inspect_project("images")


def test_repos(client: Client) -> None:
    assert client.pfs.create_repo("photos", description="d") == Repo("photos")
    with pytest.raises(errors.AlreadyExists):
        client.pfs.create_repo("photos")
    client.pfs.create_repo("photos", description="new", update=True)
    info = client.pfs.inspect_repo("photos")
    assert (info.name, info.project, info.type, info.description) == ("photos", "default", "user", "new")
    assert info.created is not None and info.created.tzinfo is not None
    frame = to_frame(client.pfs.list_repo())
    assert frame["name"].tolist() == ["photos"] and frame["size"].dtype == "int64"
    assert client.pfs.delete_repo("photos") is True
    assert client.pfs.delete_repo("photos") is False
    with pytest.raises(errors.NotFound, match="photos"):
        client.pfs.inspect_repo("photos")
    assert len(to_frame(client.pfs.list_repo())) == 0


def test_branches(photos: Client) -> None:
    head = photos.pfs.inspect_branch("photos@master").head
    assert head is not None
    assert photos.pfs.create_branch("photos@dev", head=f"photos@{head}") == Branch(Repo("photos"), "dev")
    assert photos.pfs.inspect_branch("photos@dev").head == head
    photos.pfs.create_repo("derived")
    photos.pfs.create_branch("derived@master", provenance=["photos@master"])
    derived = photos.pfs.inspect_branch("derived@master")
    assert derived.direct_provenance == ("default/photos@master",)
    assert sorted(b.name for b in photos.pfs.list_branch("photos")) == ["dev", "master"]
    assert list(to_frame(photos.pfs.list_branch("photos")).columns) == ["branch", "head", "trigger", "created"]
    photos.pfs.delete_branch("photos@dev")
    with pytest.raises(errors.NotFound):
        photos.pfs.inspect_branch("photos@dev")


def test_commits(photos: Client) -> None:
    commit = photos.pfs.start_commit("photos@master", description="second")
    assert commit.branch == "master" and commit.id and len(commit.id) == 32
    assert photos.pfs.inspect_commit(commit).state == "open"
    photos.pfs.put_file(commit, "/c.txt", b"gamma")
    photos.pfs.finish_commit(commit, description="second!")
    info = photos.pfs.wait_commit(commit)
    assert info.finished is not None and info.description == "second!" and info.origin == "USER"
    assert info.size_bytes == len(b"alphabetagamma")
    history = photos.pfs.list_commit("photos")
    assert [c.id for c in history][0] == commit.id and len(history) == 2
    assert history[0].parent == history[1].id
    assert [c.id for c in photos.pfs.list_commit("photos@master", number=1)] == [commit.id]
    assert [c.id for c in photos.pfs.list_commit("photos", reverse=True)][-1] == commit.id
    assert len(photos.pfs.list_commit("photos", origin="USER")) == 2
    parent = photos.pfs.inspect_commit("photos@master^")
    assert parent.id == history[1].id
    assert photos.pfs.inspect_commit(f"photos@{commit.id}", wait="finished").id == commit.id
    assert [c.repo for c in photos.pfs.inspect_commit_set(commit.id, wait=True)] == ["photos"]
    frame = to_frame(history)
    assert frame["commit"].tolist() == [c.id for c in history]
    assert str(frame["finished"].dtype) == "datetime64[ns, UTC]"


def test_commit_context_manager(photos: Client) -> None:
    with photos.pfs.commit("photos@master", description="ctx") as c:
        c.put_file("/new.txt", b"new")
        c.put_files([("/x/1", b"1"), ("/x/2", io.BytesIO(b"2"))])
        c.delete_file("/a.txt")
        c.copy_file("photos@master^:/a.txt", "/copied.txt")
    info = photos.pfs.inspect_commit(c)
    assert info.finished is not None and info.error == "" and info.description == "ctx"
    names = [f.path for f in photos.pfs.walk_file("photos@master")]
    assert "/a.txt" not in names and {"/new.txt", "/x/1", "/x/2", "/copied.txt"} <= set(names)
    assert photos.pfs.get_file("photos@master:/copied.txt") == b"alpha"

    with pytest.raises(RuntimeError):
        with photos.pfs.commit("photos@master") as failed:
            failed.put_file("/half.txt", b"half")
            raise RuntimeError("upload interrupted")
    errored = photos.pfs.inspect_commit(failed)
    assert errored.error == "RuntimeError: upload interrupted" and errored.finished is not None


def test_file_writes_and_reads(photos: Client, tmp_path: Path) -> None:
    local = tmp_path / "local.bin"
    local.write_bytes(bytes(range(256)) * 100)
    photos.pfs.put_file_from_path("photos@master", "/local.bin", local)
    photos.pfs.put_file("photos@master", "/a.txt", b"+more", append=True)
    photos.pfs.put_file("photos@master", "/empty", b"")
    assert photos.pfs.get_file("photos@master:/a.txt") == b"alpha+more"
    assert photos.pfs.get_file("photos@master:/a.txt", offset=5) == b"+more"
    assert photos.pfs.get_file("photos@master:/empty") == b""
    with photos.pfs.open_file("photos@master:/local.bin") as handle:
        assert handle.read(3) == bytes([0, 1, 2])
        assert len(handle.read()) == 25600 - 3
    out = photos.pfs.get_file_to_path(File.from_uri("photos@master:/local.bin"), tmp_path / "out" / "copy.bin")
    assert out.read_bytes() == local.read_bytes()
    info = photos.pfs.inspect_file("photos@master:/local.bin")
    assert (info.path, info.type, info.size_bytes) == ("/local.bin", "file", 25600) and len(info.hash) == 64
    listing = photos.pfs.list_file("photos@master")
    assert [(f.path, f.type) for f in listing] == [
        ("/a.txt", "file"), ("/dir/", "dir"), ("/empty", "file"), ("/local.bin", "file"),
    ]
    assert [f.path for f in photos.pfs.list_file("photos@master:/dir")] == ["/dir/b.txt"]
    assert listing[0].file.commit.repo == Repo("photos", project="default")
    assert [f.path for f in photos.pfs.glob_file("photos@master", "/*.txt")] == ["/a.txt"]
    assert {f.path for f in photos.pfs.walk_file("photos@master")} >= {"/", "/dir/", "/dir/b.txt"}
    frame = to_frame(listing)
    assert frame["size"].tolist() == [10, 4, 0, 25600]
    photos.pfs.delete_file("photos@master", "/dir/")
    assert photos.pfs.glob_file("photos@master", "/dir/*") == []
    with pytest.raises(errors.NotFound):
        photos.pfs.get_file("photos@master:/dir/b.txt")
    with pytest.raises(errors.NotFound):
        photos.pfs.inspect_file("photos@master:/nope")


def test_one_transfer_is_chosen_for_the_server(photos: Client, any_server: Any) -> None:
    from pachmagic.client._ext import ExtTransfer
    from pachmagic.client._transfer import Transfer

    chosen = photos.pfs._wire()  # noqa: SLF001 - which service the server was given
    assert type(chosen) is (Transfer if any_server.is_real_pachd else ExtTransfer)
    photos.pfs.copy_file("photos@master:/a.txt", "photos@master:/c.txt")
    photos.pfs.delete_file("photos@master", "/a.txt")
    assert photos.pfs.get_file("photos@master:/c.txt") == b"alpha"
    assert [f.path for f in photos.pfs.list_file("photos@master")] == ["/c.txt", "/dir/"]
    assert photos.pfs._wire() is chosen  # noqa: SLF001 - never asked again


def test_uploads_read_the_source_and_report_progress_on_grpcs_sending_thread(photos: Client) -> None:
    """``progress``'s documented thread, and no hand-off per chunk: gRPC's own thread reads the source."""
    import grpc._channel

    def through_grpc() -> bool:
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename != grpc._channel.__file__:
            frame = frame.f_back
        return frame is not None

    seen: list[tuple[str, bool]] = []

    class Parts:
        def __init__(self) -> None:
            self.parts = [b"ab", b"cd"]

        def read(self, size: int) -> bytes:
            seen.append(("read", through_grpc()))
            return self.parts.pop(0) if self.parts else b""

    photos.pfs.put_file("photos@master", "/parts", Parts(), progress=lambda *_: seen.append(("progress", through_grpc())))
    assert photos.pfs.get_file("photos@master:/parts") == b"abcd"
    assert {what for what, _ in seen} == {"read", "progress"}
    assert all(on_grpcs_thread for _, on_grpcs_thread in seen), seen


def test_a_local_file_that_shrinks_during_its_upload_fails_it_and_writes_nothing(photos: Client, tmp_path: Path) -> None:
    """A path is uploaded as its size when its turn came: a file that grows is cut there, one that shrinks fails."""
    from pachmagic.client._files import CHUNK_SIZE

    local = tmp_path / "big.bin"
    local.write_bytes(b"x" * (2 * CHUNK_SIZE + 10))  # three chunks
    with pytest.raises(OSError, match="shrank while it was being uploaded"):
        photos.pfs.put_file_from_path("photos@master", "/big.bin", local,
                                      progress=lambda done, _: os.truncate(local, CHUNK_SIZE + 5))
    with pytest.raises(errors.NotFound):
        photos.pfs.inspect_file("photos@master:/big.bin")
    local.write_bytes(b"y" * (CHUNK_SIZE + 10))

    def grow(done: int, _: int) -> None:
        with open(local, "ab") as handle:
            handle.write(b"z" * 10)

    photos.pfs.put_file_from_path("photos@master", "/big.bin", local, progress=grow)
    assert photos.pfs.get_file("photos@master:/big.bin") == b"y" * (CHUNK_SIZE + 10)


def test_copy_file_and_diff(photos: Client) -> None:
    photos.pfs.create_repo("other")
    photos.pfs.copy_file("photos@master:/dir/b.txt", "other@master:/copy.txt")
    assert photos.pfs.get_file("other@master:/copy.txt") == b"beta"
    photos.pfs.put_files("photos@master", {"/a.txt": b"ALPHA", "/new": b"n"})
    diff = photos.pfs.diff_file("photos@master:/")
    ops = {(d.op, d.path) for d in diff if d.path != "/"}
    assert ("+", "/new") in ops and ("~", "/a.txt") in ops
    assert "op" in to_frame(diff).columns


def test_ancestry_and_ids(photos: Client) -> None:
    first = photos.pfs.inspect_commit("photos@master")
    photos.pfs.put_file("photos@master", "/a.txt", b"v2")
    assert photos.pfs.get_file("photos@master^:/a.txt") == b"alpha"
    assert photos.pfs.get_file(f"photos@{first.id}:/a.txt") == b"alpha"
    assert photos.pfs.get_file(File(Commit(Repo("photos"), "master", first.id), "/a.txt")) == b"alpha"
    assert photos.pfs.get_file("photos@master.1:/a.txt") == b"alpha"


def test_bad_refs_fail_before_any_rpc(client: Client) -> None:
    with pytest.raises(errors.InvalidArgument, match="missing '@'"):
        client.pfs.list_file("photos")
    with pytest.raises(ValueError):
        client.pfs.create_branch("photos@master^2")


def test_delete_all(photos: Client) -> None:
    photos.pfs.delete_all()
    assert photos.pfs.list_repo() == []
    assert to_frame(photos.pfs.list_repo()).shape == (0, 5)


def test_auth_token(server_factory: Any) -> None:
    srv = server_factory(auth_token="tok")
    with connect(srv.address) as anonymous, pytest.raises(errors.Unauthenticated):
        anonymous.pfs.list_repo()
    with connect(srv.address, token="tok") as authed:
        assert authed.pfs.list_repo() == []


def test_interoperates_with_pachyderm_sdk(photos: Client, any_sdk: Any) -> None:
    sdk = any_sdk
    from pachyderm_sdk.api import pfs  # type: ignore[import-untyped,unused-ignore]

    data = b"".join(sdk.pfs.pfs_file(file=pfs.File.from_uri("photos@master:/a.txt")).readlines())
    assert data == b"alpha"
    with sdk.pfs.commit(branch=pfs.Branch.from_uri("photos@master")) as c:
        c.put_file_from_bytes(path="/sdk.txt", data=b"from sdk")
    assert photos.pfs.get_file("photos@master:/sdk.txt") == b"from sdk"
