"""The engine's read side: pipelines, jobs, datums and logs as the PPS API asks for them.

Lookups raise pachd's NOT_FOUND messages; listings filter and page as pachd does
(``ListJob``'s history, input commits and pagination marker, ``ListDatum``'s state
filter and marker, ``GetLogs``' data filters), so the servicer only converts
records to messages. A running job's datums and log filters come from its runner;
a finished job's from the tables. Reads only: writes are the ledger's. No gRPC here.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from ...errors import NotFound
from ...pachyderm.datums import Datum
from ...pachyderm.inputs import Input
from ..storage import CommitRef, RepoKey, Storage
from ..storage.model import DEFAULT_PROJECT, CommitKey
from ..storage.pipeline_records import DatumRecord, JobKey, JobRecord, LogRecord, PipelineRecord
from .ledger import Ledger
from .planner import dry_run
from .scheduler import Scheduler
from .states import TERMINAL, DatumState

__all__ = ["Queries", "LogCursor", "CommitTimes", "input_commit_key", "matches_filters", "reported_state", "page",
           "since_window"]

T = TypeVar("T")

# When each input commit of some datums was committed (its finishing time), by
# (project, repo, repo type, commit id): pachd's datum FileInfos carry it.
CommitTimes = Mapping[tuple[str, str, str, str], "float | None"]  # noqa: UP037 - an alias is evaluated


def input_commit_key(item: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """The ``CommitTimes`` key of one datum input (a stored record's item or a planned one's fields)."""
    return (item.get("project") or DEFAULT_PROJECT, item["repo"], item.get("repo_type") or "user", item["commit"])


def not_found(project: str, name: str) -> NotFound:
    return NotFound(f'pipeline "{project}/{name}" not found')


def reported_state(datum: DatumRecord) -> int:
    """A datum's state as pachd's ListDatum reports it: one processed by an earlier job is SKIPPED in this one."""
    if datum.processed_job and datum.processed_job != datum.job_id:
        return DatumState.SKIPPED
    return datum.state


def matches_filters(filters: Sequence[str], datum_id: str, inputs: list[dict[str, Any]] | None) -> bool:
    """pachd's ``MatchDatum``: every filter names an input path or hash (hex or base64) — or the datum."""
    for f in filters:
        if f == datum_id:
            continue
        if not inputs or not any(
            f == i["path"] or f == i["hash"] or f == base64.b64encode(bytes.fromhex(i["hash"])).decode()
            for i in inputs
        ):
            return False
    return True


def page(items: list[T], key: Callable[[T], Any], *, marker: Any = None, reverse: bool = False,
         number: int = 0) -> list[T]:
    """pachd's paging of a sorted listing: after (before, if ``reverse``) ``marker``, reversed, first ``number``."""
    if marker is not None and marker != "":
        items = [i for i in items if (key(i) < marker if reverse else key(i) > marker)]
    if reverse:
        items = items[::-1]
    return items[:number] if number else items


def in_listing_order(jobs: list[JobRecord], *, oldest_first: bool = False) -> list[JobRecord]:
    """Jobs as pachd lists them: by job set, newest first, and the jobs of one set by key.

    pachd creates a set's jobs in one database transaction, so they share their
    row's creation time and its listing falls back on the row key
    ``<project>/<pipeline>@<id>``: ascending, whichever way the sets are ordered.
    """
    when: dict[str, float] = {}
    for j in jobs:
        when[j.id] = min(j.created, when.get(j.id, j.created))
    sign = 1 if oldest_first else -1
    return sorted(jobs, key=lambda j: (sign * when[j.id], f"{j.project}/{j.pipeline}@{j.id}"))


