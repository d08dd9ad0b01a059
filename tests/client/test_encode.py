"""The hand-written ModifyFile encoding is byte for byte what protobuf writes."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterable

import pytest
from hypothesis import given, strategies as st

from pachmagic._proto import pachmagic_ext_pb2, pfs_pb2
from pachmagic.client._encode import (
    Encoded,
    add_file_header,
    batched_stream,
    encoded_requests,
    plain_stream,
)
from pachmagic.client._files import sized_chunks
from pachmagic.server.servicers._wire import Op, read_batch

COMMIT = pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=pfs_pb2.Repo(name="r"), name="master"))


@given(path=st.text(min_size=0, max_size=300), data=st.binary(max_size=3000))
def test_add_file_matches_protobuf(path: str, data: bytes) -> None:
    expected = pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path=path, raw={"value": data})).SerializeToString()
    assert add_file_header(path.encode(), len(data)) + data == expected


@given(files=st.lists(st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=200)), max_size=8),
       append=st.booleans(), max_bytes=st.integers(1, 500), max_ops=st.integers(1, 5))
def test_streams_decode_to_the_same_requests(files: list[tuple[str, bytes]], append: bool, max_bytes: int, max_ops: int) -> None:
    requests = list(encoded_requests(COMMIT, files, append=append, chunk_size=64))
    plain = [pfs_pb2.ModifyFileRequest.FromString(m) for m in plain_stream(requests)]
    batched = [op for m in batched_stream(requests, max_bytes, max_ops)
               for op in pachmagic_ext_pb2.ModifyFileBatch.FromString(m).ops]
    assert plain == batched
    assert plain[0].set_commit == COMMIT
    # The server's zero-copy reader sees the same operations.
    zero_copy = [op for m in batched_stream(requests, max_bytes, max_ops) for op in read_batch(m)[0]]
    for message, op in zip(plain, zero_copy):
        if op.request is None:
            assert (message.add_file.path, bytes(op.data or b"")) == (op.path, message.add_file.raw.value)
        else:
            assert op.request == message


def _reassemble(messages: Iterable[bytes], spans: bool) -> list[Op]:
    """The operations of a ``pachmagic_ext`` ModifyFile stream, as the server reads them."""
    seen: list[Op] = []
    stream = iter(messages)
    for message in stream:
        ops, follows = read_batch(message)
        if not follows:
            seen.extend(ops)
            continue
        add = ops.pop()
        seen.extend(ops)
        while follows:
            data = next(stream)  # a bare chunk, exactly as encoded_requests produced it
            assert 0 < len(data) <= follows if spans else len(data) == follows
            seen.append(add._replace(data=memoryview(data)))
            follows -= len(data)
    return seen


@given(files=st.lists(st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=300)), max_size=8),
       out_of_line=st.integers(1, 200), spans=st.booleans())
def test_out_of_line_data_reassembles_to_the_same_requests(
    files: list[tuple[str, bytes]], out_of_line: int, spans: bool
) -> None:
    requests = list(encoded_requests(COMMIT, files, chunk_size=100))
    seen = _reassemble(batched_stream(requests, 500, 5, out_of_line, spans), spans)
    plain = [pfs_pb2.ModifyFileRequest.FromString(m) for m in plain_stream(requests)]
    assert len(seen) == len(plain)
    for message, op in zip(plain, seen):
        if op.request is None:
            assert (message.add_file.path, bytes(op.data or b"")) == (op.path, message.add_file.raw.value)
        else:
            assert op.request == message


def test_a_file_of_known_size_is_announced_once() -> None:
    files = [("/a", os.urandom(1000)), ("/b", b"x" * 300)]
    requests = list(encoded_requests(COMMIT, files, chunk_size=100))
    # Per file one batch (its delete, the add, data_follows = the file's size), then its 10 and 3 chunks bare.
    assert len(list(batched_stream(requests, 500, 5, 100, spans=True))) == 2 + 10 + 3
    assert len(list(batched_stream(requests, 500, 5, 100))) == 2 * (10 + 3)  # version 2: a batch per chunk


def test_an_announced_file_whose_chunks_run_short_is_never_sent_as_complete() -> None:
    path = b"/a"
    first = Encoded(add_file_header(path, 200), b"x" * 200, path, 500)
    with pytest.raises(RuntimeError, match="ended 300 bytes short"):
        list(batched_stream([first], 500, 5, 100, spans=True))
    with pytest.raises(RuntimeError, match="ended 300 bytes short"):
        list(batched_stream([first, Encoded(b"\x1a\x00")], 500, 5, 100, spans=True))


def test_a_path_is_read_up_to_its_size_when_its_turn_came(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a" * 250)
    total, chunks = sized_chunks(path, 100)
    first = next(chunks)
    with open(path, "ab") as handle:  # grows while it is being uploaded
        handle.write(b"b" * 100)
    assert total == 250 and first + b"".join(chunks) == b"a" * 250


def test_a_path_that_shrinks_while_it_is_uploaded_fails(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a" * 250)
    total, chunks = sized_chunks(path, 100)
    next(chunks)
    os.truncate(path, 120)
    with pytest.raises(OSError, match="shrank while it was being uploaded: 120 of its 250 bytes read"):
        list(chunks)


def test_a_path_that_is_not_a_regular_file_is_read_to_its_end(tmp_path: Path) -> None:
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(b"xyz",))
    writer.start()
    total, chunks = sized_chunks(fifo, 2)
    assert total is None and b"".join(chunks) == b"xyz"
    writer.join()


def test_a_chunk_that_fits_is_sent_without_a_copy() -> None:
    data = b"x" * 1000
    requests = list(encoded_requests(COMMIT, [("/a", data)], chunk_size=1000))
    assert requests[-1].payload is data
