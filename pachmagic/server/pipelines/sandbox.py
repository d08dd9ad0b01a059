"""The pipeline sandbox: run a transform so it sees ``/pfs/<input>`` and ``/pfs/out``.

User code hard-codes ``/pfs/...`` paths, as it would in a Pachyderm pod. On Linux a
``Sandbox`` keeps one long-lived worker process (``_nsworker.py``) inside private
mount and PID namespaces (and a user namespace, when not root) whose root is the
host's root re-assembled from bind mounts, as a container's view: the host
read-only, its own ``/tmp`` and ``/dev/shm``, a private ``/pfs``, the ``hidden``
directories (the server's data directory) absent, and only its own processes in
``/proc``. The namespace is built once per worker; per datum the worker
bind-mounts the datum's host directories at ``/pfs/<name>`` (inputs read-only),
spawns the command with the server's uid, and when it ends kills whatever it
left running (the worker is its PID namespace's init). Commands the worker starts
hold no capability to mount (as root: a container's default capabilities), so
they cannot undo their view; ``/dev`` is a container's, ``/proc/sys`` read-only. ``host_path`` maps a path
of that view back to the host (output symlinks are resolved in it).

Where namespaces are refused (not Linux, user namespaces disabled, no
CAP_SYS_ADMIN) the sandbox falls back to *path substitution*: ``/pfs/...`` in the
command, stdin, environment values and working directory is rewritten to the host
directories, and ``Sandbox.warning`` says why. ``PACHMAGIC_SANDBOX=substitute``
forces that; ``PACHMAGIC_SANDBOX=namespace`` makes the fallback an error.

The engine talks to the worker over a Unix socket (length-prefixed JSON, the
command's stdio pipes passed as descriptors), and reads the command's output
directly. This module is POSIX-only. It must not import grpc or anything of
``pachmagic.client``, ``magics`` or ``widgets``; it knows nothing of datums or jobs.

Over 400 lines because the server's side of the worker protocol (framing, descriptor passing,
the select loop over the command's pipes, the fallback) is one state machine.
"""

from __future__ import annotations

import array
import errno
import functools
import json
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from pachmagic.errors import FailedPrecondition, Internal
from pachmagic.pachyderm.paths import pfs_substitution

__all__ = ["RunResult", "Sandbox", "SandboxUnavailable", "sandbox_available", "sandbox_report", "ENV_VAR"]

ENV_VAR = "PACHMAGIC_SANDBOX"
# Set for a transform in namespace mode unless its environment has them.
WRITABLE_HOME_DIRS = {"XDG_CONFIG_HOME": "/tmp/.config", "XDG_CACHE_HOME": "/tmp/.cache"}
_WORKER = Path(__file__).with_name("_nsworker.py")
_HEADER = struct.Struct(">I")
_START_TIMEOUT = 60.0  # a cold interpreter on a loaded CI machine can be slow
_CANCEL_POLL = 0.05  # threading.Event cannot be selected on; poll it this often
# After the command exits, output still buffered in the pipes is read to the end,
# but a background process it left holding them open must not hold up the datum.
_DRAIN_GRACE = 0.5
_MAX_LINE = 1 << 20  # a "line" this long without a newline is passed on as is
_NAME = re.compile(r"[^/\x00]+")
# A worker that died must surface as EPIPE, not a SIGPIPE that kills an embedding
# process which did not ignore it (Python itself does).
_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)


class SandboxUnavailable(FailedPrecondition):
    """Namespaces were required (``PACHMAGIC_SANDBOX=namespace``) but are refused."""


@dataclass(frozen=True)
class RunResult:
    """How a command ended.

    ``exit_code`` is negative for a signal; a command killed for a timeout or a
    cancel reports ``-9`` (SIGKILL), with ``timed_out`` set for the timeout.
    """

    exit_code: int
    timed_out: bool = False


@functools.lru_cache(maxsize=None)
def sandbox_available() -> tuple[bool, str]:
    """Whether namespace mode works here, and if not, why (probed once per process)."""
    if not sys.platform.startswith("linux"):
        return False, f"private mount namespaces need Linux (this is {sys.platform})"
    try:
        with tempfile.TemporaryDirectory(prefix="pachmagic-sandbox-probe-") as scratch:
            _Worker.start("namespace", Path(scratch)).close()
    except SandboxUnavailable as e:
        return False, e.details
    return True, ""


