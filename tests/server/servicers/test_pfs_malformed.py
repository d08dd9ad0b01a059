"""Malformed requests get an error (pachd's code: mostly UNKNOWN), never a crash.

Missing fields, absurd numbers, corrupt or truncated messages, invalid UTF-8,
oversized messages and streams that break off; afterwards the server still
answers. A property-based test checks Pachyderm's write-path rules through
real gRPC against a model of the rules in the reference.
"""

from __future__ import annotations

import threading
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pachmagic._proto import pfs_pb2, pfs_pb2_grpc
from pachmagic.server import LocalServer

# pachd answers UNKNOWN for most bad input (its validation errors are plain Go errors;
# tests/conformance compares every code with the real pachd); never INTERNAL.
CLIENT_ERRORS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                 grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNKNOWN}
GLOB_CHARS = "*?[]{}!()@+^"


@pytest.fixture
def channel(server: LocalServer) -> Any:
    with server.client() as client:
        client.pfs.create_repo("data")
        client.pfs.put_file("data@master", "/a.txt", b"hello")
    with grpc.insecure_channel(server.address, options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
        yield ch


def code_of(fn: Any, *args: Any) -> grpc.StatusCode:
    try:
        result = fn(*args, timeout=20)
        if hasattr(result, "__iter__") and not isinstance(result, (bytes, str)):
            list(result)
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return,attr-defined]
    return grpc.StatusCode.OK


def alive(channel: grpc.Channel) -> None:
    assert code_of(channel.unary_unary("/versionpb_v2.API/GetVersion"), b"") == grpc.StatusCode.OK


def repo(name: str = "data") -> pfs_pb2.Repo:
    return pfs_pb2.Repo(name=name, type="user", project=pfs_pb2.Project(name="default"))


def master_file(path: str) -> pfs_pb2.File:
    return pfs_pb2.File(commit=pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=repo(), name="master")), path=path)


UNARY_BAD: list[tuple[str, Any]] = [
    ("InspectRepo", pfs_pb2.InspectRepoRequest()),
    ("CreateRepo", pfs_pb2.CreateRepoRequest()),
    ("CreateRepo", pfs_pb2.CreateRepoRequest(repo=pfs_pb2.Repo(name="a" * 100_000 + "/", type="user"))),
    ("CreateRepo", pfs_pb2.CreateRepoRequest(repo=pfs_pb2.Repo(name="ok", type="weird"))),
    ("CreateBranch", pfs_pb2.CreateBranchRequest()),
    ("StartCommit", pfs_pb2.StartCommitRequest()),
    ("FinishCommit", pfs_pb2.FinishCommitRequest()),
    ("InspectCommit", pfs_pb2.InspectCommitRequest()),
    ("InspectCommit", pfs_pb2.InspectCommitRequest(commit=pfs_pb2.Commit(repo=repo(), id="master^^^^^^^^^^^^^^^^^^^^^^^^^^^"))),
    ("InspectCommit", pfs_pb2.InspectCommitRequest(commit=pfs_pb2.Commit(repo=repo(), id="master^~"))),
    ("InspectFile", pfs_pb2.InspectFileRequest()),
    ("InspectFile", pfs_pb2.InspectFileRequest(file=master_file("/nope"))),
    ("DeleteBranch", pfs_pb2.DeleteBranchRequest()),
    ("SquashCommitSet", pfs_pb2.SquashCommitSetRequest()),
    ("InspectProject", pfs_pb2.InspectProjectRequest(project=pfs_pb2.Project(name="x" * 10_000))),
    ("CreateProject", pfs_pb2.CreateProjectRequest(project=pfs_pb2.Project(name="-bad"))),
]
STREAM_BAD: list[tuple[str, Any]] = [
    ("ListFile", pfs_pb2.ListFileRequest()),
    ("ListFile", pfs_pb2.ListFileRequest(file=master_file("/"), reverse=True)),
    ("WalkFile", pfs_pb2.WalkFileRequest(file=master_file("/"), reverse=True, number=-1)),
    ("GetFile", pfs_pb2.GetFileRequest(file=master_file("/a.txt"), offset=-1)),
    ("GetFile", pfs_pb2.GetFileRequest(file=master_file("/*"), URL="s3://bucket/x")),
    ("GetFile", pfs_pb2.GetFileRequest()),
    ("GlobFile", pfs_pb2.GlobFileRequest()),
    ("ListCommit", pfs_pb2.ListCommitRequest()),
    ("InspectCommitSet", pfs_pb2.InspectCommitSetRequest()),
    ("DiffFile", pfs_pb2.DiffFileRequest()),
]


