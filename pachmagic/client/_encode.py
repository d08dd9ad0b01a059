"""The one ModifyFile request generator, written straight to the wire format.

Building ``ModifyFileRequest(add_file=AddFile(raw=BytesValue(value=chunk)))``
copies a 4 MiB chunk once per nesting level and again to serialize: protobuf
construction alone capped uploads at ~250 MiB/s. Here each request is a small
header (encoded by hand: three length-delimited fields) plus the chunk, joined
once, and the call is made with an identity serializer. The bytes are exactly
what protobuf would produce, so any server (a real pachd, or ours) reads them
as ordinary messages. Toward pachmagic's own server (``pachmagic_ext``) large
chunks are not joined at all: each goes as a bare message of its own.

Every write of the client (``put_files``, ``delete_file``, ``copy_file``) is a
sequence of ``Encoded`` requests from here; the transfer chosen for the server
(``_transfer.py``) only frames them: one per message (``plain_stream``) or many
per message (``batched_stream``). Pure functions: nothing here talks to gRPC.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Mapping, NamedTuple

from pachmagic._proto import pfs_pb2
from pachmagic.client._files import CHUNK_SIZE, Progress, Source, iter_sources, sized_chunks
from pachmagic.pachyderm.wire import varint

__all__ = [
    "Encoded", "set_commit", "delete_file", "copy_file", "file_requests", "encoded_requests",
    "plain_stream", "batched_stream",
]

class Encoded(NamedTuple):
    """One encoded request: ``header + payload`` is the serialized ModifyFileRequest."""

    header: bytes
    payload: bytes = b""  # a file chunk (add_file) or empty
    path: bytes | None = None  # the add_file's path, so a framing can re-encode the header
    # A file's first chunk, where the file's size is known before reading it: that
    # size (this chunk's bytes and those of the chunks that follow it, all the file's
    # next requests), so a framing may announce them once (``batched_stream``).
    span: int = 0


# ModifyFileRequest fields (pfs.proto): add_file = 2; AddFile: path = 1, raw = 3; BytesValue: value = 1.
_ADD_FILE, _PATH, _RAW, _VALUE = b"\x12", b"\x0a", b"\x1a", b"\x0a"
# ModifyFileBatch (pachmagic_ext.proto): repeated ModifyFileRequest ops = 1; uint64 data_follows = 2.
_OPS, _DATA_FOLLOWS = b"\x0a", b"\x10"


def add_file_header(path: bytes, size: int) -> bytes:
    """The encoding of ``ModifyFileRequest{add_file{path, raw{value}}}`` up to the value's bytes."""
    value_header = _VALUE + varint(size) if size else b""
    raw_len = len(value_header) + size
    add = (_PATH + varint(len(path)) + path if path else b"") + _RAW + varint(raw_len) + value_header
    return _ADD_FILE + varint(len(add) + size) + add


def set_commit(commit: pfs_pb2.Commit) -> Encoded:
    """The request that opens every ModifyFile stream: the commit (or branch) written to."""
    return Encoded(pfs_pb2.ModifyFileRequest(set_commit=commit).SerializeToString())


def delete_file(path: str) -> Encoded:
    """Delete a file (a path ending in ``/``: a directory)."""
    return Encoded(pfs_pb2.ModifyFileRequest(delete_file=pfs_pb2.DeleteFile(path=path)).SerializeToString())


def copy_file(dst: str, src: pfs_pb2.File, *, append: bool = False) -> Encoded:
    """Copy ``src`` (any commit) to ``dst`` in the stream's commit."""
    request = pfs_pb2.ModifyFileRequest(copy_file=pfs_pb2.CopyFile(dst=dst, src=src, append=append))
    return Encoded(request.SerializeToString())


def file_requests(
    files: Mapping[str, Source] | Iterable[tuple[str, Source]],
    *,
    append: bool = False,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Encoded]:
    """The requests that write ``files``, lazily (sources are read as the stream is sent).

    Per file a ``delete_file`` unless appending, then ``add_file`` chunks of at
    most ``chunk_size`` bytes; a file without data gets one empty ``add_file``
    so that it exists. ``progress(bytes_done, files_done)`` follows the reading.
    """
    bytes_done = files_done = 0
    for path, source in iter_sources(files):
        raw_path = path.encode("utf-8")
        if not append:
            yield delete_file(path)
        sent = False
        total, chunks = sized_chunks(source, chunk_size)
        for chunk in chunks:
            if not chunk:
                continue
            yield Encoded(add_file_header(raw_path, len(chunk)), chunk, raw_path, 0 if sent else total or 0)
            sent = True
            bytes_done += len(chunk)
            if progress is not None:
                progress(bytes_done, files_done)
        if not sent:
            yield Encoded(add_file_header(raw_path, 0), b"", raw_path)
        files_done += 1
        if progress is not None:
            progress(bytes_done, files_done)


def encoded_requests(
    commit: pfs_pb2.Commit,
    files: Mapping[str, Source] | Iterable[tuple[str, Source]],
    *,
    append: bool = False,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Encoded]:
    """A whole ModifyFile stream writing ``files``: ``set_commit``, then ``file_requests``."""
    yield set_commit(commit)
    yield from file_requests(files, append=append, progress=progress, chunk_size=chunk_size)


def plain_stream(requests: Iterable[Encoded]) -> Iterator[bytes]:
    """One serialized ``ModifyFileRequest`` per message (the standard RPC)."""
    for header, payload, _, _ in requests:
        yield header + payload if payload else header


def batched_stream(
    requests: Iterable[Encoded], max_bytes: int, max_ops: int, out_of_line: int | None = None, spans: bool = False
) -> Iterator[bytes]:
    """Serialized ``ModifyFileBatch`` messages of many requests each (``pachmagic_ext``).

    File chunks of at least ``out_of_line`` bytes go as their own bare message
    after a batch with ``data_follows`` (see ``proto/pachmagic_ext.proto``):
    the chunk read from the file is the message, not copied into one. With
    ``spans`` (version 3 of the service), a file of known size whose first chunk
    goes out of line is announced once: ``data_follows`` is the file's size and
    all its chunks follow as bare messages, one header for the whole file
    instead of a message per chunk.
    """
    parts: list[bytes] = []
    size = ops = 0
    left = 0  # bytes still to come as bare messages of the announced file
    for header, payload, path, span in requests:
        if left:
            if path is None or not 0 < len(payload) <= left:
                raise RuntimeError(f"an announced file's data ended {left} bytes short")  # sized_chunks prevents it
            left -= len(payload)
            yield payload
            continue
        if out_of_line is not None and path is not None and len(payload) >= out_of_line:
            announced = span if spans and span > len(payload) else len(payload)
            empty = add_file_header(path, 0)
            parts.append(_OPS + varint(len(empty)) + empty)
            parts.append(_DATA_FOLLOWS + varint(announced))
            yield b"".join(parts)
            yield payload
            left = announced - len(payload)
            parts, size, ops = [], 0, 0
            continue
        parts.append(_OPS + varint(len(header) + len(payload)) + header)
        if payload:
            parts.append(payload)
        size += len(header) + len(payload)
        ops += 1
        if size >= max_bytes or ops >= max_ops:
            yield b"".join(parts)
            parts, size, ops = [], 0, 0
    if left:
        raise RuntimeError(f"an announced file's data ended {left} bytes short")
    if parts:
        yield b"".join(parts)
