"""The dashboard in a real browser: JupyterLab + the embedded server + Debian's Chromium.

What a person does with it: run the notebook, read the three panels, click a
pipeline and a failed job's ``Datums``, click a file and download it through
the browser, save and reload the page (the panels come back live, and so does
an unrelated ``IntSlider``), re-run the dashboard cell (one set of pollers
remains), and switch to the dark theme (the DAG stays readable). Screenshots go
under each test's temporary directory.

Skipped only where no Chromium executable can be found.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pachmagic.server import LocalServer
from tests.browser.conftest import notebook
from tests.browser.lab import JupyterLab, needs_chromium, opened

pytestmark = [pytest.mark.slow, needs_chromium]


def test_dashboard_renders_in_jupyterlab(jupyterlab: JupyterLab, chromium: Any, seeded_server: LocalServer,
                                         lab_root: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    notebook(lab_root / "dashboard.ipynb",
             "from pachmagic.client import connect\nfrom pachmagic.widgets import dashboard\n"
             f"client = connect({seeded_server.address!r})\nboard = dashboard(client)\n"
             "board.repo_browser.show(repo='photos', path='/hand.png')\nboard")
    with opened(chromium, jupyterlab, "dashboard.ipynb", tmp_path / "screens", "dashboard-") as (nb, screens):
        page = nb.page
        nb.run_all()  # Run ▸ Run All Cells, as a person would
        board = page.locator(".pachmagic-dashboard")
        expect(board).to_be_visible()
        browser_panel = board.locator(".pachmagic-repo-browser")
        dag = board.locator(".pachmagic-pipeline-dag")
        jobs = board.locator(".pachmagic-job-monitor")
        for panel in (browser_panel, dag, jobs):
            expect(panel).to_be_visible()
        # the repo browser: the repo picker offers photos and the file is previewed as an image, whole
        expect(browser_panel.locator("select option", has_text="photos").first).to_be_attached()
        image = browser_panel.locator("img").first
        expect(image).to_be_visible()
        box = image.bounding_box()
        panel_box = browser_panel.bounding_box()
        assert box is not None and panel_box is not None
        assert box["x"] + box["width"] <= panel_box["x"] + panel_box["width"] + 1  # not cropped
        expect(browser_panel).to_contain_text("hand.png")
        expect(browser_panel).not_to_contain_text("1 entries")
        # the DAG: the nodes drawn in the SVG, and a button per pipeline
        for name in ("photos", "contour", "histogram", "words", "check"):
            expect(dag.locator(f"svg.pachmagic-dag g[data-name='{name}']")).to_be_visible()
        for name in ("contour", "histogram", "check"):
            expect(dag.get_by_role("button", name=name, exact=True)).to_be_visible()
        expect(dag.locator("g[data-name='histogram']")).to_have_attribute("data-job-state", "success")
        # a pipeline whose last job failed is drawn failed, not in its "running" green
        expect(dag.locator("g[data-name='check']")).to_contain_text("last job failure")
        # the jobs: one row per job with its progress bar
        client = seeded_server.client()
        try:
            count = len(client.pps.list_job())  # other tests of the package may have run jobs (the slow one)
        finally:
            client.close()
        expect(jobs.locator(".pachmagic-progress")).to_have_count(count)
        expect(jobs.locator(".pachmagic-progress-text", has_text="1 + 0 / 1")).to_have_count(3)
        expect(jobs.locator(".pachmagic-progress-text", has_text="2 + 0 / 3 · 1 failed")).to_be_visible()
        expect(jobs.locator(".pachmagic-seg.failed")).to_be_visible()
        expect(jobs.locator(".pachmagic-job-state[data-state='success']")).to_have_count(3)
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
        assert screens.take(board, "panels").stat().st_size > 10_000


POLLERS = ("sorted(t.name for t in __import__('threading').enumerate() "
           "if t.name.startswith('pachmagic-') and t.name.endswith('-refresh'))")


def test_click_download_reload_rerun_and_dark_theme(jupyterlab: JupyterLab, chromium: Any, seeded_server: LocalServer,
                                                    lab_root: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    notebook(lab_root / "reload.ipynb",
             "%load_ext pachmagic\n%config PachMagic.raise_on_failure = True",
             f"%pach connect {seeded_server.address}",
             "%pach dashboard --refresh 1",
             "import ipywidgets as w\nw.IntSlider(7, description='unrelated')",
             POLLERS)
    with opened(chromium, jupyterlab, "reload.ipynb", tmp_path / "screens", "reload-") as (nb, screens):
        page = nb.page
        try:
            nb.run_all()
            nb.wait_idle()
            board = page.locator(".pachmagic-dashboard")
            repos = board.locator(".pachmagic-repo-browser")
            expect(repos.locator("select").nth(1)).to_be_visible()
            # click a file: choose the repo, then the file in the listing
            repos.locator("select").nth(1).select_option("photos")
            # histogram's listing has a hand.png too: wait for the panel to show photos before picking the file
            expect(repos).to_contain_text(re.compile(r"photos@master · \d+ entries"))
            listing = repos.locator("select[size]")
            expect(listing).to_contain_text("hand.png")
            labels = [o.strip() for o in listing.locator("option").all_inner_texts()]
            listing.select_option(index=next(i for i, label in enumerate(labels) if label.startswith("hand.png")))
            expect(repos.locator("img").first).to_be_visible()
            expect(repos).to_contain_text("44.27KiB")
            # Download: a browser download, with a line that stays saying what is ready
            repos.get_by_role("button", name="Download").click()
            link = repos.locator(".pachmagic-download a")
            expect(link).to_be_visible()
            with page.expect_download() as waiting:
                link.click()
            download = waiting.value
            assert download.suggested_filename == "hand.png"
            saved = tmp_path / "hand.png"
            download.save_as(saved)
            assert saved.read_bytes() == (Path(__file__).resolve().parents[2] / "pachmagic/tutorial/photos/hand.png").read_bytes()
            expect(repos.locator(".pachmagic-download")).to_contain_text("hand.png (44.27KiB) is ready")
            screens.take(board, "file-clicked")

            # save, reload the page: every widget comes back live
            nb.save()
            nb.reload()
            board = page.locator(".pachmagic-dashboard")
            expect(board).to_be_visible()
            expect(page.locator(".widget-slider")).to_be_visible()  # the unrelated IntSlider too
            expect(page.get_by_text("Loading widget...")).to_have_count(0)
            expect(page.get_by_text("Error displaying widget")).to_have_count(0)
            client = seeded_server.client()
            try:
                client.pfs.put_file("photos@master", "/after-reload.txt", "new")
                # live: the reloaded view follows the kernel's panel (which polls every second)
                expect(board.locator(".pachmagic-repo-browser select[size]")).to_contain_text("after-reload.txt")
            finally:
                client.pfs.delete_file("photos@master", "/after-reload.txt")
                client.close()
            screens.take(page, "after-reload")

            # re-run the dashboard cell twice: one set of pollers remains
            for _ in range(2):
                nb.cell(2).locator(".cm-content").click()
                page.keyboard.press("Control+Enter")
                nb.wait_idle()
            nb.cell(4).locator(".cm-content").click()
            page.keyboard.press("Control+Enter")
            nb.wait_idle()
            expect(nb.output(4)).to_contain_text("['pachmagic-Dashboard-refresh']")
            expect(page.locator(".pachmagic-dashboard")).to_have_count(1)

            # the dark theme: the DAG's repos and labels stay readable
            nb.menu_path("Settings", "Theme", "JupyterLab Dark")
            expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1)
            label = page.locator(".pachmagic-pipeline-dag svg g[data-name='photos'] text").first
            expect(label).to_be_visible()
            fill = label.evaluate("el => getComputedStyle(el).fill")
            channels = [int(c) for c in re.findall(r"\d+", fill)[:3]]
            assert min(channels) > 150, f"repo label fill {fill} is too dark for the dark theme"
            page.locator(".pachmagic-pipeline-dag").scroll_into_view_if_needed()
            screens.take(page.locator(".pachmagic-dashboard"), "dark-theme")
        finally:
            if page.locator("body[data-jp-theme-light='false']").count():
                nb.menu_path("Settings", "Theme", "JupyterLab Light")
