"""Listings kept as columns until someone looks at a record: ``ColumnarList``.

A record costs ~5 µs to build (more on a loaded machine) and a few hundred
bytes to keep, so a listing of a million files built record by record takes
seconds and hundreds of MiB before ``to_frame()`` even starts; a
``ColumnarList`` keeps what the server sent as columns (``FileColumns``) and
hands them to ``frames.to_frame`` directly.

It is a ``RecordList`` (so a ``list``) in every respect: on first use of any
``list`` method the records are built, once, and stored as the list's items.
The rule is mechanical: every method ``list`` itself defines reads or writes
the items, so each is wrapped (generated below from ``vars(list)``, nothing
listed by hand) except the few that don't touch items (``__len__`` is
answered from the columns), and a ``ColumnarList`` argument is filled too.
``__radd__`` is added because ``[x] + listing`` would otherwise let ``list``
read the (still empty) items directly; copies and pickles are plain
``RecordList``s.

This module must not talk to gRPC: ``_ext.py`` fills the columns.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, TypeVar

from pachmagic._proto import pachmagic_ext_pb2, pfs_pb2
from pachmagic.client import _convert as cv
from pachmagic.client.records import FileInfo, Record, RecordList

__all__ = ["ColumnarList", "FileColumns"]

R = TypeVar("R", bound=Record)

class _FileTypes(dict[int, str]):
    def __missing__(self, key: int) -> str:
        return "unknown"


_FILE_TYPES = _FileTypes({pfs_pb2.FILE: "file", pfs_pb2.DIR: "dir"})
# The same, indexed by the enum's value (RESERVED = 0).
_TYPE_NAMES = tuple(_FILE_TYPES[value] for value in range(max(_FILE_TYPES) + 1))


def _arrow_text() -> tuple[Any, Any, Any] | None:
    """(pyarrow, pandas, dtype) where pandas' ``str`` columns are Arrow-backed, else None."""
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    dtype = pd.Series([], dtype=str).dtype
    if not isinstance(dtype, pd.StringDtype) or dtype.storage != "pyarrow":
        return None
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    return pa, pd, dtype


def _padded(column: Any, n: int, default: Any) -> Any:
    """A batch's column as long as its paths (a shorter one is filled with the default, as protobuf would)."""
    if len(column) == n:
        return column
    return [*list(column)[:n], *[default] * (n - len(column))]


class FileColumns:
    """The files of ``pachmagic_ext.FileInfoBatch`` messages, read column by column.

    The messages are kept as received; a column is read out of them (into
    Python objects) only when asked for, so ``to_frame`` pays for names,
    types and sizes, never for hashes or commit fields.
    """

    record_type = FileInfo

    def __init__(self, batches: Iterable[pachmagic_ext_pb2.FileInfoBatch]) -> None:
        self._batches = list(batches)
        self._len = sum(len(batch.path) for batch in self._batches)

    def __len__(self) -> int:
        return self._len

    def _column(self, read: Callable[[pachmagic_ext_pb2.FileInfoBatch], Iterable[Any]]) -> list[Any]:
        out: list[Any] = []
        for batch in self._batches:
            out.extend(read(batch))
        return out

    def frame_columns(self) -> dict[str, Any]:
        """The ``to_frame`` columns of a FileInfo listing (name, type, size), as arrays.

        Sizes and types are read as numbers straight from the messages; where
        pandas keeps text in Arrow (pandas 3 with pyarrow) the text columns are
        handed over already in that form, so no column goes through a list of
        a million Python objects twice.
        """
        import numpy as np

        def numbers(read: Callable[[pachmagic_ext_pb2.FileInfoBatch], Any], dtype: Any) -> Any:
            parts = [np.asarray(_padded(read(batch), len(batch.path), 0), dtype=dtype) for batch in self._batches]
            return np.concatenate(parts) if parts else np.zeros(0, dtype)

        sizes = numbers(lambda b: b.size_bytes, np.int64)
        codes = numbers(lambda b: b.file_type, np.int32)
        codes[(codes < 0) | (codes >= len(_TYPE_NAMES))] = 0  # "unknown"
        paths = self._column(lambda b: b.path)
        arrow = _arrow_text()
        if arrow is None:
            names = np.array(_TYPE_NAMES, dtype=object)
            return {"name": paths, "type": list(names[codes]), "size": sizes}
        pa, pd, dtype = arrow
        types = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(_TYPE_NAMES)).cast(pa.large_string())
        return {
            "name": pd.array(pa.array(paths, type=pa.large_string()), dtype=dtype),
            "type": pd.array(types, dtype=dtype),
            "size": sizes,
        }

    def records(self) -> list[FileInfo]:
        new = object.__new__
        records = []
        for batch in self._batches:
            commit = batch.commit
            repo = commit.repo if commit.repo.name else commit.branch.repo
            project, name, repo_type = repo.project.name or "default", repo.name, repo.type or "user"
            commit_id, branch, committed = commit.id or None, commit.branch.name or None, cv.ts(batch, "committed")
            n = len(batch.path)
            kinds, sizes = _padded(batch.file_type, n, 0), _padded(batch.size_bytes, n, 0)
            for path, kind, size, digest in zip(batch.path, kinds, sizes, _padded(batch.hash, n, b"")):
                record = new(FileInfo)
                # Frozen dataclass: set the fields in order, as its own __init__ would (much faster).
                record.__dict__.update(
                    project=project, repo=name, repo_type=repo_type, commit_id=commit_id, branch=branch,
                    path=path, type=_FILE_TYPES[kind], size_bytes=size, hash=digest.hex(), committed=committed,
                )
                records.append(record)
        return records


class ColumnarList(RecordList[R]):
    """A ``RecordList`` whose records are built from columns on first use.

    Parameters
    ----------
    columns:
        ``len()``, ``frame_columns()``, ``records()`` and ``record_type``
        (``FileColumns``).
    """

    def __init__(self, columns: Any) -> None:
        super().__init__(columns.record_type)
        self._columns: Any = columns

    def _fill(self) -> None:
        columns = self._columns
        if columns is not None:
            self._columns = None
            list.extend(self, columns.records())

    def __len__(self) -> int:
        if self._columns is not None:
            return len(self._columns)
        return list.__len__(self)

    def frame_columns(self) -> dict[str, list[Any]] | None:
        """The columns ``frames.to_frame`` reads, or None once the records exist."""
        return None if self._columns is None else dict(self._columns.frame_columns())

    def __radd__(self, other: Any) -> Any:
        self._fill()
        if isinstance(other, list):
            return list.__add__(other, list(self))
        return NotImplemented

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Copies and pickles are plain RecordLists of the records (never half columns, half items).
        self._fill()
        return (RecordList, (self.record_type, list(self)))

    __hash__ = None  # type: ignore[assignment]


# ``list``'s own attributes that never read or write the items.
_ITEMLESS = {"__new__", "__init__", "__getattribute__", "__len__", "__hash__", "__class_getitem__",
             "__doc__", "__sizeof__"}


def _filling(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: ColumnarList[Any], *args: Any, **kwargs: Any) -> Any:
        self._fill()
        for arg in args:  # ``a == b``, ``a + b``: list reads the other's items directly too
            if isinstance(arg, ColumnarList):
                arg._fill()
        return method(self, *args, **kwargs)

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


for _name, _method in vars(list).items():
    if _name not in _ITEMLESS:
        setattr(ColumnarList, _name, _filling(_method))
