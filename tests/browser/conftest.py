"""One seeded embedded server, one JupyterLab and one Chromium for all the browser tests.

Starting JupyterLab is the slow part, so it is shared by the package
(``scope="package"``); Chromium is shared by each module (see ``chromium``).
Each test opens its own notebook in its own page. The server holds the tutorial (photos → contour → histogram), a ``check``
pipeline with a failing datum, and a ``slow`` pipeline whose jobs sleep as long
as its input says (for waits to interrupt).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import nbformat
import pytest

from pachmagic.server import LocalServer
from tests.browser.lab import KERNEL, JupyterLab, browser

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "pachmagic" / "tutorial"

# A pipeline with one datum per file that fails on one of them: failed datums with log lines.
CHECK = "import pathlib, sys\nfor p in pathlib.Path('/pfs/words').iterdir():\n    if 'fail' in p.read_text():\n        sys.exit(f'cannot process {p.name}')\n    (pathlib.Path('/pfs/out') / p.name).write_text('ok')\n"
CHECK_SPEC = {
    "pipeline": {"name": "check"},
    "transform": {"cmd": ["python3", "-c", CHECK], "image": "python:3.12"},
    "input": {"pfs": {"repo": "words", "glob": "/*"}},
}
SLOW_SPEC = {
    "pipeline": {"name": "slow"},
    "transform": {"cmd": ["sh", "-c", "sleep $(cat /pfs/nums/n); cp /pfs/nums/n /pfs/out/"], "image": "busybox"},
    "input": {"pfs": {"repo": "nums", "glob": "/"}},
}


def notebook(path: Path, *sources: str) -> Path:
    """Write a notebook of code cells for the test kernel."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "pachmagic (test venv)", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="package")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(data_dir=tmp_path_factory.mktemp("pachd"), workdir=TUTORIAL, in_process=True).start()
    client = server.client()
    client.pfs.create_repo("photos", description="tutorial photos")
    client.pfs.put_files("photos@master", [(n, (TUTORIAL / "photos" / n).read_bytes()) for n in ("hand.png", "landscape.png", "red_vase.png")])
    client.pfs.create_branch("photos@staging", head="photos@master")
    for spec in ("contour.yaml", "histogram.yaml"):
        client.pps.create_pipeline((TUTORIAL / spec).read_text())
    client.pfs.create_repo("words")
    client.pfs.put_files("words@master", {"/a.txt": "alpha", "/b.txt": "beta", "/bad.txt": "please fail"})
    client.pps.create_pipeline(CHECK_SPEC)
    client.pfs.create_repo("nums")
    client.pfs.put_file("nums@master", "/n", "0")
    client.pps.create_pipeline(SLOW_SPEC)
    for output in ("histogram", "check", "slow"):
        client.pfs.wait_commit(f"{output}@master")
    client.close()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory JupyterLab serves: the tutorial notebooks as committed, and the tests' own."""
    root = tmp_path_factory.mktemp("lab")
    for name in ("02_contour_histogram_magics.ipynb", "04_widgets.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, root / name)
    return root


@pytest.fixture(scope="package")
def jupyterlab_server(tmp_path_factory: pytest.TempPathFactory, lab_root: Path) -> Iterator[JupyterLab]:
    with JupyterLab(lab_root, tmp_path_factory.mktemp("jupyterlab")) as lab:
        yield lab


@pytest.fixture
def jupyterlab(jupyterlab_server: JupyterLab) -> Iterator[JupyterLab]:
    """The shared JupyterLab; the kernels a test started are shut down after it."""
    yield jupyterlab_server
    jupyterlab_server.shutdown_kernels()


# Module scope, unlike the rest: Playwright's sync API keeps an asyncio loop running in this
# thread while it is open, and a directory without __init__.py makes "package" mean the whole
# session, so a shared browser broke every later test that runs an event loop (tests/jupyterlab).
@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)  # a busy 2-core machine: panels take seconds to load
    with browser(tmp_path_factory.mktemp("chromium-profile"), height=1200) as context:
        yield context
