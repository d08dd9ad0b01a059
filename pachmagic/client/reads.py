"""Recording what a session reads, and reading it again through a lock.

A ``ReadRecorder`` is given to a client (``Client(recorder=...)``; the ``%pach``
session gives one to its client, which ``pfs://`` uses too). Every file read of
that client — get, open, iterate, download, inspect, list, walk, glob, diff —
passes through one seam, ``FileOps._pin`` in ``_pfs_files.py``, which asks
``ReadRecorder.resolve`` which commit to read. That method is the one rule:

- a pinned ref (a commit id, or ``branch=id``) reads that commit;
- with a lock in use (``use``), a ref the lock knows reads its locked commit,
  and the first such read of each ref says in one line what moved since
  (``photos@master is 3 commits ahead of the lock; reading 1a2b...``);
- any other ref reads the commit it resolves to now (one ``InspectCommit``), and
  under a lock says once that the lock does not cover it — or, with
  ``strict=True``, fails with ``RefNotLocked``.

Each read is recorded: the ref as written, the commit it read, the path, the
operation. ``to_lock()`` turns the records into a ``DataLock`` (``lockfile.py``),
``to_frame()`` into a DataFrame. The recorder does no RPCs itself: the client
passes the two lookups it needs (the commit a ref resolves to now, and the
ancestry of a commit). It is thread-safe; it holds no global state.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from pachmagic.client.lockfile import DataLock, LockEntry, RefKey
from pachmagic.client.refs import Commit
from pachmagic.errors import FailedPrecondition, NotFound

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

__all__ = ["Read", "ReadRecorder", "RefNotLocked", "LockDrift", "check_lock", "Current", "Ancestors"]

Current = Callable[[Commit], str]
"""The id of the commit a ref resolves to now (``NotFound`` when it does not exist)."""

Ancestors = Callable[[RefKey, str], Iterator[str]]
"""Commit ids from the given commit (first) back towards the root of its repo."""

# How far back "N commits ahead" looks before calling the lock's commit unrelated.
ANCESTRY_LIMIT = 10_000


class RefNotLocked(FailedPrecondition):
    """A read of a ref that the lock in use does not pin, with ``strict=True``."""


@dataclass(frozen=True)
class Read:
    """One recorded read.

    Attributes
    ----------
    key:
        The ref (project filled in).
    written:
        The ref as the caller wrote it (``photos@master``).
    commit:
        The commit id that was read.
    path:
        The path, or the glob pattern.
    op:
        ``get``, ``inspect``, ``list``, ``walk``, ``glob`` or ``diff``.
    locked:
        Whether the lock in use chose the commit.
    """

    key: RefKey
    written: str
    commit: str
    path: str
    op: str
    locked: bool = False


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class LockDrift:
    """How one locked ref compares with what it resolves to now (``check_lock``).

    ``status`` is ``same``, ``ahead`` (the ref moved forward by ``ahead``
    commits), ``diverged`` (it points at a commit that does not descend from the
    locked one), ``missing`` (it resolves to nothing now) or ``pinned`` (a commit
    id: it cannot move).
    """

    key: RefKey
    locked: str
    current: str | None
    ahead: int | None

    @property
    def status(self) -> str:
        if self.key.pinned:
            return "pinned"
        if self.current is None:
            return "missing"
        if self.current == self.locked:
            return "same"
        return "ahead" if self.ahead else "diverged"

    @property
    def moved(self) -> bool:
        """Whether reading the ref without the lock would read another commit."""
        return self.status in ("ahead", "diverged", "missing")

    def line(self, ref: str | None = None) -> str:
        """One line saying what moved (``ref`` is how to name it; default the full key)."""
        name = ref or str(self.key)
        status = self.status
        if status == "ahead":
            return f"{name} is {_plural(self.ahead or 0, 'commit')} ahead of the lock ({self.locked} → {self.current})"
        if status == "diverged":
            return f"{name} has moved to {self.current}, which does not descend from the locked commit {self.locked}"
        if status == "missing":
            return f"{name} no longer exists (locked at {self.locked})"
        if status == "pinned":
            return f"{name} is a commit id (it cannot move)"
        return f"{name} is at the locked commit {self.locked}"


def drift(key: RefKey, locked: str, commit: Commit, current: Current, ancestors: Ancestors) -> LockDrift:
    """Compare a locked commit with what ``commit`` (the ref) resolves to now."""
    if key.pinned:
        return LockDrift(key, locked, locked, 0)
    try:
        now = current(commit)
    except NotFound:
        return LockDrift(key, locked, None, None)
    if now == locked:
        return LockDrift(key, locked, now, 0)
    ahead: int | None = None
    for distance, commit_id in enumerate(ancestors(key, now)):
        if commit_id == locked:
            ahead = distance
            break
        if distance >= ANCESTRY_LIMIT:
            break
    return LockDrift(key, locked, now, ahead)


def check_lock(lock: DataLock, current: Current, ancestors: Ancestors) -> list[LockDrift]:
    """How every ref of ``lock`` compares with the branches now, in key order."""
    return [drift(key, lock.entries[key].commit, key.commit(), current, ancestors) for key in sorted(lock.entries)]


class ReadRecorder:
    """The reads of one session, and the lock they are resolved through (if any).

    Parameters
    ----------
    notify:
        Called with each one-line note (what moved since the lock, refs the
        lock does not cover). Default: print to standard error.
    """

    def __init__(self, *, notify: Callable[[str], None] | None = None) -> None:
        self.notify: Callable[[str], None] = notify or _stderr_line
        self._mutex = threading.Lock()
        self._reads: dict[tuple[RefKey, str, str, str], Read] = {}
        self._lock: DataLock | None = None
        self._strict = False
        self._noted: set[RefKey] = set()

    # --- the lock in use ---------------------------------------------------------

    @property
    def lock(self) -> DataLock | None:
        """The lock reads are resolved through, or None."""
        return self._lock

    @property
    def strict(self) -> bool:
        """Whether reading a ref the lock does not pin is an error."""
        return self._strict

    def use(self, lock: DataLock | str | os.PathLike[str] | None, *, strict: bool = False) -> DataLock | None:
        """Resolve later reads through ``lock`` (a ``DataLock`` or a lock file's path); None stops.

        Returns
        -------
        DataLock or None
            The lock now in use.
        """
        loaded = lock if isinstance(lock, DataLock) or lock is None else DataLock.load(lock)
        with self._mutex:
            self._lock = loaded
            self._strict = strict and loaded is not None
            self._noted.clear()
        return loaded

    # --- the seam --------------------------------------------------------------

    def resolve(
        self, commit: Commit, project: str, path: str, op: str, *, current: Current, ancestors: Ancestors
    ) -> str:
        """The commit id a read of ``commit`` must use; records the read (see the module docstring).

        Parameters
        ----------
        commit:
            The ref as the caller gave it.
        project:
            The client's project, for refs that name none.
        path, op:
            What is read, and how (recorded).
        current, ancestors:
            The client's lookups (RPCs).
        """
        key = RefKey.of(commit, project)
        written = str(commit)
        locked = False
        note: str | None = None
        if key.pinned:
            assert commit.id is not None
            commit_id = commit.id
        else:
            with self._mutex:
                lock, strict = self._lock, self._strict
                first = key not in self._noted
                self._noted.add(key)
            entry = lock.get(key) if lock is not None else None
            if entry is not None:
                commit_id, locked = entry.commit, True
                if first:
                    note = self._moved_note(key, written, entry, commit, current, ancestors)
            elif lock is not None and strict:
                with self._mutex:
                    self._noted.discard(key)
                where = f" {lock.source}" if lock.source else ""
                raise RefNotLocked(
                    f"{written} is not in the lock{where}: a strict lock reads only the refs it pins"
                )
            else:
                commit_id = current(commit)
                if lock is not None and first:
                    note = f"{written} is not in the lock; reading its current commit {commit_id}"
        self._record(Read(key, written, commit_id, path, op, locked))
        if note:
            self.notify(note)
        return commit_id

    def _moved_note(
        self, key: RefKey, written: str, entry: LockEntry, commit: Commit, current: Current, ancestors: Ancestors
    ) -> str | None:
        found = drift(key, entry.commit, commit, current, ancestors)
        status = found.status
        if status == "ahead":
            return f"{written} is {_plural(found.ahead or 0, 'commit')} ahead of the lock; reading {entry.commit}"
        if status == "diverged":
            return (
                f"{written} has moved to {found.current}, which does not descend from the locked commit; "
                f"reading {entry.commit}"
            )
        if status == "missing":
            return f"{written} no longer exists; reading the locked commit {entry.commit}"
        return None

    def _record(self, read: Read) -> None:
        with self._mutex:
            if read.key.pinned and any(
                (r.key.project, r.key.repo, r.key.repo_type, r.commit, r.path)
                == (read.key.project, read.key.repo, read.key.repo_type, read.commit, read.path)
                for r in self._reads.values()
            ):
                return  # the same data, already recorded through the ref that found it (pfs:// pins so)
            self._reads.setdefault((read.key, read.commit, read.path, read.op), read)

    # --- what was read ---------------------------------------------------------

    @property
    def reads(self) -> list[Read]:
        """Every distinct read, in the order first made."""
        with self._mutex:
            return list(self._reads.values())

    def clear(self) -> None:
        """Forget the recorded reads (the lock in use stays)."""
        with self._mutex:
            self._reads.clear()

    def to_lock(self) -> DataLock:
        """A lock pinning every ref read, at the first commit it resolved to."""
        commits: dict[RefKey, list[str]] = {}
        paths: dict[RefKey, set[str]] = {}
        for read in self.reads:
            seen = commits.setdefault(read.key, [])
            if read.commit not in seen:
                seen.append(read.commit)
            paths.setdefault(read.key, set()).add(read.path)
        return DataLock.from_entries(
            LockEntry(key, ids[0], tuple(sorted(paths[key])), tuple(ids[1:])) for key, ids in commits.items()
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``to_lock()`` to a lock file."""
        return self.to_lock().save(path)

    def to_frame(self) -> pd.DataFrame:
        """One row per ref and commit read: ``ref``, ``project``, ``repo``, ``commit``, ``locked``, ``paths``, ``ops``, ``reads``."""
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]

        groups: dict[tuple[RefKey, str], list[Read]] = {}
        for read in self.reads:
            groups.setdefault((read.key, read.commit), []).append(read)
        rows = [
            (
                items[0].written, key.project, str(key.repo_ref).rpartition("/")[2], commit,
                any(r.locked for r in items), tuple(sorted({r.path for r in items})),
                ",".join(sorted({r.op for r in items})), len(items),
            )
            for (key, commit), items in groups.items()
        ]
        columns = ["ref", "project", "repo", "commit", "locked", "paths", "ops", "reads"]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.astype({"ref": "str", "project": "str", "repo": "str", "commit": "str", "locked": "bool",
                             "ops": "str", "reads": "int64"})

    def __repr__(self) -> str:
        using = f", lock {self._lock.source or len(self._lock)}" if self._lock is not None else ""
        return f"<ReadRecorder {len(self._reads)} reads{using}>"
