"""What uploads read and downloads hand back: sources, chunks, ``ChunkReader``.

An upload source (bytes, text, a local path, a file object) is read chunk by
chunk (at most ``CHUNK_SIZE`` bytes) while gRPC sends, so memory stays flat
whatever the file size; ``_encode.py`` turns the chunks into ModifyFile
requests. Downloads wrap a stream of chunks as a raw binary stream.

Nothing here builds messages or talks to gRPC.
"""

from __future__ import annotations

import io
import os
from typing import Callable, Iterable, Iterator, Mapping, Protocol, Union

__all__ = ["CHUNK_SIZE", "Source", "SupportsRead", "Progress", "iter_sources", "source_chunks", "ChunkReader"]

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


def source_chunks(source: Source, size: int) -> Iterator[bytes]:
    """The bytes of an upload source, at most ``size`` at a time (bytes of at most ``size`` as they are)."""
    if isinstance(source, bytes) and len(source) <= size:
        yield source  # as is: no copy
    elif isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
    elif isinstance(source, str):
        yield from source_chunks(source.encode("utf-8"), size)
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

    def __init__(self, chunks: Iterator[bytes | memoryview]) -> None:
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

