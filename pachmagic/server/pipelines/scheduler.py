"""The scheduler: the engine's threads, and which job runs next.

One scheduling thread wakes on every storage change (and every second). Each
pass has the ledger create jobs for new output commits (``Ledger.sync``), then,
pipeline by pipeline under the lifecycle lock: a pipeline that is STARTING gets a
starter thread that checks its command and starts its workers (RUNNING, or
FAILURE with the reason); a RUNNING pipeline without a running job gets its oldest
unfinished job started on a job thread, once every input commit of that job is
finished (until then the job is STARTING); cron inputs tick when due. A
pipeline's jobs thus run one at a time, in commit order.

A job thread is started before it is registered as running, and waits to be
registered before it does anything: whoever finds a job running can join its
thread, and a stop that comes before the registration ends the job through the
ledger, which the thread then sees (``Ledger.start`` refuses an ended job).
Stopping jobs (``stop_job``, ``stop_jobs``) is one kill-and-join. No gRPC here.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from ...errors import NotFound, PachError
from ...pachyderm.inputs import cron_inputs
from ..storage import CommitRef, RepoKey, Storage
from ..storage.pipeline_records import JobKey, JobRecord, PipelineRecord
from .cron import parse_schedule
from .environment import check_runnable
from .ledger import Ledger
from .outcome import Outcome
from .pool import WorkerPool
from .runner import JobRunner
from .states import UNFINISHED, JobState, PipelineState

__all__ = ["Scheduler"]

log = logging.getLogger("pachmagic.pipelines")
_RECHECK = 1.0  # seconds between passes when nothing wakes the scheduler
_STOP_WAIT = 60.0  # seconds to wait for a stopped job's thread (it kills its commands first)
_SHUTDOWN_WAIT = 10.0  # seconds, in all, for job and starter threads when the server stops


class Scheduler:
    """The scheduling thread, the starter threads and the job threads of one engine.

    ``lifecycle_lock`` is the engine's: a pipeline being created, updated, stopped or
    deleted never gets a job started or a start recorded halfway through. With
    ``run_jobs`` false, jobs are created but never run and cron inputs never tick,
    as on a pachd without workers (the conformance suite compares with one).
    """

    def __init__(
        self, *, storage: Storage, ledger: Ledger, pool: WorkerPool, lifecycle_lock: threading.RLock,
        workdir: Path, scratch_dir: Path, run_jobs: bool = True,
    ) -> None:
        self.storage = storage
        self.run_jobs = run_jobs
        self.ledger = ledger
        self.pool = pool
        self.lifecycle_lock = lifecycle_lock
        self.workdir = workdir
        self.scratch_dir = scratch_dir
        self._cond = threading.Condition()  # guards _dirty and _stopping; a leaf: nothing is taken inside it
        self._dirty = True
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards _running and _starters; never held while joining
        self._running: dict[tuple[str, str], tuple[JobRunner, threading.Thread]] = {}
        self._starters: dict[tuple[str, str], threading.Thread] = {}

    # --- the thread --------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pachmagic-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling, abandon running jobs (they run again at the next start), close the workers."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=_SHUTDOWN_WAIT)
        with self._lock:
            running = list(self._running.values())
            starters = list(self._starters.values())
        for runner, _ in running:
            runner.abandon()
        deadline = time.monotonic() + _SHUTDOWN_WAIT
        for _, thread in running:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.pool.close()  # kills what still runs; a starter making workers gives up
        for thread in starters:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))

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
                self.ledger.sync()
                timeout = min(_RECHECK, self._schedule())
            except Exception:  # noqa: BLE001 - the scheduler must keep going
                log.exception("scheduler pass failed")
                timeout = 0.2

    # --- one pass ----------------------------------------------------------------

    def _schedule(self) -> float:
        """Start what can start; return seconds until the next cron tick is due."""
        next_due = _RECHECK
        for listed in self.storage.pps.pipelines():
            key = (listed.project, listed.name)
            with self.lifecycle_lock:
                record = self.storage.pps.get(*key)
                if record is None or record.stopped:
                    continue
                if record.state == PipelineState.FAILURE:
                    self._fail_pending(record, record.reason)
                    continue
                if record.state != PipelineState.RUNNING:
                    self._ensure_starter(record)
                    continue
                if not self.run_jobs:
                    continue
                next_due = min(next_due, self._cron(record))
                with self._lock:
                    entry = self._running.get(key)
                    if entry is not None and entry[1].is_alive():
                        continue
                    self._running.pop(key, None)
                job = self._next_job(record)
                if job is not None:
                    self._launch(record, job)
        return next_due

    def _launch(self, record: PipelineRecord, job: JobRecord) -> None:
        runner = JobRunner(
            storage=self.storage, ledger=self.ledger, pool=self.pool, pipeline=record, job=job.key,
            workdir=str(self.workdir), scratch=self.scratch_dir / "jobs" / f"{job.project}-{job.pipeline}-{job.id}",
        )
        registered = threading.Event()
        thread = threading.Thread(
            target=self._run_job, args=(runner, registered), name=f"job-{record.name}-{job.id[:8]}", daemon=True
        )
        thread.start()  # before it is registered: a registered thread can always be joined
        with self._lock:
            self._running[(record.project, record.name)] = (runner, thread)
        registered.set()

    def _run_job(self, runner: JobRunner, registered: threading.Event) -> None:
        registered.wait()
        try:
            outcome = runner.run()
            if outcome is not None:
                self.ledger.end(runner.job, outcome)
        except Exception:  # noqa: BLE001 - the next start retries the job
            log.exception("could not record the end of job %s", runner.job)
        finally:
            with self._lock:
                key = (runner.job.project, runner.job.pipeline)
                entry = self._running.get(key)
                if entry is not None and entry[0] is runner:
                    del self._running[key]
            self.wake()

    def _next_job(self, record: PipelineRecord) -> JobRecord | None:
        """The oldest unfinished job, if its inputs are all finished."""
        pending = self.storage.pps.jobs(project=record.project, pipeline=record.name, states=UNFINISHED)
        rows = {}
        for job in pending:
            try:
                rows[job.id] = self.storage.resolve(CommitRef(RepoKey(record.project, record.name), id=job.id))
            except NotFound:
                self.ledger.end(job.key, Outcome(JobState.KILLED, "output commit deleted"))
        pending = sorted((j for j in pending if j.id in rows), key=lambda j: rows[j.id].seq)
        if not pending:
            return None
        job, row = pending[0], rows[pending[0].id]
        if not row.is_open:
            self.ledger.end(job.key, Outcome(JobState.KILLED, "output commit was finished outside the job"))
            return None
        if row.parent_seq is not None and self.storage.commit_row(row.parent_seq).is_open:
            return None
        for prov in self.storage.commit_info(row).direct_provenance:
            if self.storage.inspect_commit(CommitRef(prov.repo, id=prov.id)).finished is None:
                self.ledger.waiting(job)
                return None
        return job

    def _fail_pending(self, record: PipelineRecord, reason: str) -> None:
        self.ledger.end_unfinished(record.project, record.name, Outcome(JobState.FAILURE, f"pipeline failed: {reason}"))

    # --- starting a pipeline's workers -------------------------------------------

    def _ensure_starter(self, record: PipelineRecord) -> None:
        key = (record.project, record.name)
        with self._lock:
            thread = self._starters.get(key)
            if thread is not None and thread.is_alive():
                return
            thread = threading.Thread(target=self._start_workers, args=(record,), name=f"start-{record.name}",
                                      daemon=True)
            self._starters[key] = thread
        thread.start()

    def _start_workers(self, record: PipelineRecord) -> None:
        key = (record.project, record.name)
        try:
            check_runnable(record, str(self.workdir))
            self.pool.acquire(key, self.pool.workers(int(record.spec.parallelism_spec.constant or 1)))
            state, reason = PipelineState.RUNNING, ""
        except PachError as err:
            state, reason = PipelineState.FAILURE, err.details
        except Exception as err:  # noqa: BLE001 - e.g. no way to start a worker process at all
            log.exception("starting the workers of %s/%s failed", *key)
            state, reason = PipelineState.FAILURE, f"cannot start the pipeline's workers: {type(err).__name__}: {err}"
        with self._cond:
            if self._stopping:
                return  # the server is stopping: the next start decides
        with self.lifecycle_lock:
            current = self.storage.pps.get(*key)
            if current is None or current.stopped:
                self.pool.release(key)  # deleted or stopped meanwhile
                return
            if current.version != record.version or current.state != PipelineState.STARTING:
                return  # updated meanwhile: that version's start decides
            if state == PipelineState.FAILURE:
                # Jobs first: whoever sees the pipeline failed sees its jobs failed too.
                self._fail_pending(current, reason)
            self.ledger.set_pipeline_state(*key, state, reason=reason)
        if state == PipelineState.FAILURE:
            log.warning("pipeline %s/%s failed: %s", *key, reason)
        self.wake()

    # --- cron --------------------------------------------------------------------

    def _cron(self, record: PipelineRecord) -> float:
        """Tick the pipeline's cron inputs that are due; return seconds until the next one."""
        due = _RECHECK
        now = time.time()
        for cron in cron_inputs(record.spec.input):
            schedule = parse_schedule(cron.spec)
            last = self.storage.pps.last_tick(record.project, record.name, cron.name)
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
            self.ledger.tick(record, cron, tick)
            due = min(due, max(0.0, schedule.next(tick) - time.time()))
        return due

    def run_cron(self, record: PipelineRecord) -> None:
        """RunCron: tick every cron input of a pipeline now (after its last tick)."""
        now = time.time()
        for cron in cron_inputs(record.spec.input):
            last = self.storage.pps.last_tick(record.project, record.name, cron.name)
            self.ledger.tick(record, cron, max(now, (last or 0.0) + 1.0))

    # --- running jobs ------------------------------------------------------------

    def running(self, job: JobKey) -> JobRunner | None:
        """The runner of ``job`` if it is running now."""
        with self._lock:
            entry = self._running.get((job.project, job.pipeline))
        return entry[0] if entry is not None and entry[0].job == job else None

    def _stop_runner(self, project: str, name: str, reason: str, job_id: str | None = None) -> None:
        """Kill the pipeline's running job (only if it is ``job_id``, when given) and wait for its thread."""
        with self._lock:
            entry = self._running.get((project, name))
        if entry is None or (job_id is not None and entry[0].job.id != job_id):
            return
        runner, thread = entry
        runner.kill(reason)
        thread.join(timeout=_STOP_WAIT)

    def stop_job(self, job: JobKey, reason: str) -> None:
        """End one job as KILLED (waiting for it to stop, if it runs)."""
        self._stop_runner(job.project, job.pipeline, reason, job.id)
        self.ledger.end(job, Outcome(JobState.KILLED, reason))

    def stop_jobs(self, project: str, name: str, reason: str) -> None:
        """End every unfinished job of a pipeline as KILLED (waiting for a running one to stop)."""
        self.ledger.sync()
        self._stop_runner(project, name, reason)
        self.ledger.end_unfinished(project, name, Outcome(JobState.KILLED, reason))
