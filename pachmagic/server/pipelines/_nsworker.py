"""The long-lived worker process behind one ``Sandbox``: it owns the private ``/pfs``.

Started by ``sandbox.py`` as ``python -I -S _nsworker.py <fd> <mode> <root-dir> <config-json>``,
where ``<fd>`` is its end of a Unix stream socket and the config names the
directories to hide and the host directory that becomes ``/tmp``. In ``namespace``
mode it builds the transform's view (``_nsmounts.py``: namespaces, a read-only host
with its own ``/pfs``, ``/tmp``, ``/dev``, ``/proc``, the data directory hidden),
cuts what its commands may hold (``_nsprivs.py``: nothing to undo the view with),
and forks the PID namespace's init, which serves; ``plain`` mode (path substitution)
skips all that. Per request: bind the datum's host directories at ``/pfs/<name>``
(kept from the previous request when it wanted the same ones), spawn the command with
the caller's pipes as its stdio (``posix_spawn``: no copy of this process is made, nor
Python run in the child; plain mode forks, as it sets a death signal first), report its
exit status, kill what it left behind. Refused isolation goes to ``ready``'s ``notes``.

Wire format, both ways: 4-byte big-endian length + UTF-8 JSON object. A ``run``
request carries three file descriptors (stdin, stdout, stderr) as SCM_RIGHTS.

Requests:  ``{"op": "run", "cmd", "env", "cwd", "mounts"}``, ``{"op": "kill"}``.
Replies:   ``{"op": "ready", "notes"}`` or ``{"op": "failed", "reason"}`` once at start;
           per run, outside a PID namespace, ``{"op": "started", "pid"}`` first (the server
           kills that process group if we die mid-run; on Linux the command's own process sends
           it, before its exec, so it is there before the command can start anything);
           then ``{"op": "exit", "code"}`` (with
           ``"drained": true`` when every process that could write the command's stdout and
           stderr is gone: what the pipes hold is all there is) or
           ``{"op": "error", "stage": "mount"|"spawn", "errno", "message"}``.

This file runs as a script with ``-S`` (no site-packages): it must import only the
standard library and its two sibling modules, nothing else of pachmagic, and it must
stay compatible with Python 3.10 (so no ``os.unshare``).

Over 400 lines because the request loop and the view it keeps mounted between requests
(what to mount, when a kept mount may be reused) are one state machine.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Callable, NoReturn

if TYPE_CHECKING:
    from pachmagic.server.pipelines import _nsmounts as ns, _nsprivs as privs
else:  # run as a script with -I -S: its sibling modules, found by path (after the standard library)
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))
    import _nsmounts as ns
    import _nsprivs as privs

_HEADER = struct.Struct(">I")
_MAX_FDS = 3
_CMSG_CLOEXEC = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
# Python ignores these; a command must get the default (``yes | head`` ends on SIGPIPE), as Popen's
# restore_signals gives it.
_RESET_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))
# glibc's posix_spawn reports exec errors and has POSIX_SPAWN_SETSID; elsewhere the worker forks (Popen).
_POSIX_SPAWN = sys.platform.startswith("linux") and hasattr(os, "POSIX_SPAWN_DUP2")
# The parent dies -> this signal; a handler tells "the server process is gone"
# (exit) from "only the thread that spawned us ended" (PDEATHSIG fires on thread
# exit too, and then getppid() is unchanged).
_PDEATH_SIGNAL = signal.SIGUSR2


class _Channel:
    """Length-prefixed JSON frames over the control socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, obj: dict[str, Any]) -> None:
        body = json.dumps(obj).encode()
        self.sock.sendall(_HEADER.pack(len(body)) + body)

    def _recv_exact(self, n: int, fds: list[int]) -> bytes | None:
        buf = b""
        while len(buf) < n:
            # Close-on-exec from the start: a command gets the descriptors as its stdio, never twice.
            data, ancdata, _flags, _addr = self.sock.recvmsg(
                n - len(buf), socket.CMSG_SPACE(_MAX_FDS * 4), _CMSG_CLOEXEC)
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    usable = len(payload) - len(payload) % 4
                    fds.extend(struct.unpack(f"{usable // 4}i", payload[:usable]))
            if not data:
                return None
            buf += data
        return buf

    def recv(self) -> tuple[dict[str, Any], list[int]] | None:
        """Next request and the descriptors that came with it; None on EOF."""
        fds: list[int] = []
        header = self._recv_exact(_HEADER.size, fds)
        if header is None:
            return None
        body = self._recv_exact(_HEADER.unpack(header)[0], fds)
        if body is None:
            return None
        obj = json.loads(body)
        if not isinstance(obj, dict):
            raise ValueError("request is not an object")
        return obj, fds


