"""Why a pipeline spec's JSON text does not parse, in the words of Go's protojson (pachd's parser).

pachd refuses a CreatePipelineV2 spec it cannot parse with protojson's message,
``syntax error (line 1:2): invalid value not``, ``(line 1:80): unknown field
"bogus"``, ``(line 1:208): invalid value for uint64 type: -1``: a position
(line, 1-based byte column) and the offending token. ``problem`` finds the
first such problem of a text against a message descriptor, or None.

It covers JSON syntax, unknown fields and scalar values of the wrong type or
range; anything subtler is left to the protobuf parser. No gRPC.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

__all__ = ["problem"]

_DELIMITERS = set(' \t\r\n,:{}[]"')
_WELL_KNOWN = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.Any",
               "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
               "google.protobuf.Int64Value", "google.protobuf.StringValue", "google.protobuf.BoolValue"}
_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: ("int32", -(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: ("int32", -(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: ("int32", -(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: ("int64", -(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: ("int64", -(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: ("int64", -(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: ("uint32", 0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: ("uint32", 0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: ("uint64", 0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: ("uint64", 0, 2**64 - 1),
}


def _where(text: str, pos: int) -> str:
    data = text[:pos].encode()
    line = data.count(b"\n") + 1
    column = len(data) - (data.rfind(b"\n") + 1) + 1
    return f"(line {line}:{column})"


def _syntax(text: str, err: json.JSONDecodeError) -> str:
    pos = err.pos
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    if pos >= len(text):
        return f"syntax error {_where(text, pos)}: unexpected token "
    end = pos
    while end < len(text) and text[end] not in _DELIMITERS:
        end += 1
    if end > pos:
        return f"syntax error {_where(text, pos)}: invalid value {text[pos:end]}"
    return f"syntax error {_where(text, pos)}: unexpected token {text[pos]}"


class _Positions:
    """Byte offsets of the keys and values of a JSON text, in document order."""

    def __init__(self, text: str) -> None:
        self.keys: list[int] = []
        self.values: list[tuple[int, str]] = []
        self.text = text
        self.i = 0
        self._value()

    def _skip(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r\n":
            self.i += 1

    def _string(self) -> None:
        self.i += 1
        while self.text[self.i] != '"':
            self.i += 2 if self.text[self.i] == "\\" else 1
        self.i += 1

    def _value(self) -> None:
        self._skip()
        start = self.i
        ch = self.text[self.i]
        if ch == "{":
            self.values.append((start, "{"))
            self.i += 1
            self._skip()
            while self.text[self.i] != "}":
                self._skip()
                self.keys.append(self.i)
                self._string()
                self._skip()
                self.i += 1  # ':'
                self._value()
                self._skip()
                if self.text[self.i] == ",":
                    self.i += 1
                    self._skip()
            self.i += 1
        elif ch == "[":
            self.values.append((start, "["))
            self.i += 1
            self._skip()
            while self.text[self.i] != "]":
                self._value()
                self._skip()
                if self.text[self.i] == ",":
                    self.i += 1
            self.i += 1
        elif ch == '"':
            self._string()
            self.values.append((start, self.text[start : self.i]))
        else:
            while self.i < len(self.text) and self.text[self.i] not in _DELIMITERS:
                self.i += 1
            self.values.append((start, self.text[start : self.i]))


def problem(text: str, descriptor: Any) -> str | None:
    """protojson's complaint about ``text`` as a ``descriptor`` message, or None."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        return _syntax(text, err)
    if not isinstance(doc, dict):
        pos = len(text) - len(text.lstrip())
        return f"syntax error {_where(text, pos)}: unexpected token {text.strip()[:1]}"
    where = _Positions(text)
    keys, values = iter(where.keys), iter(where.values)

    def message(value: dict[str, Any], desc: Any) -> str | None:
        fields: dict[str, Any] = {}
        for field in desc.fields:
            fields[field.name] = fields[field.json_name] = field
        for key, item in value.items():
            at = next(keys)
            field = fields.get(key)
            if field is None:
                return f'{_where(text, at)}: unknown field "{key}"'
            found = field_value(item, field)
            if found:
                return found
        return None

    def field_value(item: Any, field: Any) -> str | None:
        at, token = next(values)
        if item is None:
            return None
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            skip(item)
            return None
        if field.is_repeated and isinstance(item, list):
            for element in item:
                found = single(element, field)
                if found:
                    return found
            return None
        return single_at(item, field, at, token)

    def single(item: Any, field: Any) -> str | None:
        at, token = next(values)
        return single_at(item, field, at, token)

    def single_at(item: Any, field: Any, at: int, token: str) -> str | None:
        if field.message_type is not None:
            if field.message_type.full_name in _WELL_KNOWN or not isinstance(item, dict):
                skip(item)
                return None
            return message(item, field.message_type)
        kind = field.type
        if kind in _INT_RANGES:
            name, low, high = _INT_RANGES[kind]
            number = item if isinstance(item, int) and not isinstance(item, bool) else _int(item)
            if number is None or not low <= number <= high:
                return f"{_where(text, at)}: invalid value for {name} type: {token}"
        elif kind == FieldDescriptor.TYPE_BOOL and not isinstance(item, bool):
            return f"{_where(text, at)}: invalid value for bool type: {token}"
        elif kind in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES) and not isinstance(item, str):
            return f"{_where(text, at)}: invalid value for string type: {token}"
        elif kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT) and (
            isinstance(item, bool) or not isinstance(item, (int, float, str))
        ):
            return f"{_where(text, at)}: invalid value for {'double' if kind == FieldDescriptor.TYPE_DOUBLE else 'float'} type: {token}"
        elif kind == FieldDescriptor.TYPE_ENUM and not (
            (isinstance(item, str) and item in field.enum_type.values_by_name)
            or (isinstance(item, int) and not isinstance(item, bool))
        ):
            return f"{_where(text, at)}: invalid value for enum type: {token}"
        return None

    def skip(item: Any) -> None:
        """Consume the positions of a value not looked into."""
        if isinstance(item, dict):
            for sub in item.values():
                next(keys)
                next(values)
                skip(sub)
        elif isinstance(item, list):
            for sub in item:
                next(values)
                skip(sub)

    next(values)  # the document itself
    return message(doc, descriptor)


def _int(item: Any) -> int | None:
    if isinstance(item, str):
        try:
            return int(item)
        except ValueError:
            return None
    if isinstance(item, float) and item.is_integer():
        return int(item)
    return None
