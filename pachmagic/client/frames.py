"""The one conversion from records to pandas DataFrames.

``to_frame(records)`` gives a frame with pachctl's columns (snake_case, 2.11+
headers) and real dtypes: timestamps ``datetime64[ns, UTC]``, sizes and
counters ``int64``, durations ``timedelta64[ns]``, text as pandas' string
dtype (``object`` on pandas 2, ``str`` on pandas 3). Empty listings give an
empty frame with the same columns and dtypes.

The result is a ``PachFrame``: a plain ``DataFrame`` subclass for computation
whose only difference is its notebook HTML, where size columns read ``1.2MiB``
and durations ``4m05s``. Which columns those are is kept in
``df.attrs["pachmagic"]``. Nothing else in pachmagic builds DataFrames from
records.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from pachmagic.client.records import (
    BranchInfo,
    CommitInfo,
    DatumInfo,
    FileDiff,
    FileInfo,
    JobInfo,
    LogMessage,
    PipelineInfo,
    ProjectInfo,
    Record,
    RepoInfo,
    human_duration,
    human_size,
)

__all__ = ["to_frame", "PachFrame", "columns_for", "human_size", "human_duration"]

_DTYPES: dict[str, Any] = {
    "str": str,
    "int": "int64",
    "time": "datetime64[ns, UTC]",
    "delta": "timedelta64[ns]",
    "bool": "bool",
}

Column = tuple[str, str, Callable[[Any], Any]]


def _repo_name(name: str, repo_type: str) -> str:
    return name if repo_type == "user" else f"{name}.{repo_type}"


def _size(info: FileInfo | None) -> int:
    return info.size_bytes if info is not None else 0


_COLUMNS: dict[type[Record], list[Column]] = {
    ProjectInfo: [
        ("project", "str", lambda r: r.name),
        ("created", "time", lambda r: r.created),
        ("description", "str", lambda r: r.description),
    ],
    RepoInfo: [
        ("project", "str", lambda r: r.project),
        ("name", "str", lambda r: _repo_name(r.name, r.type)),
        ("created", "time", lambda r: r.created),
        ("size", "int", lambda r: r.size_bytes),
        ("description", "str", lambda r: r.description),
    ],
    BranchInfo: [
        ("branch", "str", lambda r: r.name),
        ("head", "str", lambda r: r.head),
        ("trigger", "str", lambda r: r.trigger),
        ("created", "time", lambda r: r.created),
    ],
    CommitInfo: [
        ("project", "str", lambda r: r.project),
        ("repo", "str", lambda r: _repo_name(r.repo, r.repo_type)),
        ("branch", "str", lambda r: r.branch),
        ("commit", "str", lambda r: r.id),
        ("started", "time", lambda r: r.started),
        ("finished", "time", lambda r: r.finished),
        ("size", "int", lambda r: r.size_bytes),
        ("origin", "str", lambda r: r.origin),
        ("description", "str", lambda r: r.description),
        ("error", "str", lambda r: r.error),
    ],
    FileInfo: [
        ("name", "str", lambda r: r.path),
        ("type", "str", lambda r: r.type),
        ("size", "int", lambda r: r.size_bytes),
    ],
    FileDiff: [
        ("op", "str", lambda r: r.op),
        ("name", "str", lambda r: r.path),
        ("type", "str", lambda r: (r.new or r.old).type if (r.new or r.old) else None),
        ("new_size", "int", lambda r: _size(r.new)),
        ("old_size", "int", lambda r: _size(r.old)),
    ],
    PipelineInfo: [
        ("project", "str", lambda r: r.project),
        ("name", "str", lambda r: r.name),
        ("version", "int", lambda r: r.version),
        ("input", "str", lambda r: r.input),
        ("created", "time", lambda r: r.created),
        ("state", "str", lambda r: r.state),
        ("last_job", "str", lambda r: r.last_job_state),
        ("description", "str", lambda r: r.description),
    ],
    JobInfo: [
        ("project", "str", lambda r: r.project),
        ("pipeline", "str", lambda r: r.pipeline),
        ("id", "str", lambda r: r.id),
        ("started", "time", lambda r: r.started),
        ("finished", "time", lambda r: r.finished),
        ("duration", "delta", lambda r: r.duration),
        ("restart", "int", lambda r: r.restart),
        ("progress", "str", lambda r: r.progress),
        ("dl_bytes", "int", lambda r: r.download_bytes),
        ("ul_bytes", "int", lambda r: r.upload_bytes),
        ("state", "str", lambda r: r.state),
        ("reason", "str", lambda r: r.reason),
        ("processed", "int", lambda r: r.data_processed),
        ("skipped", "int", lambda r: r.data_skipped),
        ("failed", "int", lambda r: r.data_failed),
        ("recovered", "int", lambda r: r.data_recovered),
        ("total", "int", lambda r: r.data_total),
    ],
    DatumInfo: [
        ("id", "str", lambda r: r.id),
        ("files", "str", lambda r: ", ".join(str(f) for f in r.files)),
        ("state", "str", lambda r: r.state),
        ("time", "delta", lambda r: r.total_time),
    ],
    LogMessage: [
        ("ts", "time", lambda r: r.ts),
        ("pipeline", "str", lambda r: r.pipeline),
        ("job", "str", lambda r: r.job_id),
        ("datum", "str", lambda r: r.datum_id),
        ("worker", "str", lambda r: r.worker_id),
        ("user", "bool", lambda r: r.user),
        ("message", "str", lambda r: r.message),
    ],
}

_SIZE_COLUMNS = {"size", "new_size", "old_size", "dl_bytes", "ul_bytes"}


class PachFrame(pd.DataFrame):  # type: ignore[misc,unused-ignore]
    """A ``DataFrame`` that shows sizes, durations and times for humans.

    Computation is unchanged (sizes stay ``int64``, times ``datetime64[ns, UTC]``);
    only the views format the columns: both show timestamps to the second
    (``2026-12-06 10:38:31``, UTC); the notebook view (``_repr_html_``) also
    shows sizes listed in ``attrs["pachmagic"]`` as ``54.01KiB`` and durations
    as ``1.2s``, while the text view keeps them exact.
    """

    @property
    def _constructor(self) -> Callable[..., PachFrame]:
        return PachFrame

    def for_display(self, *, human: bool = True) -> pd.DataFrame:
        """A plain copy with the columns formatted as the views show them (``human``: sizes and durations too)."""
        meta = self.attrs.get("pachmagic") or {}
        plain = pd.DataFrame(self)
        shown: dict[str, Any] = {}
        for c in meta.get("sizes", ()) if human else ():
            if c in plain.columns:
                shown[c] = plain[c].map(lambda v: "-" if pd.isna(v) else human_size(v))
        for c in meta.get("durations", ()) if human else ():
            if c in plain.columns:
                shown[c] = plain[c].map(lambda v: "-" if pd.isna(v) else human_duration(v.to_pytimedelta()))
        for c in plain.columns:
            if c not in shown and isinstance(plain[c].dtype, pd.DatetimeTZDtype):
                shown[c] = plain[c].dt.strftime("%Y-%m-%d %H:%M:%S").fillna("-")
        return plain.assign(**shown) if shown else plain

    def _repr_html_(self) -> str | None:
        return str(self.for_display()._repr_html_())

    def __repr__(self) -> str:
        return str(self.for_display(human=False).__repr__())

def columns_for(kind: type[Record]) -> list[str]:
    """The column names ``to_frame`` produces for a record type."""
    return [name for name, _, _ in _spec(kind)]


def _spec(kind: type[Record]) -> list[Column]:
    for cls in kind.__mro__:
        if cls in _COLUMNS:
            return _COLUMNS[cls]
    raise TypeError(f"no DataFrame layout for {kind.__name__}")


def to_frame(records: Iterable[Record] | Record, *, kind: type[Record] | None = None) -> pd.DataFrame:
    """Convert records (one type) into a DataFrame with pachctl's columns.

    Parameters
    ----------
    records:
        A listing (``RecordList``), a list of records, or a single record.
    kind:
        The record type; needed only for a plain empty list (a ``RecordList``
        knows its type).

    Returns
    -------
    pandas.DataFrame
        A ``PachFrame`` with typed columns; empty listings keep columns and dtypes.

    Raises
    ------
    ValueError
        For an empty plain list without ``kind``.
    TypeError
        For mixed record types or a type without a layout.
    """
    # A columnar listing (client/_ext.py) hands over its columns: no records built.
    columnar = getattr(records, "frame_columns", None)
    columns = columnar() if callable(columnar) and kind in (None, records.record_type) else None  # type: ignore[union-attr]
    if columns is not None:
        record_type = records.record_type  # type: ignore[union-attr]
        spec = _spec(record_type)
        data = {name: pd.Series(columns[name], dtype=_DTYPES[k]) for name, k, _ in spec}
    else:
        items = [records] if isinstance(records, Record) else list(records)
        record_type = kind or getattr(records, "record_type", None) or (type(items[0]) if items else None)
        if record_type is None:
            raise ValueError("cannot tell the record type of an empty list: pass kind=RepoInfo (etc.)")
        spec = _spec(record_type)
        for item in items:
            if not isinstance(item, record_type):
                raise TypeError(f"to_frame got a {type(item).__name__} among {record_type.__name__} records")
        data = {name: pd.Series([get(r) for r in items], dtype=_DTYPES[k]) for name, k, get in spec}
    frame = PachFrame(data, columns=[name for name, _, _ in spec])
    frame.attrs["pachmagic"] = {
        "kind": record_type.__name__,
        "sizes": [name for name, k, _ in spec if name in _SIZE_COLUMNS],
        "durations": [name for name, k, _ in spec if k == "delta"],
    }
    return frame