class _Worker:
    def __init__(self, chan: _Channel, libc: ns.Libc | None, parent: int, pid_ns: bool = False) -> None:
        self.chan = chan
        self.libc = libc
        self.parent = parent
        # As init of its own PID namespace, the worker sees (and may kill) exactly the
        # processes its commands started, however they detached (setsid, daemons).
        self.pid_ns = pid_ns
        self.preexec: Callable[[], Any] | None = None  # run in the command's process before exec
        self.child_announces = False  # the preexec sends "started" itself
        self.child: _Spawned | subprocess.Popen[bytes] | None = None
        self.held: list[int] = []  # the last command's stdout and stderr (write ends), closed at the next run
        try:
            self.home: str | None = os.getcwd()  # where a command runs when the request names no cwd
        except OSError:
            self.home = None
        # What is mounted for the commands now, kept from run to run while requests want the same.
        self.view: list[tuple[str, str, str]] = []
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        self.wake_r = wake_r
        # SIGCHLD (and the death signal) only need to wake select(); the handler
        # itself does nothing.
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_w)

    def parent_gone(self) -> bool:
        return os.getppid() != self.parent

    def shutdown(self) -> NoReturn:
        """The server went away: take the running command down with us."""
        # No waiting or reaping: this may run in a signal handler that interrupted
        # Popen.wait(), whose lock would deadlock us; SIGKILL needs no help.
        if self.child is not None and self.child.returncode is None:
            _killpg(self.child.pid)
        os._exit(0)  # as a PID namespace's init, this also kills everything in it

    def kill_all(self, child: _Spawned | subprocess.Popen[bytes]) -> bool:
        """End every process the command started: the whole PID namespace but us, else its group.

        True when every one of them is known to be gone (the namespace holds only us).
        """
        if self.pid_ns:
            if child.returncode is None:
                child.wait()  # killed already (a kill request): Popen must reap its own child
            try:
                os.kill(-1, signal.SIGKILL)  # from init: every other process of the namespace
            except ProcessLookupError:
                pass
            for _ in range(500):  # reap the orphans that were handed to us (SIGKILL is quick)
                try:
                    if os.waitpid(-1, os.WNOHANG)[0] == 0:
                        if child.returncode is not None and not _others():
                            return True
                        select.select([], [], [], 0.01)
                except ChildProcessError:
                    return True  # no child left: every process of the namespace descended from us
        else:
            _killpg(child.pid)
        return False

    def serve(self) -> None:
        while True:
            got = self.chan.recv()
            if got is None:
                self.shutdown()
            msg, fds = got
            if msg.get("op") == "run":
                self.run(msg, fds)
            else:
                for fd in fds:
                    os.close(fd)
                # "kill" for a command that already ended: nothing to do.

    def _view(self, msg: dict[str, Any]) -> list[tuple[str, str, str]]:
        """The mounts a request wants, as (target, host source, kind) in mounting order.

        ``kind`` is ``"out"`` (writable), ``"in"`` (an input, read-only) or ``"context"``
        (``_context_paths``). Validates the request's mounts (KeyError, TypeError).
        """
        view = [("/pfs/" + name, ns.host(host), "out" if name == "out" else "in")
                for name, host in msg["mounts"].items()]
        view += [(path, ns.host(path), "context") for path in self._context_paths(msg)]
        return view

    def _prepare(self, msg: dict[str, Any]) -> None:
        """Make the request's view current: keep the mounts in place if they are the same as last run's.

        A job's datums run one after another with the same slot directories, so their
        views are equal; unmounting and mounting again per datum cost more than the
        transform of a small datum (umount waits for an RCU grace period). A mount is
        kept only while its target still shows the very directory it was made of (same
        device and inode: a slot directory removed and made again is mounted afresh);
        nothing of ours runs between two datums (``kill_all``), so no one saw it meanwhile.
        """
        wanted = self._view(msg)
        if wanted == self.view and all(_shows(target, source) for target, source, _ in wanted):
            return
        self._unmount(self.view)
        self.view = []
        done: list[tuple[str, str, str]] = []
        try:
            for item in wanted:
                self._mount_one(*item)
                done.append(item)
        except OSError:
            self._unmount(done)
            raise
        self.view = done

    def _mount_one(self, target: str, source: str, kind: str) -> None:
        """Bind ``source`` at ``target``: read-only but for ``/pfs/out``; undone if any step fails."""
        libc = self.libc
        assert libc is not None
        if kind == "context":
            os.makedirs(target, exist_ok=True)
        else:
            _make_mount_point(target)
        try:
            libc.mount(source, target, None, ns.MS_BIND | ns.MS_REC)
            if kind == "context":
                for hidden, _ in ns.HOST_DIRS:  # the data directory may lie under the workdir
                    if hidden != "/tmp" and hidden.startswith(target + "/") and os.path.isdir(hidden):
                        libc.mount("pachmagic-hidden", hidden, "tmpfs",
                                   ns.MS_RDONLY | ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC, "mode=000,size=4k")
            if kind != "out":  # inputs and context are read, only /pfs/out is written
                libc.mount(None, target, None, ns.MS_REMOUNT | ns.MS_BIND | ns.MS_RDONLY | ns.MS_NOSUID | ns.MS_NODEV)
        except OSError:
            self._unmount([(target, source, kind)])
            raise

    def _context_paths(self, msg: dict[str, Any]) -> list[str]:
        """Host directories the command is run from, where our private /tmp shadows them.

        The working directory, the command's own directory and the PATH entries are
        the command's "image": kept visible (read-only) at their paths even under
        /tmp, where a notebook's or a test's code often lives. A virtualenv's bin/
        brings its whole environment: its python needs the site-packages beside it.
        """
        if not any(prefix == "/tmp" for prefix, _ in ns.HOST_DIRS):
            return []
        cmd0 = str(msg["cmd"][0]) if msg.get("cmd") else ""
        wanted = [str(msg.get("cwd") or ""), os.path.dirname(cmd0) if cmd0.startswith("/") else "",
                  *str((msg.get("env") or {}).get("PATH", "")).split(":")]
        ours = {target for target, _, kind in self.view if kind == "context"}  # kept from the last run
        chosen: list[str] = []
        for path in sorted({ns.environment_root(os.path.normpath(p)) for p in wanted if p.startswith("/tmp/")}):
            if any(path.startswith(c + "/") for c in chosen) or (path not in ours and os.path.ismount(path)):
                continue
            host = ns.host(path)
            if host == path or not os.path.isdir(host) or ns.hidden(path):
                continue
            chosen.append(path)
        return chosen

    def _unmount(self, view: list[tuple[str, str, str]]) -> None:
        libc = self.libc
        if libc is None:
            return
        for target, _, kind in view:
            try:
                libc.umount2(target, ns.MNT_DETACH)
            except OSError:
                pass  # never mounted (mkdir succeeded, mount failed)
            if kind != "context":
                try:
                    os.rmdir(target)
                except OSError:
                    pass  # what a transform made of it: _make_mount_point clears it next time

    def run(self, msg: dict[str, Any], fds: list[int]) -> None:
        self._close(self.held)
        try:
            if len(fds) != 3:
                raise ValueError(f"expected 3 descriptors, got {len(fds)}")
            if self.libc is not None:
                try:
                    self._prepare(msg)
                except (OSError, ValueError, TypeError, KeyError) as e:
                    self._error("mount", e)
                    return
            try:
                child = self._start(msg, fds)
            except (OSError, ValueError, TypeError) as e:  # e.g. a NUL in an argument
                self._error("spawn", e)
                return
            os.close(fds.pop(0))  # stdin's read end: the command has its copy, and must see EOF
            self.child = child
            if not self.pid_ns and not self.child_announces:
                # The server kills this process group itself if we die mid-run (SIGKILL, OOM);
                # in a PID namespace the kernel does (and our pid numbers mean nothing outside).
                self.chan.send({"op": "started", "pid": child.pid})
            code = self._wait(child)
            gone = self.kill_all(child)  # what it left running in the background ends with the datum
            self.child = None
            # Our copies of its stdout and stderr are kept until here: the server is not woken
            # by their EOF at the command's exit while we still reap it. When every other writer
            # is known to be gone, all they wrote is in the pipes: "drained" tells the server to
            # read that and not wait for EOF (no wake-up of its own for it at all).
            if gone:
                # Closed at the next request, by when the server has closed its ends: closing
                # them now would wake it, and sending must be the last thing we do before waiting.
                self.held, fds[:] = fds[:], []
                self.chan.send({"op": "exit", "code": code, "drained": True})
            else:
                self._close(fds)
                self.chan.send({"op": "exit", "code": code})
        finally:
            self._close(fds)

    def _start(self, msg: dict[str, Any], fds: list[int]) -> _Spawned | subprocess.Popen[bytes]:
        """Start the request's command in its own session (process group), ``fds`` as its stdio."""
        if self.preexec is not None or not _POSIX_SPAWN:  # a preexec needs a forked copy of us to run in
            return subprocess.Popen(
                msg["cmd"], stdin=fds[0], stdout=fds[1], stderr=fds[2], env=msg["env"], cwd=msg["cwd"],
                close_fds=True, preexec_fn=self.preexec, start_new_session=True)
        cmd, env, cwd = msg["cmd"], msg["env"], msg["cwd"]
        if not isinstance(cmd, list) or not cmd or not isinstance(env, dict) or not isinstance(cwd, (str, type(None))):
            raise TypeError("cmd must be a non-empty list, env an object and cwd a string")
        # posix_spawn has no cwd of its own: the worker (one thread) goes there for the spawn.
        # Relative programs and PATH entries are then taken from it, as Popen's child does.
        where: str | None = cwd if cwd is not None else self.home
        moved = where is not None and where != self.home
        if where is not None and moved:
            os.chdir(where)
        try:
            return _Spawned(_spawn(cmd, env, fds))
        finally:
            if moved:
                try:
                    os.chdir(self.home or "/")
                except OSError:
                    pass  # the server's directory went away: commands without a cwd start here

    def _error(self, stage: str, e: Exception) -> None:
        self.chan.send({"op": "error", "stage": stage, "errno": getattr(e, "errno", None),
                        "message": str(e)})

    @staticmethod
    def _close(fds: list[int]) -> None:
        while fds:
            os.close(fds.pop())

    def _wait(self, child: _Spawned | subprocess.Popen[bytes]) -> int:
        while True:
            sock = self.chan.sock.fileno()
            readable, _, _ = select.select([sock, self.wake_r], [], [], 1.0)
            if self.wake_r in readable:
                try:
                    while os.read(self.wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
            code = child.poll()
            if code is not None:
                return code
            if sock in readable:
                got = self.chan.recv()
                if got is None:
                    self.shutdown()
                else:
                    for fd in got[1]:
                        os.close(fd)
                    if got[0].get("op") == "kill":
                        _killpg(child.pid)
                        if self.pid_ns:
                            self.kill_all(child)
            if self.parent_gone():
                self.shutdown()


class _Spawned:
    """A command started by ``_spawn``: what the worker uses of a ``Popen`` (pid, poll, wait)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode


def _spawn(cmd: list[Any], env: dict[str, Any], fds: list[int]) -> int:
    """``posix_spawn`` ``cmd`` (looked up on ``env``'s PATH, as Popen does) with ``fds`` as 0, 1, 2.

    Errors are Popen's: the first failure other than "no such file" along the PATH,
    else FileNotFoundError; both name ``cmd[0]``. Our own descriptors are all
    close-on-exec (Python's default; the control socket and the received ones made so).
    """
    program = cmd[0]
    if not isinstance(program, str):
        raise TypeError(f"expected str, not {type(program).__name__}")
    if os.path.dirname(program):
        candidates = [program]
    else:
        candidates = [os.path.join(d, program) for d in os.get_exec_path(env)]
    actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
    first: OSError | None = None
    for path in candidates:
        if len(candidates) > 1:  # skip what is not there without trying to run it
            try:
                os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError:
                pass  # let the exec say why
        try:
            return os.posix_spawn(path, cmd, env, file_actions=actions, setsid=True, setsigdef=_RESET_SIGNALS)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENOTDIR) and first is None:
                first = e
    if first is not None:
        raise type(first)(first.errno, first.strerror, program)
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)


def _make_mount_point(target: str) -> None:
    """An empty directory at ``target`` (``/pfs/<name>``), whatever a previous command left there.

    ``/pfs`` is writable to a transform run as root: a symlink planted at a future
    mount point must not redirect the mount (mount(2) follows it).
    """
    try:
        os.mkdir(target, 0o755)
        return
    except FileExistsError:
        pass
    if os.path.ismount(target):  # never emptied: it may be a datum's host directory
        raise OSError(errno.EBUSY, "a previous mount is still in place", target)
    if os.path.islink(target) or not os.path.isdir(target):
        os.unlink(target)
    else:
        shutil.rmtree(target)
    os.mkdir(target, 0o755)


def _shows(target: str, source: str) -> bool:
    """Whether ``target`` shows the directory ``source`` (a mount of it is still in place)."""
    try:
        a, b = os.stat(target), os.stat(source)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _others() -> bool:
    """Whether any process but us is left in our PID namespace (we are its init)."""
    try:
        return any(name.isdigit() and name != "1" for name in os.listdir("/proc"))
    except OSError:
        return False


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _die_with(libc: ns.Libc, worker: int, chan: _Channel) -> None:
    """Run in a plain-mode command's process before exec: it ends when the worker does."""
    libc.set_pdeathsig(signal.SIGKILL)
    # The death signal only covers a death after it is set: a worker killed between our fork
    # and here already left us with another parent, and nobody else knows our pid yet.
    if os.getppid() != worker:
        os.kill(os.getpid(), signal.SIGKILL)
    # The death signal reaches only us, not what the command will start: the server kills our
    # process group if the worker dies, so it must have our pid before the command runs (the
    # worker could only send it after our exec, behind the command's own first steps).
    try:
        chan.send({"op": "started", "pid": os.getpid()})
    except OSError:  # the server is gone
        os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    fd, mode, root_dir = int(argv[1]), argv[2], argv[3]
    config: dict[str, Any] = json.loads(argv[4]) if len(argv) > 4 else {}
    parent = os.getppid()
    os.set_inheritable(fd, False)  # passed to us to keep, not to hand to the commands we spawn
    chan = _Channel(socket.socket(fileno=fd))
    libc: ns.Libc | None = None
    plain_libc: ns.Libc | None = None
    notes: list[str] = []
    pid_ns = False
    # Until the worker's own handler is in place: leave only if the server is gone.
    signal.signal(_PDEATH_SIGNAL, lambda *_: os._exit(0) if os.getppid() != parent else None)
    try:
        if sys.platform.startswith("linux"):
            libc = ns.Libc()
            libc.set_pdeathsig(_PDEATH_SIGNAL)
        if os.getppid() != parent:
            return 0
        if mode == "namespace":
            assert libc is not None, "namespaces need Linux"
            try:
                cwd = os.getcwd()
            except OSError:  # the server's cwd was deleted
                cwd = "/"
            pid_ns = ns.enter_namespaces(libc, notes)
            ns.build_root(libc, root_dir, config, notes)
            # From here on, what the worker starts cannot undo the view it just built.
            privs.drop_privileges(libc, notes)
            # Commands run without a cwd start where the server runs, as in plain
            # mode; the host path is still there in the new root.
            try:
                os.chdir(cwd)
            except OSError:
                pass
            libc.set_pdeathsig(_PDEATH_SIGNAL)  # in case new credentials reset it
            # /proc/<our pid>/fd would hand our descriptors of hidden directories to the transform.
            libc.set_dumpable(0)
        elif mode == "plain":
            plain_libc, libc = libc, None  # no /pfs to manage
        else:
            raise ValueError(f"unknown mode {mode!r}")
    except Exception as e:  # any failure here means "fall back", with the reason
        chan.send({"op": "failed", "reason": f"{type(e).__name__}: {e}"})
        return 1
    if pid_ns:
        pid_ns = ns.become_init(libc, notes, _PDEATH_SIGNAL)
        if pid_ns:  # our parent is the waiting process (pid 0 as seen from in here); its end kills us
            parent = os.getppid()
    worker = _Worker(chan, libc, parent, pid_ns)
    if mode == "plain" and plain_libc is not None:
        # Killed before it could tell the server the command's pid, the worker takes the command along.
        worker.preexec = functools.partial(_die_with, plain_libc, os.getpid(), chan)
        worker.child_announces = True

    def on_parent_death(signum: int, frame: Any) -> None:
        if worker.parent_gone():
            worker.shutdown()

    signal.signal(_PDEATH_SIGNAL, on_parent_death)
    signal.signal(signal.SIGTERM, lambda *_: worker.shutdown())
    if worker.parent_gone():  # died before the handler was in place
        worker.shutdown()
    chan.send({"op": "ready", "notes": notes})
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
