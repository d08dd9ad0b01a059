"""Ctrl-C / Kernel > Interrupt in the middle of a call leaves the client usable.

A real SIGINT is sent to this process at the worst moment: from a trace function,
just as ``threading.Condition.__enter__`` returns into gRPC's channel code with
the lock taken and the ``with`` block not yet entered. With Python's default
handler the KeyboardInterrupt is raised right there and the lock stays taken (the
channel's own lock: every later call on the channel waits forever; this hung a
kernel in CI). The client must instead cancel the call and raise
KeyboardInterrupt from its own code, and its next calls must complete.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any, Callable

import pytest

from pachmagic.client import Client, connect
from pachmagic.client import _interrupts as interrupts
from pachmagic.server import LocalServer


def _sigint_as_grpc_takes_a_lock() -> None:
    """Send SIGINT when the next Condition.__enter__ called from gRPC's channel code returns."""

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "return":
            sys.settrace(None)
            signal.raise_signal(signal.SIGINT)
        return local

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        caller = frame.f_back
        if (event == "call" and frame.f_code.co_name == "__enter__" and "threading" in frame.f_code.co_filename
                and caller is not None and caller.f_code.co_filename.endswith("grpc/_channel.py")):
            return local
        return None

    sys.settrace(trace)


def _completes(call: Callable[[], Any]) -> list[Any]:
    """Run ``call`` on another thread; its result, or nothing if it never returned."""
    answers: list[Any] = []
    worker = threading.Thread(target=lambda: answers.append(call()), daemon=True)
    worker.start()
    worker.join(timeout=120)  # a hang guard, not a timing assertion
    return answers


CALLS: dict[str, Callable[[Client], Any]] = {
    "unary": lambda c: c.pfs.inspect_repo("r1"),
    "server stream": lambda c: c.pfs.list_repo(),
    "client stream": lambda c: c.pfs.put_file("r1@master", "/late", b"whole or not at all"),
}


@pytest.mark.parametrize("kind", list(CALLS))
def test_sigint_just_after_grpc_takes_a_lock_stalls_no_later_call(server: LocalServer, kind: str) -> None:
    with connect(server.address) as client:
        for n in range(3):
            client.pfs.create_repo(f"r{n}")
        client.pfs.put_file("r1@master", "/kept", b"stored")
        _sigint_as_grpc_takes_a_lock()
        try:
            with pytest.raises(KeyboardInterrupt):
                CALLS[kind](client)
        finally:
            sys.settrace(None)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert _completes(lambda: sorted(r.name for r in client.pfs.list_repo())) == [["r0", "r1", "r2"]]
        assert client.pfs.inspect_repo("r1").name == "r1"
        # an upload the server had already taken whole may be kept (the cancel came too late); never a part
        paths = [f.path for f in client.pfs.list_file("r1@master:/")]
        assert paths in (["/kept"], ["/kept", "/late"])
        if "/late" in paths:
            assert client.pfs.get_file("r1@master:/late") == b"whole or not at all"


def _sigint_once_waiting() -> threading.Thread:
    """Send SIGINT once the main thread waits inside gRPC for a guarded call."""

    def send() -> None:
        while interrupts._inside is None:  # noqa: SLF001 - when the main thread waits is the point
            time.sleep(0.01)
        time.sleep(0.2)  # well inside gRPC's wait
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender


WAITS: dict[str, Callable[[Client], Any]] = {
    "unary": lambda c: c.pfs.wait_commit("open@master"),
    "server stream": lambda c: c.pfs.inspect_commit_set(c.pfs.inspect_commit("open@master").commit.id, wait=True),
}


@pytest.mark.parametrize("kind", list(WAITS))
def test_sigint_ends_a_call_that_waits_and_the_client_goes_on(server: LocalServer, kind: str) -> None:
    with connect(server.address) as client:
        client.pfs.create_repo("open")
        client.pfs.start_commit("open@master")  # never finished: the wait would last for ever
        sender = _sigint_once_waiting()
        with pytest.raises(KeyboardInterrupt):
            WAITS[kind](client)
        sender.join()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert client.pfs.inspect_repo("open").name == "open"


def test_other_threads_and_other_handlers_are_left_alone(server: LocalServer) -> None:
    assert _completes(interrupts.guard) == [None]  # SIGINT never reaches other threads
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert interrupts.guard() is None  # the program handles SIGINT itself
        with connect(server.address) as client:
            client.pfs.create_repo("kept")
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sigint_during_an_upload_cancels_it_and_stores_none_of_it(server: LocalServer,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    read_fd, write_fd = os.pipe()
    stop = threading.Event()

    def feed() -> None:  # a source that never ends: 64 KiB at a time
        with open(write_fd, "wb", buffering=0) as sink, contextlib.suppress(BrokenPipeError):
            while not stop.is_set():
                sink.write(b"p" * 65536)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        with connect(server.address) as client, open(read_fd, "rb", buffering=0) as source:
            client.pfs.create_repo("up")
            client.pfs.put_file("up@master", "/kept", b"stored")
            sender = _sigint_once_waiting()
            with pytest.raises(KeyboardInterrupt):
                client.pfs.put_file("up@master", "/endless", source)
            sender.join()
            assert [f.path for f in client.pfs.list_file("up@master:/")] == ["/kept"]
            assert client.pfs.inspect_commit("up@master").finished is not None
    finally:
        stop.set()
    assert "Exception iterating requests" not in caplog.text  # an interrupt is not logged as an error


def test_a_deferred_block_holds_sigint_back_until_it_ends() -> None:
    reached_the_end = False
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            signal.raise_signal(signal.SIGINT)
            with interrupts.deferred():  # nested blocks hold it until the outermost ends
                signal.raise_signal(signal.SIGINT)
            reached_the_end = True
    assert reached_the_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with interrupts.deferred():  # nothing held over from the block before
        pass


def test_a_stream_closed_on_another_thread_leaves_sigint_alone(server: LocalServer) -> None:
    with connect(server.address) as client:
        client.pfs.create_repo("big")
        client.pfs.put_file("big@master", "/f", b"x" * (8 << 20))
        chunks = client.pfs.open_file("big@master:/f")  # a stream left open on the main thread
        chunks.read(1)
        closed: list[bool] = []
        closer = threading.Thread(target=lambda: (chunks.close(), closed.append(True)), daemon=True)
        closer.start()
        closer.join(timeout=120)  # a hang guard, not a timing assertion
        assert closed == [True]  # closing it there raised nothing (handlers are the main thread's)
        with pytest.raises(KeyboardInterrupt):  # and SIGINT still interrupts the main thread
            signal.raise_signal(signal.SIGINT)
            time.sleep(5)
        assert client.pfs.inspect_repo("big").name == "big"
