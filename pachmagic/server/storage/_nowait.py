"""Read file bytes that are already in the page cache, without ever waiting for the disk.

``read_cached(fd, size, offset)`` returns ``size`` bytes at ``offset`` as a new
``bytes`` when the kernel has all of them cached, and None otherwise (not
cached, partly cached, past the end, or this platform cannot tell). It is how a
download is served from the event loop: a warm read costs one kernel copy, where
a read on the thread pool costs the same copy plus a hop to another thread and
back (two thread switches and an event-loop wake-up per hop; measured on a bare
grpc.aio server reading 4 MiB pieces of a cached file: 0.55 → 0.43 server
CPU-s per GiB sent).

How: Linux's ``preadv2(RWF_NOWAIT)``, which fails with EAGAIN instead of
starting disk I/O, straight into the storage of a new ``bytes`` object
(``PyBytes_FromStringAndSize(NULL, size)``, then filled before anyone else sees
it, as CPython's own ``os.pread`` does). ``os.preadv`` takes the flag but only
writable buffers, and gRPC's Python API sends only ``bytes``: reading into a
bytearray would cost a second copy of every byte. Must not: block (no disk
wait, no locks), or hand out a partly filled object. Where preadv2, the flag or
CPython's bytes layout is missing, ``AVAILABLE`` is False and every call
answers None (callers then read on the pool as before).
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

__all__ = ["AVAILABLE", "read_cached"]


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


def _bytes_data_offset() -> int:
    # A bytes object's data follows its fixed header (``ob_sval``; __basicsize__
    # counts its trailing NUL byte).
    return bytes.__basicsize__ - 1


def _load() -> tuple[object, object] | None:
    if sys.implementation.name != "cpython" or not sys.platform.startswith("linux"):
        return None
    if not hasattr(os, "RWF_NOWAIT"):
        return None
    try:
        preadv2 = ctypes.CDLL(None, use_errno=True).preadv2
    except (OSError, AttributeError):
        return None
    preadv2.restype = ctypes.c_ssize_t
    preadv2.argtypes = [ctypes.c_int, ctypes.POINTER(_IoVec), ctypes.c_int, ctypes.c_int64, ctypes.c_int]
    new_bytes = ctypes.pythonapi.PyBytes_FromStringAndSize
    new_bytes.restype = ctypes.py_object
    new_bytes.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
    probe = new_bytes(b"pachmagic", 9)
    if ctypes.string_at(id(probe) + _bytes_data_offset(), 9) != b"pachmagic":
        return None  # not the bytes layout this module knows
    return preadv2, new_bytes


_FUNCTIONS = _load()
AVAILABLE = _FUNCTIONS is not None
_OFFSET = _bytes_data_offset()
_RWF_NOWAIT = getattr(os, "RWF_NOWAIT", 0)
# Errors that mean "not from the cache, ask again the usual way" rather than a failed read.
_NOT_NOW = {errno.EAGAIN, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS}


def read_cached(fd: int, size: int, offset: int) -> bytes | None:
    """``size`` bytes of ``fd`` at ``offset`` if all are in the page cache, else None.

    A read error other than "would block" is raised as ``OSError`` (as
    ``os.pread`` would raise it).
    """
    if _FUNCTIONS is None or size <= 0:
        return None
    preadv2, new_bytes = _FUNCTIONS
    data: bytes = new_bytes(None, size)  # type: ignore[operator]
    vector = _IoVec(id(data) + _OFFSET, size)
    got: int = preadv2(fd, ctypes.byref(vector), 1, offset, _RWF_NOWAIT)  # type: ignore[operator]
    if got == size:
        return data
    if got < 0:
        code = ctypes.get_errno()
        if code not in _NOT_NOW:
            raise OSError(code, os.strerror(code))
    return None  # nothing or only part of it was cached: never hand out a partly filled object
