"""Typed, immutable records of Pachyderm state, as the client returns them.

Each record is a frozen dataclass built from a protobuf message by
``_convert.py``; it holds plain Python values (``datetime`` in UTC, ``int``
sizes, pachctl's state words) and offers refs to what it describes
(``RepoInfo.repo``, ``CommitInfo.commit``...). Records render compactly with
``repr`` and as a small table in notebooks (``_repr_html_``). Lists of records
come back as a ``RecordList``, which knows its record type so that even an
empty listing converts to a frame with the right columns (``frames.py``).

This module must not import grpc or the generated protos.

Over 400 lines because it is a catalogue: one small frozen dataclass per Pachyderm record,
side by side so their columns and renderings stay consistent.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Iterable, TypeVar

from pachmagic.client.refs import Branch, Commit, File, Job, Pipeline, Repo

__all__ = [
    "Record",
    "RecordList",
    "ProjectInfo",
    "RepoInfo",
    "BranchInfo",
    "CommitInfo",
    "FileInfo",
    "FileDiff",
    "PipelineInfo",
    "JobInfo",
    "DatumInfo",
    "LogMessage",
    "Version",
    "ClusterInfo",
    "human_size",
    "human_duration",
]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_size(n: float) -> str:
    """Format a byte count as pachctl does (``54.01KiB``: binary units, 4 significant digits)."""
    value = float(n)
    unit = 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.4g}{_UNITS[unit]}"


def human_duration(d: timedelta) -> str:
    """Format a duration briefly: ``850ms``, ``12.3s``, ``4m05s``, ``2h03m``."""
    seconds = d.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _is_empty(value: object) -> bool:
    return value is None or value == "" or value == () or value == {}


def _display(value: object, *, size: bool) -> str:
    if size and isinstance(value, int):
        return f"{human_size(value)} ({value} bytes)" if value >= 1024 else f"{value} B"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return human_duration(value)
    if isinstance(value, dict):
        return json.dumps(value, indent=2, sort_keys=True)
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


class Record:
    """Base of all records: a compact ``repr`` and an HTML table for notebooks."""

    _size_fields: ClassVar[tuple[str, ...]] = ()

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if _is_empty(value) or f.name == "spec" or f.metadata.get("hidden"):
                continue
            shown = value.isoformat() if isinstance(value, datetime) else repr(value)
            parts.append(f"{f.name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def _repr_html_(self) -> str:
        rows = []
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if _is_empty(value) or f.metadata.get("hidden"):
                continue
            text = html.escape(_display(value, size=f.name in self._size_fields))
            cell = f"<pre>{text}</pre>" if isinstance(value, dict) else text
            rows.append(f"<tr><th style='text-align:left'>{f.name}</th><td style='text-align:left'>{cell}</td></tr>")
        return f"<table><caption>{type(self).__name__}</caption>{''.join(rows)}</table>"


R = TypeVar("R", bound=Record)


class RecordList(list[R], Generic[R]):
    """A list of records that remembers its record type (for empty listings)."""

    def __init__(self, record_type: type[R], items: Iterable[R] = ()) -> None:
        super().__init__(items)
        self.record_type = record_type

    def to_frame(self) -> Any:
        """Return these records as a pandas DataFrame (see ``frames.to_frame``)."""
        from pachmagic.client.frames import to_frame  # frames imports this module

        return to_frame(self, kind=self.record_type)

    def _repr_html_(self) -> str:
        html_text: str = self.to_frame()._repr_html_()
        return html_text


@dataclass(frozen=True, repr=False, kw_only=True)
class ProjectInfo(Record):
    """A project (``list project``)."""

    name: str
    description: str = ""
    created: datetime | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class RepoInfo(Record):
    """A repo (``inspect repo``); ``size_bytes`` is the size of its master head."""

    _size_fields = ("size_bytes",)
    project: str
    name: str
    type: str = "user"
    created: datetime | None = None
    size_bytes: int = 0
    description: str = ""
    branches: tuple[str, ...] = ()

    @property
    def repo(self) -> Repo:
        """The ref of this repo."""
        return Repo(self.name, self.type, self.project)


@dataclass(frozen=True, repr=False, kw_only=True)
class BranchInfo(Record):
    """A branch; ``head`` is its head commit's id, provenance entries are branch URIs."""

    project: str
    repo: str
    repo_type: str = "user"
    name: str
    head: str | None = None
    direct_provenance: tuple[str, ...] = ()
    provenance: tuple[str, ...] = ()
    subvenance: tuple[str, ...] = ()
    trigger: str | None = None
    created: datetime | None = None

    @property
    def branch(self) -> Branch:
        """The ref of this branch."""
        return Branch(Repo(self.repo, self.repo_type, self.project), self.name)

    @property
    def head_commit(self) -> Commit | None:
        """The ref of the head commit (branch and id), or None for an empty branch."""
        if self.head is None:
            return None
        return Commit(Repo(self.repo, self.repo_type, self.project), self.name, self.head)


