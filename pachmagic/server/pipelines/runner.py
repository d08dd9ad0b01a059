"""Run one job: plan its datums, run them on the pipeline's workers, merge, and return its ``Outcome``.

A ``JobRunner`` starts its job (``Ledger.start``), plans it (``planner``), runs the
datums that are not skipped on up to ``WorkerPool.workers(...)`` sandboxes at once
(``worker``), merges their outputs into new output and meta trees (``merge``),
and returns the outcome that ``outcome.judge`` decides; the caller records it
(``Ledger.end``). While it runs it reports progress and log lines through the
ledger. A kill (StopJob, pipeline stopped/updated/deleted, ``job_timeout``) makes
it return a KILLED outcome; ``abandon`` (the server stops) makes it return
``None``: the job stays unfinished, its commits open, and runs again from the
start at the next start, so nothing half-done ever becomes visible. No gRPC here.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...errors import PachError
from ...pachyderm.datums import Datum
from ..storage import Storage
from ..storage.model import META, USER
from ..storage.pipeline_records import DatumRecord, JobKey, JobUpdate, LogLine, PipelineRecord
from .environment import job_env, working_dir
from .ledger import Ledger
from .merge import datum_inputs_json, meta_changes, output_changes
from .outcome import Outcome, judge
from .planner import JobPlan, input_sources, plan_job
from .pool import WorkerPool
from .states import DatumState, JobState
from .worker import DatumResult, DatumWorker, JobContext

__all__ = ["JobRunner"]

log = logging.getLogger("pachmagic.pipelines")
_FLUSH_EVERY = 0.25  # seconds between progress/log writes while datums run
_MAX_META_LINES = 10_000  # user lines per datum kept in the meta commit
_COUNTED = {DatumState.SUCCESS: "processed", DatumState.FAILED: "failed", DatumState.RECOVERED: "recovered"}


class JobKilled(Exception):
    """The job was stopped (StopJob, pipeline stopped, updated or deleted, timeout)."""


class JobRunner:
    """Runs one job of one pipeline to its outcome (on its own thread)."""

    def __init__(
        self, *, storage: Storage, ledger: Ledger, pool: WorkerPool, pipeline: PipelineRecord, job: JobKey,
        workdir: str, scratch: Path,
    ) -> None:
        self.storage = storage
        self.ledger = ledger
        self.pool = pool
        self.pipeline = pipeline
        self.spec = pipeline.spec
        self.job = job
        self.workdir = workdir
        self.scratch = scratch
        self.cancel = threading.Event()
        self.kill_reason = ""
        self.abandoned = False
        self.writer = storage.chunk_writer()  # the job's new chunks: outputs and meta files
        self.writer_lock = threading.Lock()
        self.plan: JobPlan | None = None
        self.datum_inputs: dict[str, list[dict[str, Any]]] = {}  # for log filters while running
        self._lock = threading.Lock()  # guards everything below
        self._lines: list[LogLine] = []
        self._datum_lines: dict[str, list[str]] = {}
        self._active: dict[str, threading.Event] = {}
        self._restart: set[str] = set()
        self._counts = {"processed": 0, "failed": 0, "recovered": 0}
        self._results: list[DatumResult] = []
        self._last_flush = 0.0

    # --- control (any thread) ----------------------------------------------------

    def kill(self, reason: str) -> None:
        self.kill_reason = self.kill_reason or reason
        self.cancel.set()
        with self._lock:
            for event in self._active.values():
                event.set()

    def abandon(self) -> None:
        """Stop without ending the job: the server is shutting down; it runs again at the next start."""
        self.abandoned = True
        self.kill("server stopping")

    def restart_datums(self, wanted: set[str] | None) -> int:
        """Stop running datums (all, or those in ``wanted``) and queue them again."""
        with self._lock:
            ids = [d for d in self._active if wanted is None or d in wanted]
            for datum_id in ids:
                self._restart.add(datum_id)
                self._active[datum_id].set()
        return len(ids)

    def datum_records(self) -> list[DatumRecord]:
        """The job's datums while it runs: skipped, done so far, and the rest STARTING."""
        job, plan = self.job, self.plan
        if plan is None:
            return []
        with self._lock:
            done = {r.datum.id: r for r in self._results}
        records = []
        for datum in plan.datums:
            result = done.get(datum.id)
            kept = datum.id in plan.kept
            state = DatumState.SKIPPED if kept else result.state if result else DatumState.STARTING
            records.append(DatumRecord(
                job.project, job.pipeline, job.id, datum.id, state, plan.hashes[datum.id],
                datum_inputs_json(datum.inputs), [e.path for e in result.entries] if result else [],
                result.stats if result else {}, result.reason if result else "", "" if kept else job.id,
            ))
        return records

    # --- logging -----------------------------------------------------------------

    def datum_lines(self) -> dict[str, list[str]]:
        """Each datum's user log lines so far (kept in the meta commit)."""
        with self._lock:
            return {k: list(v) for k, v in self._datum_lines.items()}

    def log(self, message: str, *, datum: str = "", user: bool = False) -> None:
        with self._lock:
            self._lines.append(LogLine(self.job, time.time(), message, datum, user))
            if user and datum:
                lines = self._datum_lines.setdefault(datum, [])
                if len(lines) < _MAX_META_LINES:
                    lines.append(message)

    def flush(self, force: bool = False) -> None:
        """Record buffered log lines and the progress counters (at most every ``_FLUSH_EVERY``)."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_flush < _FLUSH_EVERY:
                return
            self._last_flush = now
            lines, self._lines = self._lines, []
            counts = JobUpdate(processed=self._counts["processed"], failed=self._counts["failed"],
                               recovered=self._counts["recovered"])
        self.ledger.progress(self.job, None if self.abandoned else counts, lines)

    # --- the job -----------------------------------------------------------------

    def run(self) -> Outcome | None:
        """Run the job; its outcome, or None when there is nothing to record (abandoned, or ended before it ran)."""
        deadline_timer = None
        if self.spec.HasField("job_timeout"):
            seconds = self.spec.job_timeout.ToNanoseconds() / 1e9
            deadline_timer = threading.Timer(seconds, self.kill, args=(f"job exceeded its timeout of {seconds:g}s",))
            deadline_timer.daemon = True
            deadline_timer.start()
        try:
            return self._run()
        except JobKilled:
            if self.abandoned:
                return None
            self.log(f"job killed: {self.kill_reason}")
            return Outcome(JobState.KILLED, self.kill_reason or "job killed")
        except Exception as err:  # noqa: BLE001 - a job must always end
            if self.abandoned:
                return None
            detail = err.details if isinstance(err, PachError) else f"internal error: {type(err).__name__}: {err}"
            log.exception("job %s failed", self.job)
            self.log(f"job failed: {detail}")
            return Outcome(JobState.FAILURE, detail)
        finally:
            if deadline_timer is not None:
                deadline_timer.cancel()
            if not self.abandoned:
                self.flush(force=True)
            shutil.rmtree(self.scratch, ignore_errors=True)

    def raise_if_killed(self) -> None:
        if self.cancel.is_set():
            raise JobKilled()

    def _run(self) -> Outcome | None:
        if not self.ledger.start(self.job):
            return None  # stopped before it started: already ended
        sources, failed = input_sources(self.storage, self.spec, self.job)
        if failed:
            reason = "unrunnable because the following upstream pipelines failed: " + ", ".join(failed)
            self.log(reason)
            return Outcome(JobState.UNRUNNABLE, reason)
        plan = plan_job(self.storage, self.spec, self.pipeline.salt, self.job, sources)
        self.raise_if_killed()
        todo = plan.todo
        self.ledger.planned(self.job, total=len(plan.datums), skipped=len(plan.kept))
        self.log(f"{len(plan.datums)} datums ({len(plan.kept)} skipped, {len(todo)} to process), "
                 f"planned in {plan.planned:.3f}s")
        self.flush(force=True)
        self.plan = plan
        results = self._run_datums(todo)
        self.raise_if_killed()
        return self._finish(plan, results)

    def _finish(self, plan: JobPlan, results: list[DatumResult]) -> Outcome:
        """Merge the results into new trees and judge the job (recorded by the caller, in one transaction)."""
        started = time.time()
        self.ledger.finishing(self.job)
        out_changes, merge_error = output_changes(plan.base, plan.kept, results)
        outcome = judge(self.job, plan, results, merge_error)
        job_pb = {"pipeline": {"project": {"name": self.job.project}, "name": self.job.pipeline}, "id": self.job.id}
        meta = meta_changes(self.storage, self.writer, self.writer_lock, job_pb, plan.base, plan.kept, results,
                            plan.hashes, self.datum_lines())
        trees = self.storage.write_trees(self.writer, {USER: (plan.out_root, out_changes), META: (plan.meta_root, meta)})
        if outcome.reason:
            self.log(outcome.reason)
        self.flush(force=True)
        self.raise_if_killed()
        # The merge's time; the final transaction comes on top.
        stats = {**(outcome.counts.stats or {}), "finishing_time": time.time() - started}
        return replace(outcome, trees=trees, counts=replace(outcome.counts, stats=stats))

    # --- datums ------------------------------------------------------------------

    def _run_datums(self, datums: list[Datum]) -> list[DatumResult]:
        if not datums:
            return []
        for d in datums:
            self.datum_inputs[d.id] = datum_inputs_json(d.inputs)
        workers = self.pool.workers(int(self.spec.parallelism_spec.constant or 1), len(datums))
        sandboxes = self.pool.acquire((self.job.project, self.job.pipeline), workers)
        workers = len(sandboxes)
        ctx = JobContext(
            storage=self.storage, spec=self.spec, job_id=self.job.id, base_env=job_env(self.pipeline, self.job.id),
            cwd=working_dir(self.pipeline, self.workdir), writer=self.writer, writer_lock=self.writer_lock,
            log=self.log, deadline=None,
        )
        for box in sandboxes:
            if box.warning:
                self.log(f"warning: {box.warning}")
                break
        todo: queue.SimpleQueue[Datum | None] = queue.SimpleQueue()
        for d in datums:
            todo.put(d)
        remaining = [len(datums)]

        def work(index: int) -> None:
            worker = DatumWorker(ctx, sandboxes[index], self.scratch / f"slot{index}")
            upcoming: Datum | None = None
            while not self.cancel.is_set():
                datum, upcoming = (upcoming, None) if upcoming is not None else (todo.get(), None)
                if datum is None:
                    return
                # Take this worker's next datum now, so its input is staged while this one runs;
                # only while the queue holds more than one per worker (near the end a worker
                # must not sit idle while another holds a datum it took early).
                if todo.qsize() > workers:
                    try:
                        upcoming = todo.get_nowait()
                    except queue.Empty:
                        pass
                    if upcoming is None:
                        todo.put(None)  # an end marker is not ours to take
                event = threading.Event()
                with self._lock:
                    self._active[datum.id] = event
                try:
                    result = worker.run(datum, event, upcoming)
                finally:
                    with self._lock:
                        self._active.pop(datum.id, None)
                        restart = datum.id in self._restart
                        self._restart.discard(datum.id)
                if self.cancel.is_set():
                    return
                if restart and result.restarted:
                    self.log(f"datum {datum.id} restarted", datum=datum.id)
                    todo.put(datum)
                    continue
                with self._lock:
                    self._results.append(result)
                    self._counts[_COUNTED[result.state]] += 1
                    remaining[0] -= 1
                    done = remaining[0] == 0
                if done:
                    for _ in range(workers):
                        todo.put(None)
                self.flush()

        threads = [
            threading.Thread(target=work, args=(i,), name=f"datum-{self.job.pipeline}-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                # Log lines of long datums reach GetLogs(follow) while they run.
                t.join(_FLUSH_EVERY)
                self.flush()
        self.raise_if_killed()
        with self._lock:
            return list(self._results)
