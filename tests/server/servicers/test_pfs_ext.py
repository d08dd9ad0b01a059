"""``pachmagic_ext``: the batched framing gives exactly what the standard RPCs give.

Our client uses the extension only when the server advertises it; these tests
run each operation both ways against one server and compare.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from google.protobuf import wrappers_pb2

from pachmagic._proto import admin_pb2, admin_pb2_grpc, pachmagic_ext_pb2, pfs_pb2
from pachmagic.client._columns import ColumnarList
from pachmagic.client._ext import ExtTransfer
from pachmagic.client._transfer import Transfer
from pachmagic.errors import InvalidArgument, NotFound, Unknown
from pachmagic.server import LocalServer


@pytest.fixture
def both(server: LocalServer) -> tuple[Any, Any]:
    fast, plain = server.client(), server.client()
    plain.pfs._transfer = Transfer(plain.pfs._t)  # noqa: SLF001 - force the standard RPCs
    assert isinstance(fast.pfs._wire(), ExtTransfer)  # noqa: SLF001 - chosen for our server
    fast.pfs.create_repo("data")
    files = {f"/dir{i % 3}/f{i:03d}.txt": f"content {i}".encode() for i in range(40)}
    files["/top.bin"] = b"\0" * 10
    fast.pfs.put_files("data@master", files)
    return fast, plain


def records(items: Any) -> list[tuple[Any, ...]]:
    return [(i.path, i.type, i.size_bytes, i.hash, i.commit_id, i.repo, i.committed) for i in items]


@pytest.mark.parametrize("path", ["/", "/dir1", "/dir1/", "/top.bin"])
def test_list_file_matches_standard_rpc(both: tuple[Any, Any], path: str) -> None:
    fast, plain = both
    got = fast.pfs.list_file(f"data@master:{path}")
    assert isinstance(got, ColumnarList)
    assert records(got) == records(plain.pfs.list_file(f"data@master:{path}"))
    assert got.to_frame().equals(plain.pfs.list_file(f"data@master:{path}").to_frame())


def test_walk_and_glob_match_standard_rpc(both: tuple[Any, Any]) -> None:
    fast, plain = both
    assert records(fast.pfs.walk_file("data@master:/")) == records(plain.pfs.walk_file("data@master:/"))
    for pattern in ("/dir*/f00?.txt", "/**", "/nothing*"):
        assert records(fast.pfs.glob_file("data@master", pattern)) == records(plain.pfs.glob_file("data@master", pattern))


def test_columnar_list_behaves_like_a_list(both: tuple[Any, Any]) -> None:
    fast, _ = both
    listing = fast.pfs.list_file("data@master:/dir0")
    assert len(listing) == 14 and bool(listing)
    frame = listing.to_frame()  # from the columns, before any record exists
    assert list(frame["name"])[:2] == ["/dir0/f000.txt", "/dir0/f003.txt"]
    assert listing[0].path == "/dir0/f000.txt" and listing[-1].path == "/dir0/f039.txt"
    assert [i.path for i in reversed(listing)][0] == "/dir0/f039.txt"
    listing.sort(key=lambda i: i.size_bytes)
    assert listing == sorted(listing, key=lambda i: i.size_bytes)
    assert listing[0] in listing


def test_uploads_match_and_errors_are_the_same(both: tuple[Any, Any]) -> None:
    fast, plain = both
    fast.pfs.put_files("data@fast", {"/a": b"1", "/b/c": b"2"})
    plain.pfs.put_files("data@plain", {"/a": b"1", "/b/c": b"2"})
    assert records(fast.pfs.walk_file("data@fast:/"))[1:] != []
    assert [(i.path, i.hash) for i in fast.pfs.walk_file("data@fast:/")] == [
        (i.path, i.hash) for i in plain.pfs.walk_file("data@plain:/")
    ]
    for client in (fast, plain):
        with pytest.raises(Unknown, match="globbing character"):
            client.pfs.put_files("data@master", {"/bad*": b""})
        with pytest.raises(NotFound, match="repo default/nope not found"):
            client.pfs.put_files("nope@master", {"/a": b""})
        # pachd lists nothing there; the client says the path is missing (NOT_FOUND), by either transfer
        with pytest.raises(NotFound, match="file /missing not found"):
            client.pfs.list_file("data@master:/missing")

    # Deletes and copies go through the same chosen transfer: same results, same errors.
    for client, branch in ((fast, "fast"), (plain, "plain")):
        client.pfs.copy_file("data@master:/dir1", f"data@{branch}:/copied/")
        client.pfs.delete_file(f"data@{branch}", "/b/")
    assert [(i.path, i.hash) for i in fast.pfs.walk_file("data@fast:/")] == [
        (i.path, i.hash) for i in plain.pfs.walk_file("data@plain:/")
    ]
    failures = []
    for client, branch in ((fast, "fast"), (plain, "plain")):
        client.pfs.copy_file("data@master:/missing", f"data@{branch}:/x")  # as pachd: copies nothing, no error
        with pytest.raises(NotFound):  # nothing there
            client.pfs.list_file(f"data@{branch}:/x")
        with pytest.raises(NotFound) as missing_repo:
            client.pfs.delete_file("nope@master", "/a")
        failures.append(str(missing_repo.value))
    assert failures[0] == failures[1]


def test_large_chunks_out_of_line_match_standard_rpc(both: tuple[Any, Any]) -> None:
    fast, plain = both
    data = bytes(range(256)) * 40_000  # 10 MB: three chunks, each sent as a bare message
    fast.pfs.put_files("data@fast", {"/big": data, "/small": b"s"})
    plain.pfs.put_files("data@plain", {"/big": data, "/small": b"s"})
    assert fast.pfs.get_file("data@fast:/big") == data
    assert [(i.path, i.hash) for i in fast.pfs.walk_file("data@fast:/")] == [
        (i.path, i.hash) for i in plain.pfs.walk_file("data@plain:/")
    ]


def _raw_modify_file(server: LocalServer, messages: list[bytes]) -> grpc.RpcError | None:
    with grpc.insecure_channel(server.address) as channel:
        call = channel.stream_unary("/pachmagic_ext.API/ModifyFile")
        try:
            call(iter(messages))
        except grpc.RpcError as err:
            return err
    return None


@pytest.mark.parametrize("case, message", [
    ("long", "expected 5 more bytes of file data, got a message of 7"),
    ("empty", "expected 5 more bytes of file data, got a message of 0"),
    ("short", "the stream ended with 2 announced bytes of file data still to come"),
    ("missing", "the stream ended with 5 announced bytes of file data still to come"),
    ("not_an_add", "data_follows needs an add_file without data"),
])
def test_malformed_out_of_line_data_is_refused_and_changes_nothing(
    both: tuple[Any, Any], server: LocalServer, case: str, message: str
) -> None:
    fast, _ = both
    before = [(i.path, i.hash) for i in fast.pfs.walk_file("data@master:/")]
    commit = pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=pfs_pb2.Repo(name="data"), name="master"))
    start = pachmagic_ext_pb2.ModifyFileBatch(ops=[pfs_pb2.ModifyFileRequest(set_commit=commit)])
    add = pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path="/x", raw={}))
    if case == "not_an_add":
        add = pfs_pb2.ModifyFileRequest(delete_file=pfs_pb2.DeleteFile(path="/top.bin"))
    header = pachmagic_ext_pb2.ModifyFileBatch(ops=[add], data_follows=5)
    messages = [start.SerializeToString(), header.SerializeToString()]
    messages += {"long": [b"abcdefg"], "empty": [b""], "short": [b"abc"]}.get(case, [])
    err = _raw_modify_file(server, messages)
    assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (err.details() or "")
    assert [(i.path, i.hash) for i in fast.pfs.walk_file("data@master:/")] == before


def test_announced_data_may_come_in_several_messages(both: tuple[Any, Any], server: LocalServer) -> None:
    """Version 3: ``data_follows`` bytes as several bare messages, each appended; other ops around them as usual."""
    fast, _ = both
    commit = pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=pfs_pb2.Repo(name="data"), name="master"))
    start = pachmagic_ext_pb2.ModifyFileBatch(ops=[pfs_pb2.ModifyFileRequest(set_commit=commit)])
    add = pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path="/x", raw={}))
    after = pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path="/y", raw={"value": b"y"}))
    messages = [start.SerializeToString(), pachmagic_ext_pb2.ModifyFileBatch(ops=[add], data_follows=10).SerializeToString(),
                b"abcd", b"ef", b"ghij", pachmagic_ext_pb2.ModifyFileBatch(ops=[after]).SerializeToString()]
    assert _raw_modify_file(server, messages) is None
    assert fast.pfs.get_file("data@master:/x") == b"abcdefghij"
    assert fast.pfs.get_file("data@master:/y") == b"y"


_DATA = bytes(range(251)) * 40_000  # ~10 MB: three chunks, the last one short


@pytest.mark.parametrize("offset", [0, 1, 4 * 1024 * 1024 - 1, 4 * 1024 * 1024, 8 * 1024 * 1024 + 7,
                                    len(_DATA) - 1, len(_DATA), len(_DATA) + 10])
def test_downloads_are_the_same_over_every_framing(both: tuple[Any, Any], offset: int) -> None:
    """Bare GetFileData (version 2), BytesValue GetFile (version 1) and the standard GetFile give the same bytes."""
    fast, plain = both
    fast.pfs.put_files("data@master", {"/big": _DATA, "/empty": b""})
    version_1 = ExtTransfer(fast.pfs._t, 1)  # noqa: SLF001 - what a version 1 server gets
    for path in ("/big", "/empty"):
        request = pfs_pb2.GetFileRequest(offset=offset)
        request.file.commit.repo.name, request.file.commit.repo.type = "data", "user"
        request.file.commit.repo.project.name = "default"
        request.file.commit.branch.repo.CopyFrom(request.file.commit.repo)
        request.file.commit.branch.name, request.file.path = "master", path
        want = (_DATA if path == "/big" else b"")[offset:]
        assert fast.pfs.get_file(f"data@master:{path}", offset=offset) == want
        assert plain.pfs.get_file(f"data@master:{path}", offset=offset) == want
        assert b"".join(version_1.get_file(request)) == want


def _raw_get(server: LocalServer, method: str, path: str) -> list[bytes]:
    request = pfs_pb2.GetFileRequest()
    request.file.commit.branch.repo.name, request.file.commit.branch.repo.type = "data", "user"
    request.file.commit.branch.repo.project.name = "default"
    request.file.commit.branch.name, request.file.path = "master", path
    options = [("grpc.max_receive_message_length", 64 << 20)]
    with grpc.insecure_channel(server.address, options=options) as channel:
        call = channel.unary_stream(method, request_serializer=pfs_pb2.GetFileRequest.SerializeToString)
        return list(call(request))


def test_get_file_data_sends_bare_chunks_and_get_file_keeps_bytes_values(server: LocalServer, both: tuple[Any, Any]) -> None:
    """The version 2 RPC's messages are the file's bytes as is; GetFile's stay BytesValues for version 1 clients."""
    fast, _plain = both
    fast.pfs.put_files("data@master", {"/big": _DATA, "/empty": b""})
    bare = _raw_get(server, "/pachmagic_ext.API/GetFileData", "/big")
    assert len(bare) > 1 and b"".join(bare) == _DATA
    framed = _raw_get(server, "/pachmagic_ext.API/GetFile", "/big")
    assert b"".join(wrappers_pb2.BytesValue.FromString(m).value for m in framed) == _DATA
    standard = _raw_get(server, "/pfs_v2.API/GetFile", "/big")
    assert b"".join(wrappers_pb2.BytesValue.FromString(m).value for m in standard) == _DATA
    assert _raw_get(server, "/pachmagic_ext.API/GetFileData", "/empty") == []  # an empty file sends nothing
    assert [wrappers_pb2.BytesValue.FromString(m).value for m in _raw_get(server, "/pfs_v2.API/GetFile", "/empty")] == [b""]


def test_download_errors_are_the_same_over_every_framing(both: tuple[Any, Any]) -> None:
    fast, plain = both
    texts = []
    for client in (fast, plain):
        with pytest.raises(NotFound) as missing:
            client.pfs.get_file("data@master:/no/such/file")
        with pytest.raises(Unknown) as directory:
            client.pfs.get_file("data@master:/dir1")
        texts.append((str(missing.value), str(directory.value)))
    assert texts[0] == texts[1]


def test_the_server_advertises_version_3(server: LocalServer) -> None:
    with grpc.insecure_channel(server.address) as channel:
        info = admin_pb2_grpc.APIStub(channel).InspectCluster(admin_pb2.InspectClusterRequest())  # type: ignore[no-untyped-call]
    assert info.metadata["pachmagic_ext"] == "3"
    client = server.client()
    try:
        transfer = client.pfs._wire()  # noqa: SLF001
        assert isinstance(transfer, ExtTransfer) and transfer._get_file_data is not None  # noqa: SLF001
        assert transfer._spans  # noqa: SLF001
    finally:
        client.close()
