"""Protobuf wire helpers: byte for byte what protobuf writes, and reads of what it writes."""

from __future__ import annotations

import pytest
from google.protobuf import wrappers_pb2
from hypothesis import given
from hypothesis import strategies as st

from pachmagic._proto import pfs_pb2
from pachmagic.pachyderm import wire


@given(value=st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip_and_matches_protobuf(value: int) -> None:
    encoded = wire.varint(value)
    assert wire.read_varint(encoded, 0) == (value, len(encoded))
    # UInt64Value{value} is key 0x08 then the varint.
    assert wrappers_pb2.UInt64Value(value=value).SerializeToString() in (b"", b"\x08" + encoded)


@given(data=st.binary(max_size=5000))
def test_bytes_value(data: bytes) -> None:
    message = wrappers_pb2.BytesValue(value=data).SerializeToString()
    assert bytes(wire.bytes_value_payload(message)) == data
    assert wrappers_pb2.BytesValue.FromString(wire.bytes_value(data)).value == data


@given(path=st.text(max_size=50), datum=st.text(max_size=20))
def test_fields_read_what_protobuf_writes(path: str, datum: str) -> None:
    message = pfs_pb2.AddFile(path=path, datum=datum).SerializeToString()
    assert wire.delimited(1, path.encode()) + wire.delimited(2, datum.encode()) == message or not (path and datum)
    read = {number: bytes(value).decode() for number, _, value in wire.fields(memoryview(message))}  # type: ignore[arg-type]
    assert read == {k: v for k, v in ((1, path), (2, datum)) if v}


@pytest.mark.parametrize("bad", [b"\x80", b"\x0a\x05ab", b"\x0f", b"\xff" * 11])
def test_malformed_input_is_a_wire_error(bad: bytes) -> None:
    with pytest.raises(wire.WireError):
        list(wire.fields(memoryview(bad)))
