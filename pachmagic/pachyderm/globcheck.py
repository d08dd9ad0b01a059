"""Which glob patterns pachd refuses, and with which words.

pachd compiles a glob with ohmyglob: a lexer and parser build a tree, the tree
becomes a regular expression (``\\A...\\z``) and the regexp2 package compiles
it. A pattern fails in one of three places, and pachd answers UNKNOWN with the
failing step's own text:

* the lexer: a ``[`` class that never closes — ``unexpected end of input``;
* the tree: a ``^(...)`` group — ``unimplemented quatifier ^`` (sic);
* regexp2, on the expression ohmyglob made: a reversed range ``[z-a]`` —
  ``error parsing regexp: [x-y] range in reverse order in `\\A/[z-a]\\z```; an
  empty class ``[]`` swallows the rest of the expression (``]`` first in a class
  is a literal), up to ``\\z`` — ``unrecognized escape sequence \\z``.

``check_glob`` follows those steps closely enough to give the same answer: the
lexer and parser as ohmyglob's, the expression as ohmyglob writes it, and
regexp2's scan of character classes (the only part of that expression a
pattern can make invalid). Matching is not done here (``globs.py``).

Beyond pachd: patterns that nest braces or groups deeper than ``MAX_DEPTH`` are
refused (INVALID_ARGUMENT): pachd accepts thousands of levels, but no sane glob
needs them and a linear-time matcher has a nesting limit. Imports only
``errors``; no recursion on the pattern's size.
"""

from __future__ import annotations

from typing import Callable

from ..errors import InvalidArgument, Unknown

__all__ = ["check_glob", "MAX_DEPTH", "ohmyglob_regex"]

MAX_DEPTH = 100

_CLOSE_NEG = "\uffff"  # ohmyglob's markers; they never survive into the expression
_BOUNDARY = "\ufffe"
_POSIX = {
    ":alnum:": "0-9A-Za-z", ":alpha:": "A-Za-z", ":ascii:": "\x00-\x7f", ":blank:": "\t ",
    ":cntrl:": "\x00-\x1f\x7f", ":digit:": "0-9", ":graph:": "!-~]", ":lower:": "a-z", ":print:": " -~",
    ":punct:": "!-/:-@[-`{-~", ":space:": "\t\n\v\f\r ", ":upper:": "A-Z", ":word:": "0-9A-Za-z_",
    ":xdigit:": "0-9A-Fa-f",
}
_BASIC_BREAKERS = "?*[{("
_EXTENDED_BREAKERS = _BASIC_BREAKERS + "@!^+"
_CAPTURE_BREAKERS = _EXTENDED_BREAKERS + ")|"
_TERMS_BREAKERS = _EXTENDED_BREAKERS + "},"
_GO_META = set("\\.+*?()|[]{}^$")


def _quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta."""
    return "".join("\\" + ch if ch in _GO_META else ch for ch in text)


class _Node:
    __slots__ = ("kind", "value", "children", "parent")

    def __init__(self, kind: str, value: str = "", parent: "_Node | None" = None) -> None:
        self.kind = kind
        self.value = value
        self.children: list[_Node] = []
        self.parent = parent
        if parent is not None:
            parent.children.append(self)


def _tokens(pattern: str) -> list[tuple[str, str]]:
    """ohmyglob's lexer: (type, raw) tokens; raises Unknown for its one error."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(pattern)
    terms = capture = 0

    def text(breakers: str) -> None:
        nonlocal i
        data: list[str] = []
        escaped = False
        while i < n:
            ch = pattern[i]
            i += 1
            if not escaped:
                if ch == "\\":
                    escaped = True
                    continue
                if ch in breakers:
                    i -= 1
                    break
            escaped = False
            data.append(ch)
        if data:
            out.append(("text", "".join(data)))

    while i < n:
        ch = pattern[i]
        i += 1
        nxt = pattern[i] if i < n else ""
        if ch == "{":
            terms += 1
            out.append(("terms_open", ch))
        elif ch == "," and terms:
            out.append(("sep", ch))
        elif ch == "}" and terms:
            out.append(("terms_close", ch))
            terms -= 1
        elif ch == "|" and capture:
            out.append(("sep", ch))
        elif ch == "[":
            out.append(("range_open", ch))
            i = _range_tokens(pattern, i, out)
        elif ch == "(":
            out.append(("capture_open", "@"))
            capture += 1
        elif ch in "@!^+":
            if nxt == "(":
                i += 1
                out.append(("capture_open", ch))
                capture += 1
            else:
                i -= 1
                text(_BASIC_BREAKERS)  # starts with ``ch`` itself, which is no basic breaker
        elif ch == ")" and capture:
            out.append(("capture_close", ch))
            capture -= 1
        elif ch == "?":
            if nxt == "(":
                i += 1
                out.append(("capture_open", "?"))
                capture += 1
            else:
                out.append(("single", ch))
        elif ch == "*":
            if nxt == "*":
                if pattern[i + 1 : i + 2] == "(":
                    out.append(("any", ch))  # "**(": a star, then the group "*("
                else:
                    i += 1
                    out.append(("super", "**"))
            elif nxt == "(":
                i += 1
                out.append(("capture_open", "*"))
                capture += 1
            else:
                out.append(("any", ch))
        else:
            i -= 1
            text(_TERMS_BREAKERS if terms else _CAPTURE_BREAKERS if capture else _EXTENDED_BREAKERS)
    return out


