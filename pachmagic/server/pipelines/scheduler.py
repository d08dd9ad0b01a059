"""The scheduler: output commits become jobs, jobs run in order, cron inputs tick.

PFS's commit-set propagation opens an output commit on every pipeline downstream
of a changed branch. ``sync`` turns each new output commit into a job (job ID =
commit set ID) — the scheduler calls it on every storage change, and the engine
before answering questions about jobs, so a job exists as soon as its commit
does. A pipeline's jobs then run one at a time, in commit order, once every input
commit of the job is finished. A new or updated pipeline is STARTING until its
workers (sandboxes) are up and its command can run; it is RUNNING after, or
FAILURE with the reason. Cron inputs tick on the same thread: each tick commits
a timestamp file to the cron repo, which propagates like any other commit.
No gRPC here.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from ..._proto import pps_pb2
from ...errors import NotFound, PachError
from ...pachyderm.inputs import cron_inputs
from ..storage import CommitRef, RepoKey
from ..storage.model import ORIGIN_AUTO
from .cron import parse_schedule, tick_name
from .runner import JobRunner, end_job
from .store import (
    JOB_CREATED,
    JOB_FAILURE,
    JOB_KILLED,
    JOB_STARTING,
    JobRecord,
    PipelineRecord,
)

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Scheduler", "PIPELINE_STARTING", "PIPELINE_RUNNING", "PIPELINE_FAILURE", "PIPELINE_PAUSED"]

log = logging.getLogger("pachmagic.pipelines")

# pps_v2.PipelineState values.
PIPELINE_STARTING, PIPELINE_RUNNING, PIPELINE_RESTARTING, PIPELINE_FAILURE, PIPELINE_PAUSED = 1, 2, 3, 4, 5
_RECHECK = 1.0  # seconds between passes when nothing wakes the scheduler


class Scheduler:
    """The engine's one scheduling thread, plus the threads of running jobs."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self._cond = threading.Condition()
        self._dirty = True
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._sync_lock = threading.Lock()
        self._cursor: dict[tuple[str, str], int] = {}
        self._seen_seq = -1
        self._starters: dict[tuple[str, str], threading.Thread] = {}
        self.running: dict[tuple[str, str], tuple[JobRunner, threading.Thread]] = {}

    # --- the thread --------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pachmagic-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self.engine.lock:
            running = list(self.running.values())
            starters = list(self._starters.values())
        for runner, _ in running:
            runner.abandon()
        for _, thread in running:
            thread.join(timeout=30)
        for thread in starters:
            thread.join(timeout=30)

    def wake(self) -> None:
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def _loop(self) -> None:
        timeout = 0.0
        while True:
            with self._cond:
                if not self._dirty and not self._stopping:
                    self._cond.wait(timeout=timeout)
                if self._stopping:
                    return
                self._dirty = False
            try:
                self.sync()
                timeout = min(_RECHECK, self._schedule())
            except Exception:  # noqa: BLE001 - the scheduler must keep going
                log.exception("scheduler pass failed")
                timeout = 0.2

    # --- jobs from commits -------------------------------------------------------

    def forget(self, project: str, name: str) -> None:
        """A pipeline was deleted: its name may come back with a new output repo."""
        with self._sync_lock:
            self._cursor.pop((project, name), None)
            self._seen_seq = -1

    def sync(self) -> None:
        """Create a job for every output commit that has none (job ID = commit set ID)."""
        engine = self.engine
        with self._sync_lock:
            top = engine.storage.db.one("SELECT MAX(seq) FROM commits")[0] or 0
            if top == self._seen_seq:
                return
            created = False
            for record in engine.store.pipelines():
                key = (record.project, record.name)
                try:
                    rows = engine.storage.catalog.commits_after(
                        RepoKey(record.project, record.name), record.spec.output_branch, self._cursor.get(key, 0)
                    )
                except NotFound:
                    continue
                for row in rows:
                    if row.origin == ORIGIN_AUTO and row.is_open:
                        created |= engine.store.add_job(record.project, record.name, row.id, record.version, row.started)
                    self._cursor[key] = max(self._cursor.get(key, 0), row.seq)
            self._seen_seq = top
        if created:
            engine.changed()

    # --- one pass ----------------------------------------------------------------

    def _schedule(self) -> float:
        """Start what can start; return seconds until the next cron tick is due."""
        engine = self.engine
        next_due = _RECHECK
        for listed in engine.store.pipelines():
            key = (listed.project, listed.name)
            # Under the lifecycle lock: a pipeline being updated, stopped or deleted
            # must not get a new job runner halfway through.
            with engine.lifecycle_lock:
                record = engine.store.get(*key)
                if record is None or record.stopped:
                    continue
                if record.state == PIPELINE_FAILURE:
                    self._fail_pending(record)
                    continue
                if record.state != PIPELINE_RUNNING:
                    self._ensure_starter(record)
                    continue
                if not engine.run_jobs:
                    continue
                next_due = min(next_due, self._cron(record))
                with engine.lock:
                    entry = self.running.get(key)
                    if entry is not None and entry[1].is_alive():
                        continue
                    self.running.pop(key, None)
                job = self._next_job(record)
                if job is None:
                    continue
                runner = JobRunner(engine, record, job)
                thread = threading.Thread(
                    target=self._run_job, args=(runner,), name=f"job-{record.name}-{job.id[:8]}", daemon=True
                )
                with engine.lock:
                    self.running[key] = (runner, thread)
                thread.start()
        return next_due

    def _run_job(self, runner: JobRunner) -> None:
        try:
            runner.run()
        finally:
            with self.engine.lock:
                key = (runner.pipeline.project, runner.pipeline.name)
                entry = self.running.get(key)
                if entry is not None and entry[0] is runner:
                    del self.running[key]
            self.wake()

    def _next_job(self, record: PipelineRecord) -> JobRecord | None:
        """The oldest unfinished job, if its inputs are all finished."""
        engine = self.engine
        store, catalog = engine.store, engine.storage.catalog
        pending = store.jobs(project=record.project, pipeline=record.name, unfinished=True)
        if not pending:
            return None
        rows = {}
        for job in pending:
            try:
                rows[job.id] = catalog.resolve(CommitRef(RepoKey(record.project, record.name), id=job.id))
            except NotFound:
                store.update_job(record.project, record.name, job.id, state=JOB_KILLED, reason="output commit deleted",
                                 finished=time.time())
        pending = sorted((j for j in pending if j.id in rows), key=lambda j: rows[j.id].seq)
        if not pending:
            return None
        job, row = pending[0], rows[pending[0].id]
        if not row.is_open:
            end_job(engine, record, job.id, JOB_KILLED, "output commit was finished outside the job")
            return None
        if row.parent_seq is not None and catalog.commit_row(row.parent_seq).is_open:
            return None
        for prov in catalog.commit_info(row).direct_provenance:
            if engine.storage.inspect_commit(CommitRef(prov.repo, id=prov.id)).finished is None:
                if job.state == JOB_CREATED:
                    store.update_job(record.project, record.name, job.id, state=JOB_STARTING)
                    engine.changed()
                return None
        return job

    def _fail_pending(self, record: PipelineRecord, reason: str | None = None) -> None:
        reason = record.reason if reason is None else reason
        for job in self.engine.store.jobs(project=record.project, pipeline=record.name, unfinished=True):
            end_job(self.engine, record, job.id, JOB_FAILURE, f"pipeline failed: {reason}")

    # --- starting a pipeline's workers -------------------------------------------

    def _ensure_starter(self, record: PipelineRecord) -> None:
        key = (record.project, record.name)
        with self.engine.lock:
            thread = self._starters.get(key)
            if thread is not None and thread.is_alive():
                return
            thread = threading.Thread(target=self._start_workers, args=(record,), name=f"start-{record.name}", daemon=True)
            self._starters[key] = thread
            thread.start()

    def _start_workers(self, record: PipelineRecord) -> None:
        engine = self.engine
        try:
            engine.check_runnable(record)
            engine.sandboxes(record, int(record.spec.parallelism_spec.constant or 1))
            state, reason = PIPELINE_RUNNING, ""
        except PachError as err:
            state, reason = PIPELINE_FAILURE, err.details
        except Exception as err:  # noqa: BLE001 - e.g. no way to start a worker process at all
            log.exception("starting the workers of %s/%s failed", record.project, record.name)
            state, reason = PIPELINE_FAILURE, f"cannot start the pipeline's workers: {type(err).__name__}: {err}"
        with engine.lifecycle_lock:
            current = engine.store.get(record.project, record.name)
            if current is None or current.stopped:
                engine.close_sandboxes(record.project, record.name)  # deleted or stopped meanwhile
                return
            if current.version != record.version or current.state != PIPELINE_STARTING:
                return  # updated meanwhile: that version's start decides
            if state == PIPELINE_FAILURE:
                # Jobs first: whoever sees the pipeline failed sees its jobs failed too.
                self._fail_pending(current, reason)
            engine.store.set_state(record.project, record.name, state=state, reason=reason)
        if state == PIPELINE_FAILURE:
            log.warning("pipeline %s/%s failed: %s", record.project, record.name, reason)
        engine.changed()
        self.wake()

    # --- cron --------------------------------------------------------------------

    def _cron(self, record: PipelineRecord) -> float:
        """Tick the pipeline's cron inputs that are due; return seconds until the next one."""
        due = _RECHECK
        store = self.engine.store
        now = time.time()
        for cron in cron_inputs(record.spec.input):
            schedule = parse_schedule(cron.spec)
            last = store.last_tick(record.project, record.name, cron.name)
            if last is None:
                last = cron.start.ToNanoseconds() / 1e9 if cron.HasField("start") else now
            tick = schedule.next(last)
            if tick > now:
                due = min(due, tick - now)
                continue
            # Ticks missed while the server was down are folded into the latest one.
            if schedule.every:
                tick += ((now - tick) // schedule.every) * schedule.every
            else:
                for _ in range(10_000):
                    nxt = schedule.next(tick)
                    if nxt > now:
                        break
                    tick = nxt
            self.tick(record, cron, tick)
            due = min(due, max(0.0, schedule.next(tick) - time.time()))
        return due

    def tick(self, record: PipelineRecord, cron: pps_pb2.CronInput, t: float) -> None:
        """Commit one tick of a cron input: a file named by its time (the only one, with ``overwrite``)."""
        storage = self.engine.storage
        session = storage.write_session()
        if cron.overwrite:
            session.delete("/")
        session.add(tick_name(t), b"")
        # The commit and the record of the tick go together: a crash repeats neither.
        with storage.db.transaction():
            storage.apply(CommitRef(RepoKey(cron.project, cron.repo), branch="master"), session)
            self.engine.store.set_last_tick(record.project, record.name, cron.name, t)

    def kill_jobs(self, project: str, name: str, reason: str) -> None:
        """End every unfinished job of a pipeline as KILLED (waiting for a running one to stop)."""
        self.sync()
        with self.engine.lock:
            entry = self.running.get((project, name))
        if entry is not None:
            entry[0].kill(reason)
            entry[1].join(timeout=60)
        record = self.engine.store.get(project, name)
        if record is None:
            return
        for job in self.engine.store.jobs(project=project, pipeline=name, unfinished=True):
            end_job(self.engine, record, job.id, JOB_KILLED, reason)

    def runner_for(self, project: str, name: str, job_id: str) -> tuple[JobRunner, threading.Thread] | None:
        with self.engine.lock:
            entry = self.running.get((project, name))
        if entry is not None and entry[0].job.id == job_id:
            return entry
        return None
