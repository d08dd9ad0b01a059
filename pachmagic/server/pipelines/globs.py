"""Join and group keys: what a datum glob captures, and the key templates over it.

``join_on``/``group_by`` keys are templates over a glob's capture groups
(``$1``, ``${2}``, ``$$`` for a dollar; a path that does not match gives an
empty key, as ohmyglob's Replace). The glob itself, matching and captures
alike, is compiled once in ``storage/globbing.py``. No gRPC here.
"""

from __future__ import annotations

import re

from ..storage.globbing import glob_regex

__all__ = ["KeyTemplate", "captures"]


def captures(pattern: str, path: str) -> tuple[str, ...] | None:
    """The capture groups of ``pattern`` on ``path`` (``None`` if it does not match)."""
    match = glob_regex(pattern).fullmatch(path.rstrip("/") or "/")
    if match is None:
        return None
    return (match.group(0), *(g or "" for g in match.groups()))


_TEMPLATE = re.compile(r"\$(?:\$|\{(\w+)\}|(\d+)|(\w+))")


class KeyTemplate:
    """A ``join_on``/``group_by`` template bound to one input's glob."""

    def __init__(self, pattern: str, template: str) -> None:
        self.pattern = pattern
        self.template = template

    def __call__(self, path: str) -> str:
        if not self.template:
            return ""
        groups = captures(self.pattern, path)
        if groups is None:
            return ""

        def expand(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1) or match.group(2) or match.group(3)
            if name.isdigit() and int(name) < len(groups):
                return groups[int(name)]
            return ""

        return _TEMPLATE.sub(expand, self.template)
