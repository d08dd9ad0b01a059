"""Pachyderm's glob patterns (ohmyglob's rules), matched with ``wcmatch``.

pachd compiles globs with ``ohmyglob`` and ``/`` as the separator: ``*`` and
``?`` stop at ``/``; ``**`` is a "super-asterisk" that matches any string,
slashes included, wherever it stands; ``[...]``, ``{a,b}``, extglobs
``@() *() +() ?() !()`` and bare groups ``(a|b)`` (= ``@(a|b)``). ``wcmatch``
(the maintained library that matches here) has the same grammar except for
two rules, so a pattern is rewritten once before it is compiled:

* a bare group ``(`` becomes ``@(`` (``^(`` becomes ``!(``);
* ``**`` follows ohmyglob, not wcmatch's globstar rule. As a whole segment
  before more of the pattern (``/a/**/b``) it stands for one or more
  directories, since ``/a/`` + anything + ``/b`` needs at least one; inside a
  segment (``/**.csv``, ``/x**y``) it may cross any number of slashes, which
  wcmatch spells as the alternatives ``{x*y,x*/**/*y}``. A trailing ``/**``
  means the same in both.

A ``**`` inside braces or groups is left to wcmatch (it acts as ``*``; the
capture translator in ``pipelines/globs.py`` agrees). No gRPC here.
"""

from __future__ import annotations

import itertools
import re
from typing import Callable

from wcmatch import glob as wcglob

from .model import clean_path

__all__ = ["GLOB_FLAGS", "compile_glob", "has_glob", "to_wcmatch"]

GLOB_FLAGS = wcglob.GLOBSTAR | wcglob.BRACE | wcglob.EXTGLOB | wcglob.DOTGLOB
_GLOB_CHARS = set("*?[]{}!()@+")
_QUANTIFIED = "@*+?!^"


def has_glob(pattern: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in pattern)


def _bare_groups(pattern: str) -> str:
    """Bare ``(`` groups become ``@(`` and ``^(`` becomes ``!(``; everything else is kept."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            prev = pattern[i - 1] if i else ""
            if prev == "^":
                out[-1] = "!"
            elif prev not in _QUANTIFIED:
                out.append("@")
        out.append(ch)
        i += 1
    return "".join(out)


def _top_level_segments(pattern: str) -> list[str] | None:
    """The pattern split at ``/`` outside brackets, braces and groups (None if unbalanced)."""
    segments, current = [], []
    depth, in_class, i = 0, False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            current.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        elif ch == "/" and depth == 0:
            segments.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    segments.append("".join(current))
    return None if depth or in_class else segments


def _top_level_stars(segment: str) -> list[str] | None:
    """``segment`` split at its top-level ``**`` runs; None when there is none to rewrite.

    In a run of stars right before ``(``, the last star is the group's
    quantifier (``**(a)`` is ``**`` then ``*(a)``). None too when a comma would
    split the alternatives this becomes (one in a class, a group or outside braces).
    """
    parts: list[str] = []
    current: list[str] = []
    braces = parens = 0
    in_class = False
    i = 0
    while i < len(segment):
        ch = segment[i]
        if ch == "\\" and i + 1 < len(segment):
            current.append(segment[i : i + 2])
            i += 2
            continue
        if ch == "," and (in_class or parens or not braces):
            return None
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch in "{}":
            braces += 1 if ch == "{" else -1
        elif ch in "()":
            parens += 1 if ch == "(" else -1
        elif ch == "*" and not braces and not parens:
            run = len(segment) - i - len(segment[i:].lstrip("*"))
            quantifier = segment[i + run : i + run + 1] == "("
            stars = run - 1 if quantifier else run
            if stars >= 2:
                parts.append("".join(current))
                current = []
                i += stars
                continue
            current.append(segment[i : i + run])
            i += run
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts if len(parts) > 1 else None


def _segment(segment: str, last: bool) -> str:
    if len(segment) >= 2 and segment.strip("*") == "":
        return "**" if last else "*/**"  # a whole-segment super-asterisk
    parts = _top_level_stars(segment)
    if parts is None:
        return segment
    # Each gap between parts either stays in this segment or crosses slashes.
    gaps = itertools.product(("*", "*/**/*"), repeat=len(parts) - 1)
    alternatives = ["".join(p + g for p, g in zip(parts, gap)) + parts[-1] for gap in gaps]
    return "{" + ",".join(alternatives) + "}"


def to_wcmatch(pattern: str) -> str:
    """Pachyderm's glob ``pattern`` in wcmatch's syntax with the same meaning (see above)."""
    pattern = _bare_groups(pattern)
    if "**" not in pattern:
        return pattern
    segments = _top_level_segments(pattern)
    if segments is None:
        return pattern
    last = len(segments) - 1
    return "/".join(_segment(s, i == last) for i, s in enumerate(segments))


def compile_glob(pattern: str) -> Callable[[str], bool]:
    """Compile a Pachyderm glob into a matcher of cleaned paths."""
    include, exclude = wcglob.translate(to_wcmatch(clean_path(pattern)), flags=GLOB_FLAGS)
    inc = [re.compile(p) for p in include]
    exc = [re.compile(p) for p in exclude]
    if len(inc) == 1 and not exc:
        # The common case, called once per path of a commit (datum planning): no generators.
        only = inc[0].fullmatch
        return lambda path: only(path) is not None

    def match(path: str) -> bool:
        return any(p.fullmatch(path) for p in inc) and not any(p.fullmatch(path) for p in exc)

    return match
