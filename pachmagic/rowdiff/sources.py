"""The two sides of a row diff, read in chunks: DataFrames, local files, file objects, PFS files.

A ``Side`` streams its table as ``(shown, canonical)`` chunk pairs: ``shown``
has the values in their natural types (for the result), ``canonical`` the text
each cell is compared and hashed by. The canonical text is the same whatever the
chunking or the dtypes pandas would guess per chunk: CSV and TSV cells as
written, JSON values as JSON, Parquet values as Arrow prints them, DataFrame
cells as ``str``. Each call to ``chunks()`` reads the source again from the
start (a diff reads each side twice); nothing is held between calls.

This module only reads; PFS files are read through a client (so a data lock
records them), pinned to one commit for both passes.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

if TYPE_CHECKING:
    from pachmagic.client import Client

__all__ = ["FORMATS", "RowDiffError", "Side", "Chunk", "format_of", "side_of"]

FORMATS = ("csv", "tsv", "parquet", "jsonl")
_SUFFIXES = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}

Chunk = tuple[pd.DataFrame, pd.DataFrame]
"""``(shown, canonical)``: the same rows, in natural types and as compared text."""


class RowDiffError(ValueError):
    """A diff that cannot be made: an unknown format, a missing or non-unique key, a malformed file."""


def format_of(name: str) -> str | None:
    """The format a file name implies (``.csv``, ``.tsv``, ``.parquet``, ``.jsonl``...; ``.gz`` is looked through)."""
    suffixes = [s.lower() for s in Path(name).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return _SUFFIXES.get(suffixes[-1]) if suffixes else None


@dataclass
class Side:
    """One side of the diff.

    Attributes
    ----------
    label:
        How the summary names it.
    fmt:
        ``csv``, ``tsv``, ``parquet``, ``jsonl``, or ``frame`` for a DataFrame.
    """

    label: str
    fmt: str
    rows: int
    opener: Callable[[], IO[bytes]] | None = None
    frame: pd.DataFrame | None = None

    def chunks(self) -> Iterator[Chunk]:
        """The table from the start, ``rows`` rows at a time (at least one chunk, maybe empty)."""
        if self.frame is not None:
            for start in range(0, max(len(self.frame), 1), self.rows):
                part = self.frame.iloc[start : start + self.rows].reset_index(drop=True)
                yield part, part.astype(str)
            return
        assert self.opener is not None
        with self.opener() as raw:
            handle: IO[bytes] = raw
            if _is_gzip(raw):
                handle = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
            reader = _READERS[self.fmt]
            yielded = False
            for chunk in reader(handle, self.fmt, self.rows):
                yielded = True
                yield chunk
            if not yielded:
                empty = pd.DataFrame()
                yield empty, empty


def _is_gzip(handle: IO[bytes]) -> bool:
    peek = getattr(handle, "peek", None)
    if callable(peek):
        return bool(peek(2)[:2] == b"\x1f\x8b")
    # PFS files (fsspec's buffered files) have no peek: look, then go back.
    start = handle.tell()
    head = handle.read(2)
    handle.seek(start)
    return bool(head == b"\x1f\x8b")


def _text_chunks(handle: IO[bytes], fmt: str, rows: int) -> Iterator[Chunk]:
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    try:
        # Strings as written: a value is the same only if it is written the same.
        for chunk in pd.read_csv(text, sep="\t" if fmt == "tsv" else ",", dtype=str, keep_default_na=False,
                                 chunksize=rows):
            yield chunk, chunk
    except pd.errors.EmptyDataError:
        return
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise RowDiffError(f"cannot read as {fmt.upper()}: {' '.join(str(err).split())}") from None


def _jsonl_chunks(handle: IO[bytes], fmt: str, rows: int) -> Iterator[Chunk]:
    batch: list[dict[str, Any]] = []
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as err:
            raise RowDiffError(f"line {number} is not JSON: {err}") from None
        if not isinstance(item, dict):
            raise RowDiffError(f"line {number} is not a JSON object (JSON lines hold one object per line)")
        batch.append(item)
        if len(batch) >= rows:
            yield _json_chunk(batch)
            batch = []
    if batch:
        yield _json_chunk(batch)


def _json_chunk(batch: list[dict[str, Any]]) -> Chunk:
    shown = pd.DataFrame.from_records(batch)
    columns = list(shown.columns)
    # A missing key ("") and an explicit null ("null") are different rows.
    canonical = pd.DataFrame(
        [[json.dumps(item[c], sort_keys=True) if c in item else "" for c in columns] for item in batch],
        columns=columns,
    )
    return shown, canonical


def _parquet_chunks(handle: IO[bytes], fmt: str, rows: int) -> Iterator[Chunk]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # pragma: no cover - pyarrow comes with the test and tutorial extras
        raise RowDiffError("reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        parquet = pq.ParquetFile(handle)
    except Exception as err:  # pyarrow has its own error types for damaged files
        raise RowDiffError(f"not a Parquet file: {err}") from None
    for batch in parquet.iter_batches(batch_size=rows):
        # Arrow's text of each value: the same whether or not a batch has nulls (pandas would
        # turn an int column with a null into floats in that batch only).
        yield batch.to_pandas(), batch.to_pandas(types_mapper=pd.ArrowDtype).astype(str)


_READERS: dict[str, Callable[[IO[bytes], str, int], Iterator[Chunk]]] = {
    "csv": _text_chunks, "tsv": _text_chunks, "parquet": _parquet_chunks, "jsonl": _jsonl_chunks,
}


class _Borrowed(io.RawIOBase):
    """The caller's file object, from where it stood, read without ever closing it."""

    def __init__(self, inner: Any, start: int) -> None:
        super().__init__()
        self._inner = inner
        inner.seek(start)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._inner.seek(offset, whence))

    def tell(self) -> int:
        return int(self._inner.tell())


