"""The tutorial notebooks in a real browser, as opened from disk.

Notebook 4 as committed (untrusted, not run): its panels show as static HTML
snapshots and its DAG as an image, with no progress bar and no
``<IPython.core.display.SVG object>``. Screenshots go under each test's
temporary directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import JupyterLab, Notebook, Screens, needs_chromium

pytestmark = [pytest.mark.slow, needs_chromium]

def test_notebook_4_as_opened_reads_well_without_trust(jupyterlab: JupyterLab, chromium: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    screens = Screens(tmp_path / "screens", "notebook4-")
    nb = Notebook.open(chromium, jupyterlab, "04_widgets.ipynb")
    page = nb.page
    try:
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
    finally:
        print("browser console:", *nb.console, sep="\n  ")
        page.close()
