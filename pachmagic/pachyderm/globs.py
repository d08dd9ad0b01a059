"""Pachyderm's glob patterns (ohmyglob's rules), compiled to Python regular expressions.

pachd compiles globs with ``ohmyglob`` and ``/`` as the separator:

* ``*`` and ``?`` stop at ``/``; ``**`` is a "super-asterisk" that matches any
  string, slashes included, wherever it stands (``/**.csv`` is every CSV file
  at any depth; ``/a/**/b`` needs at least one directory between, since
  ``/a/`` + anything + ``/b`` cannot be ``/a/b``). In a run of stars right
  before ``(`` the last star is the group's quantifier.
* ``[abc]``, ``[!a-c]``/``[^a-c]`` and POSIX classes (``[[:alpha:]]``); a class
  never matches ``/``.
* ``{a,b}`` alternatives (nested too), and extglobs ``@() *() +() ?() !()``
  whose groups *capture* (for ``join_on``/``group_by``); a bare ``(a|b)`` is
  ``@(a|b)`` and ``^(`` is ``!(``.

One translator turns a pattern into one regex, used for GlobFile, GetFile
globs, datum globs and capture groups alike, so they cannot disagree. It is
hand-written because no maintained Python library has these rules: wcmatch
(the closest) treats ``**`` only as a whole-segment globstar, and its versions
read some patterns differently (``**(b)``). The tests use wcmatch as an
independent oracle on the syntax both share.

``join_on``/``group_by`` keys are templates over a glob's capture groups
(``$1``, ``${2}``, ``$$`` for a dollar; a path that does not match gives an
empty key, as ohmyglob's Replace): ``KeyTemplate``. Pure functions.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable

from .paths import clean_path

__all__ = ["compile_glob", "glob_regex", "has_glob", "captures", "KeyTemplate"]

_GLOB_CHARS = set("*?[]{}!()@+")
_QUANTIFIED = "@*+?!^"
# Go's POSIX classes, as ohmyglob takes them.
_POSIX = re.compile(r"\[:(\^?)(alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word|xdigit):\]")
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}


def has_glob(pattern: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in pattern)


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
            posix = _POSIX.match(self.p, j)
            if posix is not None:
                if posix.group(1):  # [[:^alpha:]]: only as the whole class
                    negate = not negate
                chars.append(_POSIX_CLASSES[posix.group(2)])
                j = posix.end()
                continue
            chars.append("\\[" if self.p[j] == "[" else self.p[j])
            j += 1
        self.i = j + 1
        # A class never matches "/" (some would otherwise: a negated one, [[:punct:]]).
        if negate:
            return "[^/" + "".join(chars) + "]"
        return "(?!/)[" + "".join(chars) + "]"


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The compiled regex of a glob; its groups are the pattern's captures."""
    return re.compile(_Translator(clean_path(pattern)).parse(), re.DOTALL)


def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A matcher of cleaned paths (called once per path of a commit in datum planning)."""
    match = glob_regex(pattern).fullmatch
    return lambda path: match(path) is not None


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
