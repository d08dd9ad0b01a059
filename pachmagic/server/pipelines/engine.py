"""The pipeline engine: the one object the PPS servicer talks to, wiring the parts below.

Who owns what (see ARCHITECTURE.md for the picture):

- ``Ledger`` — every write of the engine's records (pipeline states and versions,
  jobs, datums, logs, cron ticks), through ``Storage``;
- ``WorkerPool`` — the pipelines' sandboxes and how many each may have;
- ``Scheduler`` — the threads: scheduling, starting workers, running jobs;
- ``Lifecycle`` — create, update, stop, start, delete;
- ``Queries`` (inherited) — the read API.

Lock order (a thread holding one may only take those after it): the lifecycle
lock → the ledger's sync lock → the scheduler's lock → the pool's lock → a
runner's lock → the database's lock (inside ``Storage``). The scheduler's wake
condition is a leaf. No lock is held while joining a thread or starting a
sandbox. State lives in the database, so a restarted server resumes: unfinished
jobs run again from the start, pipelines start their workers again. No gRPC here.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ...errors import FailedPrecondition, NotFound
from ...pachyderm.inputs import cron_inputs, pfs_inputs
from ...pachyderm.spec import Spec
from ..storage import RepoKey, Storage
from ..storage.pipeline_records import JobKey, PipelineRecord
from .ledger import Ledger
from .lifecycle import Lifecycle
from .pool import WorkerPool
from .queries import Queries
from .scheduler import Scheduler
from .states import TERMINAL

__all__ = ["Engine"]


class Engine(Queries):
    """Pipelines, jobs and datums of one embedded server.

    Parameters
    ----------
    storage:
        The server's PFS.
    data_dir:
        The server's data directory (scratch space goes below it); ``None`` uses
        a temporary directory.
    workdir:
        Where transform commands run when a spec has no ``working_dir``.
    on_change:
        Called (from any thread) whenever job, datum, log or pipeline state changes.
    max_workers:
        The most workers one pipeline may have (``None``: the CPU count).
    run_jobs:
        False leaves every job in JOB_CREATED and ticks no cron input.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        data_dir: Path | None,
        workdir: Path,
        on_change: Callable[[], None] = lambda: None,
        max_workers: int | None = None,
        run_jobs: bool = True,
    ) -> None:
        self.storage = storage
        self.workdir = workdir
        self._tmp: str | None = None
        if data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="pachmagic-scratch-")
            self.scratch_dir = Path(self._tmp)
        else:
            self.scratch_dir = data_dir / "scratch"
            # Whatever a previous run left here belonged to jobs that run again.
            shutil.rmtree(self.scratch_dir, ignore_errors=True)
            self.scratch_dir.mkdir(parents=True, exist_ok=True)
        lifecycle_lock = threading.RLock()
        self.ledger = Ledger(storage, on_change)
        self.pool = WorkerPool(self.scratch_dir, max_workers, hidden=data_dir)
        self.scheduler = Scheduler(storage=storage, ledger=self.ledger, pool=self.pool, lifecycle_lock=lifecycle_lock,
                                   workdir=workdir, scratch_dir=self.scratch_dir, run_jobs=run_jobs)
        self.lifecycle = Lifecycle(storage=storage, ledger=self.ledger, pool=self.pool, scheduler=self.scheduler,
                                   lock=lifecycle_lock)
        self._unsubscribe = storage.subscribe(self.scheduler.wake)

    # --- the engine itself ---------------------------------------------------------

    def start(self) -> None:
        self.ledger.recover()
        self.scheduler.start()

    def stop(self) -> None:
        """Stop the threads and every worker (unfinished jobs run again at the next start)."""
        self._unsubscribe()
        self.scheduler.stop()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # --- pipelines -------------------------------------------------------------------

    def guard_repo_delete(self, key: RepoKey) -> None:
        """Refuse to delete a repo that belongs to a pipeline (pachd 2.8+ behaviour)."""
        if self.storage.pps.get(key.project, key.name) is not None:
            raise FailedPrecondition("cannot delete a repo associated with a pipeline - delete the pipeline instead")

    def create_pipeline(
        self, request: Spec, *, update: bool = False, reprocess: bool = False, user_json: str = "",
        dry_run: bool = False,
    ) -> PipelineRecord:
        return self.lifecycle.create(request, update=update, reprocess=reprocess, user_json=user_json, dry_run=dry_run)

    def rerun_pipeline(self, project: str, name: str, *, reprocess: bool) -> None:
        """RerunPipeline: a new version with the same spec (new salt with ``reprocess``)."""
        record = self.inspect_pipeline(project, name)
        self.lifecycle.create(record.spec, update=True, reprocess=reprocess, user_json=record.user_spec)

    def delete_pipeline(
        self, project: str, name: str, *, force: bool = False, keep_repo: bool = False, must_exist: bool = False
    ) -> bool:
        return self.lifecycle.delete(project, name, force=force, keep_repo=keep_repo, must_exist=must_exist)

    def delete_pipelines(self, projects: Iterable[str] = (), keep_repo: bool = False) -> list[PipelineRecord]:
        """Delete every pipeline (of ``projects``), downstream ones first; return them."""
        records = self.storage.pps.pipelines(projects)
        for record in _downstream_first(records):
            self.lifecycle.delete(record.project, record.name, force=True, keep_repo=keep_repo)
        return records

    def delete_all(self) -> None:
        """PPS DeleteAll (also run by PFS DeleteAll before the repos go)."""
        self.delete_pipelines()

    def stop_pipeline(self, project: str, name: str) -> None:
        self.lifecycle.stop(project, name)

    def start_pipeline(self, project: str, name: str) -> None:
        self.lifecycle.start(project, name)

    def run_cron(self, project: str, name: str) -> None:
        """RunCron: tick every cron input of a pipeline now."""
        record = self.inspect_pipeline(project, name)
        if not any(True for _ in cron_inputs(record.spec.input)):
            raise FailedPrecondition(f'pipeline "{project}/{name}" has no cron inputs')
        self.scheduler.run_cron(record)

    # --- jobs and datums ---------------------------------------------------------------

    def stop_job(self, project: str, name: str, job_id: str, reason: str = "") -> None:
        job = self.inspect_job(project, name, job_id)
        if job.state not in TERMINAL:
            self.scheduler.stop_job(job.key, reason or "job was stopped")

    def delete_job(self, project: str, name: str, job_id: str) -> None:
        self.stop_job(project, name, job_id, "job deleted")
        self.ledger.delete_job(JobKey(project, name, job_id))

    def restart_datums(
        self, project: str, name: str, job_id: str, datum_ids: set[str] | None = None, *, filters: Sequence[str] = ()
    ) -> None:
        """RestartDatum: rerun running datums now; for a finished job, a new job retries its failures.

        ``datum_ids`` (or the datums matching every data filter) narrows it; neither: all.
        """
        if filters:
            datum_ids = self.datums_matching(project, name, job_id, filters)
            if not datum_ids:
                raise NotFound(f"no datum of job {project}/{name}@{job_id} matches {', '.join(filters)}")
        job = self.inspect_job(project, name, job_id)
        if job.state not in TERMINAL:
            runner = self.scheduler.running(job.key)
            if runner is not None:
                runner.restart_datums(datum_ids)
            return  # or not started yet: every datum runs anyway
        if self.inspect_pipeline(project, name).stopped:
            raise FailedPrecondition(f'pipeline "{project}/{name}" is stopped; start it to retry datums')
        self.lifecycle.retry(project, name)


def _downstream_first(records: list[PipelineRecord]) -> list[PipelineRecord]:
    """Order pipelines so that a pipeline comes before those it reads from."""
    done: list[PipelineRecord] = []
    seen: set[tuple[str, str]] = set()

    def visit(record: PipelineRecord) -> None:
        key = (record.project, record.name)
        if key in seen:
            return
        seen.add(key)
        for other in records:
            if any((p.project, p.repo) == key for p in pfs_inputs(other.spec.input)):
                visit(other)
        done.append(record)

    for record in records:
        visit(record)
    return done
