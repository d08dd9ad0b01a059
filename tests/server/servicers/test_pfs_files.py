"""File behaviour through real gRPC with pachmagic's client (and raw stubs where it has no call).

Adds (bytes, local file, URL from a loopback HTTP server), deletes of files and
directories, copies across repos and commits, append vs overwrite, GetFile with
offsets and globs, GetFileTAR, listings with pagination, walks, globs, diffs,
implicit directories, collisions, hashes, and reads of open commits.
"""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
from pathlib import Path
from typing import Any, Iterator

import grpc
import pytest

from pachmagic._proto import pfs_pb2, pfs_pb2_grpc
from pachmagic.errors import FailedPrecondition, InvalidArgument, NotFound
from pachmagic.server import LocalServer


@pytest.fixture
def client(server: LocalServer) -> Any:
    with server.client() as c:
        c.pfs.create_repo("data")
        yield c


@pytest.fixture
def stub(server: LocalServer) -> Iterator[Any]:
    with grpc.insecure_channel(server.address) as channel:
        yield pfs_pb2_grpc.APIStub(channel)


@pytest.fixture
def http_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "hello.txt").write_bytes(b"from the web\n" * 1000)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def file_pb(path: str, branch: str = "master", repo: str = "data") -> pfs_pb2.File:
    return pfs_pb2.File(
        commit=pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=pfs_pb2.Repo(name=repo, type="user"), name=branch)), path=path
    )


def paths(items: Any) -> list[str]:
    return [i.path for i in items]


