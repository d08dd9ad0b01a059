"""Pachyderm's glob patterns (ohmyglob's rules), compiled to linear-time regular expressions.

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
globs, datum globs and capture groups alike, so they cannot disagree. The regex
runs on RE2 (``GlobMatcher``): no pattern can make matching backtrack. A pattern
pachd refuses is refused first, with pachd's words (``globcheck.py``). It is
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

import re2  # type: ignore[import-untyped]
import regex  # type: ignore[import-untyped]

from ..errors import DeadlineExceeded, InvalidArgument
from .globcheck import MAX_DEPTH, check_glob
from .paths import clean_path

__all__ = ["compile_glob", "glob_regex", "has_glob", "captures", "check_glob", "GlobMatcher", "KeyTemplate", "MATCH_TIMEOUT"]

# RE2's own match, anchored at both ends, for a yes/no answer (below).
_ANCHOR_BOTH = re2._re2.RE2.Anchor.ANCHOR_BOTH
_NO_MATCH = (-1, -1)

# pachd gives one match five minutes; a path that needs more than this is a pathological pattern.
MATCH_TIMEOUT = 10.0

_GLOB_CHARS = set("*?[]{}!()@+")
_QUANTIFIED = "@*+?!^"
# Go's POSIX classes, as ohmyglob takes them.
_POSIX = re.compile(r"\[:(\^?)(alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word|xdigit):\]")
_POSIX_CLASSES: dict[str, list[tuple[int, int]]] = {
    name: [(ord(pair[0]), ord(pair[1])) for pair in pairs]
    for name, pairs in {
        "alnum": ["09", "AZ", "az"], "alpha": ["AZ", "az"], "ascii": ["\x00\x7f"], "blank": ["\t\t", "  "],
        "cntrl": ["\x00\x1f", "\x7f\x7f"], "digit": ["09"], "graph": ["!~"], "lower": ["az"], "print": [" ~"],
        "punct": ["!/", ":@", "[`", "{~"], "space": ["\t\r", "  "], "upper": ["AZ"], "word": ["09", "AZ", "az", "__"],
        "xdigit": ["09", "AF", "af"],
    }.items()
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
        # Atoms: (lo, hi) code point ranges; "-" between two single characters makes a range.
        atoms: list[tuple[int, int]] = []
        dash_at: set[int] = set()  # indexes of atoms that are an unescaped "-"
        while j < len(self.p) and self.p[j] != "]":
            if self.p[j] == "\\" and j + 1 < len(self.p):
                atoms.append((ord(self.p[j + 1]), ord(self.p[j + 1])))
                j += 2
                continue
            posix = _POSIX.match(self.p, j)
            if posix is not None:
                if posix.group(1):  # [[:^alpha:]]: only as the whole class
                    negate = not negate
                atoms.extend(_POSIX_CLASSES[posix.group(2)])
                j = posix.end()
                continue
            if self.p[j] == "-":
                dash_at.add(len(atoms))
            atoms.append((ord(self.p[j]), ord(self.p[j])))
            j += 1
        self.i = j + 1
        ranges: list[tuple[int, int]] = []
        k = 0
        while k < len(atoms):
            lo, hi = atoms[k]
            if (k + 2 < len(atoms) and k + 1 in dash_at and lo == hi and atoms[k + 2][0] == atoms[k + 2][1]
                    and k not in dash_at):
                hi = atoms[k + 2][0]
                k += 3
            else:
                k += 1
            ranges.append((lo, hi))
        # A class never matches "/" (some would otherwise: a negated one, [[:punct:]], [+-0]).
        if negate:
            return "[^/" + "".join(_class_item(lo, hi) for lo, hi in ranges) + "]"
        kept = [r for lo, hi in ranges for r in _without_slash(lo, hi)]
        if not kept:
            return _NOTHING
        return "[" + "".join(_class_item(lo, hi) for lo, hi in kept) + "]"


_SLASH = ord("/")
_NOTHING = "(?:\\b\\B)"  # matches nothing: a boundary and no boundary at once (RE2 and regex read it)


def _without_slash(lo: int, hi: int) -> list[tuple[int, int]]:
    if hi < _SLASH or lo > _SLASH:
        return [(lo, hi)] if lo <= hi else []
    return [r for r in ((lo, _SLASH - 1), (_SLASH + 1, hi)) if r[0] <= r[1]]


def _class_char(cp: int) -> str:
    if cp < 0x80:
        ch = chr(cp)
        return ch if ch.isalnum() else f"\\x{cp:02x}"
    return chr(cp)  # both engines take a non-ASCII character as itself


def _class_item(lo: int, hi: int) -> str:
    return _class_char(lo) if lo == hi else f"{_class_char(lo)}-{_class_char(hi)}"


class GlobMatcher:
    """One compiled glob: ``groups(path)`` is its captures on ``path``, or None.

    Patterns without ``!(...)`` run on RE2, whose matching is linear in the
    path and releases the GIL: no path and pattern can make it backtrack (pachd's
    regexp2 takes minutes on ``/*a*a*a*a*a*a*a*a*a*a*a*a*b`` against 48 ``a``).
    Negation needs a lookahead RE2 does not have; those few patterns run on the
    ``regex`` module, bounded: it releases the GIL too and gives up after
    ``MATCH_TIMEOUT`` seconds per path (DEADLINE_EXCEEDED, not a frozen server).
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        check_glob(pattern)  # pachd's errors for what pachd refuses
        try:
            source = _Translator(pattern).parse()
        except RecursionError:  # not reached below MAX_DEPTH; a guard, never an INTERNAL
            raise InvalidArgument(f"glob pattern nests braces and groups more than {MAX_DEPTH} deep") from None
        self.linear = "(?!" not in source
        if self.linear:
            options = re2.Options()
            options.dot_nl = True
            options.log_errors = False
            self._re2 = re2.compile(source, options)
            # The wrapper's fullmatch builds a Match (UTF-8 offsets turned into str
            # offsets for every group) that ``matches`` throws away: 6x the cost of
            # RE2's match itself, and most of datum planning's time (bench/pps.py).
            self._match = self._re2._regexp.Match
        else:
            self._regex = regex.compile(source, regex.DOTALL | regex.VERSION0)

    def groups(self, path: str) -> tuple[str | None, ...] | None:
        if self.linear:
            m = self._re2.fullmatch(path)
            return None if m is None else (m.group(0), *m.groups())
        try:
            found = self._regex.fullmatch(path, timeout=MATCH_TIMEOUT, concurrent=True)
        except TimeoutError:
            raise DeadlineExceeded(
                f"glob {self.pattern!r} took more than {MATCH_TIMEOUT:g} s to match one path") from None
        return None if found is None else (found.group(0), *found.groups())

    def matches(self, path: str) -> bool:
        if self.linear:
            raw = path.encode()
            return bool(self._match(_ANCHOR_BOTH, raw, 0, len(raw))[0] != _NO_MATCH)
        return self.groups(path) is not None


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> GlobMatcher:
    """The compiled glob (cleaned first, as pachd does); its groups are the pattern's captures."""
    return GlobMatcher(clean_path(pattern))


def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A matcher of cleaned paths (called once per path of a commit in datum planning)."""
    return glob_regex(pattern).matches


def captures(pattern: str, path: str) -> tuple[str, ...] | None:
    """The capture groups of ``pattern`` on ``path`` (``None`` if it does not match)."""
    groups = glob_regex(pattern).groups(path.rstrip("/") or "/")
    if groups is None:
        return None
    return tuple(g or "" for g in groups)


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
