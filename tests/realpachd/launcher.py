"""Start and stop the reference pachd (the ``realpachd`` program) as a child process.

``RealPachd(binary, postgres, port=0).start()`` runs the program against a
running PostgreSQL (``postgres.py``), waits for its ``READY grpc://...`` line
and exposes ``address`` (``127.0.0.1:PORT``); ``stop()`` sends SIGTERM, on
which the program stops pachd, drops its database and removes its temporary
directory. Its log (pachd's JSON lines) goes to an anonymous temporary file
(gone with the last process holding it, however the run ends), whose tail
comes with any start failure; while it runs, ``log_path`` names it in /proc.

This module starts processes; it builds nothing (``build.py``) and owns no
PostgreSQL (it is given one).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import tempfile
import sys
import threading
import time
from pathlib import Path
from typing import IO, BinaryIO, Mapping

from tests.realpachd.postgres import PostgresServer

READY_PREFIX = "READY grpc://"
# Ready in ~1 s idle; allow for a loaded two-core machine.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


class RealPachdError(Exception):
    """The reference pachd did not start, or stopped unexpectedly."""


class RealPachd:
    """One genuine pachd 2.12.2 with fresh state."""

    def __init__(
        self,
        binary: Path,
        postgres: PostgresServer,
        port: int = 0,
        *,
        verbose: bool = False,
        workers: bool = False,
        worker_env: Mapping[str, str] | None = None,
        worker_dir: Path | str | None = None,
    ) -> None:
        """``workers=True`` runs pipelines (the program's -workers mode): each
        pipeline's worker pods run as local processes. Their user code sees
        ``worker_env`` (default: PATH with this interpreter's directory first, so
        ``python3`` is ours, as on the embedded server) and starts in ``worker_dir``
        (a pipeline image's WORKDIR; default ``/``)."""
        self.binary = binary
        self.postgres = postgres
        self.requested_port = port
        self.verbose = verbose
        self.workers = workers
        self.worker_env = dict(worker_env) if worker_env is not None else default_worker_env()
        self.worker_dir = str(worker_dir) if worker_dir is not None else "/"
        self.address = ""
        self.start_seconds = 0.0
        self.process: subprocess.Popen[str] | None = None
        self._log: BinaryIO | None = None

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return f"grpc://{self.address}"

    @property
    def log_path(self) -> Path:
        """The log while the server runs (its stderr, seen through /proc)."""
        return Path(f"/proc/{self.process.pid if self.process else 0}/fd/2")

    def log_tail(self, lines: int = 60, max_bytes: int = 64 * 1024) -> str:
        if self._log is None:
            return "(no log)"
        size = os.fstat(self._log.fileno()).st_size
        start = max(0, size - max_bytes)
        text = os.pread(self._log.fileno(), size - start, start).decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> "RealPachd":
        pg = self.postgres
        argv = [
            str(self.binary),
            f"-port={self.requested_port}",
            f"-pg-host={pg.host}",
            f"-pg-port={pg.port}",
            f"-pg-user={pg.user}",
            f"-pg-admin-db={pg.admin_db}",
        ]
        if self.verbose:
            argv.append("-v")
        if self.workers:
            argv += ["-workers", f"-worker-dir={self.worker_dir}"]
            argv += [f"-worker-env={k}={v}" for k, v in sorted(self.worker_env.items())]
        env = dict(os.environ)
        # A pachctl-style AWS CA bundle breaks pachd's object storage setup; nothing here uses AWS.
        env.pop("AWS_CA_BUNDLE", None)
        started = time.monotonic()
        self._log = tempfile.TemporaryFile(prefix="realpachd-log-")  # noqa: SIM115 - closed in stop()
        # Own session: a Ctrl-C in a terminal reaches the launcher, which stops us in order
        # (pachd before PostgreSQL). The program also stops itself if its parent dies.
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, text=True, env=env,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        line = _first_line(self.process.stdout, START_TIMEOUT)
        if line is None or not line.startswith(READY_PREFIX):
            code = self.process.poll()
            if code is None:
                what = f"printed {line!r}" if line else f"was not ready within {START_TIMEOUT:.0f} s"
            else:
                what = f"exited with {code}"
            tail = self.log_tail()
            self.stop()
            raise RealPachdError(f"the reference pachd {what}; its log ends:\n{tail}")
        self.address = line[len(READY_PREFIX):].strip()
        self.start_seconds = time.monotonic() - started
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        log, self._log = self._log, None
        if log is not None:
            log.close()

    def __enter__(self) -> "RealPachd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def default_worker_env() -> dict[str, str]:
    """What user code finds on PATH: this interpreter's directory first."""
    path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    return {"PATH": f"{Path(sys.executable).parent}:{path}"}


def _first_line(stream: IO[str], timeout: float) -> str | None:
    """The first line of ``stream``, or None on EOF or timeout (read in a thread: pipes have no timeout)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        line = stream.readline()
        lines.put(line if line else None)

    threading.Thread(target=read, daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None
