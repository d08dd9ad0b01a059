"""The tutorial notebooks in a real browser: as opened from disk, and run with Run All.

Notebook 4 as committed (untrusted, not run): its panels show as static HTML
snapshots and its DAG as an image, with no progress bar and no
``<IPython.core.display.SVG object>``. Notebook 2 with Run ▸ Run All: images,
tables, the summary lines of its waits, and one red line in the cell whose
pipeline fails on purpose (tagged ``raises-exception``, so Run All goes on).
Screenshots go under each test's temporary directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import JupyterLab, needs_chromium, opened

pytestmark = [pytest.mark.slow, needs_chromium]

NOTEBOOK_2 = Path(__file__).resolve().parents[2] / "notebooks" / "02_contour_histogram_magics.ipynb"
RUN_ALL_MS = 900_000  # notebook 2 runs three pipelines several times on a busy 2-core machine


def test_notebook_4_as_opened_reads_well_without_trust(jupyterlab: JupyterLab, chromium: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with opened(chromium, jupyterlab, "04_widgets.ipynb", tmp_path / "screens", "notebook4-") as (nb, screens):
        page = nb.page
        notebook = page.locator(".jp-Notebook")
        dashboard = notebook.locator(".jp-Cell", has_text="dash = %pach dashboard")
        snapshot = dashboard.locator(".jp-OutputArea .pachmagic-snapshot")
        expect(snapshot).to_be_visible()  # the static picture, not "<Dashboard of ... (a live widget)>"
        expect(snapshot).to_contain_text("Repos")
        expect(snapshot).to_contain_text("Pipelines")
        expect(snapshot.locator("img").first).to_be_visible()  # the DAG drawn as an image
        dag = notebook.locator(".jp-Cell", has_text="dash.pipeline_dag.drawing").locator(".jp-OutputArea img[alt='pipeline DAG']")
        expect(dag).to_be_visible()
        assert (dag.bounding_box() or {}).get("width", 0) > 200
        text = notebook.inner_text()
        assert "IPython.core.display.SVG object" not in text
        assert "(a live widget)" not in text
        assert "0%|" not in text and "?B/s" not in text and "commit/s" not in text  # no saved progress bars
        dashboard.scroll_into_view_if_needed()
        screens.take(page, "as-opened")


@pytest.mark.timeout(RUN_ALL_MS // 1000 + 600)  # beyond pytest's default 600 s: the whole notebook, then the checks
def test_notebook_2_run_all(jupyterlab: JupyterLab, chromium: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with opened(chromium, jupyterlab, "02_contour_histogram_magics.ipynb", tmp_path / "screens", "notebook2-") as (nb, screens):
        page = nb.page
        page.locator(".jp-Notebook").click()
        page.keyboard.press("Escape")
        nb.menu("Edit", "editmenu:clear-all", "notebook:clear-all-cell-outputs")  # start from a clean page
        expect(page.locator(".jp-Notebook .jp-OutputArea-output")).to_have_count(0)
        nb.run_all()
        nb.wait_idle(timeout=RUN_ALL_MS)
        notebook = page.locator(".jp-Notebook")
        # Run All went to the end, past the failing cell: the last cell's listing of repos, empty after cleanup
        last = nb.output(-1)
        expect(last.locator("table.dataframe thead")).to_contain_text("description")
        expect(last.locator("table.dataframe tbody tr")).to_have_count(0)
        # images and tables
        stored = [o for c in json.loads(NOTEBOOK_2.read_text())["cells"] for o in c.get("outputs", [])]
        images = sum("image/png" in o.get("data", {}) for o in stored)  # as many as the committed notebook shows
        tables = sum("dataframe" in "".join(o.get("data", {}).get("text/html", "")) for o in stored)
        expect(notebook.locator(".jp-OutputArea-output img")).to_have_count(images)
        assert images == 3 and notebook.locator(".jp-OutputArea-output table.dataframe").count() >= tables - 1
        # each wait left its summary line and no bar
        expect(notebook.locator(".jp-OutputArea-output", has_text="histogram@master: histogram success (1 processed)")).to_have_count(1)
        expect(notebook.locator(".pachmagic-progress-line")).to_have_count(0)
        # the deliberately failing cell: one red line naming the pipeline, the job and the cause
        failing = notebook.locator(".jp-CodeCell", has_text="name: metadata")
        errors = failing.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        expect(errors).to_have_count(1)
        line = errors.inner_text().strip()
        assert "\n" not in line and "Traceback" not in line, line
        assert line.startswith("failed: metadata@") and "UnicodeDecodeError: 'utf-8' codec can't decode byte 0x89" in line
        background = errors.evaluate("el => getComputedStyle(el).backgroundColor")
        red, green, blue = [int(c) for c in background.replace("rgba(", "").replace("rgb(", "").rstrip(")").split(",")[:3]]
        assert red > green and red > blue, f"the failure line is not red: {background}"
        failing.scroll_into_view_if_needed()
        screens.take(page, "failing-cell")
        image = notebook.locator(".jp-CodeCell", has_text="%pach get file contour@master:/landscape.png")
        image.scroll_into_view_if_needed()
        screens.take(page, "image")
