"""Each panel built from a real client against a seeded server (embedded, then reference pachd).

No kernel: ipywidgets builds models without a front end, ``Button.click()``
runs the handlers, and ``panel.wait()`` waits for the queued work. The checks
read the widgets' values (what a browser would render).
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import ipywidgets as w
import pandas as pd
import pytest

from pachmagic.client import Client, connect
from pachmagic.widgets import Dashboard, JobMonitor, PipelineDAG, RepoBrowser, dashboard

W = TypeVar("W", bound=w.Widget)
TUTORIAL = Path(__file__).resolve().parents[2] / "pachmagic" / "tutorial"


def walk(widget: w.Widget) -> Iterator[w.Widget]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def find(root: w.Widget, kind: type[W], description: str | None = None) -> list[W]:
    return [x for x in walk(root) if isinstance(x, kind) and (description is None or getattr(x, "description", None) == description)]


def button(root: w.Widget, description: str) -> w.Button:
    (found,) = find(root, w.Button, description)
    return found


def html(root: w.Widget) -> str:
    return "\n".join(x.value for x in find(root, w.HTML))


def eventually(check: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll ``check`` until it holds (bounded; no assertion on how long it took)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def seeded_without_workers(client: Client) -> bool:
    """True on the reference pachd, where the seeded pipelines never ran (their output repos are empty)."""
    return client.admin.inspect_cluster().id == "mockPachd"


@pytest.fixture
def browser(client: Client, tmp_path: Path) -> Iterator[RepoBrowser]:
    panel = RepoBrowser(client, refresh_interval=None, page_size=200)
    assert panel.wait()
    yield panel
    panel.close()


# --- RepoBrowser -------------------------------------------------------------------------


def test_repo_browser_children_and_initial_listing(browser: RepoBrowser, client: Client) -> None:
    for name in ("Refresh", "Up", "Prev", "Next", "Download", "History"):
        button(browser, name)
    (project,) = find(browser, w.Dropdown, "project")
    (repo,) = find(browser, w.Dropdown, "repo")
    (ref,) = find(browser, w.Dropdown, "ref")
    assert project.value == "default"
    assert {"photos", "contour", "histogram", "words", "upper"} <= set(repo.options)
    assert ref.value == "master" and browser.error == ""
    (entries,) = find(browser, w.Select)
    # The first repo's root is listed (on the reference pachd that may be an output repo no job has filled).
    root = [f.path for f in client.pfs.list_file(f"{repo.value}@master:/")]
    assert [v for _, v in entries.options] == root
    assert root or seeded_without_workers(client)


def test_repo_browser_image_text_csv_parquet_binary_previews(browser: RepoBrowser, client: Client) -> None:
    client.pfs.create_repo("previews")
    frame = pd.DataFrame({"city": ["Oslo", "Lima"], "temp": [3, 19]})
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    client.pfs.put_files(
        "previews@master",
        {"/notes/readme.md": "# Hello <world>", "/t.csv": frame.to_csv(index=False), "/t.parquet": parquet.getvalue(), "/blob": b"\x00\x01" * 10},
    )
    browser.show(repo="photos", path="/hand.png")
    assert browser.wait()
    (image,) = find(browser, w.Image)
    assert image.format == "png" and bytes(image.value) == (TUTORIAL / "photos" / "hand.png").read_bytes()
    assert browser.selection["file"] == "/hand.png" and "hand.png" in html(browser)

    cases = {"/notes/readme.md": "# Hello &lt;world&gt;", "/t.csv": "<th>city</th>", "/t.parquet": "2 rows in all", "/blob": "binary file"}
    for path, expected in cases.items():
        browser.show(repo="previews", path=path)
        assert browser.wait()
        assert expected in html(browser), path
        assert not find(browser, w.Image)


def test_repo_browser_navigates_directories_and_pages(browser: RepoBrowser, client: Client) -> None:
    client.pfs.create_repo("many")
    client.pfs.put_files("many@master", [(f"/big/f{i:04d}.txt", str(i)) for i in range(450)] + [("/top.txt", "t")])
    browser.show(repo="many")
    assert browser.wait()
    (entries,) = find(browser, w.Select)
    assert [v for _, v in entries.options] == ["/big/", "/top.txt"]
    entries.value = "/big/"  # as a user clicking the directory
    assert browser.wait()
    assert browser.selection["dir"] == "/big/"
    assert len(entries.options) == 201 and entries.options[1][1] == "/big/f0000.txt"  # ".." + 200 entries
    assert "page 1 of 3 · 450 entries" in html(browser)
    assert button(browser, "Prev").disabled and not button(browser, "Next").disabled
    button(browser, "Next").click()
    assert browser.wait()
    assert entries.options[1][1] == "/big/f0200.txt" and "page 2 of 3" in html(browser)
    button(browser, "Next").click()
    assert browser.wait()
    assert len(entries.options) == 51 and button(browser, "Next").disabled
    button(browser, "Prev").click()
    assert browser.wait()
    assert "page 2 of 3" in html(browser)
    button(browser, "Up").click()
    assert browser.wait()
    assert browser.selection["dir"] == "/" and [v for _, v in entries.options] == ["/big/", "/top.txt"]


def test_repo_browser_download_and_history(browser: RepoBrowser, client: Client, tmp_path: Path) -> None:
    client.pfs.create_repo("hist")
    client.pfs.put_file("hist@master", "/d/a.txt", "one")
    client.pfs.put_file("hist@master", "/d/a.txt", "two")
    client.pfs.put_file("hist@master", "/d/other.txt", "x")
    client.pfs.put_file("hist@master", "/d/a.txt", "three!")
    browser.show(repo="hist", path="/")
    assert browser.wait()
    assert button(browser, "Download").disabled  # nothing selected
    browser.show(repo="hist", path="/d/a.txt")
    assert browser.wait()
    before = sorted(p.name for p in Path.cwd().iterdir())
    button(browser, "Download").click()
    assert browser.wait()
    assert browser.download == ("a.txt", b"three!")  # prepared for the browser ...
    assert "download='a.txt'" in html(browser) and "a.txt (6B) is ready" in html(browser)  # ... and it says so
    assert sorted(p.name for p in Path.cwd().iterdir()) == before  # nothing written on the kernel's machine
    button(browser, "History").click()
    assert browser.wait()
    assert [r.change for r in browser.history] == ["modified", "modified", "added"]
    assert "History of /d/a.txt" in html(browser)

    assert "is ready" in html(browser)  # the confirmation stays ...
    browser.show(repo="hist", path="/d/")  # ... until the selection changes; in a directory: a zip of it
    assert browser.wait()
    assert "is ready" not in html(browser) and browser.download is None
    assert browser.selection["file"] is None and button(browser, "History").disabled
    button(browser, "Download").click()
    assert browser.wait()
    name, data = browser.download
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(data))
    assert name == "d.zip" and sorted(archive.namelist()) == ["a.txt", "other.txt"]
    assert archive.read("other.txt") == b"x"


def test_repo_browser_refresh_button_and_background_refresh(client: Client) -> None:
    client.pfs.create_repo("live")
    client.pfs.put_file("live@master", "/first.txt", "1")
    panel = RepoBrowser(client, refresh_interval=None)
    try:
        panel.show(repo="live")
        assert panel.wait()
        (entries,) = find(panel, w.Select)
        client.pfs.put_file("live@master", "/second.txt", "2")
        assert [v for _, v in entries.options] == ["/first.txt"]
        button(panel, "Refresh").click()
        assert panel.wait()
        assert [v for _, v in entries.options] == ["/first.txt", "/second.txt"]
    finally:
        panel.close()
    auto = RepoBrowser(client, refresh_interval=0.05)
    try:
        auto.show(repo="live")
        assert auto.wait()
        client.pfs.put_file("live@master", "/third.txt", "3")
        (entries,) = find(auto, w.Select)
        assert eventually(lambda: "/third.txt" in [v for _, v in entries.options])
        assert auto.auto_refreshing
    finally:
        auto.close()
    assert eventually(lambda: not auto.auto_refreshing) and auto.closed


def test_errors_show_inside_the_panel() -> None:
    bad = connect("127.0.0.1:1")
    panel = RepoBrowser(bad, refresh_interval=None)
    try:
        assert panel.wait()
        assert panel.error.startswith("ConnectionFailed") and "127.0.0.1:1" in panel.error
        assert "pachmagic-error" in html(panel)
        button(panel, "Refresh").click()  # still no exception: it stays in the panel
        assert panel.wait() and panel.error
    finally:
        panel.close()
        bad.close()


# --- PipelineDAG -------------------------------------------------------------------------


@pytest.mark.workers
def test_pipeline_dag_draws_states_and_globs(client: Client) -> None:
    panel = PipelineDAG(client, refresh_interval=None)
    try:
        assert panel.wait() and panel.error == ""
        svg = panel.svg
        for name in ("photos", "contour", "histogram", "words", "upper"):
            assert f"data-name='{name}'" in svg
        assert "/*" in svg and "data-job-state='failure'" in svg and "data-job-state='success'" in svg
        assert {b.description for b in find(panel, w.Button)} >= {"Refresh", "contour", "histogram", "upper"}
        assert button(panel, "upper").button_style == "danger" and button(panel, "contour").button_style == "success"
        assert [e.label for e in panel.graph.edges if e.target.endswith("/upper")] == ["/*"]
    finally:
        panel.close()


@pytest.mark.workers
def test_pipeline_dag_click_shows_spec_and_jobs_and_commit_sets_highlight(client: Client) -> None:
    panel = PipelineDAG(client, refresh_interval=None)
    try:
        assert panel.wait()
        button(panel, "contour").click()
        assert panel.wait()
        assert panel.selected == "contour"
        details = html(panel)
        assert "contour.py" in details and "pachmagic-recent-jobs" in details and "1 + 0 / 1" in details
        assert "stroke-dasharray" in panel.svg
        button(panel, "contour").click()  # a second click deselects
        assert panel.wait()
        assert panel.selected is None and "pachmagic-spec" not in html(panel)

        client.pfs.put_file("words@master", "/d.txt", "delta")  # one commit set: words and upper
        commit_set = client.pfs.inspect_commit("words@master").id
        client.pfs.wait_commit("upper@master")
        button(panel, "Refresh").click()
        assert panel.wait()
        (sets,) = find(panel, w.Dropdown, "commit set")
        assert commit_set in [v for _, v in sets.options]
        sets.value = commit_set  # as a user choosing it
        assert panel.wait()
        assert panel.highlighted == {"pipeline:default/upper", "repo:default/words"}
        assert "highlighted" in panel.svg
        sets.value = ""
        assert panel.wait()
        assert panel.highlighted == frozenset()
    finally:
        panel.close()


# --- JobMonitor --------------------------------------------------------------------------


@pytest.mark.workers
def test_job_monitor_rows_progress_and_failed_datum_logs(client: Client) -> None:
    panel = JobMonitor(client, refresh_interval=None)
    seen: list[str] = []
    panel.on_select(lambda job: seen.append(job.pipeline))
    try:
        assert panel.wait() and panel.error == ""
        assert {j.pipeline for j in panel.jobs} >= {"contour", "histogram", "upper"}
        text = html(panel)
        assert "pachmagic-progress" in text and "1 + 0 / 1" in text and "2 + 0 / 3 · 1 failed" in text
        assert "3 jobs" in text or "jobs" in text
        datums = find(panel, w.Button, "Datums")
        assert len(datums) == len(panel.jobs)
        upper = next(b for b in datums if "upper@" in b.tooltip)
        assert upper.button_style == "danger"
        upper.click()
        assert panel.wait()
        details = html(panel)
        assert "failed datum" in details and "cannot process bad.txt" in details and "words@" in details  # a datum file names its commit, not a branch (as pachd)
        assert panel.selected is not None and panel.selected.endswith(client.pps.list_job(pipeline="upper")[0].id)
        assert seen == ["upper"]
        upper.click()  # hides them again
        assert panel.wait()
        assert "failed datum" not in html(panel)
    finally:
        panel.close()


@pytest.mark.workers
def test_job_monitor_follows_a_running_job(client: Client) -> None:
    panel = JobMonitor(client, pipeline="upper", refresh_interval=0.05)
    try:
        assert panel.wait()
        client.pfs.put_file("words@master", "/c.txt", "gamma")
        commit_set = client.pfs.inspect_commit("words@master").id  # the new job's id
        assert eventually(lambda: bool(panel.jobs) and panel.jobs[0].id == commit_set and panel.jobs[0].done)
        files = len(client.pfs.list_file("words@master:/"))
        assert panel.jobs[0].data_total == files
        assert eventually(lambda: f"/ {files}" in html(panel))
    finally:
        panel.close()


# --- Dashboard ---------------------------------------------------------------------------


def test_dashboard_has_three_panels_and_links_jobs_to_the_dag(client: Client) -> None:
    board = dashboard(client, refresh_interval=0.1)
    try:
        assert isinstance(board, Dashboard) and board.wait()
        repos, dag, jobs = board.panels
        assert isinstance(repos, RepoBrowser) and isinstance(dag, PipelineDAG) and isinstance(jobs, JobMonitor)
        assert all(p in list(walk(board)) for p in board.panels)
        assert client.address in html(board)
        upper = next(b for b in find(jobs, w.Button, "Datums") if "upper@" in b.tooltip)
        upper.click()
        assert eventually(lambda: "pipeline:default/upper" in dag.highlighted)
        button(board, "Refresh all").click()
        assert board.wait() and all(p.error == "" for p in board.panels)
        assert board.auto_refreshing and not any(p.auto_refreshing for p in board.panels)
    finally:
        board.close()
    assert eventually(lambda: not board.auto_refreshing)
    assert board.closed and all(p.closed for p in board.panels)


def test_repo_browser_opens_on_the_repo_changed_last_that_has_data(client: Client) -> None:
    client.pfs.create_repo("aaa-empty")  # first by name, and empty: not where to open
    client.pfs.create_repo("zz-latest")
    client.pfs.put_file("zz-latest@master", "/new.txt", "fresh")
    panel = RepoBrowser(client, refresh_interval=None)
    try:
        assert panel.wait()
        assert panel.selection["repo"] == "zz-latest"
        assert "zz-latest@master · 1 entry in /" in html(panel)  # one entry, not "1 entries"
    finally:
        panel.close()
        client.pfs.delete_repo("aaa-empty")
        client.pfs.delete_repo("zz-latest")
