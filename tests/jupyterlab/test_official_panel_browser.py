"""Pachyderm's own JupyterLab side panel (jupyterlab-pachyderm 2.12.2) against our shared server.

A real JupyterLab from the panel's own environment (``official_env``: the
panel, pachyderm-sdk 2.10, jupyter_server 2.14 and pachmagic installed from a
wheel of this checkout), whose pachmagic server extension starts the shared
embedded server; Debian's Chromium driven by Playwright (never a downloaded
browser; no host but 127.0.0.1 resolves, so the panel's telemetry stays home).
The panel is used as a person would, unchanged:

- Explore: the repo list, a branch, the files of a repo in the panel's file
  browser, "Copy Pachyderm File URI" (as the panel copies it from pachd's answers),
  a file opened and read, one downloaded; an older commit by its id; another
  branch's files;
- Test: the datums of an input spec loaded and stepped through;
- Publish: a notebook turned into a pipeline that runs on our server and writes
  its output;
- a notebook of the same JupyterLab (kernel: this environment's Python, with
  pachmagic) sees with ``%pach`` what the panel made, and makes a repo the
  panel then lists and opens.

Screenshots of each step are saved under the test's tmp dir (``screens/``; also
copied to ``$PACHMAGIC_SCREENSHOTS`` when set). The browser helpers are
tests/browser/lab.py's. Skipped only where no Chromium executable can be found.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import nbformat
import pytest

from pachmagic.client import connect
from tests.browser.lab import CHROMIUM, CHROMIUM_FLAGS, TIMEOUT_MS, Screens, needs_chromium
from tests.jupyterlab._lab import KERNEL, Lab, isolated_env
from tests.jupyterlab.official_env import EnvError, describe, official_panel_python

# The panel's telemetry would call out to the internet: nothing but 127.0.0.1 resolves.
PANEL_CHROMIUM_FLAGS = [*CHROMIUM_FLAGS, "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
pytestmark = [pytest.mark.slow, needs_chromium]

FILES = {"/a.txt": "alpha\n", "/b.txt": "beta\n", "/sub/c.txt": "gamma\n"}
# The notebook Publish turns into a pipeline: one output file per input file, upper-cased.
UPPER = (
    "import pathlib\n"
    "out = pathlib.Path('/pfs/out')\n"
    "for f in sorted(pathlib.Path('/pfs/images').rglob('*.txt')):\n"
    "    (out / (f.name + '.upper')).write_text(f.read_text().upper())\n"
)
MAGICS = [
    "%load_ext pachmagic",
    "%pach connect",
    "%pach list pipeline",
    "%pach get file upper@master:/a.txt.upper",
    "%pach create repo from_magics\n%pach put file from_magics@master -f hello.txt",
]


def write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "pachmagic (test venv)", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture(scope="session")
def panel_python() -> Path:
    try:
        python = official_panel_python()
        versions = describe(python)
    except EnvError as err:
        pytest.fail(str(err), pytrace=False)
    assert versions["jupyterlab-pachyderm"] == "2.12.2"
    assert versions["pachyderm-sdk"].startswith("2.10."), versions
    assert versions["jupyter-server"].startswith("2.14."), versions
    # a normal install of this checkout, enabled by the config file it ships
    assert "site-packages" in versions["pachmagic-file"], versions
    assert versions["config-file"] == "True", versions
    return python


@pytest.fixture
def lab(panel_python: Path, tmp_path: Path) -> Iterator[Lab]:
    root = tmp_path / "notebooks"
    root.mkdir()
    write_notebook(root / "upper.ipynb", [UPPER])
    write_notebook(root / "magics.ipynb", MAGICS)
    (root / "hello.txt").write_text("hello from a magic\n")
    env = isolated_env(tmp_path / "jupyter")
    lab = Lab(panel_python, env, root, tmp_path / "jupyterlab.log", app="jupyterlab", args=(
        f"--PachMagicServer.data_dir={tmp_path / 'pachd'}", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
    ))
    try:
        yield lab
    finally:
        lab.stop()


def test_the_official_side_panel_on_the_shared_server(lab: Lab, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    client = connect(lab.shared_address())
    client.pfs.create_repo("images", description="seeded by the test")
    client.pfs.put_files("images@master", FILES)
    first = client.pfs.inspect_commit("images@master").id
    client.pfs.put_files("images@master", {"/b.txt": "beta, second version\n"})
    master_head = client.pfs.inspect_commit("images@master").id
    client.pfs.create_branch("images@dev", head="images@master")
    client.pfs.put_files("images@dev", {"/dev.txt": "delta\n"})
    screens = Screens(tmp_path / "screens")  # also copied to $PACHMAGIC_SCREENSHOTS when set

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=PANEL_CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900}, permissions=["clipboard-read", "clipboard-write"],
        )
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)

            def shot(name: str) -> None:
                screens.take(page, name)

            def open_lab(path: str = "") -> None:
                page.goto(f"{lab.base}/lab{path}?reset&token={lab.token}")
                page.locator("#main").wait_for()
                page.locator("#jupyterlab-splash").wait_for(state="detached")

            def open_panel(tab: str) -> None:
                side = page.locator(".lm-TabBar.jp-SideBar li.lm-TabBar-tab[data-id='pachyderm-mount']")
                if "lm-mod-current" not in (side.get_attribute("class") or ""):
                    side.click()
                page.locator(f"li.lm-TabBar-tab.pachyderm-{tab}-tab").click()

            # --- Explore --------------------------------------------------------------------
            open_lab()
            open_panel("explore")
            repo_item = page.get_by_test_id("ProjectRepo-DropdownCombobox-li-default/images")
            expect(repo_item).to_be_attached()
            repo_item.click()
            expect(page.locator(".pachyderm-Explore-mount-uri")).to_contain_text("default/images@master")
            pfs = page.locator("#jupyterlab-pachyderm-browser-pfs")
            pfs.get_by_text("images", exact=True).dblclick()
            for name in ("a.txt", "b.txt", "sub"):
                expect(pfs.locator(".jp-DirListing-item", has_text=name).first).to_be_visible()
            expect(pfs.locator(".jp-DirListing-item", has_text="dev.txt")).to_have_count(0)
            pfs.get_by_text("a.txt", exact=True).click(button="right")
            page.locator("ul.lm-Menu-content li", has_text="Copy Pachyderm File URI").click()
            copied = ""
            for _ in range(100):  # the copy is asynchronous
                copied = page.evaluate("navigator.clipboard.readText()")
                if copied:
                    break
                page.wait_for_timeout(100)
            # The panel (pachyderm-sdk 2.10) builds the URI from FileInfo.file.commit.branch, which
            # pachd 2.12.2 leaves empty (tests/conformance; conf-facts): so the repo and branch are
            # missing on a real cluster too, and ours answers as pachd does. The commit and path are right.
            assert copied.strip() == f"default/@{master_head}:/a.txt"
            pfs.get_by_text("a.txt", exact=True).dblclick()
            editor = page.locator(".jp-MainAreaWidget:visible .cm-content").first
            expect(editor).to_have_text("alpha")
            shot("1-explore-master-file")
            # Download (the panel's own handler) puts the file into JupyterLab's root directory
            pfs.get_by_text("b.txt", exact=True).click(button="right")
            page.locator("ul.lm-Menu-content li", has_text="Download").click()
            downloaded = tmp_path / "notebooks" / "b.txt"
            for _ in range(300):
                if downloaded.exists() and downloaded.read_text() == "beta, second version\n":
                    break
                page.wait_for_timeout(100)
            assert downloaded.read_text() == "beta, second version\n"
            # an older commit of the branch, by its id
            page.get_by_test_id("Commit-TextInput-input").fill(first)
            page.get_by_test_id("Commit-TextInput-input").press("Enter")
            expect(page.locator(".pachyderm-Explore-mount-uri")).to_contain_text(f"default/images@master={first}")
            pfs.get_by_text("images", exact=True).dblclick()
            pfs.get_by_text("b.txt", exact=True).dblclick()
            expect(page.locator(".jp-MainAreaWidget:visible .cm-content").first).to_have_text("beta")  # the old b.txt
            shot("1b-explore-old-commit")
            # the branch list, and the files of another branch
            page.get_by_test_id("Branch-DropdownCombobox-input").click()
            expect(page.get_by_test_id("Branch-DropdownCombobox-li-master")).to_be_attached()
            page.get_by_test_id("Branch-DropdownCombobox-li-dev").click()
            expect(page.locator(".pachyderm-Explore-mount-uri")).to_contain_text("default/images@dev")
            pfs.get_by_text("images_dev", exact=True).dblclick()
            expect(pfs.locator(".jp-DirListing-item", has_text="dev.txt")).to_be_visible()
            shot("2-explore-branch-dev")

            # --- Test: the datums of an input spec, one by one --------------------------------
            open_panel("test")
            page.get_by_test_id("Datum__inputSpecInput").fill("pfs:\n  repo: images\n  glob: /*\n")
            page.get_by_test_id("Datum__loadDatums").click()
            cycler = page.get_by_test_id("Datum__cycler")
            datum_browser = page.locator("#jupyterlab-pachyderm-browser-datum")
            seen: list[str] = []

            def datum_entry() -> str:
                """The one file or directory of the shown datum (each datum here has one, all different).
                The browser refreshes asynchronously and may show /pfs/ (the input's directory) first."""
                for _ in range(600):
                    items = datum_browser.locator(".jp-DirListing-item .jp-DirListing-itemName")
                    names = [n.strip() for n in items.all_inner_texts()]
                    if names == ["images"]:
                        items.first.dblclick()
                    elif len(names) == 1 and names[0] not in seen:
                        return names[0]
                    page.wait_for_timeout(200)
                raise AssertionError(f"the datum browser shows {names} after {seen}")

            for index in (1, 2, 3):
                expect(cycler).to_contain_text(f"({index}/3)")
                seen.append(datum_entry())
                # the files' time is their commit's (pachd's datum FileInfos carry it), not 1970's
                expect(datum_browser.locator(".jp-DirListing-itemModified").first).not_to_contain_text("y ago")
                shot(f"3-test-datum-{index}")
                if index < 3:
                    page.get_by_test_id("Datum__cyclerRight").click()
            assert sorted(seen) == ["a.txt", "b.txt", "sub"]
            expect(page.get_by_test_id("Datum__cyclerRight")).to_be_disabled()
            page.get_by_test_id("Datum__cyclerLeft").click()
            expect(cycler).to_contain_text("(2/3)")

            # --- Publish: the notebook becomes a pipeline that runs here -----------------------
            open_lab("/tree/upper.ipynb")
            page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
            open_panel("publish")
            expect(page.get_by_test_id("Pipeline__currentNotebookValue")).to_have_text("upper.ipynb")
            page.get_by_test_id("Pipeline__inputPipelineName").fill("upper")
            page.get_by_test_id("Pipeline__inputSpecInput").fill("pfs:\n  repo: images\n  glob: /*\n")
            page.get_by_test_id("Pipeline__create_pipeline").click()
            expect(page.get_by_test_id("Pipeline__responseMessage")).to_contain_text("Create pipeline request sent")
            expect(page.get_by_test_id("Pipeline__errorMessage")).to_have_text("")
            shot("4-publish-run")
            info = client.pfs.wait_commit("upper@master")
            assert not info.error, info.error
            outputs = {f.path: client.pfs.get_file(f"upper@master:{f.path}") for f in client.pfs.list_file("upper@master:/")}
            assert outputs == {"/a.txt.upper": b"ALPHA\n", "/b.txt.upper": b"BETA, SECOND VERSION\n", "/c.txt.upper": b"GAMMA\n"}
            spec: Any = client.pps.inspect_pipeline("upper").spec
            assert spec["transform"]["image"] == "python:3.10"  # recorded, not pulled
            assert spec["transform"]["cmd"] == ["python3", "-u", "/pfs/upper__context/entrypoint.py"]
            metadata = json.loads((tmp_path / "notebooks" / "upper.ipynb").read_text())["metadata"]  # saved by the panel
            assert metadata["pachyderm_pps"]["config"]["pipeline"]["name"] == "upper"
            # the output, in the panel
            open_panel("explore")
            page.get_by_test_id("ProjectRepo-DropdownCombobox-input").click()
            page.get_by_test_id("ProjectRepo-DropdownCombobox-li-default/upper").click()
            pfs.get_by_text("upper", exact=True).dblclick()
            pfs.get_by_text("a.txt.upper", exact=True).dblclick()
            expect(page.locator(".jp-MainAreaWidget:visible .cm-content").first).to_have_text("ALPHA")
            shot("4-publish-output")

            # --- our magics in a notebook of the same JupyterLab, and the reverse --------------
            open_lab("/tree/magics.ipynb")
            page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
            expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator("li.lm-Menu-item[data-command='runmenu:run-all'], "
                         "li.lm-Menu-item[data-command='notebook:run-all-cells']").first.click()
            cells = page.locator(".jp-Notebook .jp-CodeCell")
            expect(cells.nth(4).locator(".jp-OutputArea")).to_contain_text("from_magics")
            expect(cells.nth(1).locator(".jp-OutputArea")).to_contain_text(
                f"connected to JupyterLab's shared pachmagic server at {lab.shared_address().removeprefix('grpc://')}")
            expect(cells.nth(2).locator(".jp-OutputArea")).to_contain_text("upper")
            expect(cells.nth(3).locator(".jp-OutputArea")).to_contain_text("ALPHA")
            expect(page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)
            shot("5-magics-see-the-panels-work")
            open_panel("explore")
            page.get_by_test_id("ProjectRepo-DropdownCombobox-input").click()
            page.get_by_test_id("ProjectRepo-DropdownCombobox-li-default/from_magics").click()
            pfs.get_by_text("from_magics", exact=True).dblclick()
            pfs.get_by_text("hello.txt", exact=True).dblclick()
            expect(page.locator(".jp-MainAreaWidget:visible .cm-content").first).to_have_text("hello from a magic")
            shot("6-panel-sees-the-magics-repo")
        finally:
            context.close()
            client.close()
    # the panel's handlers answered every call without an error on the server side
    errors = [line for line in lab.log_text().splitlines() if line.startswith("[E ") or "Traceback" in line]
    assert not errors, "\n".join(errors)
    print("screenshots:", *screens.saved)
