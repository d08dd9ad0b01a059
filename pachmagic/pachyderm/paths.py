"""Path rules: PFS's path cleaning and the ``/pfs`` layout a transform sees.

A transform reads its inputs at ``/pfs/<input>`` and writes ``/pfs/out``; the input's
environment variable holds the datum's path there (``/pfs/images/cat.png``). Where a
private mount namespace is not available, ``/pfs/...`` written in the command, its stdin
and environment is rewritten to host directories: ``pfs_substitution`` is that rule, used
by the server's sandbox fallback and by ``%pach run datum`` alike. Pure functions.
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Callable, Mapping

__all__ = ["clean_path", "input_path", "pfs_substitution", "PFS_ROOT", "OUTPUT_NAME"]

PFS_ROOT = "/pfs"
OUTPUT_NAME = "out"  # /pfs/out: no input may take this name


def clean_path(path: str) -> str:
    """Pachyderm's read-side cleaning: leading ``/``, no trailing ``/``, ``..`` collapsed."""
    cleaned = posixpath.normpath("/" + (path or ""))
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def input_path(name: str, path: str) -> str:
    """Where a datum's ``path`` of input ``name`` is seen: ``/pfs/<name><path>``, cleaned.

    The value of the input's environment variable (``$images``), as a worker sets it.
    """
    return posixpath.normpath(f"{PFS_ROOT}/{name}/{path.lstrip('/')}")


# "/pfs" as a whole path component: not "/pfsx", not "a/pfs" or "x.pfs".
_EDGE_BEFORE = r"(?<![\w.-])"
_EDGE_AFTER = r"(?![\w.-])"


def pfs_substitution(hosts: Mapping[str, str | os.PathLike[str]]) -> Callable[[str], str]:
    """A function rewriting ``/pfs/<name>`` (as a whole path component) to host directories.

    ``hosts`` maps each name under ``/pfs`` (inputs and ``out``) to its host directory.
    When every name's directory is ``<root>/<name>`` for one ``root`` (the usual layout),
    ``/pfs`` itself maps to ``root`` too, so ``ls /pfs`` works.
    """
    paths = {name: os.path.abspath(os.fspath(p)) for name, p in hosts.items()}
    if not paths:
        return lambda s: s
    parents = {os.path.dirname(h) for h in paths.values()}
    if len(parents) == 1 and all(os.path.basename(h) == n for n, h in paths.items()):
        root = parents.pop()
        whole = re.compile(rf"{_EDGE_BEFORE}{PFS_ROOT}{_EDGE_AFTER}")
        return lambda s: whole.sub(lambda m: root, s)
    names = "|".join(re.escape(n) for n in sorted(paths, key=len, reverse=True))
    each = re.compile(rf"{_EDGE_BEFORE}{PFS_ROOT}/({names}){_EDGE_AFTER}")
    return lambda s: each.sub(lambda m: paths[m.group(1)], s)
