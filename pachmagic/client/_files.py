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
import stat
from typing import Callable, Iterable, Iterator, Mapping, Protocol, Union

__all__ = ["CHUNK_SIZE", "Source", "SupportsRead", "Progress", "iter_sources", "sized_chunks", "ChunkReader"]

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


def sized_chunks(source: Source, size: int) -> tuple[int | None, Iterator[bytes]]:
    """How many bytes ``source`` holds where that is known before reading it, and its chunks.

    The chunks are at most ``size`` bytes each (bytes of at most ``size`` as they are).

    Known for bytes, text and a local path to a regular file (its size when its
    turn comes); a path is read up to that size and no further, and reading
    fewer raises ``OSError``: the chunks always add up to the size announced.
    File objects and other paths (pipes, devices) are read to their end: None.
    """
    if isinstance(source, bytes) and len(source) <= size:
        return len(source), iter((source,))  # as is: no copy
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        return len(view), (bytes(view[start : start + size]) for start in range(0, len(view), size))
    if isinstance(source, str):
        return sized_chunks(source.encode("utf-8"), size)
    if isinstance(source, os.PathLike):
        path = os.fspath(source)
        status = os.stat(path)
        if stat.S_ISREG(status.st_mode):
            return status.st_size, _sized_file_chunks(path, status.st_size, size)
        return None, _file_chunks(path, size)
    if hasattr(source, "read"):
        return None, _read_chunks(source, size)
    raise TypeError(
        f"cannot upload a {type(source).__name__}: pass bytes, str, a pathlib.Path or a file object"
    )


def _file_chunks(path: str, size: int) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from _read_chunks(handle, size)


def _sized_file_chunks(path: str, total: int, size: int) -> Iterator[bytes]:
    left = total
    with open(path, "rb", buffering=0) as handle:  # whole chunks: Python's buffer would only copy
        while left:
            data = handle.read(min(size, left))
            if not data:
                raise OSError(f"{path} shrank while it was being uploaded: {total - left} of its {total} bytes read")
            left -= len(data)
            yield data


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

