"""Pachyderm's glob patterns for datums: what they capture for join and group keys.

Pachyderm compiles input globs with ``ohmyglob``: ``*`` and ``?`` stop at ``/``,
``**`` crosses it, ``[...]`` classes, ``{a,b}`` alternatives, and extglobs
``@() *() +() ?() !()`` whose groups *capture*; a bare ``(a|b)`` is ``@(a|b)``.
``join_on``/``group_by`` keys are templates over those captures (``$1``, ``${2}``,
``$$`` for a dollar; a path that does not match gives an empty key).

Which paths match is decided in ``storage/globbing.py`` (wcmatch, after a
rewrite to ohmyglob's meaning). Only the captures come from the small
translator here, because ``wcmatch`` compiles extglobs to non-capturing groups;
a property test checks that the two agree on which paths match, so keys exist
exactly for matched paths. No gRPC here.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..storage.model import clean_path

__all__ = ["KeyTemplate", "captures"]

_QUANTIFIED = "@*+?!^"


class _Translator:
    """ohmyglob's grammar, compiled to a Python regex whose groups are the captures."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def parse(self, stops: str = "") -> str:
        parts: list[str] = []
        while self.i < len(self.p):
            ch = self.p[self.i]
            if ch in stops:
                break
            nxt = self.p[self.i + 1] if self.i + 1 < len(self.p) else ""
            if ch == "\\" and nxt:
                parts.append(re.escape(nxt))
                self.i += 2
            elif ch == "*" and nxt == "*" and self._super_asterisk() >= 2:
                # ohmyglob's super-asterisk: any string, slashes included, wherever it
                # stands (inside braces or groups, like storage/globbing.py, a plain star).
                self.i += self._super_asterisk()
                parts.append("[^/]*" if stops else ".*")  # stops: inside braces or a group
            elif ch in _QUANTIFIED and nxt == "(":
                self.i += 2
                parts.append(self._group(ch))
            elif ch == "(":
                self.i += 1
                parts.append(self._group("@"))
            elif ch == "*":
                parts.append("[^/]*")
                self.i += 1
            elif ch == "?":
                parts.append("[^/]")
                self.i += 1
            elif ch == "[":
                parts.append(self._range())
            elif ch == "{":
                self.i += 1
                alts = [self.parse(",}")]
                while self.i < len(self.p) and self.p[self.i] == ",":
                    self.i += 1
                    alts.append(self.parse(",}"))
                self.i += 1  # the closing brace
                parts.append("(?:" + "|".join(alts) + ")")
            else:
                parts.append(re.escape(ch))
                self.i += 1
        return "".join(parts)

    def _super_asterisk(self) -> int:
        """How many stars from here form a super-asterisk (a run's last star before ``(`` is a quantifier)."""
        rest = self.p[self.i :]
        run = len(rest) - len(rest.lstrip("*"))
        return run - 1 if rest[run : run + 1] == "(" else run

    def _group(self, quantifier: str) -> str:
        alts = [self.parse("|)")]
        while self.i < len(self.p) and self.p[self.i] == "|":
            self.i += 1
            alts.append(self.parse("|)"))
        self.i += 1  # the closing parenthesis
        body = "|".join(alts)
        if quantifier == "@":
            return f"({body})"
        if quantifier in "!^":
            return f"((?:(?!(?:{body})(?:/|$))[^/]*))"
        return f"((?:{body}){quantifier})"

    def _range(self) -> str:
        j = self.i + 1
        negate = j < len(self.p) and self.p[j] in "!^"
        if negate:
            j += 1
        chars: list[str] = []
        while j < len(self.p) and self.p[j] != "]":
            if self.p[j] == "\\" and j + 1 < len(self.p):
                chars.append(re.escape(self.p[j + 1]))
                j += 2
                continue
            chars.append("\\[" if self.p[j] == "[" else self.p[j])
            j += 1
        self.i = j + 1
        # A class never matches "/" (wcmatch's rule; a negated class would otherwise).
        return "[" + ("^/" if negate else "") + "".join(chars) + "]"


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_Translator(clean_path(pattern)).parse(), re.DOTALL)


def captures(pattern: str, path: str) -> tuple[str, ...] | None:
    """The capture groups of ``pattern`` on ``path`` (``None`` if it does not match)."""
    match = _compiled(pattern).fullmatch(path.rstrip("/") or "/")
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
