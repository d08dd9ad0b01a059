"""Zero-copy reading of ``pachmagic_ext.ModifyFileBatch`` messages.

Parsing a batch with protobuf copies every file chunk into the message, and
reading ``raw.value`` copies it again: two copies of every uploaded byte, on
the event loop. This reader walks the wire format itself and hands out file
data as ``memoryview`` slices of the received message; only the small
operations (set_commit, delete_file, copy_file, URL adds) go through protobuf.
Large file data may also arrive out of line, as the bare message after a batch
with ``data_follows``; ``ext.py`` takes that message itself as the data.

Malformed input raises ``InvalidArgument``, never anything else.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

from ..._proto import pfs_pb2
from ...errors import InvalidArgument
from ...pachyderm import wire as wire_format

__all__ = ["Op", "read_batch"]


class Op(NamedTuple):
    """One ModifyFile operation: a raw add (``path``/``datum``/``data``) or a parsed message."""

    request: pfs_pb2.ModifyFileRequest | None
    path: str = ""
    datum: str = ""
    data: memoryview | None = None


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    try:
        return wire_format.read_varint(buf, pos)
    except wire_format.WireError as err:
        raise InvalidArgument(f"malformed ModifyFileBatch: {err}") from None


def _fields(buf: memoryview) -> Iterator[tuple[int, int, memoryview | int]]:
    try:
        yield from wire_format.fields(buf)
    except wire_format.WireError as err:
        raise InvalidArgument(f"malformed ModifyFileBatch: {err}") from None


def _text(view: memoryview, what: str) -> str:
    try:
        return bytes(view).decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidArgument(f"malformed ModifyFileBatch: {what} is not valid UTF-8: {err}") from None


def _add_file(view: memoryview) -> Op | None:
    """A raw-data AddFile as an ``Op`` (data not copied), or None if it needs protobuf."""
    path = datum = ""
    data: memoryview | None = None
    for number, wire, value in _fields(view):
        if wire != 2:
            continue
        assert isinstance(value, memoryview)
        if number == 1:
            path = _text(value, "a path")
        elif number == 2:
            datum = _text(value, "a datum")
        elif number == 3:
            data = memoryview(b"")
            for inner, inner_wire, chunk in _fields(value):
                if inner == 1 and inner_wire == 2:
                    assert isinstance(chunk, memoryview)
                    data = chunk
        elif number == 4:
            return None  # a URL source: rare, let protobuf handle it
    return Op(None, path, datum, data if data is not None else memoryview(b""))


def read_batch(message: bytes) -> tuple[list[Op], int]:
    """The operations of one serialized ``ModifyFileBatch``, in order, and its ``data_follows``.

    With ``data_follows`` set, the last operation is a raw add whose data is
    the stream's next message (checked here: it must be an add with no data).
    """
    buf = memoryview(message)
    ops: list[Op] = []
    follows = 0
    for number, wire, op in _fields(buf):
        if number == 2 and wire == 0:
            assert isinstance(op, int)
            follows = op
            continue
        if number != 1 or wire != 2:
            continue
        assert isinstance(op, memoryview)
        if len(op) and op[0] == 0x12:  # add_file (field 2, length-delimited) ...
            size, start = _varint(op, 1)
            if start + size == len(op):  # ... and nothing else in this request
                parsed = _add_file(op[start:])
                if parsed is not None:
                    ops.append(parsed)
                    continue
        try:
            ops.append(Op(pfs_pb2.ModifyFileRequest.FromString(bytes(op))))
        except Exception as err:  # noqa: BLE001 - protobuf's DecodeError and friends
            raise InvalidArgument(f"malformed ModifyFileBatch: {err}") from None
    if follows and (not ops or ops[-1].request is not None or ops[-1].data):
        raise InvalidArgument("malformed ModifyFileBatch: data_follows needs an add_file without data as the last op")
    return ops, follows
