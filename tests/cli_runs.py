"""The ``pachmagic`` command run as a child process, as a user runs it (for test_cli and test_docs).

- ``pachmagic(*args)``: one run of ``python -m pachmagic ARGS``, its output captured.
- ``serve_on_a_busy_port(data_dir)``: ``pachmagic serve`` on a port another socket holds.

No assertions here: each test says what the run must print.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def pachmagic(*args: str, timeout: float = 60, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pachmagic ARGS`` with this interpreter; stdout and stderr captured as text."""
    return subprocess.run([sys.executable, "-m", "pachmagic", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def serve_on_a_busy_port(data_dir: Path) -> tuple[int, subprocess.CompletedProcess[str]]:
    """``pachmagic serve --port P --data-dir DATA_DIR`` while P is held by a listening socket: (P, the run)."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        return port, pachmagic("serve", "--port", str(port), "--data-dir", str(data_dir))
