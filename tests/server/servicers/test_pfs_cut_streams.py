"""A ModifyFile stream that does not end normally changes nothing.

Only a stream the client closes itself (half-close, then the server answers)
may commit. Here streams are cut every other way — ``future.cancel()``, closing
the channel, a deadline, a server error, and the client process being killed —
many times, with small and large data, on an open commit and on a branch, over
the standard framing and over ``pachmagic_ext`` (whose large chunks arrive out
of line, as bare messages). Afterwards no file of a cut stream exists and no
commit was created; a normal upload after them still lands.

The cut comes while the server waits for the next message (the client has sent
everything but not closed its side) or while data is still flowing: the first
is where gRPC reports a cut stream as an ordinary end of stream.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Iterable, Iterator

import grpc
import pytest

from pachmagic._proto import pfs_pb2
from pachmagic.client._encode import batched_stream, encoded_requests, plain_stream
from pachmagic.server import LocalServer

SMALL = 1000
LARGE = 3 << 20  # with 2 files, above the server's 4 MiB batch: batches reach the thread pool
TRIES = 3
FRAMINGS = {
    "standard": "/pfs_v2.API/ModifyFile",
    "ext": "/pachmagic_ext.API/ModifyFile",
}


def commit_pb(target: str) -> pfs_pb2.Commit:
    repo = pfs_pb2.Repo(name="data", type="user", project=pfs_pb2.Project(name="default"))
    if target == "branch":
        return pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=repo, name="master"))
    return pfs_pb2.Commit(id=target, repo=repo)


def messages(framing: str, commit: pfs_pb2.Commit, files: Iterable[tuple[str, bytes]] | dict[str, bytes]) -> Iterator[bytes]:
    """The messages our client sends for ``files`` (large chunks out of line in ``ext``)."""
    requests = encoded_requests(commit, files)
    if framing == "ext":
        return batched_stream(requests, 1 << 20, 4096, out_of_line=256 * 1024)
    return plain_stream(requests)


class Cut:
    """One stream cut in one way; ``flowing`` cuts while data is still being sent."""

    def __init__(self, server: LocalServer, framing: str, commit: pfs_pb2.Commit, prefix: str,
                 size: int, flowing: bool) -> None:
        self.server = server
        self.framing = framing
        self.commit = commit
        self.prefix = prefix
        self.size = size
        self.flowing = flowing
        self.sent = threading.Event()
        self.done = threading.Event()

    def files(self) -> Iterator[tuple[str, bytes]]:
        for i in range(2):
            yield f"{self.prefix}/{i}", bytes([i]) * self.size
        if self.flowing:
            # Keep sending (never closing): the cut lands in the middle of the data.
            for i in range(10_000):
                if i == 2:
                    self.sent.set()
                yield f"{self.prefix}/more{i}", b"m" * self.size

    def requests(self) -> Iterator[bytes]:
        yield from messages(self.framing, self.commit, self.files())
        self.sent.set()
        self.done.wait(30)  # does not half-close before the stream is cut below

    def run(self, how: str) -> None:
        channel = grpc.insecure_channel(self.server.address, options=[("grpc.max_send_message_length", 64 << 20)])
        try:
            call = channel.stream_unary(FRAMINGS[self.framing])
            timeout = random.uniform(0.05, 0.4) if how == "deadline" else 60
            future = call.future(self.requests(), timeout=timeout)
            if how != "deadline":
                assert self.sent.wait(20)
                time.sleep(random.uniform(0, 0.05))
            if how == "cancel":
                future.cancel()
            elif how == "close":
                channel.close()
            try:
                future.result(timeout=30)
            except (grpc.RpcError, grpc.FutureCancelledError):
                pass
            else:
                raise AssertionError(f"a stream cut by {how} succeeded")
        finally:
            self.done.set()
            channel.close()


@pytest.fixture
def pfs(server: LocalServer) -> Any:
    with server.client() as client:
        client.pfs.create_repo("data")
        client.pfs.put_file("data@master", "/a.txt", b"hello")
        yield client


def state(client: Any, target: str) -> tuple[list[str], list[tuple[str, bytes]]]:
    ref = "data@master" if target == "branch" else f"data@{target}"
    return ([c.id for c in client.pfs.list_commit("data")],
            [(f.path, f.hash) for f in client.pfs.walk_file(f"{ref}:/")])


def settle(client: Any, target: str) -> tuple[list[str], list[tuple[str, bytes]]]:
    """The store once the server has finished with every cut stream (nothing changes for 1 s)."""
    last = state(client, target)
    while True:
        time.sleep(1.0)
        now = state(client, target)
        if now == last:
            return now
        last = now


def check_unchanged_then_normal_upload_lands(server: LocalServer, client: Any, framing: str, target: str,
                                             before: tuple[list[str], list[tuple[str, bytes]]]) -> None:
    assert settle(client, target) == before
    with grpc.insecure_channel(server.address, options=[("grpc.max_send_message_length", 64 << 20)]) as channel:
        channel.stream_unary(FRAMINGS[framing])(messages(framing, commit_pb(target), {"/normal": b"n"}), timeout=30)
    ref = "data@master" if target == "branch" else f"data@{target}"
    assert client.pfs.get_file(f"{ref}:/normal") == b"n"


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
@pytest.mark.parametrize("on", ["branch", "open commit"])
@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_cut_streams_change_nothing(server: LocalServer, pfs: Any, framing: str, on: str, size: int) -> None:
    target = "branch" if on == "branch" else pfs.pfs.start_commit("data@master").id
    before = state(pfs, target)
    for attempt in range(TRIES):
        for how in ("cancel", "close", "deadline"):
            for flowing in (False, True):
                prefix = f"/cut/{how}/{attempt}/{int(flowing)}"
                Cut(server, framing, commit_pb(target), prefix, size, flowing).run(how)
    check_unchanged_then_normal_upload_lands(server, pfs, framing, target, before)


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
@pytest.mark.parametrize("on", ["branch", "open commit"])
def test_a_server_error_mid_stream_changes_nothing(server: LocalServer, pfs: Any, framing: str, on: str) -> None:
    target = "branch" if on == "branch" else pfs.pfs.start_commit("data@master").id
    before = state(pfs, target)
    for size in (SMALL, LARGE):
        files = {"/err/good": b"g" * size, "/err/bad/../x": b"b", "/err/after": b"a" * size}
        with grpc.insecure_channel(server.address, options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
            with pytest.raises(grpc.RpcError) as err:
                ch.stream_unary(FRAMINGS[framing])(messages(framing, commit_pb(target), files), timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    check_unchanged_then_normal_upload_lands(server, pfs, framing, target, before)


_KILLED_CLIENT = textwrap.dedent("""
    import sys, time, grpc
    from pachmagic._proto import pfs_pb2
    from tests.server.servicers.test_pfs_cut_streams import commit_pb, messages, FRAMINGS
    address, framing, target, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    def requests():
        yield from messages(framing, commit_pb(target), {"/killed/a": b"k" * size, "/killed/b": b"k" * size})
        print("sent", flush=True)
        time.sleep(60)
    channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 << 20)])
    channel.stream_unary(FRAMINGS[framing])(requests(), timeout=120)
""")


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
@pytest.mark.parametrize("on", ["branch", "open commit"])
def test_a_killed_client_changes_nothing(server: LocalServer, pfs: Any, framing: str, on: str) -> None:
    target = "branch" if on == "branch" else pfs.pfs.start_commit("data@master").id
    before = state(pfs, target)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    for size in (SMALL, LARGE):
        child = subprocess.Popen([sys.executable, "-c", _KILLED_CLIENT, server.address, framing, target, str(size)],
                                 cwd=root, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "sent"
            time.sleep(0.05)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    check_unchanged_then_normal_upload_lands(server, pfs, framing, target, before)


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
def test_a_second_set_commit_is_refused_and_nothing_applied(server: LocalServer, pfs: Any, framing: str) -> None:
    """pachd takes one set_commit per stream ("cannot set commit"); so a stream is one change, all or nothing."""
    before = state(pfs, "branch")
    first = list(messages(framing, commit_pb("branch"), {"/one": b"1"}))
    second = list(messages(framing, commit_pb("branch"), {"/two": b"2"}))
    with grpc.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.RpcError) as err:
            channel.stream_unary(FRAMINGS[framing])(iter(first + second), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot set commit" in (err.value.details() or "")
    assert state(pfs, "branch") == before