class Queries:
    """The read API of an ``Engine`` (which provides the attributes below)."""

    storage: Storage
    ledger: Ledger
    scheduler: Scheduler

    # --- pipelines ---------------------------------------------------------------

    def inspect_pipeline(self, project: str, name: str, version: int | None = None) -> PipelineRecord:
        record = self.storage.pps.get(project, name, version)
        if record is None:
            raise not_found(project, name)
        return record

    def pipeline_history(self, project: str, name: str) -> list[PipelineRecord]:
        """Every version, newest first."""
        records = self.storage.pps.history(project, name)
        if not records:
            raise not_found(project, name)
        return records

    def list_pipelines(self, projects: Iterable[str] = ()) -> list[PipelineRecord]:
        return self.storage.pps.pipelines(projects)

    def job_pipeline(self, job: JobRecord, *, own_version: bool) -> PipelineRecord | None:
        """The pipeline of a job: the version that made it (``own_version``), else the current one."""
        record = self.storage.pps.get(job.project, job.pipeline, job.version) if own_version else None
        return record or self.storage.pps.get(job.project, job.pipeline)

    # --- jobs --------------------------------------------------------------------

    def inspect_job(self, project: str, name: str, job_id: str) -> JobRecord:
        self.ledger.sync()  # a job exists as soon as its output commit does
        job = self.storage.pps.job(JobKey(project, name, job_id))
        if job is None:  # pachd's words, whether the pipeline or only the job is missing
            raise NotFound(f"jobs {project}/{name}@{job_id} not found")
        return job

    def list_jobs(
        self, *, project: str | None = None, pipeline: str | None = None, job_id: str | None = None
    ) -> list[JobRecord]:
        """Jobs, newest job set first (see ``in_listing_order``)."""
        self.ledger.sync()
        return in_listing_order(self.storage.pps.jobs(project=project, pipeline=pipeline, job_id=job_id))

    def find_jobs(
        self, *, project: str | None = None, pipeline: str | None = None, projects: Iterable[str] = (),
        history: int = 0, input_commits: Iterable[CommitRef] = (), marker: float | None = None,
        reverse: bool = False, number: int = 0,
    ) -> list[JobRecord]:
        """ListJob: jobs newest first, filtered and paged as pachd does (``history`` as pachctl's ``--history``)."""
        jobs = self.list_jobs(project=project, pipeline=pipeline)
        wanted_projects = set(projects)
        if wanted_projects:
            jobs = [j for j in jobs if j.project in wanted_projects]
        if pipeline is not None and history >= 0 and project is not None:
            # 0 (the default) = the current version's jobs only.
            current = self.inspect_pipeline(project, pipeline).version
            jobs = [j for j in jobs if j.version >= current - history]
        elif history >= 0:
            # Without a pipeline, pachd applies the same to every pipeline (ListPipelineInfo's versions).
            versions: dict[tuple[str, str], int | None] = {}
            for j in jobs:
                if (j.project, j.pipeline) not in versions:
                    record = self.storage.pps.get(j.project, j.pipeline)
                    versions[(j.project, j.pipeline)] = record.version if record is not None else None
            jobs = [j for j in jobs if (v := versions[(j.project, j.pipeline)]) is not None and j.version >= v - history]
        refs = list(input_commits)
        if refs:
            wanted = {self.storage.inspect_commit(r).key for r in refs}
            jobs = [j for j in jobs if wanted & self._provenance(j)]
        if marker is not None:
            jobs = [j for j in jobs if (j.created > marker if reverse else j.created < marker)]
        if reverse:  # oldest set first; within a set still by key, as pachd's "order by createdat asc, key asc"
            jobs = in_listing_order(jobs, oldest_first=True)
        return jobs[:number] if number else jobs

    def _provenance(self, job: JobRecord) -> set[CommitKey]:
        """Every commit a job's output commit descends from (its inputs, and theirs)."""
        seen: set[CommitKey] = set()
        try:
            frontier = [self.storage.inspect_commit(CommitRef(RepoKey(job.project, job.pipeline), id=job.id))]
        except NotFound:
            return seen
        while frontier:
            info = frontier.pop()
            for key in info.direct_provenance:
                if key not in seen:
                    seen.add(key)
                    frontier.append(self.storage.inspect_commit(CommitRef(key.repo, id=key.id)))
        return seen

    def job_set(self, job_id: str) -> list[JobRecord]:
        """A job set's jobs in its commit set's order (upstream first), as pachd walks them."""
        jobs = self.list_jobs(job_id=job_id)
        if not jobs:
            return jobs  # as pachd: an unknown set has no jobs, no error
        try:
            order = {(c.key.repo.project, c.key.repo.name): i for i, c in enumerate(self.storage.commit_set(job_id))
                     if c.key.repo.type == "user"}
        except NotFound:
            return jobs
        return sorted(jobs, key=lambda j: order.get((j.project, j.pipeline), len(order)))

    # --- datums ------------------------------------------------------------------

    def datums(self, project: str, name: str, job_id: str) -> list[DatumRecord]:
        """A job's datums, sorted by ID (a running job's come from its runner)."""
        job = self.inspect_job(project, name, job_id)
        if job.state not in TERMINAL:
            runner = self.scheduler.running(job.key)
            if runner is not None:
                records = runner.datum_records()
                # The runner may have ended in between: then the table has them.
                if records or self.inspect_job(project, name, job_id).state not in TERMINAL:
                    return sorted(records, key=lambda d: d.datum_id)
        return self.storage.pps.datums(job.key)

    def list_datums(
        self, project: str, name: str, job_id: str, *, states: Iterable[int] = (), marker: str = "",
        reverse: bool = False, number: int = 0,
    ) -> list[DatumRecord]:
        """ListDatum of a job: by ID, only ``states`` (as reported) if given, paged."""
        records = self.datums(project, name, job_id)
        wanted = set(states)
        if wanted:
            records = [d for d in records if reported_state(d) in wanted]
        return page(records, key=lambda d: d.datum_id, marker=marker, reverse=reverse, number=number)

    def dry_run_datums(self, node: Input, project: str, *, marker: str = "", reverse: bool = False,
                       number: int = 0) -> list[Datum]:
        """ListDatum/CreateDatum of an input spec: its datums over the current heads, paged."""
        return page(dry_run(self.storage, node, project), key=lambda d: d.id, marker=marker, reverse=reverse,
                    number=number)

    def datum_inputs(self, job: JobKey, datum_id: str) -> list[dict[str, Any]] | None:
        """A datum's inputs (for data filters): from its runner while the job runs, else from the table."""
        runner = self.scheduler.running(job)
        found = runner.datum_inputs.get(datum_id) if runner is not None else None
        if found is None:
            rows = self.storage.pps.datums(job, datum_id)
            found = rows[0].inputs if rows else None
        return found

    def commit_times(self, inputs: Iterable[Mapping[str, Any]]) -> CommitTimes:
        """When each input commit of these datum inputs was committed (None if gone or open)."""
        times: dict[tuple[str, str, str, str], float | None] = {}
        for item in inputs:
            key = input_commit_key(item)
            if key not in times:
                project, repo, repo_type, commit = key
                try:
                    times[key] = self.storage.resolve(CommitRef(RepoKey(project, repo, repo_type), id=commit)).finishing
                except NotFound:
                    times[key] = None
        return times

    def datums_matching(self, project: str, name: str, job_id: str, filters: Sequence[str]) -> set[str]:
        """The IDs of a job's datums that match every data filter (RestartDatum)."""
        job = JobKey(project, name, job_id)
        runner = self.scheduler.running(job)
        candidates = dict(runner.datum_inputs) if runner is not None else {
            d.datum_id: d.inputs for d in self.datums(project, name, job_id)
        }
        return {d for d, inputs in candidates.items() if matches_filters(filters, d, inputs)}

    # --- logs --------------------------------------------------------------------

    def logs(
        self, *, project: str, pipeline: str | None = None, job_id: str | None = None, datum_id: str | None = None,
        master: bool | None = None, since: float | None = None, filters: Sequence[str] = (),
    ) -> LogCursor:
        """GetLogs: a cursor over matching log lines, oldest first (``fetch`` again for new ones)."""
        if pipeline is not None:
            self.inspect_pipeline(project, pipeline)
            if job_id is not None:
                self.inspect_job(project, pipeline, job_id)
        return LogCursor(self, project, pipeline, job_id, datum_id, master, since, list(filters))