def _check_format(fmt: str | None, what: str) -> str:
    if fmt is None:
        raise RowDiffError(f"cannot tell the format of {what}: give one of {', '.join(FORMATS)}")
    if fmt not in FORMATS:
        raise RowDiffError(f"unsupported format {fmt!r} for {what}: expected one of {', '.join(FORMATS)}")
    return fmt


def _pfs_opener(text: str, client: Client | None) -> Callable[[], IO[bytes]]:
    from pachmagic.fs import PfsFileSystem, parse_url

    fs = PfsFileSystem(client=client) if client is not None else PfsFileSystem()
    loc = parse_url(text)
    if loc is None:
        raise RowDiffError(f"{text!r} names no file: expected repo@commit:/path")
    info = fs.client.pfs.inspect_file(loc.file)  # NotFound names the file
    if info.type != "file":
        raise RowDiffError(f"{text} is a directory, not a table")
    # Both passes read the commit found now, even if the branch moves in between.
    pinned = f"{loc.prefix.partition('@')[0]}@{info.commit_id}{loc.path}"
    return lambda: fs.open(pinned, "rb")  # type: ignore[no-any-return,unused-ignore]


def side_of(value: Any, label: str | None, fmt: str | None, client: Client | None, rows: int) -> Side:
    """A ``Side`` for a DataFrame, a path, a PFS file (``repo@commit:/path``, ``pfs://...``) or a file object."""
    if isinstance(value, pd.DataFrame):
        return Side(label or "DataFrame", "frame", rows, frame=value.reset_index(drop=True))
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        in_pfs = isinstance(value, str) and ("@" in text or text.startswith("pfs://"))
        name = text.split(":", 1)[1] if in_pfs and ":" in text.removeprefix("pfs://") else text
        kind = _check_format(fmt or format_of(name), repr(text))
        if in_pfs:
            return Side(label or text, kind, rows, opener=_pfs_opener(text, client))
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {text}")
        return Side(label or text, kind, rows, opener=lambda: open(path, "rb"))
    if hasattr(value, "read") and hasattr(value, "seek"):
        kind = _check_format(fmt, "a file object")
        start = int(value.tell())
        return Side(label or "file", kind, rows, opener=lambda: io.BufferedReader(_Borrowed(value, start)))
    raise TypeError(f"cannot diff a {type(value).__name__}: give a DataFrame, a path, a PFS file or a seekable file")
