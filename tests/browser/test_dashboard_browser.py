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

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import nbformat
import pytest

from pachmagic.server import LocalServer

TUTORIAL = Path(__file__).resolve().parents[2] / "pachmagic" / "tutorial"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 180_000  # generous: a cold JupyterLab on a busy 2-core machine

# A pipeline with one datum per file that fails on one of them: failed datums with log lines.
CHECK = "import pathlib, sys\nfor p in pathlib.Path('/pfs/words').iterdir():\n    if 'fail' in p.read_text():\n        sys.exit(f'cannot process {p.name}')\n    (pathlib.Path('/pfs/out') / p.name).write_text('ok')\n"
CHECK_SPEC = {
    "pipeline": {"name": "check"},
    "transform": {"cmd": ["python3", "-c", CHECK], "image": "python:3.12"},
    "input": {"pfs": {"repo": "words", "glob": "/*"}},
}


def find_chromium() -> str | None:
    """Debian's Chromium (``/usr/bin/chromium``), else any ``chromium`` on PATH."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium executable (install Debian's `chromium` package: apt-get install chromium)"),
]


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


def jupyter_env(root: Path, kernel: str) -> dict[str, str]:
    """Temporary Jupyter directories, a kernel spec for this interpreter, and quiet lab settings."""
    dirs = {name: root / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    spec_dir = dirs["data"] / "kernels" / kernel
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "pachmagic (test venv)", "language": "python"})
    )
    notify = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    notify.mkdir(parents=True)
    (notify / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        IPYTHONDIR=str(dirs["ipython"]),
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1",
    )
    env.pop("PACHD_ADDRESS", None)
    return env


def wait_for_server(runtime: Path, proc: subprocess.Popen[bytes], log: Path, token: str) -> str:
    """The base URL once JupyterLab answers ``/api/status``."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        infos = sorted(runtime.glob("jpserver-*.json"))
        if infos:
            info = json.loads(infos[0].read_text())
            base = f"http://127.0.0.1:{info['port']}"
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as response:
                    if response.status == 200:
                        return base
            except OSError:
                pass
        time.sleep(0.25)
    raise AssertionError(f"JupyterLab did not start:\n{log.read_text()[-4000:]}")


@pytest.fixture
def jupyterlab(tmp_path: Path, seeded_server: LocalServer) -> Iterator[tuple[str, str]]:
    kernel = "pachmagic-test"
    token = secrets.token_hex(16)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    write_notebook(notebooks / "dashboard.ipynb", seeded_server.address, kernel)
    env = jupyter_env(tmp_path / "jupyter", kernel)
    log = tmp_path / "jupyterlab.log"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
        "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",  # CI runs as root
        "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
        # pachmagic's own server extension would start a shared server (and write a pachctl
        # context under HOME): this notebook connects to the seeded server by address.
        "--PachMagicServer.enabled=False",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=notebooks, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        base = wait_for_server(Path(env["JUPYTER_RUNTIME_DIR"]), proc, log, token)
        yield base, token
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # JupyterLab shuts its kernels down on SIGTERM
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_dashboard_renders_in_jupyterlab(jupyterlab: tuple[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, token = jupyterlab
    profile = tmp_path / "chromium-profile"  # a fresh --user-data-dir
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1600, "height": 1400},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{base}/lab/tree/dashboard.ipynb?token={token}")
            page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
            expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")  # the kernel is up
            # Run ▸ Run All Cells, as a person would
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            run_all = page.locator(
                "li.lm-Menu-item[data-command='runmenu:run-all'], li.lm-Menu-item[data-command='notebook:run-all-cells']"
            ).first
            run_all.wait_for(state="visible")
            run_all.click()

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
            page.screenshot(path=str(tmp_path / "jupyterlab.png"))
            board.screenshot(path=str(tmp_path / "dashboard.png"))
            assert (tmp_path / "dashboard.png").stat().st_size > 10_000
            print(f"screenshots: {tmp_path / 'jupyterlab.png'} {tmp_path / 'dashboard.png'}")
        finally:
            context.close()
