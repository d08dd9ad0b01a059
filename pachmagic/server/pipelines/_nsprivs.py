"""What the sandbox worker's commands may do: a container's capabilities at most, never mount.

``drop_privileges`` runs in the worker (``_nsworker.py``) once the transform's view
is built (``_nsmounts.py``). It changes what an exec gets, not what the worker
holds: the worker still mounts each datum's ``/pfs``, the commands it starts can
no longer unmount, remount or unshare their way out of the view.

Imported by ``_nsworker.py``, which runs as a script with ``-S``: this module must
import only the standard library (and its sibling ``_nsmounts``) and nothing else
of pachmagic, and it must stay compatible with Python 3.10.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pachmagic.server.pipelines._nsmounts import Libc

PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
# What a transform run as root keeps: a container runtime's defaults (Docker's), less
# CAP_MKNOD (we have no device cgroup to stop a node for a disk being used) and
# CAP_SYS_CHROOT (a chroot escape where pivot_root was refused).
# Above all no CAP_SYS_ADMIN (mount, umount, remount, unshare a mount namespace),
# CAP_SYS_PTRACE (the worker's descriptors) or CAP_DAC_READ_SEARCH (open_by_handle_at).
KEEP_CAPS = frozenset({
    0,   # CAP_CHOWN
    1,   # CAP_DAC_OVERRIDE: root reads what the server (root) wrote, whatever its mode
    3,   # CAP_FOWNER
    4,   # CAP_FSETID
    5,   # CAP_KILL (its own PID namespace is all it sees)
    6,   # CAP_SETGID
    7,   # CAP_SETUID
    8,   # CAP_SETPCAP (it may only drop more)
    10,  # CAP_NET_BIND_SERVICE
    13,  # CAP_NET_RAW
    29,  # CAP_AUDIT_WRITE
    31,  # CAP_SETFCAP (also: a user namespace of its own mapping root, `unshare -r`)
})


def drop_privileges(libc: Libc, notes: list[str]) -> None:
    """What the worker will exec may never hold CAP_SYS_ADMIN, so its view cannot be undone.

    Called once the view is built. The worker keeps its own capabilities (it
    mounts each datum's ``/pfs``): only the bounding set (what an exec may get),
    the inheritable and ambient sets and no_new_privs change, and they pass to
    every child. A transform run as root (a root server's, or root's in a user
    namespace) gets ``KEEP_CAPS``; one run as another uid gets none, as before.
    It may still make a user namespace of its own, where the kernel locks every
    mount it inherits (no unmounting, no remounting read-write, no peeking under).
    """
    try:
        _drop_bounding(libc, KEEP_CAPS)
        _limit_inheritable(libc, KEEP_CAPS)
        _clear_ambient(libc)
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1)  # setuid and file capabilities cannot give them back
    except OSError as e:
        if os.geteuid() == 0:  # a transform of another uid loses every capability at exec anyway
            notes.append(f"transforms keep root's capabilities ({e.strerror}): they could undo the sandbox's mounts")


def _drop_bounding(libc: Libc, keep: frozenset[int]) -> None:
    """Remove every capability but ``keep`` from the bounding set (what an exec may get)."""
    cap = 0
    while True:
        try:
            libc.prctl(PR_CAPBSET_READ, cap)
        except OSError as e:
            if e.errno == errno.EINVAL:  # past the kernel's last capability
                return
            raise
        if cap not in keep:
            libc.prctl(PR_CAPBSET_DROP, cap)
        cap += 1


def _limit_inheritable(libc: Libc, keep: frozenset[int]) -> None:
    """Inheritable capabilities survive a root exec whatever the bounding set: keep only ``keep``."""
    header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
    data = ctypes.create_string_buffer(24)  # two of {effective, permitted, inheritable}
    libc.check(libc.raw.capget(header, data), "capget")
    words = list(struct.unpack("6I", data.raw))
    mask = sum(1 << cap for cap in keep)
    words[2] &= mask & 0xFFFFFFFF
    words[5] &= mask >> 32
    libc.check(libc.raw.capset(header, struct.pack("6I", *words)), "capset")


def _clear_ambient(libc: Libc) -> None:
    try:
        libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError as e:
        if e.errno != errno.EINVAL:  # before Linux 4.3 there are no ambient capabilities
            raise
