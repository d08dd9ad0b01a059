"""File transfer helpers: ModifyFile request streams and GetFile readers.

Uploads are one lazily generated ``ModifyFile`` stream for many files:
``set_commit``, then per file ``delete_file`` (unless appending) and
``add_file`` chunks of at most ``CHUNK_SIZE``; a file without data gets one
empty ``add_file`` so that it exists. Local files are read chunk by chunk while
gRPC sends, so memory stays flat whatever the file size.

Downloads wrap the ``GetFile`` stream of ``BytesValue`` chunks as a raw binary
stream. Nothing here talks to gRPC directly; ``pfs.py`` passes the streams in.
"""

from __future__ import annotations

import io
import os
from typing import Callable, Iterable, Iterator, Mapping, Protocol, Union

from google.protobuf import wrappers_pb2

from pachmagic._proto import pfs_pb2

__all__ = ["CHUNK_SIZE", "Source", "SupportsRead", "Progress", "iter_sources", "modify_file_requests", "ChunkReader"]

# Below gRPC's default 4 MiB message limit even with the path and framing added,
# so uploads also work against servers that keep the default.
CHUNK_SIZE = 4 * 1024 * 1024 - 64 * 1024

class SupportsRead(Protocol):
    """A binary or text file object (``open(...)``, ``io.BytesIO``, a socket file...)."""

    def read(self, size: int, /) -> bytes | str | None: ...


Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", SupportsRead]
"""What can be uploaded: bytes, text (UTF-8), a local path (``pathlib.Path``) or a file object."""

Buffer = Union[bytearray, memoryview]

Progress = Callable[[int, int], None]
"""Called as ``progress(bytes_done, files_done)``; for uploads, from gRPC's sending thread."""


def iter_sources(files: Mapping[str, Source] | Iterable[tuple[str, Source]]) -> Iterator[tuple[str, Source]]:
    """Yield ``(path, source)`` pairs from a mapping or an iterable of pairs."""
    if isinstance(files, Mapping):
        yield from files.items()
    else:
        for item in files:
            path, source = item
            yield path, source


def _chunks(source: Source, size: int) -> Iterator[bytes]:
    if isinstance(source, bytes) and len(source) <= size:
        yield source  # as is: no copy
    elif isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
    elif isinstance(source, str):
        yield from _chunks(source.encode("utf-8"), size)
    elif isinstance(source, os.PathLike):
        with open(os.fspath(source), "rb") as handle:
            yield from _read_chunks(handle, size)
    elif hasattr(source, "read"):
        yield from _read_chunks(source, size)
    else:
        raise TypeError(
            f"cannot upload a {type(source).__name__}: pass bytes, str, a pathlib.Path or a file object"
        )


def _read_chunks(handle: SupportsRead, size: int) -> Iterator[bytes]:
    while True:
        data = handle.read(size)
        if not data:
            return
        yield data.encode("utf-8") if isinstance(data, str) else bytes(data)


def modify_file_requests(
    commit: pfs_pb2.Commit,
    files: Mapping[str, Source] | Iterable[tuple[str, Source]],
    *,
    append: bool = False,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[pfs_pb2.ModifyFileRequest]:
    """Generate one ModifyFile stream that writes every file in ``files``.

    Parameters
    ----------
    commit:
        The commit (or branch, for a one-off commit) to write to.
    files:
        ``{path: source}`` or ``[(path, source), ...]``.
    append:
        Append to existing files instead of replacing them.
    progress:
        Optional ``progress(bytes_done, files_done)`` callback.
    chunk_size:
        The largest ``add_file`` payload.

    Yields
    ------
    ModifyFileRequest
        ``set_commit`` first, then the per-file messages.
    """
    yield pfs_pb2.ModifyFileRequest(set_commit=commit)
    bytes_done = files_done = 0
    for path, source in iter_sources(files):
        if not append:
            yield pfs_pb2.ModifyFileRequest(delete_file=pfs_pb2.DeleteFile(path=path))
        sent = False
        for chunk in _chunks(source, chunk_size):
            if not chunk:
                continue
            raw = wrappers_pb2.BytesValue(value=chunk)
            yield pfs_pb2.ModifyFileRequest(add_file=pfs_pb2.AddFile(path=path, raw=raw))
            sent = True
            bytes_done += len(chunk)
            if progress is not None:
                progress(bytes_done, files_done)
        if not sent:
            empty = pfs_pb2.AddFile(path=path, raw=wrappers_pb2.BytesValue())
            yield pfs_pb2.ModifyFileRequest(add_file=empty)
        files_done += 1
        if progress is not None:
            progress(bytes_done, files_done)


class ChunkReader(io.RawIOBase):
    """A read-only binary stream over an iterator of ``bytes`` chunks.

    The first chunk is fetched on construction, so a missing file fails when
    the file is opened rather than on the first read. Closing the reader closes
    the iterator (which cancels the underlying RPC).

    Parameters
    ----------
    chunks:
        The chunks, e.g. the values of a GetFile stream.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self._eof = False
        self._fill()

    def _fill(self) -> None:
        while not self._buffer and not self._eof:
            try:
                self._buffer = memoryview(next(self._chunks))
            except StopIteration:
                self._eof = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer) -> int:  # type: ignore[override]
        self._fill()
        if not self._buffer:
            return 0
        target = memoryview(buffer).cast("B")
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._chunks, "close", None)
            if callable(close):
                close()
        super().close()