@dataclass(frozen=True, repr=False, kw_only=True)
class CommitInfo(Record):
    """A commit; ``origin`` is ``USER``/``AUTO``/``FSCK``, times are UTC or None."""

    _size_fields = ("size_bytes",)
    project: str
    repo: str
    repo_type: str = "user"
    id: str
    branch: str | None = None
    parent: str | None = None
    children: tuple[str, ...] = ()
    origin: str = "USER"
    description: str = ""
    started: datetime | None = None
    finishing: datetime | None = None
    finished: datetime | None = None
    size_bytes: int = 0
    error: str = ""
    direct_provenance: tuple[str, ...] = ()

    @property
    def commit(self) -> Commit:
        """The ref of this commit (branch and id)."""
        return Commit(Repo(self.repo, self.repo_type, self.project), self.branch, self.id)

    @property
    def state(self) -> str:
        """``open``, ``finishing`` or ``finished``."""
        if self.finished is not None:
            return "finished"
        return "finishing" if self.finishing is not None else "open"


@dataclass(frozen=True, repr=False, kw_only=True)
class FileInfo(Record):
    """A file or directory (directories end with ``/``); ``hash`` is hex."""

    _size_fields = ("size_bytes",)
    project: str
    repo: str
    repo_type: str = "user"
    commit_id: str | None = None
    branch: str | None = None
    path: str
    type: str = "file"
    size_bytes: int = 0
    hash: str = ""
    committed: datetime | None = None

    @property
    def file(self) -> File:
        """The ref of this file (in its commit)."""
        repo = Repo(self.repo, self.repo_type, self.project)
        return File(Commit(repo, self.branch, self.commit_id), self.path)


@dataclass(frozen=True, repr=False, kw_only=True)
class FileDiff(Record):
    """One entry of ``diff file``: ``new`` only (added), ``old`` only (deleted) or both."""

    new: FileInfo | None = None
    old: FileInfo | None = None

    @property
    def op(self) -> str:
        """``+`` (added), ``-`` (deleted) or ``~`` (changed), as pachctl marks them."""
        if self.old is None:
            return "+"
        return "-" if self.new is None else "~"

    @property
    def path(self) -> str:
        """The path of the entry."""
        info = self.new if self.new is not None else self.old
        return info.path if info is not None else ""


@dataclass(frozen=True, repr=False, kw_only=True)
class PipelineInfo(Record):
    """A pipeline; ``state``/``last_job_state`` are pachctl words, ``input`` its shorthand."""

    project: str
    name: str
    version: int = 0
    state: str = "unknown"
    stopped: bool = False
    reason: str = ""
    last_job_state: str = "unknown"
    type: str = "transform"
    input: str = ""
    created: datetime | None = None
    description: str = ""
    parallelism: int = 0
    output_branch: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    # Changes when the pipeline is updated with reprocess: no datum is skipped across it. Not displayed.
    salt: str = field(default="", metadata={"hidden": True})

    @property
    def pipeline(self) -> Pipeline:
        """The ref of this pipeline."""
        return Pipeline(self.name, self.project)