@dataclass
class LogCursor:
    """Log lines of one GetLogs request: ``fetch`` returns those not returned yet, with their datum's inputs."""

    queries: Queries
    project: str
    pipeline: str | None
    job_id: str | None
    datum_id: str | None
    master: bool | None
    since: float | None
    filters: list[str]
    _last: int = 0
    _inputs: dict[tuple[str, str, str], list[dict[str, Any]] | None] = field(default_factory=dict)

    def _inputs_of(self, pipeline: str, job_id: str, datum_id: str) -> list[dict[str, Any]] | None:
        key = (pipeline, job_id, datum_id)
        if key in self._inputs:
            return self._inputs[key]
        job = JobKey(self.project, pipeline, job_id)
        found = self.queries.datum_inputs(job, datum_id)
        if found is not None or self.queries.scheduler.running(job) is None:
            self._inputs[key] = found  # known for good (while a job runs, a datum's may come later)
        return found

    def fetch(self) -> list[tuple[LogRecord, list[dict[str, Any]] | None]]:
        rows = self.queries.storage.pps.logs(
            project=self.project, pipeline=self.pipeline, job_id=self.job_id, datum_id=self.datum_id,
            after_seq=self._last, master=self.master, since=self.since,
        )
        out = []
        for r in rows:
            self._last = max(self._last, r.seq)
            inputs = self._inputs_of(r.pipeline, r.job_id, r.datum_id) if r.datum_id else None
            if self.filters and not matches_filters(self.filters, r.datum_id, inputs):
                continue
            out.append((r, inputs))
        return out

    def finished(self) -> bool:
        """Whether the job these lines come from has ended (never, for a pipeline's or a project's logs)."""
        if self.job_id is None or self.pipeline is None:
            return False
        return self.queries.inspect_job(self.project, self.pipeline, self.job_id).state in TERMINAL


def since_window(seconds: float) -> float | None:
    """GetLogs' ``since``: a zero window (pachctl sends 0s unless --since is given) means no bound."""
    return time.time() - seconds if seconds > 0 else None
