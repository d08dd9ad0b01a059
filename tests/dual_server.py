"""The two servers our client-side tests run against, as one small value.

``ServerUnderTest`` is what the ``any_server`` fixture (``tests/conftest.py``)
and the widgets' ``seeded`` fixture hand to a test: which kind of server it is
(``embedded``: a fresh ``LocalServer``; ``real_pachd``: a fresh genuine pachd
2.12.2 from ``tests/realpachd``) and its address. Nothing here starts a server.
"""

from __future__ import annotations

from dataclasses import dataclass

from pachmagic.client import Client, connect

SERVER_KINDS = ("embedded", "real_pachd")
NO_WORKERS = "needs pipeline workers, and the reference pachd runs none (its jobs stay 'created')"


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
