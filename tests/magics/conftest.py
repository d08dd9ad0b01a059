"""Fixtures for the magics: a real IPython shell with ``%load_ext pachmagic``.

``shell`` is a ``TestingShell`` (a failing cell fails the test) with the
extension loaded and nothing connected; ``ip`` is the same shell connected to
``any_server`` (a fresh embedded server, then a fresh reference pachd: see
``tests/conftest.py``) with progress bars off, so that displayed output is only
what a test asserts on. pachctl's config file
and ``PACHD_ADDRESS`` are isolated per test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from pachmagic.magics._testing import TestingShell, new_shell


@pytest.fixture(autouse=True)
def _isolated_pach_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "pachctl-config.json"
    monkeypatch.setenv("PACH_CONFIG", str(config))
    monkeypatch.delenv("PACHD_ADDRESS", raising=False)
    monkeypatch.delenv("PACH_CONTEXT", raising=False)
    return config


@pytest.fixture
def shell() -> Iterator[TestingShell]:
    ip = new_shell()
    ip.run_cell("%load_ext pachmagic")
    yield ip
    ip.close()  # unloads pachmagic; leaves no shell or atexit callback behind


@pytest.fixture
def ip(shell: TestingShell, any_server: Any) -> TestingShell:
    shell.run_cell(f"%pach connect {any_server.address}")
    shell.run_cell("%config PachMagic.progress = False")
    return shell


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch directory that is also the current directory."""
    path = tmp_path / "work"
    path.mkdir()
    monkeypatch.chdir(path)
    return path
