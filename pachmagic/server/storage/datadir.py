"""The data directory: made readable by its owner only, and held by one server at a time.

The store holds everyone's uploaded data, so its directories are created ``0700``
and its files ``0600`` whatever the umask; an exclusive lock on ``LOCK`` keeps a
second server (or ``pachmagic gc``) off a directory in use. No gRPC here.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import FailedPrecondition

__all__ = ["private_dir", "private_file", "lock_data_dir"]


def private_dir(path: Path) -> Path:
    """Create ``path`` readable by its owner only (0700), whatever the umask; return it.

    The store holds everyone's uploaded data: other local users must not read it.
    An existing directory keeps the mode its owner gave it.
    """
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` (empty) with mode 0600 unless it exists; return it.

    SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path


def lock_data_dir(data_dir: Path) -> int | None:
    """Take the data directory's exclusive lock; return its descriptor.

    Two servers on one directory would each trim the other's unfinished pack
    writes at start, so the second one is refused. The kernel drops the lock
    when the process dies, however it dies.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; run one server per directory
        return None
    fd = os.open(data_dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise FailedPrecondition(f"data directory {data_dir} is in use by another pachmagic server") from None
    return fd
