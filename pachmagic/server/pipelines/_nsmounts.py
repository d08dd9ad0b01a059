"""How the sandbox worker (``_nsworker.py``) builds a transform's view and locks it.

Namespaces (mount and PID, plus a user namespace when not root), a new root made of
read-only bind mounts of the host's top-level entries with a private ``/pfs``,
``/tmp``, ``/dev`` (a container's: no host disks) and ``/dev/shm``, the server's
data directory hidden under an empty tmpfs, and, in the PID namespace's init, its
own ``/proc`` with the kernel's knobs read-only. What the worker's commands may
then hold (nothing that could undo this view) is ``_nsprivs.py``'s business.

Imported by ``_nsworker.py``, which runs as a script with ``-S``: this module must
import only the standard library and nothing of pachmagic, and it must stay
compatible with Python 3.10 (so no ``os.unshare``). It serves requests from no one;
the worker's request loop is in ``_nsworker.py``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import signal
from typing import Any

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


class Libc:
    """The few libc calls the standard library does not expose (on 3.10)."""

    def __init__(self) -> None:
        self._lib = self.raw = ctypes.CDLL(None, use_errno=True)
        self._lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                    ctypes.c_ulong, ctypes.c_char_p]
        self._lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self._lib.unshare.argtypes = [ctypes.c_int]

    def check(self, result: int, what: str, path: str | None = None) -> None:
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}", path)

    def unshare(self, flags: int) -> None:
        self.check(self._lib.unshare(flags), "unshare")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
              data: str | None = None) -> None:
        def enc(s: str | None) -> bytes | None:
            return None if s is None else os.fsencode(s)

        self.check(self._lib.mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
                    "mount", target)

    def umount2(self, target: str, flags: int) -> None:
        self.check(self._lib.umount2(os.fsencode(target), flags), "umount", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        number = _SYS_PIVOT_ROOT.get(platform.machine())
        if number is None:
            raise OSError(errno.ENOSYS, "pivot_root: unknown syscall number")
        self.check(self._lib.syscall(ctypes.c_long(number), os.fsencode(new_root),
                                      os.fsencode(put_old)), "pivot_root", new_root)

    def set_pdeathsig(self, sig: int) -> None:
        self.prctl(PR_SET_PDEATHSIG, sig)

    def set_dumpable(self, value: int) -> None:
        self.prctl(PR_SET_DUMPABLE, value)

    def prctl(self, option: int, value: int, value2: int = 0) -> int:
        result = int(self._lib.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(value2),
                                     ctypes.c_ulong(0), ctypes.c_ulong(0)))
        self.check(0 if result >= 0 else result, "prctl")
        return result


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def enter_namespaces(libc: Libc, notes: list[str]) -> bool:
    """Get a private mount namespace in which we may mount, and a PID namespace.

    Root gets a bare mount namespace: it already has CAP_SYS_ADMIN, and a user
    namespace could only map root to itself (writing a wider map needs a helper in
    the parent namespace), which would stop root's code from touching files owned
    by other users; its transforms lose the privileges to undo the view instead
    (``drop_privileges``). Everyone else gets a user namespace mapping only their
    own uid/gid, so the transform runs with the server's uid, not as root.

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


def _bind_top_level(libc: Libc, new_root: str, notes: list[str]) -> None:
    """Mirror every entry of the host's ``/`` into ``new_root`` (except ``/pfs``; ``/dev`` is a container's)."""
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
        if name == "dev":
            try:
                _make_dev(libc, dst)
                continue
            except OSError as e:
                notes.append(f"the host's /dev stays visible ({e.strerror}): a transform run as root can open its disks")
        try:
            libc.mount(src, dst, None, MS_BIND | MS_REC)
        except OSError as e:
            # An entry we may not even look into (root's 0700 lost+found seen from an
            # unprivileged user namespace) stays an empty placeholder: the transform
            # could not have read it on the host either.
            if e.errno not in (errno.EACCES, errno.EPERM):
                raise