@dataclass(frozen=True, repr=False, kw_only=True)
class JobInfo(Record):
    """A job of a pipeline; ``state`` is a pachctl word (``success``, ``failure``...)."""

    _size_fields = ("download_bytes", "upload_bytes")
    project: str
    pipeline: str
    id: str
    pipeline_version: int = 0
    state: str = "unknown"
    reason: str = ""
    created: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None
    restart: int = 0
    data_processed: int = 0
    data_skipped: int = 0
    data_failed: int = 0
    data_recovered: int = 0
    data_total: int = 0
    download_bytes: int = 0
    upload_bytes: int = 0
    download_time: timedelta | None = None
    process_time: timedelta | None = None
    upload_time: timedelta | None = None
    output_commit: Commit | None = None
    salt: str = field(default="", metadata={"hidden": True})  # the pipeline's, when the job was made (details=True)

    TERMINAL: ClassVar[frozenset[str]] = frozenset({"success", "failure", "killed", "unrunnable"})

    @property
    def job(self) -> Job:
        """The ref of this job."""
        return Job(Pipeline(self.pipeline, self.project), self.id)

    @property
    def duration(self) -> timedelta | None:
        """``finished - started``, or None while either is unknown."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started

    @property
    def progress(self) -> str:
        """pachctl's PROGRESS cell: ``processed + skipped [+ recovered] / total``."""
        if self.data_recovered:
            return f"{self.data_processed} + {self.data_skipped} + {self.data_recovered} / {self.data_total}"
        return f"{self.data_processed} + {self.data_skipped} / {self.data_total}"

    @property
    def done(self) -> bool:
        """True when the job reached a terminal state."""
        return self.state in self.TERMINAL


@dataclass(frozen=True, repr=False, kw_only=True)
class DatumInfo(Record):
    """A datum of a job; ``files`` are the input files it was built from, ``hashes`` their content hashes (hex)."""

    _size_fields = ("download_bytes", "upload_bytes")
    project: str
    pipeline: str
    job_id: str
    id: str
    state: str = "unknown"
    files: tuple[File, ...] = ()
    hashes: tuple[str, ...] = field(default=(), metadata={"hidden": True})
    download_bytes: int = 0
    upload_bytes: int = 0
    download_time: timedelta | None = None
    process_time: timedelta | None = None
    upload_time: timedelta | None = None
    image_id: str = ""

    @property
    def total_time(self) -> timedelta | None:
        """Download + process + upload time (pachctl's TIME), or None without stats."""
        parts = [t for t in (self.download_time, self.process_time, self.upload_time) if t is not None]
        return sum(parts, timedelta()) if parts else None


@dataclass(frozen=True, repr=False, kw_only=True)
class LogMessage(Record):
    """One log line from ``get_logs``; ``user`` is True for lines written by user code."""

    project: str = ""
    pipeline: str = ""
    job_id: str = ""
    worker_id: str = ""
    datum_id: str = ""
    master: bool = False
    user: bool = False
    ts: datetime | None = None
    message: str = ""
    data: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, repr=False, kw_only=True)
class Version(Record):
    """The server's version; ``str(v)`` is ``2.12.2`` (plus ``additional``, e.g. ``-rc1``)."""

    major: int
    minor: int
    micro: int
    additional: str = ""
    git_commit: str = ""
    git_tree_modified: str = ""
    build_date: str = ""
    go_version: str = ""
    platform: str = ""

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.micro}{self.additional}"

    @property
    def as_tuple(self) -> tuple[int, int, int]:
        """``(major, minor, micro)`` for comparisons."""
        return (self.major, self.minor, self.micro)


@dataclass(frozen=True, repr=False, kw_only=True)
class ClusterInfo(Record):
    """What ``admin_v2.InspectCluster`` says about the cluster."""

    id: str = ""
    deployment_id: str = ""
    warnings_ok: bool = False
    warnings: tuple[str, ...] = ()
    proxy_host: str = ""
    proxy_tls: bool = False
    paused: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
