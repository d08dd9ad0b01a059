"""``lock``: which data this notebook read, pinned in a file, and read again from it later.

The session records every file read of its client (magics, Python code using
the session's client, ``pfs://``): the ref as written, the commit it resolved
to, the paths. ``%pach lock`` shows those reads; ``lock save [FILE]`` writes
them as a lock file (default ``<notebook>.pachlock.json`` beside the notebook);
``lock use FILE`` (or ``%config PachMagic.lock_file = FILE``) makes later reads
of the refs it pins read the pinned commits, saying once per ref what moved
since; ``lock check [FILE]`` says, one line per ref, what moved since the lock;
``lock off`` goes back to reading the branches as they are; ``lock clear``
forgets the recorded reads. The rule itself lives in the client
(``pachmagic.client.reads``); this module is its notebook surface.

A notebook pins its data with two lines: ``%config PachMagic.lock_file =
"report.pachlock.json"`` first (the file not existing yet means "record": reads
follow the branches) and ``%pach lock save`` last (it writes there). Every later
run reads the pinned commits, and saving again rewrites the same bytes.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from IPython.core.error import UsageError

from pachmagic.client import DataLock, LockFileError
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import Command, MagicParser

__all__ = ["COMMANDS", "SUFFIX", "default_lock_path", "load_lock"]

SUFFIX = ".pachlock.json"


def _notebook(user_ns: dict[str, Any] | None) -> str | None:
    """The notebook's path, when the front end told the kernel (JupyterLab, VS Code)."""
    ns = user_ns or {}
    for candidate in (ns.get("__session__"), os.environ.get("JPY_SESSION_NAME"), ns.get("__vsc_ipynb_file__")):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            return candidate
    return None


def default_lock_path(user_ns: dict[str, Any] | None, command: str) -> Path:
    """``<notebook>.pachlock.json`` beside the notebook (``UsageError`` if its name is unknown)."""
    notebook = _notebook(user_ns)
    if notebook is None:
        raise UsageError(
            f"%pach {command}: cannot tell this notebook's file name here; give the lock file: "
            f"%pach {command} NAME{SUFFIX}"
        )
    path = Path(notebook)
    return path.with_name(path.name[: -len(".ipynb")] + SUFFIX)


def load_lock(path: str | os.PathLike[str], command: str, error: type[Exception] = UsageError) -> DataLock:
    """Read a lock file, turning a missing or malformed file into one clear line.

    ``command`` prefixes the line (``%pach lock use``); ``error`` is the exception raised.
    """
    target = Path(path).expanduser()
    try:
        return DataLock.load(target)
    except FileNotFoundError:
        raise error(f"{command}: no lock file {target} (write one with %pach lock save)") from None
    except IsADirectoryError:
        raise error(f"{command}: {target} is a directory, not a lock file") from None
    except LockFileError as err:
        raise error(f"{command}: {err}") from None


def use_lock(ctx: Context, path: str, *, strict: bool, command: str = "lock use") -> Text:
    """Resolve the session's reads through the lock file at ``path``."""
    lock = load_lock(path, f"%pach {command}")
    ctx.session.recorder.use(lock, strict=strict)
    n = len(lock)
    mode = "; other refs are an error (strict)" if strict else ""
    return Text(
        f"reading through lock {lock.source}: {n} ref{'' if n == 1 else 's'} pinned{mode}", lock=lock, path=lock.source
    )


# --- commands -----------------------------------------------------------------------


def show(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    return ctx.frame(ctx.session.recorder.to_frame())


def _build_save(p: MagicParser) -> None:
    p.add_argument("file", nargs="?", metavar="FILE",
                   help=f"the lock file to write (default: PachMagic.lock_file, else <notebook>{SUFFIX} beside the "
                   "notebook)")


def _default(ctx: Context, command: str) -> Path:
    """The configured ``PachMagic.lock_file``, else ``<notebook>.pachlock.json``."""
    configured = ctx.settings.lock_file
    return Path(configured).expanduser() if configured else default_lock_path(ctx.user_ns, command)


def save(ctx: Context, args: argparse.Namespace) -> Text:
    target = Path(args.file).expanduser() if args.file else _default(ctx, "lock save")
    lock = ctx.session.recorder.to_lock()
    if target.is_dir():
        raise UsageError(f"%pach lock save: {target} is a directory; give a file name ending in {SUFFIX}")
    path = lock.save(target)
    n = len(lock)
    return Text(f"saved {n} ref{'' if n == 1 else 's'} to {path}", path=path, lock=lock)


def _build_use(p: MagicParser) -> None:
    p.add_argument("file", metavar="FILE", help="a lock file written by %pach lock save")
    p.add_argument("--strict", action="store_true", help="reading a ref the lock does not pin is an error")


def use(ctx: Context, args: argparse.Namespace) -> Text:
    return use_lock(ctx, args.file, strict=args.strict)


def off(ctx: Context, args: argparse.Namespace) -> Text:
    ctx.session.recorder.use(None)
    return Text("reads follow the branches again (no lock in use)")


def clear(ctx: Context, args: argparse.Namespace) -> Text:
    n = len(ctx.session.recorder.reads)
    ctx.session.recorder.clear()
    return Text(f"forgot {n} recorded read{'' if n == 1 else 's'}")


def _build_check(p: MagicParser) -> None:
    p.add_argument("file", nargs="?", metavar="FILE",
                   help=f"the lock file (default: the lock in use, else PachMagic.lock_file, else <notebook>{SUFFIX})")


def check(ctx: Context, args: argparse.Namespace) -> Text:
    if args.file:
        lock = load_lock(args.file, "%pach lock check")
    elif ctx.session.recorder.lock is not None:
        lock = ctx.session.recorder.lock
    else:
        lock = load_lock(_default(ctx, "lock check"), "%pach lock check")
    drifts = ctx.client.pfs.check_lock(lock)
    moved = [d for d in drifts if d.moved]
    lines = [d.line() for d in moved]
    if not moved:
        lines = [f"all {len(drifts)} ref{'' if len(drifts) == 1 else 's'} of {lock.source or 'the lock'} "
                 "are at their locked commits"]
    rows = [(str(d.key), d.status, d.locked, d.current, d.ahead) for d in drifts]
    frame = pd.DataFrame(rows, columns=["ref", "status", "locked", "current", "ahead"])
    frame = frame.astype({"ref": "str", "status": "str", "locked": "str", "ahead": "Int64"})
    return Text("\n".join(lines), frame=frame, moved=len(moved))


COMMANDS = (
    Command(("lock",), "the data this session read: ref, commit, paths (a DataFrame)", show, project=False,
            examples=("%pach lock",)),
    Command(("lock", "save"), f"write the session's reads as a lock file (default <notebook>{SUFFIX})", save,
            _build_save, project=False, examples=("%pach lock save", "%pach lock save analysis.pachlock.json")),
    Command(("lock", "use"), "read the refs a lock file pins at their locked commits (says what moved)", use,
            _build_use, project=False, examples=("%pach lock use analysis.pachlock.json",)),
    Command(("lock", "check"), "what moved on the branches since a lock file, one line per moved ref", check,
            _build_check, project=False, examples=("%pach lock check analysis.pachlock.json",)),
    Command(("lock", "off"), "stop reading through a lock: refs read their branches as they are now", off,
            project=False),
    Command(("lock", "clear"), "forget the reads recorded so far (the lock in use stays)", clear, project=False),
)
