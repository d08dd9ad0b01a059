"""The virtualenv of python-pachyderm 7.6.0 for tests/official_clients (not a test module).

python-pachyderm needs ``protobuf<4``, which cannot live next to pachmagic's
generated code, so it gets its own virtualenv, made with ``sys.executable -m
venv`` in ``.venv-python-pachyderm/`` at the repository root (gitignored;
``PACHMAGIC_PYTHON_PACHYDERM_VENV`` moves it) and reused while its marker
matches. One builder at a time (a file lock), so CI can build it in the
background (``tests/side_envs.py``) while the first tests run. No pytest here:
the fixture in ``conftest.py`` turns ``EnvError`` into a failed test.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON_PACHYDERM = "python-pachyderm==7.6.0"
# Overridable for machines that keep caches elsewhere; the default is gitignored (.venv-*/).
PP_HOME = Path(os.environ.get("PACHMAGIC_PYTHON_PACHYDERM_VENV") or REPO_ROOT / ".venv-python-pachyderm")


class EnvError(RuntimeError):
    """A step of building the environment failed (the message has pip's output)."""


def _marker_text() -> str:
    return f"{PYTHON_PACHYDERM}\n{sys.version}\n{sys.base_prefix}\n"


def _run_pip_step(cmd: list[str], what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise EnvError(
            f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def _build_python_pachyderm_env(env_dir: Path) -> Path:
    shutil.rmtree(env_dir, ignore_errors=True)
    _run_pip_step([sys.executable, "-m", "venv", str(env_dir)], "creating the python-pachyderm virtualenv")
    python = env_dir / "bin" / "python"
    _run_pip_step(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", PYTHON_PACHYDERM],
        f"pip install {PYTHON_PACHYDERM}",
    )
    return python


def python_pachyderm_python() -> tuple[Path, str, str]:
    """The environment's interpreter (built or reused), and the python-pachyderm and protobuf versions it imports."""
    PP_HOME.mkdir(parents=True, exist_ok=True)
    env_dir = PP_HOME / "env"
    marker = PP_HOME / "installed.txt"
    python = env_dir / "bin" / "python"
    # Another test run (same checkout or same cache) may be building it now: one builder at a time.
    with open(PP_HOME / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (python.exists() and marker.exists() and marker.read_text() == _marker_text()):
            marker.unlink(missing_ok=True)
            python = _build_python_pachyderm_env(env_dir)
            marker.write_text(_marker_text())
    probe = _run_pip_step(
        [
            str(python), "-c",
            "import google.protobuf, python_pachyderm, importlib.metadata as m; "
            "print(m.version('python-pachyderm'), google.protobuf.__version__)",
        ],
        "importing python_pachyderm in its virtualenv",
    )
    pp_version, protobuf_version = probe.stdout.split()
    return python, pp_version, protobuf_version
