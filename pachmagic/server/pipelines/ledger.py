"""The ledger: the only writer of the engine's records (pipelines' states, jobs, datums, logs, cron ticks).

Every change of a job's state goes through one method here, in one place:
``sync`` creates jobs from new output commits (job ID = commit set ID), ``waiting``
and ``start`` move them on, ``progress`` records counters and log lines, ``end``
records an ``Outcome`` — output and meta commits finished, datums recorded, job
row terminal — in one transaction, and ``end_unfinished`` ends what is left of a
pipeline (FAILURE when it cannot start; KILLED when it is stopped, updated or
deleted). A terminal job never changes again: every update is conditional on the
job being unfinished, so two enders (a stop and the job's own end) cannot both win. Writes go through ``Storage`` (its tables and commits), never
SQL. ``tests/test_layering.py`` checks that no other module of the engine writes.
No gRPC here.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Callable

from ...pachyderm.inputs import CronInput
from ..storage import CommitRef, RepoKey, Storage
from ..storage.model import META, ORIGIN_AUTO, USER
from ..storage.pipeline_records import JobKey, JobRecord, JobUpdate, LogLine, PipelineRecord
from .cron import tick_name
from .outcome import Outcome
from .states import TERMINAL, UNFINISHED, JobState, PipelineState

__all__ = ["Ledger"]

log = logging.getLogger("pachmagic.pipelines")


class Ledger:
    """Writes the engine's records; ``on_change`` is told of changes that PFS does not announce."""

    def __init__(self, storage: Storage, on_change: Callable[[], None]) -> None:
        self.storage = storage
        self.tables = storage.pps
        self._changed = on_change
        self._sync_lock = threading.Lock()  # guards the commit cursors below
        self._cursor: dict[tuple[str, str], int] = {}  # per pipeline: the last output commit seen
        self._seen_seq = -1  # the newest commit of any repo when sync last looked

    # --- pipelines ---------------------------------------------------------------

    def add_version(self, record: PipelineRecord) -> None:
        """Record a new version of a pipeline (its spec, salt and spec commit) and its state."""
        self.tables.put_version(
            record.project, record.name, record.version, record.spec, record.user_spec, record.salt,
            record.spec_commit, stopped=record.stopped, state=record.state,
        )

    def set_pipeline_state(
        self, project: str, name: str, state: PipelineState, *, reason: str = "", stopped: bool | None = None
    ) -> None:
        self.tables.set_state(project, name, state=state, stopped=stopped, reason=reason)
        self._changed()

    def delete_pipeline(self, project: str, name: str) -> None:
        """Delete a pipeline's records; call ``forget`` once the transaction is over."""
        self.tables.delete(project, name)

    def forget(self, project: str, name: str) -> None:
        """Forget where ``sync`` was in a deleted pipeline's output repo (its name may come back).

        Not inside a transaction: the sync lock comes before the database's.
        """
        with self._sync_lock:
            self._cursor.pop((project, name), None)
            self._seen_seq = -1

    def recover(self) -> None:
        """At start: unfinished jobs run again from the start, running pipelines start their workers again.

        Their output commits are still open, so nothing half-done is visible.
        """
        for job in self.tables.jobs(states=UNFINISHED):
            if job.state != JobState.CREATED:
                self.tables.update_job(job.key, JobUpdate(state=JobState.CREATED, restart=job.restart + 1))
        for record in self.tables.pipelines():
            if not record.stopped and record.state in (PipelineState.RUNNING, PipelineState.STARTING):
                self.tables.set_state(record.project, record.name, state=PipelineState.STARTING)

    # --- jobs --------------------------------------------------------------------

    def sync(self) -> None:
        """Create a job for every new open output commit of a pipeline (job ID = commit set ID)."""
        created = False
        with self._sync_lock:
            top = self.storage.last_commit_seq()
            if top == self._seen_seq:
                return
            for record in self.tables.pipelines():
                key = (record.project, record.name)
                rows = self.storage.commits_after(
                    RepoKey(record.project, record.name), record.spec.output_branch, self._cursor.get(key, 0)
                )
                for row in rows:
                    if row.origin == ORIGIN_AUTO and row.is_open:
                        job = JobKey(record.project, record.name, row.id)
                        created |= self.tables.add_job(job, record.version, row.started)
                    self._cursor[key] = max(self._cursor.get(key, 0), row.seq)
            self._seen_seq = top
        if created:
            self._changed()

    def waiting(self, job: JobRecord) -> None:
        """A created job waits for its input commits to finish (STARTING)."""
        if job.state == JobState.CREATED:
            self.tables.update_job(job.key, JobUpdate(state=JobState.STARTING), if_state_in=UNFINISHED)
            self._changed()

    def start(self, job: JobKey) -> bool:
        """The job runs now (RUNNING); False if it ended meanwhile (stopped before it started)."""
        started = self.tables.update_job(job, JobUpdate(state=JobState.RUNNING, started=time.time()),
                                         if_state_in=(JobState.CREATED, JobState.STARTING))
        self._changed()
        return started

    def planned(self, job: JobKey, *, total: int, skipped: int) -> None:
        self.tables.update_job(job, JobUpdate(total=total, skipped=skipped), if_state_in=UNFINISHED)
        self._changed()

    def progress(self, job: JobKey, counts: JobUpdate | None, lines: list[LogLine]) -> None:
        """Log lines, and (for a job still running) its counters, in one transaction."""
        with self.storage.transaction():  # no PFS change: the scheduler need not look
            if lines:
                self.tables.add_logs(lines)
            if counts is not None:
                self.tables.update_job(job, counts, if_state_in=UNFINISHED)
        self._changed()

    def finishing(self, job: JobKey) -> None:
        self.tables.update_job(job, JobUpdate(state=JobState.FINISHING), if_state_in=UNFINISHED)
        self._changed()

    def end(self, job: JobKey, outcome: Outcome) -> bool:
        """Record a job's end: its commits finished, its datums, its row; False if it had ended already."""
        with self.storage.changing():
            current = self.tables.job(job)
            if current is None or current.state in TERMINAL:
                return False  # ended meanwhile (killed, deleted): the first end stands
            for repo_type in (USER, META):
                ref = CommitRef(RepoKey(job.project, job.pipeline, repo_type), id=job.id)
                if repo_type in outcome.trees:
                    self.storage.finish_job_commit(ref, error=outcome.error, root=outcome.trees[repo_type])
                else:
                    self.storage.finish_job_commit(ref, error=outcome.error)
            if outcome.carry is not None:
                self.tables.carry_datums(job, *outcome.carry)
            if outcome.datums:
                self.tables.put_datums(outcome.datums)
            ended = replace(outcome.counts, state=outcome.state, reason=outcome.reason, finished=time.time())
            self.tables.update_job(job, ended, if_state_in=UNFINISHED)
        log.info("job %s ended: %s %s", job, outcome.state.name, outcome.reason)
        self._changed()
        return True

    def end_unfinished(self, project: str, name: str, outcome: Outcome) -> None:
        """End every unfinished job of a pipeline with ``outcome`` (no trees: commits keep theirs)."""
        for job in self.tables.jobs(project=project, pipeline=name, states=UNFINISHED):
            self.end(job.key, outcome)

    def delete_job(self, job: JobKey) -> None:
        self.tables.delete_job(job)
        self._changed()

    # --- cron --------------------------------------------------------------------

    def tick(self, pipeline: PipelineRecord, cron: CronInput, t: float) -> None:
        """Commit one tick of a cron input: a file named by its time (the only one, with ``overwrite``)."""
        session = self.storage.write_session()
        if cron.overwrite:
            session.delete("/")
        session.add(tick_name(t), b"")
        # The commit and the record of the tick go together: a crash repeats neither.
        with self.storage.changing():
            self.storage.apply(CommitRef(RepoKey(cron.project, cron.repo), branch="master"), session)
            self.tables.set_last_tick(pipeline.project, pipeline.name, cron.name, t)