# Odd requests pachd answers without an error (measured by tests/conformance); so do we.
ACCEPTED: list[tuple[str, str, Any]] = [
    ("unary", "DropCommitSet", pfs_pb2.DropCommitSetRequest(commit_set=pfs_pb2.CommitSet(id="0" * 32))),
    ("stream", "ListFile", pfs_pb2.ListFileRequest(file=master_file("/"), number=-5)),  # all
    ("stream", "WalkFile", pfs_pb2.WalkFileRequest(file=master_file("/"), number=-1)),  # all
    ("stream", "WalkCommitProvenance", pfs_pb2.WalkCommitProvenanceRequest()),  # nothing to walk
]


@pytest.mark.parametrize("kind,method,request_msg", ACCEPTED, ids=[m for _, m, _ in ACCEPTED])
def test_odd_requests_pachd_accepts(channel: grpc.Channel, kind: str, method: str, request_msg: Any) -> None:
    call = (channel.unary_unary if kind == "unary" else channel.unary_stream)(f"/pfs_v2.API/{method}")
    assert code_of(call, request_msg.SerializeToString()) == grpc.StatusCode.OK


@pytest.mark.parametrize("method,request_msg", UNARY_BAD, ids=[f"{m}-{i}" for i, (m, _) in enumerate(UNARY_BAD)])
def test_bad_unary_requests(channel: grpc.Channel, method: str, request_msg: Any) -> None:
    call = channel.unary_unary(f"/pfs_v2.API/{method}")
    assert code_of(call, request_msg.SerializeToString()) in CLIENT_ERRORS
    alive(channel)


@pytest.mark.parametrize("method,request_msg", STREAM_BAD, ids=[f"{m}-{i}" for i, (m, _) in enumerate(STREAM_BAD)])
def test_bad_streaming_requests(channel: grpc.Channel, method: str, request_msg: Any) -> None:
    call = channel.unary_stream(f"/pfs_v2.API/{method}")
    assert code_of(call, request_msg.SerializeToString()) in CLIENT_ERRORS
    alive(channel)


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xff\xff", b"\x0a\x05\x0a\x03\xff\xfe\xfd", b"\x0a\x7f", b"\x0a\x03\x0a\x01\xc3", b"\x08" + b"\xff" * 11],
    ids=["garbage", "bad-utf8", "truncated", "half-utf8", "varint-overflow"],
)
def test_undecodable_messages(channel: grpc.Channel, raw: bytes) -> None:
    assert code_of(channel.unary_unary("/pfs_v2.API/InspectRepo"), raw) == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(channel.unary_stream("/pfs_v2.API/ListFile"), raw) == grpc.StatusCode.INVALID_ARGUMENT
    modify = channel.stream_unary("/pfs_v2.API/ModifyFile")
    first = pfs_pb2.ModifyFileRequest(set_commit=pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=repo(), name="master")))
    assert code_of(modify, iter([first.SerializeToString(), raw])) == grpc.StatusCode.INVALID_ARGUMENT
    alive(channel)