def sandbox_report() -> str:
    """One line on how transforms are isolated here (``pachmagic version`` prints it)."""
    with tempfile.TemporaryDirectory(prefix="pachmagic-sandbox-report-") as scratch:
        try:
            with Sandbox(Path(scratch) / "box", hidden=[Path(scratch) / "hidden"]) as box:
                if box.warning is not None:
                    return box.warning
                return ("pipeline sandbox: namespaces (private /pfs, /tmp and process list; host read-only; "
                        "the data directory hidden; transforms cannot mount)")
        except (SandboxUnavailable, OSError) as err:
            return f"pipeline sandbox: unavailable ({err})"


def _server_cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # deleted: the worker starts the command at its root
        return None


class Sandbox:
    """One datum slot: runs one command at a time with ``/pfs/<name>`` in place.

    Parameters
    ----------
    scratch_root:
        A directory for the sandbox's own bookkeeping (an empty mount-point
        directory for the worker's private root); created if missing.

    Attributes
    ----------
    mode:
        ``"namespace"`` or ``"substitute"``.
    warning:
        Why the sandbox fell back to substitution (for the job logs), else None.
    """

    def __init__(self, scratch_root: Path, hidden: Sequence[Path] = ()) -> None:
        self._scratch = Path(scratch_root)
        self._scratch.mkdir(parents=True, exist_ok=True)
        # What the transform must not see (the data directory), and its private /tmp.
        tmp = self._scratch / "tmp"
        tmp.mkdir(mode=0o700, exist_ok=True)
        self._config: dict[str, Any] = {"hide": [os.path.abspath(p) for p in hidden], "tmp": str(tmp)}
        self._lock = threading.Lock()
        self._closed = False
        self._last_mounts: tuple[dict[str, Path], dict[str, str]] = ({}, {})  # (mounts, their host paths)
        want = (os.environ.get(ENV_VAR) or "auto").strip().lower()
        if want not in ("auto", "namespace", "substitute"):
            raise ValueError(f"{ENV_VAR} must be 'namespace', 'substitute' or 'auto', not {want!r}")
        self.warning: str | None = None
        self._worker: _Worker | None = None
        if want == "substitute":
            reason = f"{ENV_VAR}=substitute is set"
        elif not sys.platform.startswith("linux"):
            reason = sandbox_available()[1]
            if want == "namespace":
                raise SandboxUnavailable(f"{ENV_VAR}=namespace, but {reason}")
        else:
            try:
                self._worker = _Worker.start("namespace", self._scratch, self._config)
            except SandboxUnavailable as e:
                if want == "namespace":
                    raise SandboxUnavailable(f"{ENV_VAR}=namespace, but {e.details}") from None
                reason = e.details
        if self._worker is not None:
            self.mode = "namespace"
            if self._worker.notes:  # isolation the OS refused: said once, in the job's logs
                self.warning = "pipeline sandbox: " + "; ".join(self._worker.notes)
        else:
            self.mode = "substitute"
            self.warning = (
                f"pipeline sandbox: {reason}; falling back to path substitution: /pfs/... is "
                "rewritten to host directories in the command, stdin, environment and working "
                "directory only, so /pfs paths written inside scripts will not resolve")
            self._worker = _Worker.start("plain", self._scratch)

    def host_path(self, view_path: str, mounts: Mapping[str, Path]) -> Path | None:
        """Where a path of the transform's view is on the host; None where the view has nothing.

        The view (namespace mode): ``/pfs/<name>`` the run's mounts, ``/tmp`` the
        sandbox's own, the hidden directories absent, the rest the host's. Used to
        resolve the output's symbolic links as the transform saw them.
        """
        path = os.path.normpath("/" + view_path.lstrip("/"))
        if any(path == h or path.startswith(h + "/") for h in self._config["hide"]):
            return None
        if path == "/pfs" or path.startswith("/pfs/"):
            name, _, rest = path[len("/pfs/"):].partition("/")
            host = mounts.get(name)
            if host is not None:
                return Path(host) / rest if rest else Path(host)
            if self.mode == "namespace":
                return None  # our /pfs holds only the run's mounts
        if self.mode == "namespace" and (path == "/tmp" or path.startswith("/tmp/")):
            return Path(self._config["tmp"]) / path[len("/tmp"):].lstrip("/")
        return Path(path)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker (killing any command it is running); its /tmp goes with it."""
        self._closed = True
        if self._worker is not None:
            self._worker.close()
        shutil.rmtree(self._config["tmp"], ignore_errors=True)

    def run(
        self,
        *,
        cmd: list[str],
        stdin: str | None,
        env: dict[str, str],
        cwd: str | None,
        mounts: Mapping[str, Path],
        timeout: float | None,
        on_output: Callable[[str, str], None],
        cancel: threading.Event | None = None,
        while_running: Callable[[], None] | None = None,
    ) -> RunResult:
        """Run ``cmd`` with ``mounts`` at ``/pfs/<name>``; stream its output lines.

        ``while_running`` is called once on this thread when the command has been
        handed to the worker, before its output is read (work to overlap with the
        command; it must be short, as output, timeout and cancel wait for it).

        ``cmd[0]`` is looked up on ``env["PATH"]`` (relative paths against ``cwd``)
        and exec'd directly. A command that cannot be started reports the reason on
        stderr and exits 127 (not found) or 126 (other errors), as a shell would.
        """
        if not cmd:
            raise ValueError("empty command")
        known, hosts = self._last_mounts
        if mounts != known:  # a job's datums mostly come with the same mounts: checked once
            for name in mounts:
                if not _NAME.fullmatch(name) or name in (".", ".."):
                    raise ValueError(f"invalid /pfs name {name!r}")
            hosts = {name: os.path.abspath(os.fspath(p)) for name, p in mounts.items()}
            self._last_mounts = (dict(mounts), hosts)
        with self._lock:
            if self._closed:
                raise FailedPrecondition("sandbox is closed")
            assert self._worker is not None
            if not self._worker.alive():  # it died with a previous run: start afresh
                self._worker.close()
                self._worker = _Worker.start(
                    "namespace" if self.mode == "namespace" else "plain", self._scratch, self._config)
            request: dict[str, Any]
            if self.mode == "substitute":
                sub = pfs_substitution(hosts)
                request = {"cmd": [sub(a) for a in cmd], "env": {k: sub(v) for k, v in env.items()},
                           "cwd": None if cwd is None else sub(cwd), "mounts": {}}
                stdin = None if stdin is None else sub(stdin)
            else:
                # The host (and so $HOME) is read-only here, as an image is: per-user config and
                # caches (matplotlib's, say) go to the worker's /tmp unless the spec says otherwise.
                # No cwd: where the server runs, as in plain mode, named so the worker shows
                # it (read-only) where its private /tmp would shadow it.
                request = {"cmd": list(cmd), "env": {**WRITABLE_HOME_DIRS, **env},
                           "cwd": _server_cwd() if cwd is None else cwd, "mounts": hosts}
            return self._worker.run(request, (stdin or "").encode(), timeout, on_output, cancel, while_running)


class _Lines:
    """Splits one stream's bytes into lines for ``on_output``."""

    def __init__(self, stream: str, on_output: Callable[[str, str], None]) -> None:
        self.stream = stream
        self.on_output = on_output
        self.buf = b""

    def feed(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            self._emit(line)
        if len(self.buf) > _MAX_LINE:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self._emit(self.buf)
            self.buf = b""

    def _emit(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        self.on_output(self.stream, line.decode("utf-8", errors="replace"))


class _Worker:
    """The engine's handle on one worker process and its control socket."""

    def __init__(self, proc: subprocess.Popen[bytes], sock: socket.socket, root_dir: str) -> None:
        self.proc = proc
        self.sock = sock
        self.root_dir = root_dir
        self.buf = b""
        self.command: int | None = None  # the running command's pid (= its process group)
        self.notes: list[str] = []  # isolation the OS refused (namespace mode)
        # One epoll set for the worker's life (not one per command): the socket stays in it,
        # each run adds and removes its pipes.
        self.sel = selectors.DefaultSelector()
        self.sel.register(sock, selectors.EVENT_READ)

    @classmethod
    def start(cls, mode: str, scratch: Path, config: Mapping[str, Any] | None = None) -> _Worker:
        """Start a worker; raise SandboxUnavailable if it cannot set up ``mode``."""
        # The worker mounts its private root on this (host-side empty) directory.
        root_dir = tempfile.mkdtemp(prefix="sandbox-root-", dir=scratch)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            proc = subprocess.Popen(
                [sys.executable or "python3", "-I", "-S", str(_WORKER),
                 str(theirs.fileno()), mode, root_dir, json.dumps(dict(config or {}))],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                # Its own session: a Ctrl-C meant for the server's terminal must not
                # reach it; it leaves when the server does (socket EOF, PDEATHSIG).
                start_new_session=True)
        except OSError as e:
            ours.close()
            os.rmdir(root_dir)
            raise SandboxUnavailable(f"cannot start the sandbox worker: {e}") from None
        finally:
            theirs.close()
        worker = cls(proc, ours, root_dir)
        reply = worker._next_message(time.monotonic() + _START_TIMEOUT)
        if reply is None or reply.get("op") != "ready":
            worker.close()
            reason = "the sandbox worker exited" if reply is None else reply.get("reason", reply)
            raise SandboxUnavailable(f"cannot set up a private /pfs ({reason})")
        worker.notes = [str(n) for n in reply.get("notes", [])]
        return worker

    def alive(self) -> bool:
        return self.proc.poll() is None and self.sock.fileno() >= 0

    def close(self) -> None:
        self.sel.close()
        if self.sock.fileno() >= 0:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)  # EOF: the worker kills its command, exits
            except OSError:
                pass
            self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        try:
            os.rmdir(self.root_dir)
        except OSError:
            pass

    # --- framing ---

    def _send(self, obj: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
        body = json.dumps(obj).encode()
        data = _HEADER.pack(len(body)) + body
        sent = 0
        if fds:
            sent = self.sock.sendmsg(
                [data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))], _NOSIGNAL)
        self.sock.sendall(data[sent:], _NOSIGNAL)

    def _parse(self) -> dict[str, Any] | None:
        if len(self.buf) < _HEADER.size:
            return None
        size = _HEADER.unpack_from(self.buf)[0]
        if len(self.buf) < _HEADER.size + size:
            return None
        body = self.buf[_HEADER.size:_HEADER.size + size]
        self.buf = self.buf[_HEADER.size + size:]
        msg: dict[str, Any] = json.loads(body)
        return msg

    def _read(self) -> bool:
        """Read what the socket has (it is readable); False on EOF."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        self.buf += data
        return bool(data)

    def _next_message(self, deadline: float) -> dict[str, Any] | None:
        """Block until a whole message arrives; None on EOF or timeout."""
        while True:
            msg = self._parse()
            if msg is not None:
                return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                if not self._read():
                    return None
            except socket.timeout:
                return None
            finally:
                self.sock.settimeout(None)

    # --- one command ---

    def run(self, request: dict[str, Any], stdin: bytes, timeout: float | None,
            on_output: Callable[[str, str], None], cancel: threading.Event | None,
            while_running: Callable[[], None] | None = None) -> RunResult:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self._send({"op": "run", **request}, (in_r, out_w, err_w))
        except OSError:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            raise Internal("the sandbox worker is gone") from None
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)  # the worker has its own copies now
        streams = {out_r: _Lines("stdout", on_output), err_r: _Lines("stderr", on_output)}
        sel = self.sel
        registered: set[int] = set()  # this run's descriptors in the worker's epoll set
        reply: dict[str, Any] | None = None
        killed = timed_out = False
        try:
            for fd in streams:
                sel.register(fd, selectors.EVENT_READ)
                registered.add(fd)
            pending = memoryview(stdin)
            if pending:
                os.set_blocking(in_w, False)
                sel.register(in_w, selectors.EVENT_WRITE)
                registered.add(in_w)
            else:
                os.close(in_w)
                in_w = -1
            deadline = None if timeout is None else time.monotonic() + timeout
            if while_running is not None:
                while_running()
            drain_until: float | None = None
            while reply is None or streams:
                now = time.monotonic()
                waits: list[float] = []
                if reply is None and not killed:
                    if deadline is not None and now >= deadline:
                        killed = timed_out = True
                    elif cancel is not None and cancel.is_set():
                        killed = True
                    if killed:
                        self._send({"op": "kill"})
                    else:
                        if deadline is not None:
                            waits.append(deadline - now)
                        if cancel is not None:
                            waits.append(_CANCEL_POLL)
                if reply is not None:
                    drain_until = drain_until or now + _DRAIN_GRACE
                    if now >= drain_until:
                        break
                    waits.append(drain_until - now)
                for key, _ in sel.select(min(waits) if waits else None):
                    fd = key.fd
                    if fd == in_w:
                        try:
                            pending = pending[os.write(in_w, pending):]
                        except BrokenPipeError:  # the command stopped reading: fine
                            pending = pending[:0]
                        if not pending:
                            sel.unregister(in_w)
                            registered.discard(in_w)
                            os.close(in_w)
                            in_w = -1
                    elif fd in streams:
                        data = os.read(fd, 65536)
                        if data:
                            streams[fd].feed(data)
                        else:
                            sel.unregister(fd)
                            registered.discard(fd)
                            streams.pop(fd).flush()
                    elif reply is None:
                        if not self._read():
                            raise Internal("the sandbox worker died while running a command")
                        while reply is None and (msg := self._parse()) is not None:
                            if msg.get("op") == "started":
                                # None: the command lives in the worker's PID namespace,
                                # which the kernel empties when the worker dies.
                                self.command = None if msg.get("pid") is None else int(msg["pid"])
                            else:
                                reply = msg
                        if reply is not None and reply.get("drained"):
                            # No writer is left: the output is what the pipes hold; no EOF to wait for.
                            for out_fd in list(streams):
                                self._drain(out_fd, streams.pop(out_fd))
                                sel.unregister(out_fd)
                                registered.discard(out_fd)
            for lines in streams.values():
                lines.flush()
        except BaseException:
            if reply is None:
                self._abandon()
            raise
        finally:
            if sel.get_map() is not None:  # None once _abandon closed the worker (and its epoll set)
                for fd in registered:
                    sel.unregister(fd)
            for fd in (in_w, out_r, err_r):
                if fd >= 0:
                    os.close(fd)
        self.command = None
        return self._result(reply, timed_out, on_output, request["cmd"][0])

    @staticmethod
    def _drain(fd: int, lines: _Lines) -> None:
        """Pass on what a pipe holds now, without waiting for more."""
        os.set_blocking(fd, False)
        try:
            while data := os.read(fd, 65536):
                lines.feed(data)
        except BlockingIOError:
            pass
        lines.flush()

    def _abandon(self) -> None:
        """A run is being left early (callback raised, worker died): stop the worker.

        A worker that died without killing its command (SIGKILL, the OOM killer)
        leaves it running in its own session: kill that process group here, in
        every case (asking whether the worker is still alive would race with
        its exit; the command is being abandoned either way).
        """
        if self.command is not None:
            try:
                os.killpg(self.command, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.command = None
        self.close()

    @staticmethod
    def _result(reply: dict[str, Any], timed_out: bool,
                on_output: Callable[[str, str], None], program: str) -> RunResult:
        if reply.get("op") == "exit":
            code = int(reply["code"])
            # A command that ended on its own just as the deadline passed did not time out.
            return RunResult(code, timed_out and code == -signal.SIGKILL)
        if reply.get("op") == "error" and reply.get("stage") == "spawn":
            # The command never started; report it where its own errors would go.
            on_output("stderr", f"pachmagic: cannot run {program!r}: {reply.get('message')}")
            return RunResult(127 if reply.get("errno") == errno.ENOENT else 126)
        raise Internal(f"sandbox could not prepare /pfs: {reply.get('message', reply)}")
