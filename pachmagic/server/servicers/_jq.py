"""The part of jq that ListPipeline/ListJob filters use, evaluated as pachd evaluates them.

pachd runs ``jqFilter`` (gojq) on each PipelineInfo or JobInfo as protobuf JSON
with the .proto field names, and keeps the message when the result is neither
``false`` nor ``null``. Supported here: paths (``.a.b``), string/number/bool/
null literals, ``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=``, ``and``, ``or``,
parentheses and ``| not``. A filter that does not parse gets gojq's words;
valid jq beyond this subset is refused as UNIMPLEMENTED (never silently
ignored). No gRPC.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from ...errors import Unimplemented, Unknown

__all__ = ["compile_filter"]

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|<=|>=|<|>|\||\(|\))'
    r"|(?P<path>\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<other>\S))"
)
_PREFIX = "error creating message filter function: error parsing jq filter: "
Node = Callable[[Any], Any]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        kind = m.lastgroup or "other"
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def compile_filter(text: str) -> Callable[[Any], bool]:
    """A predicate over a message's JSON (``.proto`` names) for a jq filter, or pachd's error."""
    tokens = _tokens(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        tok = peek()
        if tok is None:
            raise Unknown(_PREFIX + "unexpected EOF")
        pos += 1
        return tok

    def unexpected(tok: tuple[str, str]) -> Unknown:
        return Unknown(_PREFIX + f'unexpected token "{tok[1]}"')

    def term() -> Node:
        tok = take()
        kind, value = tok
        if kind == "str":
            literal = json.loads(value)
            return lambda v: literal
        if kind == "num":
            number = json.loads(value)
            return lambda v: number
        if kind == "path":
            keys = [k for k in value.split(".") if k]
            return lambda v: _get(v, keys)
        if kind == "word" and value in ("true", "false", "null"):
            constant = {"true": True, "false": False, "null": None}[value]
            return lambda v: constant
        if kind == "op" and value == "(":
            inner = expression()
            if take() != ("op", ")"):
                raise unexpected(tokens[pos - 1])
            return inner
        if kind == "word":  # a function: gojq reads the name, then wants an operator or the end
            after = peek()
            if after is not None and after[0] in ("word", "path", "str", "num"):
                raise unexpected(after)
            raise Unimplemented(f"jq function {value!r} is not supported by the pachmagic embedded server")
        raise unexpected(tok)

    def comparison() -> Node:
        left = term()
        tok = peek()
        if tok is not None and tok[0] == "op" and tok[1] in ("==", "!=", "<", "<=", ">", ">="):
            take()
            right = term()
            return _compare(tok[1], left, right)
        return left

    def conjunction() -> Node:
        node = comparison()
        while peek() == ("word", "and"):
            take()
            node = _both(node, comparison())
        return node

    def expression() -> Node:
        node = conjunction()
        while peek() == ("word", "or"):
            take()
            node = _either(node, conjunction())
        while peek() == ("op", "|"):
            take()
            if take() != ("word", "not"):
                raise Unimplemented("jq pipes other than '| not' are not supported by the pachmagic embedded server")
            node = _negated(node)
        return node

    root = expression()
    if peek() is not None:
        raise unexpected(tokens[pos])
    return lambda value: _truthy(root(value))


def _get(value: Any, keys: list[str]) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _truthy(value: Any) -> bool:
    return value is not False and value is not None


def _order(value: Any) -> tuple[int, Any]:
    """jq's order: null < false < true < numbers < strings < arrays < objects."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (3, value)
    if isinstance(value, str):
        return (4, value)
    if isinstance(value, list):
        return (5, json.dumps(value, sort_keys=True))
    return (6, json.dumps(value, sort_keys=True))


def _compare(op: str, left: Node, right: Node) -> Node:
    def run(v: Any) -> bool:
        a, b = left(v), right(v)
        if op == "==":
            return bool(a == b)
        if op == "!=":
            return bool(a != b)
        ka, kb = _order(a), _order(b)
        return bool({"<": ka < kb, "<=": ka <= kb, ">": ka > kb, ">=": ka >= kb}[op])

    return run


def _both(a: Node, b: Node) -> Node:
    return lambda v: _truthy(a(v)) and _truthy(b(v))


def _either(a: Node, b: Node) -> Node:
    return lambda v: _truthy(a(v)) or _truthy(b(v))


def _negated(a: Node) -> Node:
    return lambda v: not _truthy(a(v))
