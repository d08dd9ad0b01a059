"""Shared helpers for tests that drive JupyterLab in Debian's Chromium with Playwright.

- ``CHROMIUM`` / ``find_chromium()``: the system Chromium (``/usr/bin/chromium``);
  nothing here ever downloads a browser (``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1``).
  ``needs_chromium`` is the skip marker for where none can be had.
- ``JupyterLab``: a JupyterLab server on 127.0.0.1 with a token, temporary
  config/data/runtime/settings/workspace directories and a kernel spec for this
  very interpreter; a context manager that stops it (and its kernels) on exit.
- ``browser(profile_dir)``: a headless Chromium context (a fresh profile).
- ``Notebook``: one open notebook page, with what a person does: run all cells
  from the Run menu, wait for the kernel to be idle, type in a cell, press Tab,
  read the completer popup, reload the page, interrupt the kernel.
- ``opened(context, lab, path, screens_dir, prefix)``: a test's notebook page and
  its ``Screens``; on exit prints the page's console (pytest shows it with a
  failure) and closes the page.
- ``Screens``: screenshots saved under the test's temporary directory, and
  also copied to ``$PACHMAGIC_SCREENSHOTS`` when that is set (for people to look at).

Used by ``tests/browser`` and by other JupyterLab tests (``tests/jupyterlab``).
No pytest fixtures here: each test directory builds its own from these.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

__all__ = [
    "CHROMIUM", "CHROMIUM_FLAGS", "TIMEOUT_MS", "find_chromium", "needs_chromium",
    "jupyter_env", "JupyterLab", "browser", "Notebook", "Screens", "opened",
]

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 180_000  # generous: a cold JupyterLab on a busy 2-core machine
KERNEL = "pachmagic-test"


def find_chromium() -> str | None:
    """Debian's Chromium (``/usr/bin/chromium``), else any ``chromium`` on PATH."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium executable (install Debian's `chromium` package: apt-get install chromium)"
)


