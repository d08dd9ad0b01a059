"""Run one job to a terminal state: plan, skip, run datums, merge, finish atomically.

A ``JobRunner`` plans the job's datums over its input commits (the output
commit's provenance), skips those the base job already processed with the same
hash (unless ``reprocess_spec`` is ``every_job``), runs the rest on up to
``parallelism_spec.constant`` sandboxes at once, and ends the job in one
transaction that sets the output and meta trees, finishes both commits (with the
job's error, if any), records the datums and the job's counters. A job whose
input commit carries an error is UNRUNNABLE; a killed job (StopJob, pipeline
stopped/updated/deleted, ``job_timeout``) is KILLED. A server that stops or dies
mid-job leaves the job unfinished and its commits open; it runs again from the
start at the next start, so nothing half-done ever becomes visible. No gRPC here.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from typing import TYPE_CHECKING, Any

from ...errors import NotFound, PachError, Unknown
from ..storage import CommitRef, RepoKey
from ..storage.model import META, USER, CommitInfo
from ...pachyderm.datums import Datum, plan
from ...pachyderm.inputs import cron_inputs, pfs_inputs
from .finish import JobPlan, end_job, finish_job
from .merge import datum_inputs_json
from .planner import CommitSource
from .spec import input_branches
from .store import (
    DATUM_FAILED,
    DATUM_RECOVERED,
    DATUM_SKIPPED,
    DATUM_STARTING,
    DATUM_SUCCESS,
    JOB_FAILURE,
    JOB_KILLED,
    JOB_RUNNING,
    JOB_SUCCESS,
    JOB_UNRUNNABLE,
    DatumRecord,
    JobRecord,
    PipelineRecord,
)
from .worker import DatumResult, DatumWorker, JobContext

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["JobRunner", "end_job"]  # end_job re-exported for the scheduler

log = logging.getLogger("pachmagic.pipelines")
_FLUSH_EVERY = 0.25  # seconds between progress/log writes while datums run
_MAX_META_LINES = 10_000  # user lines per datum kept in the meta commit


class JobKilled(Exception):
    """The job was stopped (StopJob, pipeline stopped, updated or deleted, timeout)."""


class JobRunner:
    """Runs one job of one pipeline to a terminal state (on its own thread)."""

    def __init__(self, engine: "Engine", pipeline: PipelineRecord, job: JobRecord) -> None:
        self.engine = engine
        self.storage = engine.storage
        self.store = engine.store
        self.pipeline = pipeline
        self.spec = pipeline.spec
        self.job = job
        self.cancel = threading.Event()
        self.kill_reason = ""
        self.abandoned = False
        self.out_repo = RepoKey(pipeline.project, pipeline.name)
        self.scratch = engine.scratch_dir / "jobs" / f"{pipeline.project}-{pipeline.name}-{job.id}"
        self._lock = threading.Lock()
        self._logs: list[tuple[str, str, str, str, float, bool, str, bool]] = []
        self._datum_lines: dict[str, list[str]] = {}
        self._active: dict[str, threading.Event] = {}
        self._restart: set[str] = set()
        self._counts = {"processed": 0, "failed": 0, "recovered": 0}
        self._last_flush = 0.0
        self.datum_inputs: dict[str, list[dict[str, Any]]] = {}  # for log filters while running
        self.plan: JobPlan | None = None
        self.results: list[DatumResult] = []

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
        p, plan = self.pipeline, self.plan
        if plan is None:
            return []
        with self._lock:
            done = {r.datum.id: r for r in self.results}
        records = []
        for datum in plan.datums:
            result = done.get(datum.id)
            state = DATUM_SKIPPED if datum.id in plan.kept else result.state if result else DATUM_STARTING
            records.append(DatumRecord(
                p.project, p.name, self.job.id, datum.id, state, plan.hashes[datum.id], datum_inputs_json(datum.inputs),
                [e.path for e in result.entries] if result else [], result.stats if result else {},
                result.reason if result else "", "" if datum.id in plan.kept else self.job.id,
            ))
        return records

    # --- logging -----------------------------------------------------------------

    def datum_lines(self) -> dict[str, list[str]]:
        """Each datum's user log lines so far (kept in the meta commit)."""
        with self._lock:
            return {k: list(v) for k, v in self._datum_lines.items()}

    def log(self, message: str, *, datum: str = "", user: bool = False) -> None:
        p = self.pipeline
        with self._lock:
            self._logs.append((p.project, p.name, self.job.id, datum, time.time(), user, message, not datum))
            if user and datum:
                lines = self._datum_lines.setdefault(datum, [])
                if len(lines) < _MAX_META_LINES:
                    lines.append(message)

    def flush(self, force: bool = False) -> None:
        """Write buffered log lines and the progress counters (at most every ``_FLUSH_EVERY``)."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_flush < _FLUSH_EVERY:
                return
            self._last_flush = now
            rows, self._logs = self._logs, []
            counts = dict(self._counts)
        with self.storage.db.transaction():
            if rows:
                self.store.add_logs(rows)
            if not self.abandoned:
                self.store.update_job(self.pipeline.project, self.pipeline.name, self.job.id, **counts)
        self.engine.changed()

    # --- the job -----------------------------------------------------------------

    def run(self) -> None:
        deadline_timer = None
        if self.spec.HasField("job_timeout"):
            seconds = self.spec.job_timeout.ToNanoseconds() / 1e9
            deadline_timer = threading.Timer(seconds, self.kill, args=(f"job exceeded its timeout of {seconds:g}s",))
            deadline_timer.daemon = True
            deadline_timer.start()
        try:
            self._run()
        except JobKilled:
            if not self.abandoned:
                self.log(f"job killed: {self.kill_reason}")
                self.flush(force=True)
                end_job(self.engine, self.pipeline, self.job.id, JOB_KILLED, self.kill_reason or "job killed")
        except Exception as err:  # noqa: BLE001 - a job must always end
            if self.abandoned:
                return
            detail = err.details if isinstance(err, PachError) else f"internal error: {type(err).__name__}: {err}"
            log.exception("job %s/%s@%s failed", self.pipeline.project, self.pipeline.name, self.job.id)
            self.log(f"job failed: {detail}")
            self.flush(force=True)
            try:
                end_job(self.engine, self.pipeline, self.job.id, JOB_FAILURE, detail)
            except Exception:  # noqa: BLE001 - the next start retries the job
                log.exception("could not record the end of job %s", self.job.id)
        finally:
            if deadline_timer is not None:
                deadline_timer.cancel()
            if not self.abandoned:
                self.flush(force=True)
            shutil.rmtree(self.scratch, ignore_errors=True)

    def raise_if_killed(self) -> None:
        if self.cancel.is_set():
            raise JobKilled()

    def _run(self) -> None:
        p, job_id = self.pipeline, self.job.id
        self.store.update_job(p.project, p.name, job_id, state=JOB_RUNNING, started=time.time())
        self.engine.changed()
        sources, failed = self._sources()
        if failed:
            reason = "unrunnable because the following upstream pipelines failed: " + ", ".join(failed)
            self.log(reason)
            end_job(self.engine, p, job_id, JOB_UNRUNNABLE, reason)
            return
        t0 = time.time()
        datums = plan(self.spec.input, sources)
        planned = time.time() - t0
        self.raise_if_killed()
        base_id, out_root, meta_root, base = self._base()
        every_job = self.spec.reprocess_spec == "every_job"
        hashes = {d.id: d.hash(p.salt) for d in datums}
        kept = set() if every_job else {d.id for d in datums if d.id in base and base[d.id][0] == hashes[d.id]}
        todo = [d for d in datums if d.id not in kept]
        self.store.update_job(p.project, p.name, job_id, total=len(datums), skipped=len(kept))
        self.log(f"{len(datums)} datums ({len(kept)} skipped, {len(todo)} to process), planned in {planned:.3f}s")
        self.flush(force=True)
        self.plan = JobPlan(datums, hashes, base_id, out_root, meta_root, base, kept, planned)
        results = self._run_datums(todo)
        self.raise_if_killed()
        finish_job(self, self.plan, results)

    def _sources(self) -> tuple[dict[str, CommitSource], list[str]]:
        """Each input name's commit in this job's provenance; names of failed upstream repos."""
        info = self.storage.inspect_commit(CommitRef(self.out_repo, id=self.job.id))
        commits: dict[tuple[str, str, str], list[CommitInfo]] = {}
        for key in info.direct_provenance:
            ci = self.storage.inspect_commit(CommitRef(key.repo, id=key.id))
            commits.setdefault((key.repo.project, key.repo.name, key.repo.type), []).append(ci)

        def commit_of(project: str, repo: str, repo_type: str, branch: str) -> CommitInfo:
            candidates = commits.get((project, repo, repo_type), [])
            for ci in candidates:
                if ci.branch is not None and ci.branch.name == branch:
                    return ci
            if candidates:  # a head moved onto another branch's commit
                return candidates[0]
            raise Unknown(f"no commit of {project}/{repo}@{branch} in the provenance of job {self.job.id}")

        failed = sorted({b.repo for b in input_branches(self.spec.input)
                         if commit_of(b.project, b.repo, b.repo_type, b.branch).error})
        if failed:
            return {}, failed
        sources: dict[str, CommitSource] = {}
        for pfs in pfs_inputs(self.spec.input):
            ci = commit_of(pfs.project, pfs.repo, pfs.repo_type or USER, pfs.branch)
            sources[pfs.name] = CommitSource(self.storage.reader(CommitRef(ci.key.repo, id=ci.key.id)), ci.key.id)
        for cron in cron_inputs(self.spec.input):
            ci = commit_of(cron.project, cron.repo, USER, "master")
            sources[cron.name] = CommitSource(self.storage.reader(CommitRef(ci.key.repo, id=ci.key.id)), ci.key.id)
        return sources, []

    def _base(self) -> tuple[str, bytes | None, bytes | None, dict[str, tuple[str, list[str]]]]:
        """The job the new output builds on: the nearest earlier output commit without error whose job succeeded."""
        catalog = self.storage.catalog
        p = self.pipeline
        row = catalog.resolve(CommitRef(self.out_repo, id=self.job.id))
        parent = row.parent_seq
        while parent is not None:
            prow = catalog.commit_row(parent)
            parent = prow.parent_seq
            if prow.error or prow.finished is None:
                continue
            job = self.store.job(p.project, p.name, prow.id)
            if job is None or job.state != JOB_SUCCESS:
                continue
            try:
                meta = catalog.resolve(CommitRef(RepoKey(p.project, p.name, META), id=prow.id))
                meta_root = meta.root
            except NotFound:
                meta_root = None
            return prow.id, prow.root, meta_root, self.store.skip_table(p.project, p.name, prow.id)
        return "", None, None, {}

    # --- datums ------------------------------------------------------------------

    def _context(self) -> JobContext:
        return JobContext(
            storage=self.storage,
            spec=self.spec,
            job_id=self.job.id,
            base_env=self.engine.base_env(self.pipeline, self.job.id),
            cwd=self.spec.transform.working_dir or str(self.engine.workdir),
            writer=self.writer,
            writer_lock=self.writer_lock,
            log=self.log,
            deadline=None,
        )

    def _run_datums(self, datums: list[Datum]) -> list[DatumResult]:
        self.writer = self.storage.chunks.writer()
        self.writer_lock = threading.Lock()
        if not datums:
            return []
        for d in datums:
            self.datum_inputs[d.id] = datum_inputs_json(d.inputs)
        workers = max(1, min(int(self.spec.parallelism_spec.constant or 1), len(datums)))
        sandboxes = self.engine.sandboxes(self.pipeline, workers)
        ctx = self._context()
        for box in sandboxes:
            if box.warning:
                self.log(f"warning: {box.warning}")
                break
        todo: queue.SimpleQueue[Datum | None] = queue.SimpleQueue()
        for d in datums:
            todo.put(d)
        results = self.results
        remaining = [len(datums)]

        def work(index: int) -> None:
            worker = DatumWorker(ctx, sandboxes[index], self.scratch / f"slot{index}")
            while not self.cancel.is_set():
                datum = todo.get()
                if datum is None:
                    return
                event = threading.Event()
                with self._lock:
                    self._active[datum.id] = event
                try:
                    result = worker.run(datum, event)
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
                    results.append(result)
                    key = {DATUM_SUCCESS: "processed", DATUM_FAILED: "failed", DATUM_RECOVERED: "recovered"}[result.state]
                    self._counts[key] += 1
                    remaining[0] -= 1
                    done = remaining[0] == 0
                if done:
                    for _ in range(workers):
                        todo.put(None)
                self.flush()

        threads = [
            threading.Thread(target=work, args=(i,), name=f"datum-{self.pipeline.name}-{i}", daemon=True)
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
        return results
