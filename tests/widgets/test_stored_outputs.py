"""Stored outputs read well: what a notebook shows when opened from disk, before it is run (#16 item 8).

A panel's output carries, beside the live widget, a static HTML snapshot that
a front end shows where no kernel brings the widget to life; the DAG shows as
an image without trust (inline SVG needs a trusted notebook); and the
committed notebooks hold no progress bar (progress displays erase themselves).
The browser test (tests/browser/test_notebooks_browser.py) looks at notebook 4
as opened in JupyterLab.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pachmagic.client import Client
from pachmagic.widgets import Dashboard, JobMonitor, PipelineDAG, RepoBrowser
from pachmagic.widgets._snapshot import END, START

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PROGRESS = re.compile(r"\d+%\||\?\w*/s\]|\r")  # tqdm's "0%|", "?B/s]", "?commit/s]" (text or widget), carriage returns


@pytest.mark.parametrize("kind", [RepoBrowser, PipelineDAG, JobMonitor, Dashboard], ids=lambda k: k.__name__)
def test_a_panel_output_carries_a_static_snapshot(client: Client, kind: type) -> None:
    widget = kind(client, refresh_interval=None)
    try:
        widget.wait()
        bundle = widget._repr_mimebundle_()
        assert WIDGET_VIEW in bundle  # still the live widget where a kernel runs
        snapshot = bundle["text/html"]
        assert snapshot.startswith(START) and snapshot.rstrip().endswith(END)
        assert "a snapshot; run the notebook for the live panel" in snapshot
        assert "<svg" not in snapshot and "<script" not in snapshot  # what a sanitizer keeps
        if kind in (PipelineDAG, Dashboard):
            assert "<img alt='pipeline DAG'" in snapshot and "data:image/svg+xml;base64," in snapshot
        if kind in (RepoBrowser, Dashboard):  # what it had loaded: the repo it opened on
            browser = widget if kind is RepoBrowser else widget.repo_browser
            assert f"<b>{browser.selection['repo']}</b>" in snapshot
    finally:
        widget.close()


def test_the_dag_drawing_shows_without_trust(client: Client) -> None:
    dag = PipelineDAG(client, refresh_interval=None)
    try:
        dag.wait()
        bundle = dag.drawing._repr_mimebundle_()
        assert bundle["text/html"].startswith("<img alt='pipeline DAG'")  # shown untrusted
        assert bundle["image/svg+xml"].startswith("<svg")  # and the SVG itself, for trusted views
        assert "contour" in bundle["text/plain"] and "IPython.core.display.SVG" not in bundle["text/plain"]
    finally:
        dag.close()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_read_well_as_opened(path: Path) -> None:
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    for number, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            where = f"{path.name} code cell {number}"
            if output["output_type"] == "stream":
                text = "".join(output["text"])
                assert not PROGRESS.search(text), f"{where}: a saved progress bar: {text[:120]!r}"
                continue
            data = output.get("data", {})
            plain = "".join(data.get("text/plain", ""))
            assert not PROGRESS.search(plain), f"{where}: a saved progress bar: {plain[:120]!r}"
            if WIDGET_VIEW in data and "(a live widget)" in plain:
                assert START in "".join(data.get("text/html", "")), f"{where}: a panel without its snapshot"
            if "IPython.core.display.SVG object" in plain:
                assert "text/html" in data or "image/png" in data, f"{where}: an SVG shown only to trusted notebooks"
