"""The long-lived worker process behind one ``Sandbox``: it owns the private ``/pfs``.

Started by ``sandbox.py`` as ``python -I -S _nsworker.py <fd> <mode> <root-dir>``,
where ``<fd>`` is its end of a Unix stream socket. In ``namespace`` mode it first
enters a private mount namespace (plus a user namespace when not root), builds a new
root out of recursive bind mounts of every top-level host entry plus an empty
``/pfs`` on a tmpfs, and pivots into it; in ``plain`` mode (path substitution) it
skips all of that. Then it serves requests one at a time: bind each datum's host
directories at ``/pfs/<name>``, spawn the command with the caller's pipes as its
stdio, report the exit status, unbind.

Wire format, both ways: 4-byte big-endian length + UTF-8 JSON object. A ``run``
request carries three file descriptors (stdin, stdout, stderr) as SCM_RIGHTS.

Requests:  ``{"op": "run", "cmd", "env", "cwd", "mounts"}``, ``{"op": "kill"}``.
Replies:   ``{"op": "ready"}`` or ``{"op": "failed", "reason"}`` once at start;
           per run ``{"op": "exit", "code"}`` or
           ``{"op": "error", "stage": "mount"|"spawn", "errno", "message"}``.

This file runs as a script with ``-S`` (no site-packages): it must import only the
standard library and nothing of pachmagic, and it must stay compatible with
Python 3.10 (so no ``os.unshare``).

Over 400 lines because it must be one standalone script (run with ``-S``, importing nothing of
pachmagic).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import select
import signal
import socket
import struct
import subprocess
import sys
from typing import Any, NoReturn

_HEADER = struct.Struct(">I")
_MAX_FDS = 3

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 0x1
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1

# pivot_root(2) has no glibc wrapper; where the number is unknown we chroot instead.
_SYS_PIVOT_ROOT = {
    "x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41, "loongarch64": 41,
    "i386": 217, "i686": 217, "s390x": 217, "armv7l": 218, "armv6l": 218,
    "ppc64le": 203, "ppc64": 203,
}

# The parent dies -> this signal; a handler tells "the server process is gone"
# (exit) from "only the thread that spawned us ended" (PDEATHSIG fires on thread
# exit too, and then getppid() is unchanged).
_PDEATH_SIGNAL = signal.SIGUSR2


class _Libc:
    """The few libc calls the standard library does not expose (on 3.10)."""

    def __init__(self) -> None:
        self._lib = ctypes.CDLL(None, use_errno=True)
        self._lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                    ctypes.c_ulong, ctypes.c_char_p]
        self._lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self._lib.unshare.argtypes = [ctypes.c_int]

    def _check(self, result: int, what: str, path: str | None = None) -> None:
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}", path)

    def unshare(self, flags: int) -> None:
        self._check(self._lib.unshare(flags), "unshare")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
              data: str | None = None) -> None:
        def enc(s: str | None) -> bytes | None:
            return None if s is None else os.fsencode(s)

        self._check(self._lib.mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
                    "mount", target)

    def umount2(self, target: str, flags: int) -> None:
        self._check(self._lib.umount2(os.fsencode(target), flags), "umount", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        number = _SYS_PIVOT_ROOT.get(platform.machine())
        if number is None:
            raise OSError(errno.ENOSYS, "pivot_root: unknown syscall number")
        self._check(self._lib.syscall(ctypes.c_long(number), os.fsencode(new_root),
                                      os.fsencode(put_old)), "pivot_root", new_root)

    def set_pdeathsig(self, sig: int) -> None:
        self._check(self._lib.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(sig), ctypes.c_ulong(0),
                                    ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl")


# --- namespace setup ---------------------------------------------------------------


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _enter_namespaces(libc: _Libc) -> None:
    """Get a private mount namespace in which we may mount.

    Root gets a bare mount namespace: it already has CAP_SYS_ADMIN, and a user
    namespace could only map root to itself (writing a wider map needs a helper in
    the parent namespace), which would stop root's code from touching files owned
    by other users. Everyone else gets a user namespace mapping only their own
    uid/gid, so the transform runs with the server's uid, not as root.
    """
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0:
        try:
            libc.unshare(CLONE_NEWNS)
            return
        except OSError as e:
            if e.errno != errno.EPERM:  # root without CAP_SYS_ADMIN: try a user ns
                raise
    libc.unshare(CLONE_NEWUSER | CLONE_NEWNS)
    try:
        _write("/proc/self/setgroups", "deny")
    except FileNotFoundError:  # kernels before 3.19 have no such file
        pass
    _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
    _write("/proc/self/gid_map", f"{gid} {gid} 1\n")


def _bind_top_level(libc: _Libc, new_root: str) -> None:
    """Mirror every entry of the host's ``/`` into ``new_root`` (except ``/pfs``)."""
    for name in sorted(os.listdir("/")):
        if name == "pfs":
            continue  # ours shadows the host's (e.g. when running inside a Pachyderm pod)
        src, dst = "/" + name, os.path.join(new_root, name)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
            continue
        if os.path.isdir(src):
            os.mkdir(dst, 0o755)
        else:
            open(dst, "wb").close()  # a bind mount needs a file to cover
        try:
            libc.mount(src, dst, None, MS_BIND | MS_REC)
        except OSError as e:
            # An entry we may not even look into (root's 0700 lost+found seen from an
            # unprivileged user namespace) stays an empty placeholder: the transform
            # could not have read it on the host either.
            if e.errno not in (errno.EACCES, errno.EPERM):
                raise


