"""A throwaway PostgreSQL server for the reference pachd, from Debian's package.

``start()`` makes a new cluster in a temporary directory (``initdb``) and runs
``postgres`` on a free loopback port with a socket directory of its own, tuned
for tests (no fsync, no synchronous commit, no full-page writes: a crash loses
the cluster, which is thrown away anyway). ``stop()`` shuts it down and removes
the directory. PostgreSQL refuses to run as root, so as root the cluster
belongs to the ``postgres`` account that Debian's package creates, and the
programs run as that user (through ``setpriv``, which also ties the server's
life to ours: it gets SIGINT, a fast shutdown, if our process dies).

Authentication is ``trust`` on loopback: the superuser (``pachyderm``) needs no
password. Each reference pachd creates and drops a database of its own on it.
Nothing here touches any other PostgreSQL on the machine.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

SUPERUSER = "pachyderm"
ADMIN_DB = "postgres"
# Several reference servers may share one PostgreSQL; each pachd holds ~25
# connections (two pools of 10, listeners).
MAX_CONNECTIONS = 300
START_TIMEOUT = 60.0


class PostgresUnavailable(Exception):
    """PostgreSQL's programs are not installed, or cannot be run here (a reason to skip)."""


class PostgresError(Exception):
    """PostgreSQL is there but did not start (a failure, not a skip)."""


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``postgres``.

    Debian's package keeps them in ``/usr/lib/postgresql/<major>/bin``, off
    ``PATH``; take the newest there unless ``PATH`` has a complete set.
    """
    on_path = shutil.which("initdb")
    if on_path is not None:
        bindir = Path(os.path.realpath(on_path)).parent
        if (bindir / "postgres").exists():
            return bindir
    candidates = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresUnavailable(
            "no PostgreSQL: `initdb` is neither on PATH nor in /usr/lib/postgresql/*/bin "
            "(install Debian's `postgresql` package)"
        )
    return candidates[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class _RunAs:
    """How to run PostgreSQL's programs: as ourselves, or (as root) as ``postgres``."""

    account: pwd.struct_passwd | None
    setpriv: str | None

    @classmethod
    def choose(cls) -> "_RunAs":
        setpriv = shutil.which("setpriv")
        if os.geteuid() != 0:
            return cls(None, setpriv)
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root, and PostgreSQL refuses root: there is no `postgres` account to run it as "
                "(Debian's `postgresql` package creates one)"
            ) from None
        return cls(account, setpriv)

    def argv(self, argv: Sequence[str], *, tie_to_parent: bool = False) -> list[str]:
        if self.setpriv is None:
            return list(argv)
        prefix = [self.setpriv]
        if self.account is not None:
            prefix += [f"--reuid={self.account.pw_uid}", f"--regid={self.account.pw_gid}", "--clear-groups"]
        if tie_to_parent:
            prefix += ["--pdeathsig", "INT"]
        return [*prefix, "--", *argv]

    def popen_kwargs(self) -> dict[str, object]:
        # Without setpriv, let subprocess change the user (no parent-death tie then).
        if self.setpriv is None and self.account is not None:
            return {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        return {}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if self.account is not None:
            env["HOME"] = self.account.pw_dir
            env["USER"] = env["LOGNAME"] = self.account.pw_name
        return env

    def chown(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)


@dataclass
class PostgresServer:
    """A running throwaway cluster; connect as ``user`` to ``admin_db`` on ``host:port``."""

    host: str
    port: int
    user: str
    admin_db: str
    directory: Path
    process: subprocess.Popen[bytes] | None = field(repr=False, default=None)

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            # SIGINT = "fast shutdown": ends sessions and stops at once.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _sweep_stale(parent: Path, min_age: float = 600.0) -> None:
    """Remove the directories of clusters whose test run was killed before it could clean up.

    A directory is stale when no postmaster runs on it (its ``postmaster.pid``
    names no live process) and it is old enough not to be one that another run
    is creating right now.
    """
    for directory in parent.glob("pachmagic-pg-*"):
        try:
            if time.time() - directory.stat().st_mtime < min_age:
                continue
            pid_file = directory / "data" / "postmaster.pid"
            if pid_file.exists():
                pid = int(pid_file.read_text().split()[0])
                if Path(f"/proc/{pid}").exists():
                    continue
            shutil.rmtree(directory, ignore_errors=True)
        except (OSError, ValueError, IndexError):
            continue


def start(log: Callable[[str], None] | None = None) -> PostgresServer:
    """Create and start a cluster; raise PostgresUnavailable (skip) or PostgresError (fail)."""
    bindir = find_bindir()
    run_as = _RunAs.choose()
    _sweep_stale(Path(tempfile.gettempdir()))
    # The postgres account must reach the directory: mkdtemp under /tmp-like dirs (0700 itself, then chowned).
    directory = Path(tempfile.mkdtemp(prefix="pachmagic-pg-"))
    server = PostgresServer("127.0.0.1", 0, SUPERUSER, ADMIN_DB, directory)
    try:
        run_as.chown(directory)
        data, sockets = directory / "data", directory / "sockets"
        initdb = run_as.argv(
            [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
             "--locale=C", "--no-sync"]
        )
        result = subprocess.run(initdb, capture_output=True, text=True, env=run_as.env(), cwd=directory,
                                timeout=120, **run_as.popen_kwargs())  # type: ignore[call-overload]
        if result.returncode != 0:
            raise PostgresError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        os.mkdir(sockets, 0o700)
        run_as.chown(sockets)
        server.port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(server.port),
            "unix_socket_directories": str(sockets),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": str(MAX_CONNECTIONS),
            "shared_buffers": "64MB",
        }
        argv = [str(bindir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        logfile = open(server.log_path, "wb")  # noqa: SIM115 - handed to the child
        try:
            server.process = subprocess.Popen(
                run_as.argv(argv, tie_to_parent=True), stdout=logfile, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=run_as.env(), cwd=directory, start_new_session=True,
                **run_as.popen_kwargs(),  # type: ignore[arg-type]
            )
        finally:
            logfile.close()
        _await_ready(server, bindir)
        if log is not None:
            log(f"PostgreSQL {bindir.parent.name} on 127.0.0.1:{server.port} ({directory})")
        return server
    except BaseException:
        server.stop()
        raise


def _await_ready(server: PostgresServer, bindir: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    isready = [str(bindir / "pg_isready"), "-q", "-h", server.host, "-p", str(server.port), "-U", server.user,
               "-d", server.admin_db]
    while True:
        assert server.process is not None
        if server.process.poll() is not None:
            raise PostgresError(f"postgres exited with {server.process.returncode}:\n{server.log_tail()}")
        if subprocess.run(isready, capture_output=True, timeout=30).returncode == 0:
            return
        if time.monotonic() > deadline:
            raise PostgresError(f"postgres did not accept connections within {START_TIMEOUT:.0f} s:\n{server.log_tail()}")
        time.sleep(0.05)