def test_modify_file_stream_rules(channel: grpc.Channel) -> None:
    modify = channel.stream_unary("/pfs_v2.API/ModifyFile")
    add = pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path="/x", raw={"value": b"1"}))
    assert code_of(modify, iter([add.SerializeToString()])) == grpc.StatusCode.UNKNOWN  # no set_commit (pachd's code)
    assert code_of(modify, iter([])) == grpc.StatusCode.INVALID_ARGUMENT  # empty stream
    empty = pfs_pb2.ModifyFileRequest()
    first = pfs_pb2.ModifyFileRequest(set_commit=pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=repo(), name="master")))
    assert code_of(modify, iter([first.SerializeToString(), empty.SerializeToString()])) == grpc.StatusCode.UNKNOWN
    alive(channel)


def test_oversized_message_is_refused(channel: grpc.Channel) -> None:
    modify = channel.stream_unary("/pfs_v2.API/ModifyFile")
    first = pfs_pb2.ModifyFileRequest(set_commit=pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=repo(), name="master")))
    huge = pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path="/huge", raw={"value": b"\0" * (30 << 20)}))
    assert code_of(modify, iter([first.SerializeToString(), huge.SerializeToString()])) == grpc.StatusCode.RESOURCE_EXHAUSTED
    alive(channel)


def test_a_stream_that_breaks_off_applies_nothing(server: LocalServer, channel: grpc.Channel) -> None:
    modify = channel.stream_unary("/pfs_v2.API/ModifyFile")
    sent = threading.Event()

    def requests() -> Any:
        yield pfs_pb2.ModifyFileRequest(set_commit=pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=repo(), name="master"))).SerializeToString()
        for i in range(5):
            yield pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path=f"/partial/{i}", raw={"value": b"x" * 1000})).SerializeToString()
        sent.set()
        threading.Event().wait(30)  # never finishes: the call is cancelled below

    future = modify.future(requests(), timeout=60)
    assert sent.wait(20)
    future.cancel()
    with server.client() as client:
        assert [f.path for f in client.pfs.list_file("data@master:/")] == ["/a.txt"]
        assert len(client.pfs.list_commit("data")) == 1
    alive(channel)


# --- Pachyderm's path rules (reference §1.7), as a model -------------------------------


def rule_error(path: str) -> str | None:
    """The error text pachd gives for writing ``path``, or None if it is valid."""
    if not path or any(not (" " <= ch <= "~") for ch in path):
        return "only printable ASCII characters allowed"
    for ch in GLOB_CHARS:
        if ch in path:
            return f"globbing character ({ch}) not allowed in path"
    if any(part in (".", "..") for part in path.split("/")):
        return "relative file paths are not allowed"
    if path.strip("/") == "":
        return "root"
    return None


def cleaned(path: str) -> str:
    return "/" + "/".join(p for p in path.split("/") if p)


paths = st.one_of(
    st.text(alphabet=st.sampled_from("ab/._-* ?[]é\x00~^"), min_size=0, max_size=12),
    st.lists(st.sampled_from(["a", "b", ".", "..", "", "x y", "ü", "c@d"]), min_size=1, max_size=4).map("/".join),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=paths)
def test_write_path_rules(channel: grpc.Channel, path: str) -> None:
    """The raw path goes over the wire as generated (no client-side cleaning)."""
    stub = pfs_pb2_grpc.APIStub(channel)
    target = pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=repo(), name="rules"))
    ops = [
        pfs_pb2.ModifyFileRequest(set_commit=target),
        pfs_pb2.ModifyFileRequest(delete_file=pfs_pb2.DeleteFile(path="/")),
        pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path=path, raw={"value": b"x"})),
    ]
    expected = rule_error(path)
    if expected is None:
        stub.ModifyFile(iter(ops))
        walk = stub.WalkFile(pfs_pb2.WalkFileRequest(file=pfs_pb2.File(commit=target, path="/")))
        assert [f.file.path for f in walk if f.file_type == pfs_pb2.FILE] == [cleaned(path)]
    else:
        with pytest.raises(grpc.RpcError) as caught:
            stub.ModifyFile(iter(ops))
        assert caught.value.code() == grpc.StatusCode.UNKNOWN  # type: ignore[attr-defined]  # pachd's code
        if expected != "root":
            assert caught.value.details() == f"path ({path}) invalid: {expected}"  # type: ignore[attr-defined]
