"""Standard listings leave with gRPC's buffer hint, whole and in order (``servicers/_writes.py``).

A spy around grpcio's send function records the flags each message went with:
all but the last of each produced batch are hinted (gRPC may hold them for the
ones after), the batch's last one flushes. Without grpcio's internals the
writes are plain ``context.write`` calls and the answer is the same.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from pachmagic._proto import pfs_pb2
from pachmagic.server import LocalServer
from pachmagic.server.servicers import _writes

FILES = 3000  # three of Runtime.send's batches of 1024


@pytest.fixture
def listed(server: LocalServer) -> LocalServer:
    with server.client() as c:
        c.pfs.create_repo("many")
        c.pfs.put_files("many@master", [(f"/f{i:05d}", b"x") for i in range(FILES)])
    return server


def _raw_listing(address: str, *, stop_after: int | None = None) -> list[bytes]:
    request = pfs_pb2.ListFileRequest(
        file=pfs_pb2.File(commit=pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=pfs_pb2.Repo(name="many", type="user"), name="master")), path="/")
    )
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_stream("/pfs_v2.API/ListFile", request_serializer=pfs_pb2.ListFileRequest.SerializeToString)
        answers = call(request)
        out: list[bytes] = []
        for message in answers:
            out.append(message)
            if stop_after is not None and len(out) == stop_after:
                answers.cancel()
                break
        return out


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    flags: list[int] = []
    send = _writes._SEND
    assert send is not None, "grpcio's cygrpc._send_message is gone: the hinted writes fall back to context.write"

    def spy(state: Any, message: bytes, metadata: Any, flag: int, loop: Any) -> Any:
        flags.append(flag)
        return send(state, message, metadata, flag, loop)

    monkeypatch.setattr(_writes, "_SEND", spy)
    return flags


def _check(messages: list[bytes]) -> None:
    assert [pfs_pb2.FileInfo.FromString(m).file.path for m in messages] == [f"/f{i:05d}" for i in range(FILES)]


def test_a_listing_is_sent_hinted_and_each_batch_flushed(listed: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    flags = _spy(monkeypatch)
    _check(_raw_listing(listed.address))
    # The first message goes by context.write (it carries the initial metadata);
    # the last of each of the three batches (1023, 2047, 2999) flushes.
    assert len(flags) == FILES - 1
    assert [i + 1 for i, flag in enumerate(flags) if flag == 0] == [1023, 2047, 2999]
    assert flags.count(_writes.BUFFER_HINT) == FILES - 4


def test_without_grpcio_internals_the_listing_is_the_same(listed: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hinted = _raw_listing(listed.address)
    flags = _spy(monkeypatch)
    monkeypatch.setattr(_writes, "_STATE_TYPE", None)
    plain = _raw_listing(listed.address)
    assert flags == []
    assert plain == hinted
    _check(plain)


def test_a_listing_cut_midway_leaves_the_server_serving(listed: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    flags = _spy(monkeypatch)
    for _ in range(3):
        assert len(_raw_listing(listed.address, stop_after=10)) == 10
    sent = len(flags)
    _check(_raw_listing(listed.address))
    assert len(flags) >= sent + FILES - 1  # the next listing went hinted too (a cut one may still be ending)
