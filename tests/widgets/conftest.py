"""A seeded embedded server shared by the panel tests of one module.

The tutorial (photos → contour → histogram) plus a ``words`` repo read by an
``upper`` pipeline that processes one datum per file and fails on the file
whose text says ``fail`` (so there are failed datums with log lines). Tests
that write use repos of their own, so they do not disturb each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from pachmagic.client import Client
from pachmagic.server import LocalServer

TUTORIAL = Path(__file__).resolve().parents[2] / "pachmagic" / "tutorial"

UPPER = """
import pathlib, sys
for path in sorted(pathlib.Path('/pfs/words').iterdir()):
    text = path.read_text()
    print('processing', path.name)
    if 'fail' in text:
        print('cannot process', path.name, file=sys.stderr)
        sys.exit(3)
    (pathlib.Path('/pfs/out') / path.name).write_text(text.upper())
"""

UPPER_SPEC: dict[str, Any] = {
    "pipeline": {"name": "upper"},
    "description": "Upper-cases each file; fails on a file that says 'fail'.",
    "transform": {"cmd": ["python3", "-c", UPPER], "image": "python:3.12"},
    "input": {"pfs": {"repo": "words", "glob": "/*"}},
}


def seed(client: Client) -> None:
    """Create the tutorial DAG and the failing ``upper`` pipeline, and wait for their jobs."""
    client.pfs.create_repo("photos")
    client.pfs.put_files("photos@master", [(n, (TUTORIAL / "photos" / n).read_bytes()) for n in ("hand.png", "landscape.png")])
    for spec in ("contour.yaml", "histogram.yaml"):
        client.pps.create_pipeline((TUTORIAL / spec).read_text())
    client.pfs.create_repo("words")
    client.pfs.put_files("words@master", {"/a.txt": "alpha", "/b.txt": "beta", "/bad.txt": "please fail"})
    client.pps.create_pipeline(UPPER_SPEC)
    client.pfs.wait_commit("histogram@master")
    client.pfs.wait_commit("upper@master")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(data_dir=tmp_path_factory.mktemp("data"), workdir=TUTORIAL, in_process=True).start()
    client = server.client()
    try:
        seed(client)
    finally:
        client.close()
    yield server
    server.stop()


@pytest.fixture
def client(seeded: LocalServer) -> Iterator[Client]:
    client = seeded.client()
    yield client
    client.close()
