"""Reads pachd refuses on an output commit whose datums' outputs clash.

pachd checks an output commit's paths as it reads them: where two datums wrote
one path, or one wrote a file where another wrote a directory, the job fails
with that message, and afterwards every read of the commit whose scan passes
over the clashing pair fails with it too (UNKNOWN). A read that scans only
other paths (another directory, another file) is answered. Our trees keep one
entry per path, so the clash is known from the commit's error alone: this
module finds it there and says which reads it stops.

It must not change trees or decide a job's outcome (the engine's merge does);
user commits are never refused, whatever error a client finished them with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import Unknown
from .tree import Tree

__all__ = ["Refusal", "refusal"]

# pachd's two path-validation messages, as our engine's merge writes them.
_DUPLICATE = re.compile(r"duplicate path output by different datums \((/.*?) from \S+ and \1 from \S+\)\Z")
_COLLISION = re.compile(r"file / directory path collision \((/.*)\)\Z")


@dataclass(frozen=True)
class Refusal:
    """The clash of an output commit: the first of its two paths a scan meets, and pachd's message."""

    first: str
    message: str

    def check(self, prefix: str) -> None:
        """Refuse a read that scans every path starting with ``prefix`` (pachd's scans are string prefixes).

        pachd compares neighbouring entries only, so a path sorting between a file and the
        path under it (``/x-1`` between ``/x`` and ``/x/y``) hides their collision from it;
        we refuse whenever the scan covers the pair.
        """
        if self.first.startswith(prefix):
            raise Unknown(self.message)


def refusal(error: str, tree: Tree) -> Refusal | None:
    """The refusal an output commit's ``error`` records, or None (most errors are not a clash)."""
    match = _DUPLICATE.match(error)
    if match:
        return Refusal(match.group(1), error)
    match = _COLLISION.match(error)
    if not match:
        return None
    deeper = match.group(1)
    # The pair is the file and the deeper path under it: a scan meets the file first.
    for i, ch in enumerate(deeper):
        if ch == "/" and i and tree.get(deeper[:i]) is not None:
            return Refusal(deeper[:i], error)
    return Refusal(deeper, error)
