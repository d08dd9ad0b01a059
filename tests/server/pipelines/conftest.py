"""Engine-level fixtures: ``storage`` (no engine), ``pps``, a ``Harness`` over a real engine on a data directory, and ``make_pps``."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from pachmagic.server.pipelines import Engine
from pachmagic.server.storage import Storage
from tests.server.pipelines.harness import Harness


@contextlib.contextmanager
def _harness(tmp_path: Path, **engine_options: Any) -> Iterator[Harness]:
    changed = threading.Condition()

    def notify() -> None:
        with changed:
            changed.notify_all()

    data = tmp_path / "data"
    storage = Storage(data)
    storage.subscribe(notify)
    engine = Engine(storage, data_dir=data, workdir=tmp_path, on_change=notify, **engine_options)
    engine.start()
    try:
        yield Harness(storage, engine, changed)
    finally:
        engine.stop()
        storage.close()


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    """A bare Storage on a data directory, no engine (planning and slot tests)."""
    store = Storage(tmp_path / "data")
    yield store
    store.close()


@pytest.fixture
def pps(tmp_path: Path) -> Iterator[Harness]:
    with _harness(tmp_path) as harness:
        yield harness


@pytest.fixture
def make_pps(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """``make_pps(**engine_options)``: a harness over an engine made with those options (one per test)."""
    with contextlib.ExitStack() as stack:
        yield lambda **options: stack.enter_context(_harness(tmp_path, **options))
