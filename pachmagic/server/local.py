"""``LocalServer``: start the embedded server from Python, in a thread or a child process.

``with LocalServer() as server: client = server.client()`` is the whole API.
A child process (the default) keeps the server's work — pipelines, uploads — off
the notebook kernel's interpreter, and dies with its parent; ``in_process=True``
runs it on a background thread instead (handy in tests and debuggers).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from platformdirs import user_data_dir

__all__ = ["LocalServer", "ServerStartError", "default_data_dir"]

READY_PREFIX = "pachmagic server listening on "


def default_data_dir() -> Path:
    """Where ``pachmagic serve`` keeps its state unless told otherwise."""
    return Path(os.environ.get("PACHMAGIC_DATA_DIR") or Path(user_data_dir("pachmagic")) / "server")


class ServerStartError(OSError):
    """The server process ended before it was ready.

    The message is its last line (``Error: cannot listen on ...``); ``log``
    holds its last lines of output.
    """

    def __init__(self, log: list[str]) -> None:
        self.log = list(log)
        last = next((line.strip() for line in reversed(self.log) if line.strip()), "no output")
        super().__init__(f"the pachmagic server did not start: {last}")

    def __str__(self) -> str:
        return str(self.args[0])


class LocalServer:
    """An embedded Pachyderm-compatible server on this machine.

    Parameters
    ----------
    data_dir:
        Where state is kept. ``None`` uses a new temporary directory that is
        removed on ``stop()``.
    port:
        TCP port on 127.0.0.1 (or ``host``); 0 picks a free one.
    host:
        Address to listen on. Anything but loopback requires ``auth_token``.
    auth_token:
        When set, every call must carry it as ``authn-token`` metadata.
    workdir:
        Where relative transform commands run (default: the current directory).
    in_process:
        Run on a thread of this process instead of a child process.
    max_workers:
        The most workers one pipeline may have (default: the CPU count).
    run_jobs:
        False (in-process only): jobs are created but never run, as on a pachd
        without workers (the conformance suite compares with one).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        auth_token: str | None = None,
        workdir: str | os.PathLike[str] | None = None,
        in_process: bool = False,
        max_workers: int | None = None,
        run_jobs: bool = True,
    ) -> None:
        if not run_jobs and not in_process:
            raise ValueError("run_jobs=False needs in_process=True")
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pachmagic-")
            data_dir = self._tmp.name
        self.data_dir = Path(data_dir)
        self.port = port
        self.host = host
        self.auth_token = auth_token
        self.workdir = Path(workdir) if workdir is not None else Path.cwd()
        self.in_process = in_process
        self.max_workers = max_workers
        self.run_jobs = run_jobs
        self._proc: subprocess.Popen[str] | None = None
        self._threaded: Any = None
        self._log_thread: threading.Thread | None = None
        self.log_lines: list[str] = []

    @property
    def address(self) -> str:
        """``host:port`` to give a client (``grpc://`` implied)."""
        if not self.port:
            raise RuntimeError("the server is not started")
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        if self._threaded is not None:
            return True
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "LocalServer":
        if self.running:
            return self
        if self.in_process:
            from .app import ServerApp, ThreadedApp

            app = ServerApp(self.data_dir, host=self.host, port=self.port, auth_token=self.auth_token,
                            workdir=self.workdir, max_workers=self.max_workers, run_jobs=self.run_jobs)
            self._threaded = ThreadedApp(app)
            self._threaded.start()
            self.port = app.port
            return self
        cmd = [
            sys.executable, "-m", "pachmagic", "serve",
            "--host", self.host, "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--workdir", str(self.workdir),
            "--exit-with-parent",
        ]
        if self.max_workers is not None:
            cmd += ["--max-workers", str(self.max_workers)]
        env = dict(os.environ)
        if self.auth_token:
            env["PACHMAGIC_AUTH_TOKEN"] = self.auth_token
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
        )
        assert self._proc.stdout is not None
        port = self._read_ready(self._proc.stdout)
        self.port = port
        self._log_thread = threading.Thread(target=self._drain, args=(self._proc.stdout,), daemon=True)
        self._log_thread.start()
        return self

    def _read_ready(self, stream: IO[str]) -> int:
        for line in stream:
            self.log_lines.append(line.rstrip("\n"))
            if READY_PREFIX in line:
                return int(line.rsplit(":", 1)[1].split()[0])
        self.stop()
        raise ServerStartError(self.log_lines[-20:])

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self.log_lines.append(line.rstrip("\n"))
            del self.log_lines[:-1000]

    def stop(self) -> None:
        if self._threaded is not None:
            self._threaded.stop()
            self._threaded = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGTERM)
                try:
                    self._proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def kill(self) -> None:
        """SIGKILL the child process (crash tests)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def client(self, **kwargs: Any) -> Any:
        """A ``pachmagic.client.Client`` connected to this server."""
        from ..client import connect

        if self.auth_token and "token" not in kwargs:
            kwargs["token"] = self.auth_token
        return connect(self.address, **kwargs)

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.address if self.port else "not started"
        return f"LocalServer({where}, data_dir={str(self.data_dir)!r})"
