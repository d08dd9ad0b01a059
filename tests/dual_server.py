"""The two servers our client-side tests run against, as one small value.

``ServerUnderTest`` is what the ``any_server`` fixture (``tests/conftest.py``)
and the widgets' ``seeded`` fixture hand to a test: which kind of server it is
(``embedded``: a fresh ``LocalServer``; ``real_pachd``: a fresh genuine pachd
2.12.2 from ``tests/realpachd``) and its address. Nothing here starts a server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from pachmagic.client import Client, connect

SERVER_KINDS = ("embedded", "real_pachd")


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
