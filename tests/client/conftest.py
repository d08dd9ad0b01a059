"""Fixtures for client tests.

- ``fake``: a tiny real gRPC server (127.0.0.1, port 0) whose servicers record
  what they receive and fail on demand (``_fakes.py``).
- ``client``: a ``pachmagic.client.Client`` connected to a fresh server of
  each kind in turn, embedded and reference pachd (``any_server`` of
  ``tests/conftest.py``).
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from pachmagic.client import Client, connect
from tests.client._fakes import FakeServer, start_fake_server


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server, handle = start_fake_server()
    try:
        yield handle
    finally:
        server.stop(grace=None)


@pytest.fixture
def client(any_server: Any) -> Iterator[Client]:
    """A client connected to a fresh server (embedded, then reference pachd)."""
    with connect(any_server.address) as c:
        yield c