def build_root(libc: Libc, root_dir: str, config: dict[str, Any], notes: list[str]) -> None:
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
    _bind_top_level(libc, root_dir, notes)
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
    # for us through descriptors taken now (see host).
    hide = [p for p in config.get("hide", []) if os.path.isdir(p)]
    for path in ["/tmp", *hide]:
        if os.path.isdir(path):
            HOST_DIRS.append((path.rstrip("/") or "/", os.open(path, os.O_PATH | os.O_DIRECTORY)))
    HOST_DIRS.sort(key=lambda item: -len(item[0]))  # the deepest prefix wins
    private = ["/pfs"]
    libc.mount("pachmagic-pfs", "/pfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    if config.get("tmp") and os.path.isdir("/tmp"):
        libc.mount(host(config["tmp"]), "/tmp", None, MS_BIND)
        private.append("/tmp")
    if os.path.isdir("/dev/shm"):
        try:
            libc.mount("pachmagic-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
            private.append("/dev/shm")
        except OSError as e:
            notes.append(f"/dev/shm stays the host's ({e.strerror})")
    if os.path.ismount("/dev/pts"):
        private.append("/dev/pts")  # ours (_make_dev): new pseudo-terminals are made there
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


def _remount_read_only(libc: Libc, writable: list[str], notes: list[str]) -> None:
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
HOST_DIRS: list[tuple[str, int]] = []


def hidden(path: str) -> bool:
    """Whether ``path`` lies in a directory the sandbox hides (the data directory)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix, _ in HOST_DIRS if prefix != "/tmp")


def host(path: str) -> str:
    """``path`` as the host sees it, though our view hides or shadows it (a mount source)."""
    for prefix, fd in HOST_DIRS:
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return f"/proc/self/fd/{fd}/{path[len(prefix):].lstrip('/')}"
    return path


def environment_root(path: str) -> str:
    """The virtualenv that ``path`` is the bin/ of (its ``pyvenv.cfg`` beside it), else ``path``."""
    parent = os.path.dirname(path)
    if os.path.basename(path) == "bin" and os.path.isfile(os.path.join(host(parent), "pyvenv.cfg")):
        return parent
    return path


# --- /dev and /proc ---------------------------------------

_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
              "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}


def _make_dev(libc: Libc, dev: str) -> None:
    """A container's ``/dev`` at ``dev``: a few harmless devices, not the host's disks or terminals.

    A device node ignores a read-only mount, and root (with CAP_DAC_OVERRIDE, or just
    as the owner) could write a raw disk under the data directory's filesystem.
    """
    libc.mount("pachmagic-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k")
    try:
        for name in _DEVICES:
            if os.path.exists("/dev/" + name):
                open(os.path.join(dev, name), "wb").close()
                libc.mount("/dev/" + name, os.path.join(dev, name), None, MS_BIND)
        for name, target in _DEV_LINKS.items():
            os.symlink(target, os.path.join(dev, name))
        os.mkdir(os.path.join(dev, "shm"), 0o1777)  # build_root mounts a private tmpfs there
        os.mkdir(os.path.join(dev, "pts"), 0o755)
    except OSError:
        libc.umount2(dev, MNT_DETACH)
        raise
    try:  # a pseudo-terminal instance of its own (docker's); none where the kernel refuses
        libc.mount("devpts", os.path.join(dev, "pts"), "devpts", MS_NOSUID | MS_NOEXEC,
                   "newinstance,ptmxmode=0666,mode=0620")
    except OSError:
        pass


# Kernel settings under /proc that uid 0 may write without any capability (the
# permission checks compare the uid with the host's root): read-only, as Docker does.
_PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")


def harden_proc(libc: Libc, notes: list[str]) -> None:
    """Make the kernel's knobs in a freshly mounted ``/proc`` read-only (before transforms run)."""
    failed = []
    for name in _PROC_READ_ONLY:
        path = "/proc/" + name
        if not os.path.exists(path):
            continue
        try:
            libc.mount(path, path, None, MS_BIND | MS_REC)
            libc.mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError as e:
            failed.append(f"{path} ({e.strerror})")
    if failed and os.geteuid() == 0:  # only root's transforms could write them
        notes.append(f"{', '.join(failed)} stay(s) writable: a transform run as root can change kernel settings")


def become_init(libc: Libc | None, notes: list[str], pdeath_signal: int) -> bool:
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
            harden_proc(libc, notes)
        except OSError as e:
            notes.append(f"the host's /proc stays visible ({e.strerror}): a transform can see other processes")
        libc.set_dumpable(0)
        return True
    parent = os.getppid()
    # Our parent gone (not just the thread that started us): exit, and init follows (PDEATHSIG).
    signal.signal(pdeath_signal, lambda *_: os._exit(0) if os.getppid() != parent else None)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        except InterruptedError:
            continue
