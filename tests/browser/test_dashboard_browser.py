"""The dashboard in a real browser: JupyterLab + the embedded server + headless Chromium.

The test seeds an embedded server with the tutorial (photos → contour →
histogram), writes a notebook that shows ``pachmagic.widgets.dashboard`` for
it (and a ``check`` pipeline with a failing datum), starts JupyterLab (no browser of its own, 127.0.0.1, a token, temporary
config/data/runtime/settings directories, a kernel spec pointing at this very
interpreter), opens the notebook in Debian's Chromium driven by Playwright
(never a downloaded browser), runs it the way a person does, and checks the
rendered DOM: the three panels, the repo and pipeline names, the jobs' progress,
and what clicks on a pipeline and on a failed job's ``Datums`` show.
It saves screenshots under the test's temporary directory.

It is skipped only where no Chromium executable can be found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import nbformat
import pytest

from pachmagic.server import LocalServer
from tests.browser.lab import KERNEL, TIMEOUT_MS, JupyterLab, Notebook, Screens, browser, needs_chromium

TUTORIAL = Path(__file__).resolve().parents[2] / "pachmagic" / "tutorial"

# A pipeline with one datum per file that fails on one of them: failed datums with log lines.
CHECK = "import pathlib, sys\nfor p in pathlib.Path('/pfs/words').iterdir():\n    if 'fail' in p.read_text():\n        sys.exit(f'cannot process {p.name}')\n    (pathlib.Path('/pfs/out') / p.name).write_text('ok')\n"
CHECK_SPEC = {
    "pipeline": {"name": "check"},
    "transform": {"cmd": ["python3", "-c", CHECK], "image": "python:3.12"},
    "input": {"pfs": {"repo": "words", "glob": "/*"}},
}

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def seeded_server(tmp_path: Path) -> Iterator[LocalServer]:
    server = LocalServer(data_dir=tmp_path / "pachd", workdir=TUTORIAL, in_process=True).start()
    client = server.client()
    client.pfs.create_repo("photos", description="tutorial photos")
    client.pfs.put_files("photos@master", [(n, (TUTORIAL / "photos" / n).read_bytes()) for n in ("hand.png", "landscape.png", "red_vase.png")])
    for spec in ("contour.yaml", "histogram.yaml"):
        client.pps.create_pipeline((TUTORIAL / spec).read_text())
    client.pfs.create_repo("words")
    client.pfs.put_files("words@master", {"/a.txt": "alpha", "/b.txt": "beta", "/bad.txt": "please fail"})
    client.pps.create_pipeline(CHECK_SPEC)
    client.pfs.wait_commit("histogram@master")
    client.pfs.wait_commit("check@master")
    client.close()
    yield server
    server.stop()


def write_notebook(path: Path, address: str, kernel: str) -> None:
    source = "\n".join(
        [
            "from pachmagic.client import connect",
            "from pachmagic.widgets import dashboard",
            f"client = connect({address!r})",
            "board = dashboard(client)",
            "board.repo_browser.show(repo='photos', path='/hand.png')",
            "board",
        ]
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# pachmagic dashboard"), nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "pachmagic (test venv)", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def jupyterlab(tmp_path: Path, seeded_server: LocalServer) -> Iterator[JupyterLab]:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    write_notebook(notebooks / "dashboard.ipynb", seeded_server.address, KERNEL)
    with JupyterLab(notebooks, tmp_path) as lab:
        yield lab


def test_dashboard_renders_in_jupyterlab(jupyterlab: JupyterLab, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    screens = Screens(tmp_path / "screens", "dashboard-")
    with browser(tmp_path / "chromium-profile", height=1400) as context:
        notebook = Notebook.open(context, jupyterlab, "dashboard.ipynb")
        page = notebook.page
        notebook.run_all()  # Run ▸ Run All Cells, as a person would

        board = page.locator(".pachmagic-dashboard")
        expect(board).to_be_visible(timeout=TIMEOUT_MS)
        browser_panel = board.locator(".pachmagic-repo-browser")
        dag = board.locator(".pachmagic-pipeline-dag")
        jobs = board.locator(".pachmagic-job-monitor")
        for panel in (browser_panel, dag, jobs):
            expect(panel).to_be_visible()
        # the repo browser: the repo picker offers photos and the file is previewed as an image
        expect(browser_panel.locator("select option", has_text="photos").first).to_be_attached()
        expect(browser_panel.locator("img").first).to_be_visible()
        expect(browser_panel).to_contain_text("hand.png")
        # the DAG: the three nodes drawn in the SVG, and a button per pipeline
        for name in ("photos", "contour", "histogram", "words", "check"):
            expect(dag.locator(f"svg.pachmagic-dag g[data-name='{name}']")).to_be_visible()
        for name in ("contour", "histogram", "check"):
            expect(dag.get_by_role("button", name=name, exact=True)).to_be_visible()
        expect(dag.locator("g[data-name='histogram']")).to_have_attribute("data-job-state", "success")
        # the jobs: one row per job with its progress bar
        expect(jobs.locator(".pachmagic-progress")).to_have_count(3)
        expect(jobs.locator(".pachmagic-progress-text", has_text="1 + 0 / 1")).to_have_count(2)
        expect(jobs.locator(".pachmagic-progress-text", has_text="2 + 0 / 3 · 1 failed")).to_be_visible()
        expect(jobs.locator(".pachmagic-seg.processed").first).to_be_visible()
        expect(jobs.locator(".pachmagic-seg.failed")).to_be_visible()
        expect(jobs.locator(".pachmagic-job-state[data-state='success']")).to_have_count(2)
        expect(jobs.locator(".pachmagic-job-state[data-state='failure']")).to_have_count(1)
        expect(board.locator(".pachmagic-error")).to_have_count(0)
        # clicks in the browser reach the kernel: a pipeline's spec, a failed job's datums and logs
        dag.get_by_role("button", name="contour", exact=True).click()
        expect(dag.locator(".pachmagic-spec")).to_contain_text("contour.py")
        jobs.locator("button[title^='Datums and logs of default/check@']").click()
        expect(jobs.locator(".pachmagic-failed-datum")).to_contain_text("cannot process bad.txt")
        expect(dag.locator("g.pachmagic-node.highlighted[data-name='check']")).to_be_visible()  # its commit set

        board.scroll_into_view_if_needed()
        screens.take(page, "jupyterlab")
        shot = screens.take(board, "panels")
        assert shot.stat().st_size > 10_000
        print("screenshots:", *screens.saved)