def _range_tokens(pattern: str, i: int, out: list[tuple[str, str]]) -> int:
    """The inside of a ``[...]`` class, from just after ``[``; returns the index after ``]``."""
    seen_not = in_posix = escaped = False
    data: list[str] = []
    while True:
        if i >= len(pattern):
            raise Unknown("unexpected end of input")
        ch = pattern[i]
        i += 1
        if not escaped:
            if ch == "\\":
                escaped = True
                continue
            if ch == "[":
                in_posix = True
            if ch == "]":
                if in_posix:
                    in_posix = False
                else:
                    break
            if not seen_not and ch in "!^":
                out.append(("not", ch))
                seen_not = True
                continue
        escaped = False
        data.append(ch)
    if data:
        out.append(("text", "".join(data)))
    out.append(("range_close", "]"))
    return i


def _tree(tokens: list[tuple[str, str]]) -> _Node:
    """ohmyglob's parser (iterative, as its own): the pattern's tree."""
    root = tree = _Node("pattern")
    depth = 0
    it = iter(tokens)
    for kind, raw in it:
        if kind == "text":
            _Node("text", raw, tree)
        elif kind in ("any", "super", "single"):
            _Node(kind, "", tree)
        elif kind == "range_open":
            negate, chars = False, ""
            for kind2, raw2 in it:
                if kind2 == "not":
                    negate = True
                elif kind2 == "text":
                    chars = raw2
                    for name, ranges in _POSIX.items():
                        chars = chars.replace(name, ranges)
                elif kind2 == "range_close":
                    break
            _Node("nlist" if negate else "list", chars, tree)
        elif kind in ("terms_open", "capture_open"):
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidArgument(f"glob pattern nests braces and groups more than {MAX_DEPTH} deep")
            outer = _Node("any_of" if kind == "terms_open" else "capture", raw, tree)
            tree = _Node("pattern", "", outer)
        elif kind == "sep":
            tree = _Node("pattern", "", tree.parent)
        elif kind in ("terms_close", "capture_close"):
            depth -= 1
            assert tree.parent is not None and tree.parent.parent is not None
            tree = tree.parent.parent
    return root


def _compile(node: _Node) -> str:
    kind = node.kind
    if kind == "text":
        return _quote_meta(node.value) + _BOUNDARY
    if kind == "any":
        return "[^/]*" + _BOUNDARY
    if kind == "super":
        return ".*" + _BOUNDARY
    if kind == "single":
        return "[^/]"
    if kind in ("list", "nlist"):
        return f"[{'^' if kind == 'nlist' else ''}{_quote_meta(node.value)}]"
    if not node.children:
        return ""
    if kind == "pattern":
        return "".join(_compile(c) for c in node.children)
    if kind == "any_of":
        return "(?:" + "|".join(_compile(c) for c in node.children) + ")"
    quantifier = node.value  # a capture
    if quantifier == "!":
        body = (_CLOSE_NEG + "|").join(_compile(c) for c in node.children)
        return "((?:(?!(?:" + body + _CLOSE_NEG + "))[^/]*))"
    body = "|".join(_compile(c) for c in node.children)
    if quantifier in "*?+":
        return f"((?:{body}){quantifier})"
    if quantifier == "@":
        return f"({body})"
    raise Unknown(f"unimplemented quatifier {quantifier}")


def ohmyglob_regex(pattern: str) -> str:
    """The expression ohmyglob compiles ``pattern`` to (raises as pachd would before that)."""
    regex = _compile(_tree(_tokens(pattern)))
    index = regex.find(_CLOSE_NEG + ")")
    if index > 0:
        regex = regex.replace(_CLOSE_NEG, "" if _BOUNDARY in regex[index:] else "$")
    return "\\A" + regex.replace(_BOUNDARY, "") + "\\z"


def check_glob(pattern: str) -> None:
    """Raise pachd's error for a pattern pachd refuses (UNKNOWN), or ours for one nested too deep."""
    regex = ohmyglob_regex(pattern)
    _check_regexp2(regex)


def _check_regexp2(regex: str) -> None:
    """regexp2's scan of the expression's character classes and parentheses."""

    def fail(code: str) -> Unknown:
        return Unknown(f"error parsing regexp: {code} in `{regex}`")

    n = len(regex)
    i = depth = 0
    while i < n:
        ch = regex[i]
        i += 1
        if ch == "\\":
            i += 1
        elif ch == "[":
            i = _scan_class(regex, i, fail)
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise fail("unexpected )")
    if depth > 0:
        raise fail("missing closing )")


def _scan_class(regex: str, i: int, error: Callable[[str], Unknown]) -> int:
    """regexp2's scanCharSet from just after ``[``; returns the index after the closing ``]``."""
    n = len(regex)
    if i < n and regex[i] == "^":
        i += 1
    first, in_range, prev = True, False, ""
    while i < n:
        ch = regex[i]
        i += 1
        translated = False
        if ch == "]" and not first:
            return i
        if ch == "\\" and i < n:
            ch = regex[i]
            i += 1
            if ch in "DdSsWw":
                if in_range:
                    raise error(f"cannot include class \\{ch} in character range")
                first = False
                continue
            if ch == "-":
                first = False
                continue
            if ch.isalnum() or ch == "_":
                if ch not in "xuabefnrtvc01234567":
                    raise error(f"unrecognized escape sequence \\{ch}")
            translated = True
        if in_range:
            in_range = False
            if ch == "[" and not translated and not first:
                i = _scan_class(regex, i, error)
                if i < n and regex[i] != "]":
                    raise error("a subtraction must be the last element in a character class")
            elif prev > ch:
                raise error("[x-y] range in reverse order")
        elif n - i >= 2 and regex[i] == "-" and regex[i + 1] != "]":
            prev, in_range = ch, True
            i += 1
        elif n - i >= 1 and ch == "-" and not translated and regex[i] == "[" and not first:
            i = _scan_class(regex, i + 1, error)
            if i < n and regex[i] != "]":
                raise error("a subtraction must be the last element in a character class")
        first = False
    raise error("unterminated [] set")
