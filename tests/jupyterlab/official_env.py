"""The environment of the official side panel: jupyterlab-pachyderm 2.12.2 next to pachmagic.

jupyterlab-pachyderm 2.12.2 pins ``pachyderm_sdk>=2.10.1,<2.11`` and
``jupyter_server<2.15``, which cannot live with our test extras (pachyderm-sdk
2.12), so it gets a virtualenv of its own, as python-pachyderm does in
tests/official_clients: ``.venv-jupyterlab-pachyderm/`` at the repository root
(gitignored; ``PACHMAGIC_JUPYTERLAB_PACHYDERM_VENV`` moves it), built once with
``pip install "pachmagic[jupyterlab-pachyderm]"`` — the README's command — from
a wheel of this checkout, so the extra's pins, the normal (non-editable) install
and the config file it ships are what is tested. The environment is rebuilt
when Python or pachmagic's requirements change; when only pachmagic's code
changes, just pachmagic is reinstalled. One builder at a time (a file lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HOME = Path(os.environ.get("PACHMAGIC_JUPYTERLAB_PACHYDERM_VENV") or REPO_ROOT / ".venv-jupyterlab-pachyderm")
EXTRA = "jupyterlab-pachyderm"
PIP_TIMEOUT = 1200


class EnvError(RuntimeError):
    """A step of building the environment failed (the message has pip's output)."""


def _run(cmd: list[str], what: str) -> str:
    # cwd: not the checkout, whose pachmagic/ would shadow the installed one for `python -c`
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT, cwd=HOME)
    if result.returncode != 0:
        raise EnvError(f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n"
                       f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}")
    return result.stdout


def source_hash() -> str:
    """What the wheel is built from: the package, the Jupyter config file and pyproject.toml."""
    h = hashlib.sha256()
    files = [REPO_ROOT / "pyproject.toml", REPO_ROOT / "README.md"]
    for top in ("pachmagic", "jupyter-config"):
        files += sorted(p for p in (REPO_ROOT / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        h.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _env_marker() -> str:
    """What forces a fresh environment: Python, and pachmagic's requirements (as installed here)."""
    requires = sorted(importlib.metadata.requires("pachmagic") or ())
    return "\n".join([sys.version, sys.base_prefix, *requires]) + "\n"


def _wheel(digest: str) -> Path:
    out = HOME / "wheels" / digest
    wheels = sorted(out.glob("pachmagic-*.whl"))
    if not wheels:
        shutil.rmtree(HOME / "wheels", ignore_errors=True)
        _run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "-q",
              "-w", str(out), str(REPO_ROOT)], "building pachmagic's wheel")
        wheels = sorted(out.glob("pachmagic-*.whl"))
    return wheels[0]


def official_panel_python() -> Path:
    """The interpreter of the environment (built or refreshed as needed)."""
    HOME.mkdir(parents=True, exist_ok=True)
    env_dir = HOME / "env"
    python = env_dir / "bin" / "python"
    env_marker, code_marker = HOME / "installed.txt", HOME / "pachmagic.txt"
    with open(HOME / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        digest = source_hash()
        fresh = python.exists() and env_marker.exists() and env_marker.read_text() == _env_marker()
        if not fresh:
            env_marker.unlink(missing_ok=True)
            code_marker.unlink(missing_ok=True)
            shutil.rmtree(env_dir, ignore_errors=True)
            _run([sys.executable, "-m", "venv", str(env_dir)], "creating the jupyterlab-pachyderm virtualenv")
            _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                  f"{_wheel(digest)}[{EXTRA}]"], f"pip install pachmagic[{EXTRA}]")
            env_marker.write_text(_env_marker())
            code_marker.write_text(digest)
        elif not code_marker.exists() or code_marker.read_text() != digest:
            _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps",
                  "--force-reinstall", str(_wheel(digest))], "reinstalling pachmagic")
            code_marker.write_text(digest)
    return python


def describe(python: Path) -> dict[str, str]:
    """Versions and paths the environment resolved (the test checks the pins held)."""
    code = (
        "import importlib.metadata as m, pathlib, sys, pachmagic\n"
        "for d in ('jupyterlab-pachyderm', 'pachyderm-sdk', 'jupyter-server', 'jupyterlab', 'pachmagic'):\n"
        "    print(d, m.version(d))\n"
        "print('pachmagic-file', pachmagic.__file__)\n"
        "print('config-file', pathlib.Path(sys.prefix, 'etc/jupyter/jupyter_server_config.d/pachmagic.json').is_file())\n"
    )
    out = _run([str(python), "-c", code], "inspecting the jupyterlab-pachyderm virtualenv")
    return dict(line.split(" ", 1) for line in out.splitlines())