def jupyter_env(root: Path, kernel: str = KERNEL, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Temporary Jupyter directories, a kernel spec for this interpreter, and quiet lab settings."""
    dirs = {name: root / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    spec_dir = dirs["data"] / "kernels" / kernel
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "pachmagic (test venv)", "language": "python",
    }))
    notify = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    notify.mkdir(parents=True, exist_ok=True)
    (notify / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # every cell in the DOM (JupyterLab renders only the cells in view by default): tests read whole notebooks
    tracker = dirs["settings"] / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
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
    env.update(extra or {})
    return env


class JupyterLab:
    """A JupyterLab server for one test (or module): ``with JupyterLab(root_dir, tmp) as lab: lab.url(...)``.

    Parameters
    ----------
    root_dir:
        The directory JupyterLab serves (notebooks go there).
    state_dir:
        Where its temporary Jupyter directories and log go.
    args:
        More command-line options (e.g. to enable a server extension).
    env:
        More environment variables for the server and its kernels.
    """

    def __init__(self, root_dir: Path, state_dir: Path, *, args: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        self.root_dir = root_dir
        self.state_dir = state_dir
        self.token = secrets.token_hex(16)
        self.env = jupyter_env(state_dir / "jupyter", extra=env)
        self.log = state_dir / "jupyterlab.log"
        self.args = list(args)
        self.base = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> JupyterLab:
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",  # CI runs as root
            "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
            # pachmagic's server extension (enabled by installing it) would start a shared server and
            # write a pachctl context under HOME; tests that want it pass --PachMagicServer.enabled=True.
            "--PachMagicServer.enabled=False", *self.args,
        ]
        with open(self.log, "wb") as out:
            self._proc = subprocess.Popen(cmd, cwd=self.root_dir, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL)
        try:
            self.base = self._wait_for_server()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_for_server(self) -> str:
        runtime = Path(self.env["JUPYTER_RUNTIME_DIR"])
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise AssertionError(f"JupyterLab exited with {self._proc.returncode}:\n{self.log.read_text()[-4000:]}")
            infos = sorted(runtime.glob("jpserver-*.json"))
            if infos:
                try:
                    info = json.loads(infos[0].read_text())
                except ValueError:  # the server is still writing it
                    time.sleep(0.25)
                    continue
                base = f"http://127.0.0.1:{info['port']}"
                try:
                    with urllib.request.urlopen(f"{base}/api/status?token={self.token}", timeout=5) as response:
                        if response.status == 200:
                            return base
                except OSError:
                    pass
            time.sleep(0.25)
        raise AssertionError(f"JupyterLab did not start:\n{self.log.read_text()[-4000:]}")

    def url(self, path: str) -> str:
        """``/lab/tree/<path>`` (or any other path) with the token."""
        route = path if path.startswith("/") else f"/lab/tree/{path}"
        sep = "&" if "?" in route else "?"
        return f"{self.base}{route}{sep}token={self.token}"

    def api(self, path: str) -> Any:
        """GET a JSON REST endpoint (``/api/kernels``...)."""
        with urllib.request.urlopen(f"{self.base}{path}?token={self.token}", timeout=30) as response:
            return json.loads(response.read())

    def shutdown_kernels(self) -> None:
        """Shut down every running kernel (a test's notebook must not poll on into the next test)."""
        for kernel in self.api("/api/kernels"):
            request = urllib.request.Request(f"{self.base}/api/kernels/{kernel['id']}?token={self.token}", method="DELETE")
            try:
                urllib.request.urlopen(request, timeout=30).close()
            except OSError:
                pass  # already gone

    def stop(self) -> None:
        """Stop JupyterLab; it shuts its kernels down on SIGTERM."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def browser(profile: Path, *, width: int = 1600, height: int = 1200) -> Iterator[Any]:
    """A headless Debian Chromium (Playwright persistent context with a fresh profile)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "no Chromium: mark the test with needs_chromium"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


class Screens:
    """Screenshots under ``directory``, copied to ``$PACHMAGIC_SCREENSHOTS`` (if set) as well."""

    def __init__(self, directory: Path, prefix: str = "") -> None:
        self.directory = directory
        self.prefix = prefix
        self.saved: list[Path] = []
        directory.mkdir(parents=True, exist_ok=True)

    def take(self, target: Any, name: str, **kwargs: Any) -> Path:
        """Screenshot a page or locator as ``<name>.png``."""
        path = self.directory / f"{self.prefix}{name}.png"
        target.screenshot(path=str(path), **kwargs)
        self.saved.append(path)
        extra = os.environ.get("PACHMAGIC_SCREENSHOTS")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, Path(extra) / path.name)
        return path


class Notebook:
    """A notebook open in JupyterLab, driven as a person would."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []  # the page's console warnings and errors (printed by tests: shown on failure)
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}")
                if message.type in ("error", "warning") else None)

    @classmethod
    def open(cls, context: Any, lab: JupyterLab, path: str) -> Notebook:
        """Open ``path`` in a new page and wait for its kernel to be idle."""
        page = context.new_page()
        # a workspace of its own: JupyterLab's default one would reopen the other tests' notebooks
        page.goto(lab.url(f"/lab/workspaces/t{secrets.token_hex(4)}/tree/{path}"))
        notebook = cls(page)
        notebook.wait_loaded()
        return notebook

    def wait_loaded(self) -> None:
        """Wait for the notebook's cells and an idle kernel."""
        from playwright.sync_api import expect

        self.page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        expect(self.page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=TIMEOUT_MS)

    def menu(self, menu: str, *commands: str) -> None:
        """Click a menu bar item, then the first present item among ``commands`` (data-command ids)."""
        self.page.locator(".lm-MenuBar-item", has_text=menu).first.click()
        selector = ", ".join(f"li.lm-Menu-item[data-command='{c}']" for c in commands)
        item = self.page.locator(selector).first
        item.wait_for(state="visible")
        item.click()

    def menu_path(self, menu: str, *labels: str) -> None:
        """Click a menu bar item, then menu items by their labels (submenus on the way)."""
        self.page.locator(".lm-MenuBar-item", has_text=menu).first.click()
        for label in labels:
            item = self.page.locator(".lm-Menu:visible li.lm-Menu-item .lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(label)}$")).last
            item.wait_for(state="visible")
            item.click()

    def save(self) -> None:
        """File ▸ Save Notebook, and wait until it is saved."""
        from playwright.sync_api import expect

        self.menu("File", "docmanager:save")
        expect(self.page.locator(".jp-mod-current.jp-mod-dirty, .lm-TabBar-tab.lm-mod-current.jp-mod-dirty")).to_have_count(0)

    def run_all(self) -> None:
        """Run ▸ Run All Cells."""
        self.menu("Run", "runmenu:run-all", "notebook:run-all-cells")

    def interrupt(self) -> None:
        """Kernel ▸ Interrupt Kernel."""
        self.menu("Kernel", "kernelmenu:interrupt", "notebook:interrupt-kernel")

    def wait_idle(self, timeout: float = TIMEOUT_MS) -> None:
        """Wait until every cell has run (no ``[*]`` prompt) and the kernel is idle."""
        from playwright.sync_api import expect

        expect(self.page.locator(".jp-InputArea-prompt", has_text="[*]")).to_have_count(0, timeout=timeout)
        expect(self.page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=timeout)

    def cell(self, index: int) -> Any:
        """The ``index``-th cell (negative counts from the end)."""
        cells = self.page.locator(".jp-Notebook .jp-Cell")
        return cells.nth(index if index >= 0 else cells.count() + index)

    def output(self, index: int) -> Any:
        """The output area of the ``index``-th cell."""
        return self.cell(index).locator(".jp-Cell-outputArea")  # not the panels' own Output widgets

    def new_cell(self, source: str = "") -> Any:
        """Add a code cell at the end, type ``source`` into it and leave the cursor there."""
        last = self.cell(-1)
        last.click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("b")  # command mode: insert a cell below
        cell = self.cell(-1)
        editor = cell.locator(".cm-content")
        editor.click()
        if source:
            self.page.keyboard.type(source)
        return cell

    def run_cell(self, cell: Any) -> None:
        """Run ``cell`` (Shift+Enter in its editor) and wait for the kernel."""
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Shift+Enter")
        self.wait_idle()

    def tab_complete(self) -> list[tuple[str, str]]:
        """Press Tab in the active editor; the popup's (label, kind) items ([] if none shows)."""
        page = self.page
        page.keyboard.press("Tab")
        popup = page.locator(".jp-Completer")
        try:
            popup.locator(".jp-Completer-item").first.wait_for(state="visible", timeout=15_000)
        except Exception:
            return []
        items = popup.locator(".jp-Completer-item")
        found = []
        for i in range(items.count()):
            item = items.nth(i)
            label = item.locator(".jp-Completer-match").inner_text().strip()
            kind = item.locator(".jp-Completer-typeExtended").inner_text().strip() if item.locator(
                ".jp-Completer-typeExtended").count() else ""
            found.append((label, kind))
        return found

    def reload(self) -> None:
        """Reload the page (F5) and wait for the notebook again."""
        self.page.reload()
        self.wait_loaded()


@contextmanager
def opened(context: Any, lab: JupyterLab, path: str, screens_dir: Path, prefix: str = "") -> Iterator[tuple[Notebook, Screens]]:
    """``path`` open in a new page of ``context`` (kernel idle), with screenshots under ``screens_dir``.

    On exit the page's console warnings and errors are printed (pytest shows them
    with a failure) and the page is closed, whatever the test did.
    """
    screens = Screens(screens_dir, prefix)
    nb = Notebook.open(context, lab, path)
    try:
        yield nb, screens
    finally:
        print("browser console:", *nb.console, sep="\n  ")
        nb.page.close()
