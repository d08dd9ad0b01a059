"""Protobuf's wire format, for the few messages written or read by hand.

Uploads and downloads of file data skip protobuf's message objects (each would copy a
4 MiB chunk several times): the client encodes ``ModifyFileRequest`` headers itself and the
server reads ``ModifyFileBatch`` and writes ``BytesValue`` messages itself. These are the
shared pieces: varints, field keys and length-delimited fields. The bytes are exactly what
protobuf produces, so any peer reads them as ordinary messages.

Malformed input raises ``WireError`` (a ``ValueError``); callers turn it into their own error.
"""

from __future__ import annotations

from typing import Iterator

__all__ = ["WireError", "varint", "read_varint", "key", "delimited", "fields", "bytes_value", "bytes_value_payload"]

VARINT, FIXED64, DELIMITED, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def varint(value: int) -> bytes:
    """``value`` (non-negative) as a base-128 varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(buf: memoryview | bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise WireError("bad varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def key(number: int, wire_type: int) -> bytes:
    """A field's key: its number and wire type."""
    return varint(number << 3 | wire_type)


def delimited(number: int, data: bytes) -> bytes:
    """A whole length-delimited field (bytes, string or embedded message)."""
    return key(number, DELIMITED) + varint(len(data)) + data


def fields(buf: memoryview) -> Iterator[tuple[int, int, memoryview | int]]:
    """(field number, wire type, value) of each field; length-delimited values as views (no copy).

    Fixed-width fields are skipped (yielded as nothing): the hand-read messages have none.
    """
    pos = 0
    while pos < len(buf):
        tag, pos = read_varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
            yield number, wire, value
        elif wire == DELIMITED:
            size, pos = read_varint(buf, pos)
            if pos + size > len(buf):
                raise WireError("truncated field")
            yield number, wire, buf[pos : pos + size]
            pos += size
        elif wire in (FIXED64, FIXED32):
            pos += 8 if wire == FIXED64 else 4
            if pos > len(buf):
                raise WireError("truncated field")
        else:
            raise WireError(f"wire type {wire}")


def bytes_value(data: bytes | memoryview) -> bytes:
    """A serialized ``google.protobuf.BytesValue`` holding ``data`` (one join, one copy)."""
    return b"".join((b"\x0a", varint(len(data)), data))


def bytes_value_payload(message: bytes) -> memoryview:
    """The ``value`` of a serialized ``google.protobuf.BytesValue``, as a view (no copy)."""
    payload = memoryview(b"")
    for number, wire, value in fields(memoryview(message)):
        if number != 1 or wire != DELIMITED:
            raise WireError("malformed BytesValue")
        assert isinstance(value, memoryview)
        payload = value  # the last occurrence wins, as in protobuf
    return payload
