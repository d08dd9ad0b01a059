"""Engine-level fixtures: ``pps``, a ``Harness`` over a real engine on a data directory."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import pytest

from pachmagic.server.pipelines import Engine
from pachmagic.server.storage import Storage
from tests.server.pipelines.harness import Harness


@pytest.fixture
def pps(tmp_path: Path) -> Iterator[Harness]:
    changed = threading.Condition()

    def notify() -> None:
        with changed:
            changed.notify_all()

    data = tmp_path / "data"
    storage = Storage(data)
    storage.subscribe(notify)
    engine = Engine(storage, data_dir=data, workdir=tmp_path, on_change=notify)
    engine.start()
    try:
        yield Harness(storage, engine, changed)
    finally:
        engine.stop()
        storage.close()