def test_sources_bytes_local_file_and_url(client: Any, stub: Any, tmp_path: Path, http_url: str) -> None:
    local = tmp_path / "local.bin"
    local.write_bytes(bytes(range(256)) * 100)
    client.pfs.put_file("data@master", "/bytes", b"raw")
    client.pfs.put_file_from_path("data@master", "/local", local)
    url = pfs_pb2.AddFile(path="/web.txt", url=pfs_pb2.AddFile.URLSource(URL=f"{http_url}/hello.txt"))
    stub.ModifyFile(iter([pfs_pb2.ModifyFileRequest(set_commit=file_pb("/").commit), pfs_pb2.ModifyFileRequest(add_file=url)]))
    assert client.pfs.get_file("data@master:/bytes") == b"raw"
    assert client.pfs.get_file("data@master:/local") == local.read_bytes()
    assert client.pfs.get_file("data@master:/web.txt") == b"from the web\n" * 1000
    bad = pfs_pb2.AddFile(path="/x", url=pfs_pb2.AddFile.URLSource(URL="ftp://example/x"))
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModifyFile(iter([pfs_pb2.ModifyFileRequest(set_commit=file_pb("/").commit), pfs_pb2.ModifyFileRequest(add_file=bad)]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_overwrite_append_delete_and_directories(client: Any) -> None:
    client.pfs.put_files("data@master", {"/log": b"a", "/dir/x": b"1", "/dir/sub/y": b"2", "/keep": b"k"})
    client.pfs.put_file("data@master", "/log", b"b", append=True)
    assert client.pfs.get_file("data@master:/log") == b"ab"
    client.pfs.put_file("data@master", "/log", b"c")
    assert client.pfs.get_file("data@master:/log") == b"c"
    assert paths(client.pfs.list_file("data@master:/")) == ["/dir/", "/keep", "/log"]
    assert client.pfs.inspect_file("data@master:/dir").type == "dir"
    assert client.pfs.inspect_file("data@master:/dir").size_bytes == 2
    client.pfs.delete_file("data@master", "/dir/sub/")  # a trailing "/" deletes a directory
    assert paths(client.pfs.walk_file("data@master:/dir")) == ["/dir/", "/dir/x"]
    client.pfs.delete_file("data@master", "/dir")  # without "/": a file of that name (none), as in pachd
    assert paths(client.pfs.walk_file("data@master:/dir")) == ["/dir/", "/dir/x"]
    client.pfs.delete_file("data@master", "/dir/")
    client.pfs.delete_file("data@master", "/log")
    assert paths(client.pfs.walk_file("data@master:/")) == ["/", "/keep"]


def test_collisions_and_path_rules(client: Any) -> None:
    client.pfs.put_file("data@master", "/a", b"file")
    with pytest.raises(InvalidArgument, match=r"path collision \(/a/b\)"):
        client.pfs.put_file("data@master", "/a/b", b"under a file")
    client.pfs.put_file("data@master", "/d/e", b"")
    with pytest.raises(InvalidArgument, match=r"path collision \(/d\)"):
        client.pfs.put_file("data@master", "/d", b"over a directory")
    with pytest.raises(InvalidArgument, match=r"globbing character \(\*\) not allowed in path"):
        client.pfs.put_file("data@master", "/x*", b"")
    assert paths(client.pfs.walk_file("data@master:/")) == ["/", "/a", "/d/", "/d/e"]


def test_copy_file_and_tree_across_repos_and_commits(client: Any) -> None:
    client.pfs.create_repo("src")
    client.pfs.put_files("src@master", {"/t/a": b"A", "/t/s/b": b"B", "/one": b"1"})
    old = client.pfs.inspect_commit("src@master").id
    client.pfs.put_file("src@master", "/one", b"changed")
    client.pfs.copy_file(f"src@{old}:/one", "data@master:/copied")
    client.pfs.copy_file("src@master:/t", "data@master:/tree")
    assert client.pfs.get_file("data@master:/copied") == b"1"
    assert paths(client.pfs.walk_file("data@master:/tree")) == ["/tree/", "/tree/a", "/tree/s/", "/tree/s/b"]
    client.pfs.copy_file("src@master:/one", "data@master:/copied", append=True)
    assert client.pfs.get_file("data@master:/copied") == b"1changed"
    with pytest.raises(NotFound):
        client.pfs.copy_file("src@master:/missing", "data@master:/x")


def test_get_file_offset_glob_and_errors(client: Any, stub: Any) -> None:
    client.pfs.put_files("data@master", {"/d/one.txt": b"0123456789", "/d/two.csv": b"a,b", "/d/three.csv": b"c"})
    assert client.pfs.get_file("data@master:/d/one.txt", offset=4) == b"456789"
    assert client.pfs.get_file("data@master:/d/one.txt", offset=99) == b""
    assert client.pfs.get_file("data@master:/d/*.txt") == b"0123456789"
    with pytest.raises(FailedPrecondition, match="^matched multiple files. Use GetFileTAR instead$"):
        client.pfs.get_file("data@master:/d/*.csv")
    with pytest.raises(FailedPrecondition, match="^cannot get directory or non-regular file. Use GetFileTAR instead$"):
        client.pfs.get_file("data@master:/d")
    with pytest.raises(NotFound, match="^file /nope not found in repo default/data at commit $"):
        client.pfs.get_file("data@master:/nope")
    tar = b"".join(m.value for m in stub.GetFileTAR(pfs_pb2.GetFileRequest(file=file_pb("/d"))))
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        assert {m.name: archive.extractfile(m).read() for m in archive.getmembers()} == {  # type: ignore[union-attr]
            "/d/one.txt": b"0123456789", "/d/three.csv": b"c", "/d/two.csv": b"a,b"}  # absolute, as pachd


def test_list_file_is_lexicographic_and_paginated(client: Any, stub: Any) -> None:
    names = ["/b", "/a", "/c/x", "/a0", "/B", "/c0"]
    client.pfs.put_files("data@master", {n: n.encode() for n in names})
    assert paths(client.pfs.list_file("data@master:/")) == ["/B", "/a", "/a0", "/b", "/c/", "/c0"]

    def page(marker: str, number: int, reverse: bool = False) -> list[str]:
        request = pfs_pb2.ListFileRequest(file=file_pb("/"), number=number, reverse=reverse)
        if marker:
            request.paginationMarker.CopyFrom(file_pb(marker))
        return [f.file.path for f in stub.ListFile(request)]

    assert page("", 2) == ["/B", "/a"]
    assert page("/a", 2) == ["/a0", "/b"]
    assert page("/b", 10) == ["/c/", "/c0"]
    assert page("/c/", 10) == ["/c0"]
    assert page("", 2, reverse=True) == ["/c0", "/c/"]
    assert page("/c/", 2, reverse=True) == ["/b", "/a0"]


def test_walk_glob_diff_and_hashes(client: Any) -> None:
    client.pfs.put_files("data@master", {"/x/1.png": b"p", "/x/2.jpg": b"j", "/y/3.png": b"p"})
    assert paths(client.pfs.glob_file("data@master", "/*/*.png")) == ["/x/1.png", "/y/3.png"]
    assert paths(client.pfs.glob_file("data@master", "/*")) == ["/x/", "/y/"]
    assert paths(client.pfs.glob_file("data@master", "/**")) == ["/x/", "/x/1.png", "/x/2.jpg", "/y/", "/y/3.png"]
    a, b = client.pfs.inspect_file("data@master:/x/1.png"), client.pfs.inspect_file("data@master:/y/3.png")
    assert a.hash == b.hash and len(a.hash) == 64
    client.pfs.put_files("data@master", {"/x/2.jpg": b"changed", "/z": b"new"})
    client.pfs.delete_file("data@master", "/y/")
    diff = client.pfs.diff_file("data@master:/", "data@master^^:/")
    assert [(d.op, d.path) for d in diff] == [("~", "/x/2.jpg"), ("-", "/y/3.png"), ("+", "/z")]
    assert [(d.op, d.path) for d in client.pfs.diff_file("data@master:/")] == [("-", "/y/3.png")]


def test_open_commit_reads_see_pending_writes(client: Any) -> None:
    client.pfs.put_file("data@master", "/old", b"o")
    with client.pfs.commit("data@master") as commit:
        commit.put_file("/new", b"n")
        assert paths(client.pfs.list_file(f"data@{commit.id}:/")) == ["/new", "/old"]
        assert client.pfs.get_file("data@master:/new") == b"n"
        commit.delete_file("/old")
        assert paths(client.pfs.list_file("data@master:/")) == ["/new"]
    assert client.pfs.inspect_commit("data@master").finished is not None


@pytest.mark.parametrize("messages", [1, 3, 5000])  # 5000: more than one batch reaches the pool before the end
def test_a_write_to_a_finished_commit_or_missing_repo_fails_and_records_nothing(
    client: Any, stub: Any, messages: int
) -> None:
    """set_commit's check runs with the first batch (one thread hop per short stream): same errors, nothing applied."""
    with client.pfs.commit("data@master") as commit:
        commit.put_file("/kept", b"kept")
    finished = client.pfs.inspect_commit("data@master").commit
    target = pfs_pb2.Commit(id=finished.id, branch=pfs_pb2.Branch(repo=pfs_pb2.Repo(name="data", type="user"), name="master"))
    adds = [pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path=f"/new{i}", raw={"value": b"x"})) for i in range(messages)]
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModifyFile(iter([pfs_pb2.ModifyFileRequest(set_commit=target), *adds]))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION, caught.value.details()
    assert "already finished" in (caught.value.details() or "")
    missing = pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=pfs_pb2.Repo(name="nope", type="user"), name="master"))
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModifyFile(iter([pfs_pb2.ModifyFileRequest(set_commit=missing), *adds]))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND, caught.value.details()
    assert paths(client.pfs.list_file("data@master:/")) == ["/kept"]
    assert [r.repo.name for r in client.pfs.list_repo()] == ["data"]
