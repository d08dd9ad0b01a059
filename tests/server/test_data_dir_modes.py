"""The data directory is its owner's alone: created 0700, its files 0600, whatever the umask.

It holds every uploaded byte and the metadata of every repo; another local user
must not be able to read it (nor list it).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, Iterator

import pytest

from pachmagic.server import LocalServer


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: without care, files come out 0644
    try:
        yield
    finally:
        os.umask(old)


def test_data_dir_and_files_are_private(server_factory: Callable[..., LocalServer], tmp_path: Path,
                                        open_umask: None) -> None:
    data = tmp_path / "fresh" / "data"
    server = server_factory(data_dir=data)
    with server.client() as client:
        client.pfs.create_repo("r")
        client.pfs.put_files("r@master", {"/a": b"a" * 100, "/big": os.urandom(5 << 20)})
        assert client.pfs.get_file("r@master:/a") == b"a" * 100
        names = {p.name for p in data.iterdir()}
        assert {"pfs.sqlite", "packs", "LOCK"} <= names
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE((data / "packs").stat().st_mode) == 0o700
        files = [p for p in [*data.iterdir(), *(data / "packs").iterdir()] if p.is_file()]
        assert any(p.name.endswith("-wal") for p in files) and any(p.suffix == ".pack" for p in files)
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    server.stop()
