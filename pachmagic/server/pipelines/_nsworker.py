"""The long-lived worker process behind one ``Sandbox``: it owns the private ``/pfs``.

Started by ``sandbox.py`` as ``python -I -S _nsworker.py <fd> <mode> <root-dir> <config-json>``,
where ``<fd>`` is its end of a Unix stream socket and the config names the
directories to hide and the host directory that becomes ``/tmp``. In ``namespace``
mode it first enters private mount and PID namespaces (plus a user namespace when
not root), builds a new root out of recursive bind mounts of every top-level host
entry, pivots into it, gives it its own ``/pfs``, ``/tmp`` and ``/dev/shm``, hides
the configured directories under empty read-only tmpfs, makes every other mount
read-only, and forks the PID namespace's init, which serves (its own ``/proc``).
In ``plain`` mode (path substitution) it skips all of that. Then it serves requests
one at a time: bind each datum's host directories at ``/pfs/<name>``, spawn the
command with the caller's pipes as its stdio, report the exit status, kill what
the command left behind, unbind. Isolation the kernel refuses is reported in the
``ready`` message's ``notes``.

Wire format, both ways: 4-byte big-endian length + UTF-8 JSON object. A ``run``
request carries three file descriptors (stdin, stdout, stderr) as SCM_RIGHTS.

Requests:  ``{"op": "run", "cmd", "env", "cwd", "mounts"}``, ``{"op": "kill"}``.
Replies:   ``{"op": "ready", "notes"}`` or ``{"op": "failed", "reason"}`` once at start;
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
CLONE_NEWPID = 0x20000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_RELATIME = 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
# statvfs f_flag bits -> the mount flags a remount must keep (the kernel refuses to
# drop a flag that locks a mount inherited from a more privileged namespace).
_KEEP_FLAGS = ((1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME),
               (2048, MS_NODIRATIME), (4096, MS_RELATIME))

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
        self._prctl(PR_SET_PDEATHSIG, sig)

    def set_dumpable(self, value: int) -> None:
        self._prctl(PR_SET_DUMPABLE, value)

    def _prctl(self, option: int, value: int) -> None:
        self._check(self._lib.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0),
                                    ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl")


# --- namespace setup ---------------------------------------------------------------


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _enter_namespaces(libc: _Libc, notes: list[str]) -> bool:
    """Get a private mount namespace in which we may mount, and a PID namespace.

    Root gets a bare mount namespace: it already has CAP_SYS_ADMIN, and a user
    namespace could only map root to itself (writing a wider map needs a helper in
    the parent namespace), which would stop root's code from touching files owned
    by other users. Everyone else gets a user namespace mapping only their own
    uid/gid, so the transform runs with the server's uid, not as root.

    Returns whether a PID namespace came too (our next child is its init); where
    it is refused, ``notes`` says so and the sandbox goes on without.
    """
    uid, gid = os.geteuid(), os.getegid()
    extra = [CLONE_NEWPID, 0]
    if uid == 0:
        for pid_flag in extra:
            try:
                libc.unshare(CLONE_NEWNS | pid_flag)
                if not pid_flag:
                    notes.append("no PID namespace (the kernel refused one): a transform can see other processes")
                return bool(pid_flag)
            except OSError as e:
                if e.errno == errno.EPERM:  # root without CAP_SYS_ADMIN: try a user ns
                    break
                if e.errno != errno.EINVAL or not pid_flag:
                    raise
    for pid_flag in extra:
        try:
            libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | pid_flag)
            break
        except OSError as e:
            if not pid_flag or e.errno not in (errno.EINVAL, errno.EPERM, errno.ENOSPC):
                raise
            notes.append(f"no PID namespace ({e.strerror}): a transform can see other processes")
    try:
        _write("/proc/self/setgroups", "deny")
    except FileNotFoundError:  # kernels before 3.19 have no such file
        pass
    _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
    _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
    return not notes


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


def _build_root(libc: _Libc, root_dir: str, config: dict[str, Any], notes: list[str]) -> None:
    """Make ``/`` a tmpfs holding bind mounts of the host's ``/`` entries, then lock it down.

    The transform's view, as a container's: the host read-only where it stays
    visible (interpreters, libraries); its own ``/tmp`` (a host directory of the
    sandbox's, ``config["tmp"]``) and ``/dev/shm``; ``/pfs`` on a tmpfs of its own;
    and nothing of ``config["hide"]`` (the server's data directory).
    """
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
    # Mount sources under what is about to be shadowed (/tmp) or hidden stay reachable
    # for us through descriptors taken now (see _host).
    hide = [p for p in config.get("hide", []) if os.path.isdir(p)]
    for path in ["/tmp", *hide]:
        if os.path.isdir(path):
            _HOST_DIRS.append((path.rstrip("/") or "/", os.open(path, os.O_PATH | os.O_DIRECTORY)))
    _HOST_DIRS.sort(key=lambda item: -len(item[0]))  # the deepest prefix wins
    private = ["/pfs"]
    libc.mount("pachmagic-pfs", "/pfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    if config.get("tmp") and os.path.isdir("/tmp"):
        libc.mount(_host(config["tmp"]), "/tmp", None, MS_BIND)
        private.append("/tmp")
    if os.path.isdir("/dev/shm"):
        try:
            libc.mount("pachmagic-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
            private.append("/dev/shm")
        except OSError as e:
            notes.append(f"/dev/shm stays the host's ({e.strerror})")
    for path in hide:
        if os.path.isdir(path):  # what is not there needs no hiding (under our /tmp, say)
            try:
                libc.mount("pachmagic-hidden", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                           "mode=000,size=4k")
            except OSError as e:
                notes.append(f"{path} stays visible ({e.strerror})")
    _remount_read_only(libc, private, notes)


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            field = line.split(b" ")[4]
            # mountinfo escapes space, tab, newline and backslash as octal
            points.append(os.fsdecode(field).encode("latin-1", "backslashreplace").decode("unicode_escape"))
    return points


def _remount_read_only(libc: _Libc, writable: list[str], notes: list[str]) -> None:
    """Every mount of the new root read-only, except ``writable`` ones and what is under them."""
    failed = 0
    for point in dict.fromkeys(_mount_points()):
        if point == "/proc" or point.startswith("/proc/") or any(
                point == w or point.startswith(w + "/") for w in writable):
            continue
        try:
            flags = os.statvfs(point).f_flag
        except OSError:
            continue
        keep = 0
        for bit, flag in _KEEP_FLAGS:
            if flags & bit:
                keep |= flag
        try:
            libc.mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
        except OSError:
            failed += 1
    if failed:
        notes.append(f"{failed} host mount(s) could not be made read-only")


# Directories of the host view that the sandbox shadows or hides, with descriptors
# taken before it did: bind-mount sources there are reached through the descriptor.
_HOST_DIRS: list[tuple[str, int]] = []


def _hidden(path: str) -> bool:
    """Whether ``path`` lies in a directory the sandbox hides (the data directory)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix, _ in _HOST_DIRS if prefix != "/tmp")


def _host(path: str) -> str:
    """``path`` as the host sees it, though our view hides or shadows it (a mount source)."""
    for prefix, fd in _HOST_DIRS:
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return f"/proc/self/fd/{fd}/{path[len(prefix):].lstrip('/')}"
    return path


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
    def __init__(self, chan: _Channel, libc: _Libc | None, parent: int, pid_ns: bool = False) -> None:
        self.chan = chan
        self.libc = libc
        self.parent = parent
        # As init of its own PID namespace, the worker sees (and may kill) exactly the
        # processes its commands started, however they detached (setsid, daemons).
        self.pid_ns = pid_ns
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
        os._exit(0)  # as a PID namespace's init, this also kills everything in it

    def kill_all(self, child: subprocess.Popen[bytes]) -> None:
        """End every process the command started: the whole PID namespace but us, else its group."""
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
                            break
                        select.select([], [], [], 0.01)
                except ChildProcessError:
                    break
        else:
            _killpg(child.pid)

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
                self.libc.mount(_host(host), target, None, MS_BIND | MS_REC)
                if name != "out":  # inputs are read, only /pfs/out is written
                    self.libc.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        except OSError:
            self._unmount(done)
            raise
        return done

    def _bind_context(self, msg: dict[str, Any]) -> list[str]:
        """Host directories the command is run from, where our private /tmp shadows them.

        The working directory, the command's own directory and the PATH entries are
        the command's "image": kept visible (read-only) at their paths even under
        /tmp, where a notebook's or a test's code often lives.
        """
        assert self.libc is not None
        if not any(prefix == "/tmp" for prefix, _ in _HOST_DIRS):
            return []
        cmd0 = str(msg["cmd"][0]) if msg.get("cmd") else ""
        wanted = [str(msg.get("cwd") or ""), os.path.dirname(cmd0) if cmd0.startswith("/") else "",
                  *str((msg.get("env") or {}).get("PATH", "")).split(":")]
        chosen: list[str] = []
        for path in sorted({os.path.normpath(p) for p in wanted if p.startswith("/tmp/")}):
            if any(path.startswith(c + "/") for c in chosen) or os.path.ismount(path):
                continue
            host = _host(path)
            if host == path or not os.path.isdir(host) or _hidden(path):
                continue
            chosen.append(path)
        done: list[str] = []
        try:
            for path in chosen:
                os.makedirs(path, exist_ok=True)
                self.libc.mount(_host(path), path, None, MS_BIND | MS_REC)
                done.append(path)
                for hidden, _ in _HOST_DIRS:  # the data directory may lie under the workdir
                    if hidden != "/tmp" and hidden.startswith(path + "/") and os.path.isdir(hidden):
                        self.libc.mount("pachmagic-hidden", hidden, "tmpfs",
                                        MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000,size=4k")
                self.libc.mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        except OSError:
            self._unmount(done, remove=False)
            raise
        return done

    def _unmount(self, targets: list[str], remove: bool = True) -> None:
        assert self.libc is not None
        for target in targets:
            try:
                self.libc.umount2(target, MNT_DETACH)
            except OSError:
                pass  # never mounted (mkdir succeeded, mount failed)
            if remove and target.startswith("/pfs/"):
                os.rmdir(target)

    def run(self, msg: dict[str, Any], fds: list[int]) -> None:
        mounted: list[str] = []
        try:
            if len(fds) != 3:
                raise ValueError(f"expected 3 descriptors, got {len(fds)}")
            if self.libc is not None:
                try:
                    mounted = self._mount(msg["mounts"])
                    mounted += self._bind_context(msg)
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
            # The server kills this process group itself if we die mid-run (SIGKILL, OOM);
            # in a PID namespace the kernel does, and our pid numbers mean nothing outside.
            self.chan.send({"op": "started", "pid": None if self.pid_ns else child.pid})
            code = self._wait(child)
            self.kill_all(child)  # what it left running in the background ends with the datum
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
                        if self.pid_ns:
                            self.kill_all(child)
            if self.parent_gone():
                self.shutdown()


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


def main(argv: list[str]) -> int:
    fd, mode, root_dir = int(argv[1]), argv[2], argv[3]
    config: dict[str, Any] = json.loads(argv[4]) if len(argv) > 4 else {}
    parent = os.getppid()
    chan = _Channel(socket.socket(fileno=fd))
    libc: _Libc | None = None
    notes: list[str] = []
    pid_ns = False
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
            pid_ns = _enter_namespaces(libc, notes)
            _build_root(libc, root_dir, config, notes)
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
            libc = None  # no /pfs to manage
        else:
            raise ValueError(f"unknown mode {mode!r}")
    except Exception as e:  # any failure here means "fall back", with the reason
        chan.send({"op": "failed", "reason": f"{type(e).__name__}: {e}"})
        return 1
    if pid_ns:
        pid_ns = _become_init(libc, notes)
        if pid_ns:  # our parent is the waiting process (pid 0 as seen from in here); its end kills us
            parent = os.getppid()
    worker = _Worker(chan, libc, parent, pid_ns)

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


def _become_init(libc: _Libc | None, notes: list[str]) -> bool:
    """Fork the PID namespace's init, which serves; this process only waits for it.

    Returns in the child (True), or False where no child could be made. When
    init ends, the kernel ends every process of the namespace; when this process
    ends (the server went away), init gets SIGKILL and the same follows.
    """
    assert libc is not None
    try:
        child = os.fork()
    except OSError as e:
        notes.append(f"no PID namespace ({e.strerror}): a transform can see other processes")
        return False
    if child == 0:
        libc.set_pdeathsig(signal.SIGKILL)
        try:
            libc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError as e:
            notes.append(f"the host's /proc stays visible ({e.strerror}): a transform can see other processes")
        libc.set_dumpable(0)
        return True
    parent = os.getppid()
    # Our parent gone (not just the thread that started us): exit, and init follows (PDEATHSIG).
    signal.signal(_PDEATH_SIGNAL, lambda *_: os._exit(0) if os.getppid() != parent else None)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        except InterruptedError:
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv))
