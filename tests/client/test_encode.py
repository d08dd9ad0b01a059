"""The hand-written ModifyFile encoding is byte for byte what protobuf writes."""

from __future__ import annotations

from hypothesis import given, strategies as st

from pachmagic._proto import pachmagic_ext_pb2, pfs_pb2
from pachmagic.client._encode import (
    add_file_header,
    batched_stream,
    encoded_requests,
    plain_stream,
)
from pachmagic.server.servicers._wire import read_batch

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


@given(files=st.lists(st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=300)), max_size=8),
       out_of_line=st.integers(1, 200))
def test_out_of_line_data_reassembles_to_the_same_requests(files: list[tuple[str, bytes]], out_of_line: int) -> None:
    requests = list(encoded_requests(COMMIT, files, chunk_size=100))
    messages = iter(batched_stream(requests, 500, 5, out_of_line))
    seen = []
    for message in messages:
        ops, follows = read_batch(message)
        if follows:
            data = next(messages)  # the bare chunk, exactly as encoded_requests produced it
            assert len(data) == follows >= out_of_line
            ops[-1] = ops[-1]._replace(data=memoryview(data))
        seen.extend(ops)
    plain = [pfs_pb2.ModifyFileRequest.FromString(m) for m in plain_stream(requests)]
    assert len(seen) == len(plain)
    for message, op in zip(plain, seen):
        if op.request is None:
            assert (message.add_file.path, bytes(op.data or b"")) == (op.path, message.add_file.raw.value)
        else:
            assert op.request == message


def test_a_chunk_that_fits_is_sent_without_a_copy() -> None:
    data = b"x" * 1000
    requests = list(encoded_requests(COMMIT, [("/a", data)], chunk_size=1000))
    assert requests[-1].payload is data
