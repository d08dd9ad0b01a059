"""The pipeline engine's records as stored: pipelines, jobs, datums, log lines, and typed job updates.

Plain values, read from and written to the tables of ``pipeline_tables``. States are
the integers of Pachyderm's protos (``server/pipelines/states.py`` names them); the
storage layer gives them no meaning. No gRPC, no behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Iterator

from ..._proto import pps_pb2

__all__ = ["JobKey", "PipelineRecord", "JobRecord", "JobUpdate", "DatumRecord", "LogLine", "LogRecord"]


@dataclass(frozen=True)
class JobKey:
    """One job: a pipeline's job in one commit set (job ID = commit set ID)."""

    project: str
    pipeline: str
    id: str

    def __str__(self) -> str:
        return f"{self.project}/{self.pipeline}@{self.id}"


@dataclass
class PipelineRecord:
    project: str
    name: str
    version: int
    spec: pps_pb2.CreatePipelineRequest
    user_spec: str
    salt: str
    spec_commit: str
    created: float
    updated: float
    state: int
    stopped: bool
    reason: str
    last_job_state: int = 0


@dataclass
class JobRecord:
    project: str
    pipeline: str
    id: str
    version: int
    state: int
    reason: str
    created: float
    started: float | None
    finished: float | None
    restart: int
    processed: int
    skipped: int
    failed: int
    recovered: int
    total: int
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> JobKey:
        return JobKey(self.project, self.pipeline, self.id)


@dataclass(frozen=True)
class JobUpdate:
    """Columns of a job row to change; ``None`` leaves a column as it is."""

    state: int | None = None
    reason: str | None = None
    started: float | None = None
    finished: float | None = None
    restart: int | None = None
    processed: int | None = None
    skipped: int | None = None
    failed: int | None = None
    recovered: int | None = None
    total: int | None = None
    stats: dict[str, float] | None = None

    def columns(self) -> Iterator[tuple[str, Any]]:
        """(column, value) of every field that is set; the field names are the columns."""
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                yield f.name, value


@dataclass
class DatumRecord:
    project: str
    pipeline: str
    job_id: str
    datum_id: str
    state: int
    hash: str
    inputs: list[dict[str, Any]]
    outputs: list[str]
    stats: dict[str, float]
    reason: str = ""
    processed_job: str = ""


@dataclass(frozen=True)
class LogLine:
    """One log line to store: a job's own (``datum`` empty) or a datum's; ``user`` for the transform's output."""

    job: JobKey
    ts: float
    message: str
    datum: str = ""
    user: bool = False

    @property
    def master(self) -> bool:
        return not self.datum


@dataclass
class LogRecord:
    seq: int
    project: str
    pipeline: str
    job_id: str
    datum_id: str
    ts: float
    user: bool
    message: str
    master: bool = False
