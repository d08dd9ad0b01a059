"""``%pach`` in a real browser: Tab completion's popup, and Kernel > Interrupt during a wait.

The kernel completes with Jedi, as every user's does; in a ``%pach`` line the
popup offers only pachmagic's candidates, each with its kind. Interrupting a
wait prints one line and leaves the session usable. Screenshots go under each
test's temporary directory.
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


def test_tab_completion_popup_and_interrupting_a_wait(jupyterlab: JupyterLab, chromium: Any, seeded_server: LocalServer,
                                                     lab_root: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    notebook(lab_root / "magics.ipynb", "%load_ext pachmagic", f"%pach connect {seeded_server.address}")
    with opened(chromium, jupyterlab, "magics.ipynb", tmp_path / "screens", "magics-") as (nb, screens):
        page = nb.page
        nb.run_all()
        nb.wait_idle()
        # photos@ + Tab: its branches, as branches (not abs, AbstractSet, ...)
        nb.new_cell("%pach list file photos@")
        offered = nb.tab_complete()
        screens.take(page, "completion-branches")
        assert offered == [("master", "branch"), ("staging", "branch")], offered
        page.keyboard.press("Escape")
        # the word before '@': repos, and a path after ':' (not /hasattr, /hash)
        page.keyboard.press("Control+a")
        page.keyboard.type("%pach get file photos@master:/h")
        offered = nb.tab_complete()
        if offered:  # one candidate is inserted at once, with no popup
            assert offered == [("/hand.png", "path")], offered
            page.keyboard.press("Enter")
        expect(nb.cell(-1).locator(".cm-content")).to_have_text("%pach get file photos@master:/hand.png")
        # flags with their kind, and no dunder names
        page.keyboard.press("Control+a")
        page.keyboard.type("%pach list file -")
        offered = nb.tab_complete()
        screens.take(page, "completion-flags")
        assert offered and {kind for _, kind in offered} == {"flag"}, offered
        assert all(label.startswith("-") for label, _ in offered)
        page.keyboard.press("Escape")

        # a long job, a wait on it, and Kernel > Interrupt
        client = seeded_server.client()
        try:
            client.pfs.put_file("nums@master", "/n", "300")
            page.keyboard.press("Control+a")
            page.keyboard.type("%pach wait commit slow@master")
            page.keyboard.press("Shift+Enter")
            waiting = nb.cell(-2).locator(".jp-OutputArea")
            expect(waiting).to_contain_text(re.compile(r"waiting for slow@master\s*jobs 0/1 · datums 0/1"))
            screens.take(page, "waiting")
            nb.interrupt()
            nb.wait_idle()
            expect(waiting).to_have_text("interrupted: slow@master still has 1 running job")
            expect(waiting).not_to_contain_text("Traceback")
            expect(waiting.locator(".pachmagic-progress-line")).to_have_count(0)  # no bar left behind
            screens.take(page, "interrupted")
            # the session goes on
            cell = nb.new_cell("repos = %pach list repo\nsorted(repos['name'])")
            nb.run_cell(cell)
            expect(nb.output(-2)).to_contain_text("'nums'")
        finally:
            job = client.pps.list_job(pipeline="slow", number=1)[0]
            if not job.done:
                client.pps.stop_job(job.job)
            client.close()