def _build_root(libc: _Libc, root_dir: str) -> None:
    """Make ``/`` a tmpfs holding bind mounts of the host's ``/`` entries and ``/pfs``."""
    # Nothing we mount may propagate back to the host (a bare mount namespace made
    # by root keeps shared mounts shared); slave still lets host mounts in.
    libc.mount(None, "/", None, MS_REC | MS_SLAVE)
    libc.mount("pachmagic-sandbox", root_dir, "tmpfs", 0, "mode=755")
    _bind_top_level(libc, root_dir)
    os.mkdir(os.path.join(root_dir, "pfs"), 0o755)
    os.chdir(root_dir)
    try:
        # pivot_root(".", ".") stacks the old root on the new one; detaching it
        # leaves a clean mount tree, and, unlike chroot, lets the transform create
        # user namespaces of its own (the kernel refuses that inside a chroot).
        libc.pivot_root(".", ".")
        libc.umount2(".", MNT_DETACH)
    except OSError:
        os.chroot(".")
    os.chdir("/")
    # The bind of the host directory holding root_dir also brought along a view of
    # our tmpfs at its host path; hide it so the new root does not show up twice.
    try:
        libc.umount2(root_dir, MNT_DETACH)
    except OSError:
        pass


# --- the request loop --------------------------------------------------------------


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
            data, ancdata, _flags, _addr = self.sock.recvmsg(
                n - len(buf), socket.CMSG_SPACE(_MAX_FDS * 4))
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
    def __init__(self, chan: _Channel, libc: _Libc | None, parent: int) -> None:
        self.chan = chan
        self.libc = libc
        self.parent = parent
        self.child: subprocess.Popen[bytes] | None = None
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
        os._exit(0)

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

    def _mount(self, mounts: dict[str, str]) -> list[str]:
        assert self.libc is not None
        done: list[str] = []
        try:
            for name, host in mounts.items():
                target = "/pfs/" + name
                os.mkdir(target, 0o755)
                done.append(target)
                self.libc.mount(host, target, None, MS_BIND | MS_REC)
        except OSError:
            self._unmount(done)
            raise
        return done

    def _unmount(self, targets: list[str]) -> None:
        assert self.libc is not None
        for target in targets:
            try:
                self.libc.umount2(target, MNT_DETACH)
            except OSError:
                pass  # never mounted (mkdir succeeded, mount failed)
            os.rmdir(target)

    def run(self, msg: dict[str, Any], fds: list[int]) -> None:
        mounted: list[str] = []
        try:
            if len(fds) != 3:
                raise ValueError(f"expected 3 descriptors, got {len(fds)}")
            if self.libc is not None:
                try:
                    mounted = self._mount(msg["mounts"])
                except (OSError, ValueError, TypeError, KeyError) as e:
                    self._error("mount", e)
                    return
            try:
                child = subprocess.Popen(
                    msg["cmd"], stdin=fds[0], stdout=fds[1], stderr=fds[2],
                    env=msg["env"], cwd=msg["cwd"], close_fds=True,
                    start_new_session=True)  # own process group, killed as one
            except (OSError, ValueError, TypeError) as e:  # e.g. a NUL in an argument
                self._error("spawn", e)
                return
            self._close(fds)  # the child has its copies; EOF must reach the server
            self.child = child
            # The server kills this process group itself if we die mid-run (SIGKILL, OOM).
            self.chan.send({"op": "started", "pid": child.pid})
            code = self._wait(child)
            self.child = None
            self.chan.send({"op": "exit", "code": code})
        finally:
            self._close(fds)
            if mounted:
                self._unmount(mounted)

    def _error(self, stage: str, e: Exception) -> None:
        self.chan.send({"op": "error", "stage": stage, "errno": getattr(e, "errno", None),
                        "message": str(e)})

    @staticmethod
    def _close(fds: list[int]) -> None:
        while fds:
            os.close(fds.pop())

    def _wait(self, child: subprocess.Popen[bytes]) -> int:
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
            if self.parent_gone():
                self.shutdown()


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> int:
    fd, mode, root_dir = int(argv[1]), argv[2], argv[3]
    parent = os.getppid()
    chan = _Channel(socket.socket(fileno=fd))
    libc: _Libc | None = None
    # Until the worker's own handler is in place: leave only if the server is gone.
    signal.signal(_PDEATH_SIGNAL, lambda *_: os._exit(0) if os.getppid() != parent else None)
    try:
        if sys.platform.startswith("linux"):
            libc = _Libc()
            libc.set_pdeathsig(_PDEATH_SIGNAL)
        if os.getppid() != parent:
            return 0
        if mode == "namespace":
            assert libc is not None, "namespaces need Linux"
            try:
                cwd = os.getcwd()
            except OSError:  # the server's cwd was deleted
                cwd = "/"
            _enter_namespaces(libc)
            _build_root(libc, root_dir)
            # Commands run without a cwd start where the server runs, as in plain
            # mode; the host path is still there in the new root.
            try:
                os.chdir(cwd)
            except OSError:
                pass
            libc.set_pdeathsig(_PDEATH_SIGNAL)  # in case new credentials reset it
        elif mode == "plain":
            libc = None  # no /pfs to manage
        else:
            raise ValueError(f"unknown mode {mode!r}")
    except Exception as e:  # any failure here means "fall back", with the reason
        chan.send({"op": "failed", "reason": f"{type(e).__name__}: {e}"})
        return 1
    worker = _Worker(chan, libc, parent)

    def on_parent_death(signum: int, frame: Any) -> None:
        if worker.parent_gone():
            worker.shutdown()

    signal.signal(_PDEATH_SIGNAL, on_parent_death)
    signal.signal(signal.SIGTERM, lambda *_: worker.shutdown())
    if worker.parent_gone():  # died before the handler was in place
        worker.shutdown()
    chan.send({"op": "ready"})
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
