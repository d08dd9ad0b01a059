"""Widget lifetimes: every widget a panel makes is shown or closed, never left half-closed.

A browser reload restores every widget model of the kernel; one live box with
a closed child made that fail for *all* of them ("Loading widget..." even for
an unrelated ``IntSlider``). The job monitor used to wrap rows in new boxes on
each change and close the rows but not the old boxes. These tests count the
kernel's live widgets (ipywidgets' registry) through many refreshes, changes
and clicks, and check that what is open is exactly what the panels show.
"""

from __future__ import annotations

from typing import Iterator

import ipywidgets as w
import pytest
from ipywidgets.widgets.widget import _instances  # the kernel's live widget models, by model id

from pachmagic.client import Client
from pachmagic.widgets import JobMonitor, dashboard

SLOW_SPEC = {
    "pipeline": {"name": "lifetimes"},
    "transform": {"cmd": ["sh", "-c", "cp -r /pfs/lifein/* /pfs/out/"], "image": "alpine"},
    "input": {"pfs": {"repo": "lifein", "glob": "/*"}},
}


def reachable(root: w.Widget) -> set[str]:
    """Model ids of ``root`` and every widget it refers to (children, layout, style...)."""
    seen: dict[str, w.Widget] = {}

    def visit(widget: w.Widget) -> None:
        if widget.model_id in seen:
            return
        seen[widget.model_id] = widget
        for name in widget.keys:
            value = getattr(widget, name)
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, w.Widget) and item.comm is not None:
                    visit(item)

    visit(root)
    return set(seen)


def half_closed() -> list[str]:
    """Live widgets that refer to a closed widget (what breaks a browser's restore)."""
    bad = []
    for widget in list(_instances.values()):
        for name in widget.keys:
            value = getattr(widget, name)
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, w.Widget) and item.comm is None:
                    bad.append(f"{type(widget).__name__}.{name} holds a closed {type(item).__name__}")
    return bad


@pytest.fixture
def jobs_that_change(client: Client) -> Iterator[Client]:
    client.pfs.create_repo("lifein")
    client.pfs.put_file("lifein@master", "/0.txt", "0")
    client.pps.create_pipeline(SLOW_SPEC)
    client.pfs.wait_commit("lifetimes@master")
    yield client
    client.pps.delete_pipeline("lifetimes", force=True)
    client.pfs.delete_repo("lifein", force=True)


@pytest.mark.workers
def test_job_rows_that_scroll_away_are_closed_with_their_boxes(jobs_that_change: Client) -> None:
    client = jobs_that_change
    before = set(_instances)
    panel = JobMonitor(client, pipeline="lifetimes", number=2, refresh_interval=None)
    try:
        assert panel.wait()
        for n in range(1, 5):  # each commit makes a job; the panel shows the newest two
            client.pfs.put_file("lifein@master", f"/{n}.txt", str(n))
            client.pfs.wait_commit("lifetimes@master")
            panel.refresh()
            assert panel.wait() and panel.error == ""
            assert len(panel.jobs) == 2
            assert half_closed() == []
            made = set(_instances) - before
            assert made == reachable(panel), "widgets made by the panel but not shown (leaked)"
    finally:
        panel.close()
    assert set(_instances) - before == set()


def test_a_dashboard_keeps_a_steady_set_of_widgets_and_closes_them_all(client: Client) -> None:
    before = set(_instances)
    board = dashboard(client, refresh_interval=None)
    repos, dag, jobs = board.panels
    try:
        assert board.wait()

        def exercise() -> None:
            repos.show(repo="photos", path="/hand.png")
            repos.show(repo="words", path="/a.txt")
            repos.show(repo="photos", path="/")
            dag.select("contour")
            dag.select("upper")
            jobs.select(str(jobs.jobs[0].job))
            jobs.select(None)
            board.refresh()
            assert board.wait() and all(p.error == "" for p in board.panels)

        exercise()
        steady = len(set(_instances) - before)
        for _ in range(5):
            exercise()
            assert half_closed() == []
        made = set(_instances) - before
        assert len(made) == steady  # the same widgets, updated in place
        leaked = made - reachable(board)
        assert not leaked, [(type(_instances[i]).__name__, getattr(_instances[i], "value", "")) for i in leaked]
    finally:
        board.close()
    assert set(_instances) - before == set()
    assert half_closed() == []


def test_a_panel_hidden_by_the_front_end_stops_polling_and_resumes_when_shown(client: Client) -> None:
    import time

    board = dashboard(client, refresh_interval=0.05)
    try:
        assert board.wait()
        calls = []
        original = board.repo_browser._refresh_now
        board.repo_browser._refresh_now = lambda: (calls.append(1), original())[1]  # type: ignore[method-assign]
        assert not board.hidden  # never shown yet: a script without a front end still refreshes
        board._view_count = 1  # what the front end sends when it shows the dashboard ...
        board._view_count = 0  # ... and when its output is cleared or replaced
        assert board.hidden
        time.sleep(0.3)
        board.wait()
        quiet = len(calls)
        time.sleep(0.5)
        assert len(calls) == quiet  # no polling while hidden
        board._view_count = 1  # shown again (e.g. a reloaded page renders it)
        assert not board.hidden
        deadline = time.monotonic() + 30
        while len(calls) <= quiet + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(calls) > quiet + 1
    finally:
        board.close()
