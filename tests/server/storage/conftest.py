"""Fixtures binding the storage contract tests to both implementations.

Every test that takes ``storage`` runs twice: on the in-memory store (SQLite in
memory, ``MemoryPacks``) and on the disk store (a data directory with WAL
SQLite and pack files). Both must behave identically; only durability differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from pachmagic.server.storage import Storage


@pytest.fixture(params=["memory", "disk"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    store = Storage(None if request.param == "memory" else tmp_path / "data")
    yield store
    store.close()

