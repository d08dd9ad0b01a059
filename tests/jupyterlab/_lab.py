"""Helpers for tests that run a real Jupyter server as a child process.

``isolated_env(root)`` gives a child its own HOME (so pachctl's config is
``ROOT/home/.pachyderm/config.json``), Jupyter config/data/runtime directories
and a kernel spec named ``pachmagic-test`` for this interpreter (the one with
pachmagic installed), and drops variables that would point it elsewhere.
``Lab`` starts ``jupyter server`` or ``jupyter lab`` from any interpreter, waits
until it answers, and stops it with SIGTERM (its clean shutdown path) or SIGKILL.
``run_code`` and ``run_in_terminal`` talk to a kernel and a terminal of it the way
JupyterLab's front end does (REST + websocket), so the environment they see is
the one the server really gives them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

KERNEL = "pachmagic-test"
START_TIMEOUT = 180.0  # a cold JupyterLab on a busy 2-core machine
# Variables that would make a child use another pachd, context or Jupyter setup.
_SCRUBBED = ("PACHD_ADDRESS", "PACH_CONFIG", "PACH_CONTEXT", "PACH_PYTHON_AUTH_TOKEN", "PACHMAGIC_DATA_DIR",
             "PACHMAGIC_SHARED_SERVER", "PACHMAGIC_SHARED_DATA_DIR",
             "JUPYTER_CONFIG_PATH", "JUPYTER_PATH", "JUPYTER_PREFER_ENV_PATH", "PYTHONPATH", "VIRTUAL_ENV")


def isolated_env(root: Path, *, kernel_python: str = sys.executable) -> dict[str, str]:
    dirs = {name: root / name for name in ("home", "config", "data", "runtime", "settings", "workspaces", "ipython")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    spec = dirs["data"] / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [kernel_python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "pachmagic (test venv)", "language": "python",
    }))
    notify = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    notify.mkdir(parents=True, exist_ok=True)
    (notify / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(
        HOME=str(dirs["home"]),
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        IPYTHONDIR=str(dirs["ipython"]),
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pach_config(env: dict[str, str]) -> Path:
    return Path(env["HOME"]) / ".pachyderm" / "config.json"


class Lab:
    """A Jupyter server (``app`` = ``jupyter_server`` or ``jupyterlab``) in a child process."""

    def __init__(self, python: str | Path, env: dict[str, str], root_dir: Path, log: Path, *,
                 app: str = "jupyter_server", args: tuple[str, ...] = ()) -> None:
        self.token = secrets.token_hex(16)
        self.env, self.log = env, log
        self.runtime = Path(env["JUPYTER_RUNTIME_DIR"])
        for old in self.runtime.glob("jpserver-*.json"):
            old.unlink()
        cmd = [
            str(python), "-m", app, "--no-browser",
            # A port chosen here: jupyter_server 2.14 (the official panel's) records port 0 as 0.
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={_free_port()}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root_dir}",
            "--ServerApp.allow_root=True",  # CI runs as root
            *args,
        ]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=root_dir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        try:
            self.base = self._wait_ready()
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the Jupyter server exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")
            for info_file in self.runtime.glob(f"jpserver-{self.proc.pid}.json"):
                try:  # the server writes this file in place: it may be caught half-written
                    base = f"http://127.0.0.1:{json.loads(info_file.read_text())['port']}"
                except ValueError:
                    continue
                try:
                    with urllib.request.urlopen(f"{base}/api/status?token={self.token}", timeout=5) as response:
                        if response.status == 200:
                            return base
                except OSError:
                    pass
            time.sleep(0.2)
        raise AssertionError(f"the Jupyter server did not start:\n{self.log_text()[-4000:]}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def shared_address(self) -> str:
        """The address the pachmagic extension logged for its shared server."""
        found = re.findall(r"shared Pachyderm server at (grpc://127\.0\.0\.1:\d+) \(", self.log_text())
        assert found, f"no shared server in the log:\n{self.log_text()[-4000:]}"
        return found[-1]

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else None

    def stop(self) -> int:
        """SIGTERM (JupyterLab's clean shutdown, extensions' stop hooks included); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_code(lab: Lab, code: str, *, kernel: str = KERNEL, timeout: float = 120.0) -> str:
    """Start a kernel in ``lab``, run ``code``, return its stdout and results; the kernel is shut down."""
    kernel_id = lab.api("POST", "/api/kernels", {"name": kernel})["id"]
    try:
        return asyncio.run(_execute(lab, kernel_id, code, timeout))
    finally:
        lab.api("DELETE", f"/api/kernels/{kernel_id}")


async def _execute(lab: Lab, kernel_id: str, code: str, timeout: float) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = lab.base.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {lab.token}"}))
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3", "date": "2026-01-01T00:00:00Z"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    out: list[str] = []
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no reply from the kernel; output so far: {''.join(out)!r}")
            raw = await asyncio.wait_for(ws.read_message(), left)
            if raw is None:
                raise AssertionError(f"the kernel's websocket closed; output so far: {''.join(out)!r}")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "error":
                raise AssertionError(f"{content['ename']}: {content['evalue']}\n{''.join(out)}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)
    finally:
        ws.close()


def run_in_terminal(lab: Lab, command: str, expect: str, timeout: float = 60.0) -> str:
    """Open a terminal in ``lab``, type ``command``, return its output once ``expect`` (a regex) shows."""
    name = lab.api("POST", "/api/terminals")["name"]
    try:
        return asyncio.run(_terminal(lab, name, command, expect, timeout))
    finally:
        lab.api("DELETE", f"/api/terminals/{name}")


async def _terminal(lab: Lab, name: str, command: str, expect: str, timeout: float) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = lab.base.replace("http://", "ws://") + f"/terminals/websocket/{name}"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {lab.token}"}))
    ws.write_message(json.dumps(["stdin", command + "\r"]))
    seen = ""
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while not re.search(expect, seen):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"{expect!r} never showed in the terminal:\n{seen}")
            raw = await asyncio.wait_for(ws.read_message(), left)
            if raw is None:
                raise AssertionError(f"the terminal closed:\n{seen}")
            kind, *rest = json.loads(raw)
            if kind == "stdout":
                seen += rest[0]
        return seen
    finally:
        ws.close()
