"""A seeded server shared by the panel tests of one module, of each kind in turn.

The tutorial (photos → contour → histogram) plus a ``words`` repo read by an
``upper`` pipeline that processes one datum per file and fails on the file
whose text says ``fail`` (so there are failed datums with log lines). Tests
that write use repos of their own, so they do not disturb each other.

``seeded`` is an embedded server, then a reference pachd (as ``any_server`` of
``tests/conftest.py``, but one per module: seeding takes a while). In a module
with tests marked ``workers`` (jobs must run) the reference pachd runs its
pipelines (``-workers``: Pachyderm's worker and sidecar as local processes) and
seeding waits for the jobs, as on ours; elsewhere it runs none, so there its
pipelines exist with their output repos but their jobs stay ``created``.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from pachmagic.client import Client
from tests.dual_server import SERVER_KINDS, TUTORIAL, ServerUnderTest, serving

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


def seed(client: Client, *, wait: bool = True) -> None:
    """Create the tutorial DAG and the failing ``upper`` pipeline, and wait for their jobs (if ``wait``)."""
    client.pfs.create_repo("photos")
    client.pfs.put_files("photos@master", [(n, (TUTORIAL / "photos" / n).read_bytes()) for n in ("hand.png", "landscape.png")])
    for spec in ("contour.yaml", "histogram.yaml"):
        client.pps.create_pipeline((TUTORIAL / spec).read_text())
    client.pfs.create_repo("words")
    client.pfs.put_files("words@master", {"/a.txt": "alpha", "/b.txt": "beta", "/bad.txt": "please fail"})
    client.pps.create_pipeline(UPPER_SPEC)
    if wait:
        client.pfs.wait_commit("histogram@master")
        client.pfs.wait_commit("upper@master")


@pytest.fixture(scope="module", params=SERVER_KINDS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerUnderTest]:
    # Worker pods cost time and CPU: only a module whose tests run jobs gets them on the reference pachd.
    runs_jobs = any(item.get_closest_marker("workers") is not None and item.module is request.module
                    for item in request.session.items)
    with serving(request.param, request, tmp_path_factory, workers=runs_jobs) as server:
        with server.client() as client:
            seed(client, wait=runs_jobs or not server.is_real_pachd)
        yield server


@pytest.fixture
def client(seeded: ServerUnderTest) -> Iterator[Client]:
    client = seeded.client()
    yield client
    client.close()
