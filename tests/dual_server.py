"""The two servers our client-side tests run against, as one small value.

``ServerUnderTest`` is what the ``any_server`` fixture (``tests/conftest.py``)
and the widgets' ``seeded`` fixture hand to a test: which kind of server it is
(``embedded``: a fresh ``LocalServer``; ``real_pachd``: a fresh genuine pachd
2.12.2 from ``tests/realpachd``) and its address. ``serving`` starts one of
either kind for fixtures wider than a test (a module's), which the per-test
fixtures of ``tests/conftest.py`` cannot give; it asserts nothing about servers.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from pachmagic.client import Client, connect
from pachmagic.server import LocalServer
from tests.realpachd.launcher import RealPachd, RealPachdError

SERVER_KINDS = ("embedded", "real_pachd")
TUTORIAL = Path(__file__).resolve().parents[1] / "pachmagic" / "tutorial"


def settles(check: Callable[[], bool], within: float = 60.0) -> bool:
    """Whether ``check`` becomes true within ``within`` seconds (polled).

    pachd's PPS master applies some changes after the call returns (a stopped
    pipeline becomes ``paused`` a moment later); ours applies them at once. A
    test that reads such a state after the call waits for it.
    """
    end = time.monotonic() + within
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


@dataclass(frozen=True)
class ServerUnderTest:
    """The server a dual-server test runs against this time."""

    kind: str  # "embedded" or "real_pachd"
    address: str  # host:port

    @property
    def is_real_pachd(self) -> bool:
        return self.kind == "real_pachd"

    def client(self) -> Client:
        return connect(self.address)


@contextmanager
def serving(kind: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, *,
            workers: bool) -> Iterator[ServerUnderTest]:
    """A fresh server of ``kind`` until the block ends (for module-scoped fixtures).

    User code starts in the tutorial directory on both. ``workers``: whether the
    reference pachd runs its pipelines (Pachyderm's worker and sidecar as local
    processes, which cost time and CPU); ours always runs them.
    """
    if kind == "real_pachd":
        options: dict[str, Any] = {"workers": True, "worker_dir": TUTORIAL} if workers else {}
        pachd = RealPachd(request.getfixturevalue("realpachd_binary"), request.getfixturevalue("postgres_server"),
                          **options)
        try:
            pachd.start()
        except RealPachdError as err:
            pytest.fail(str(err), pytrace=False)
        try:
            yield ServerUnderTest("real_pachd", pachd.address)
        finally:
            if not pachd.alive():
                print(f"--- reference pachd died; its log ends ---\n{pachd.log_tail()}")
            pachd.stop()
        return
    server = LocalServer(data_dir=tmp_path_factory.mktemp("data"), workdir=TUTORIAL, in_process=True).start()
    try:
        yield ServerUnderTest("embedded", server.address)
    finally:
        server.stop()
