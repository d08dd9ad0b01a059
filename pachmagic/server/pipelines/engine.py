"""The pipeline engine: the one object the PPS servicer talks to.

``Engine`` owns the pipeline records (``store``), the long-lived sandboxes of each
pipeline's workers, and the ``Scheduler`` that turns output commits into jobs and
runs them. Lifecycle operations live in ``lifecycle``, job execution in ``runner``
and ``worker``. State lives in the database, so a restarted server resumes: jobs
that were unfinished run again from the start, pipelines start their workers
again. No gRPC here.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from ..._proto import pps_pb2
from ...errors import FailedPrecondition, InvalidArgument, NotFound
from ..storage import BranchKey, CommitRef, RepoKey, Storage, new_commit_id
from ..storage.model import SPEC
from ...pachyderm.datums import Datum, plan
from ...pachyderm.inputs import cron_inputs, pfs_inputs
from .lifecycle import create_pipeline, delete_pipeline, not_found, start_pipeline, stop_pipeline
from .runner import JobRunner, end_job
from .sandbox import Sandbox
from .scheduler import (
    PIPELINE_FAILURE,
    PIPELINE_PAUSED,
    PIPELINE_RUNNING,
    PIPELINE_STARTING,
    Scheduler,
)
from .planner import CommitSource
from .spec import default_input
from .store import JOB_CREATED, JOB_KILLED, TERMINAL, DatumRecord, JobRecord, PipelineRecord, PipelineStore

__all__ = ["Engine", "PIPELINE_STARTING", "PIPELINE_RUNNING", "PIPELINE_PAUSED", "PIPELINE_FAILURE"]

# The server's own secrets stay out of user code's environment.
_PRIVATE_ENV = ("PACHMAGIC_AUTH_TOKEN",)


class Engine:
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
        run_jobs: bool = True,
    ) -> None:
        self.storage = storage
        # False: jobs are created and listed but never run (nor cron ticks), as on a
        # pachd without workers; the conformance suite compares against one.
        self.run_jobs = run_jobs
        self.store = PipelineStore(storage.db)
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
        # What a transform must not see: the whole data directory (the store), or our scratch.
        self.hidden_dir = data_dir if data_dir is not None else self.scratch_dir
        self._on_change = on_change
        self.lock = threading.RLock()  # short sections: runners, sandboxes
        self.lifecycle_lock = threading.RLock()  # create/update/stop/start/delete, one at a time
        self._sandboxes: dict[tuple[str, str], list[Sandbox]] = {}
        self.scheduler = Scheduler(self)
        self._unsubscribe = storage.subscribe(self.wake)

    # --- lifecycle of the engine ---------------------------------------------------

    def start(self) -> None:
        # Jobs that were under way when the server stopped run again from the start:
        # their output commits are still open, so nothing half-done is visible.
        for job in self.store.jobs(unfinished=True):
            if job.state != JOB_CREATED:
                self.store.update_job(job.project, job.pipeline, job.id, state=JOB_CREATED, restart=job.restart + 1)
        for record in self.store.pipelines():
            if not record.stopped and record.state in (PIPELINE_RUNNING, PIPELINE_STARTING):
                self.store.set_state(record.project, record.name, state=PIPELINE_STARTING)
        self.scheduler.start()

    def stop(self) -> None:
        self._unsubscribe()
        self.scheduler.stop()
        with self.lock:
            boxes = [b for group in self._sandboxes.values() for b in group]
            self._sandboxes.clear()
        for box in boxes:
            box.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def wake(self) -> None:
        self.scheduler.wake()

    def changed(self) -> None:
        self._on_change()

    # --- pipelines -------------------------------------------------------------------

    def guard_repo_delete(self, key: RepoKey) -> None:
        """Refuse to delete a repo that belongs to a pipeline (pachd 2.8+ behaviour)."""
        if self.store.get(key.project, key.name) is not None:
            raise FailedPrecondition("cannot delete a repo associated with a pipeline - delete the pipeline instead")

    def create_pipeline(
        self,
        request: pps_pb2.CreatePipelineRequest,
        *,
        update: bool = False,
        reprocess: bool = False,
        user_json: str = "",
        dry_run: bool = False,
    ) -> PipelineRecord:
        return create_pipeline(self, request, update=update, reprocess=reprocess, user_json=user_json, dry_run=dry_run)

    def inspect_pipeline(self, project: str, name: str, version: int | None = None) -> PipelineRecord:
        record = self.store.get(project, name, version)
        if record is None:
            raise not_found(project, name)
        return record

    def pipeline_history(self, project: str, name: str) -> list[PipelineRecord]:
        """Every version, newest first."""
        records = self.store.history(project, name)
        if not records:
            raise not_found(project, name)
        return records

    def list_pipelines(self, projects: Iterable[str] = ()) -> list[PipelineRecord]:
        return self.store.pipelines(projects)

    def delete_pipeline(
        self, project: str, name: str, *, force: bool = False, keep_repo: bool = False, must_exist: bool = False
    ) -> bool:
        return delete_pipeline(self, project, name, force=force, keep_repo=keep_repo, must_exist=must_exist)

    def delete_pipelines(self, projects: Iterable[str] = (), keep_repo: bool = False) -> list[PipelineRecord]:
        """Delete every pipeline (of ``projects``), downstream ones first; return them."""
        records = self.store.pipelines(projects)
        for record in _downstream_first(records):
            self.delete_pipeline(record.project, record.name, force=True, keep_repo=keep_repo)
        return records

    def delete_all(self) -> None:
        """PPS DeleteAll (also run by PFS DeleteAll before the repos go)."""
        self.delete_pipelines()

    def stop_pipeline(self, project: str, name: str) -> None:
        stop_pipeline(self, project, name)

    def start_pipeline(self, project: str, name: str) -> None:
        start_pipeline(self, project, name)

    def run_cron(self, project: str, name: str) -> None:
        """RunCron: tick every cron input of a pipeline now."""
        record = self.inspect_pipeline(project, name)
        crons = list(cron_inputs(record.spec.input))
        if not crons:
            raise FailedPrecondition(f'pipeline "{project}/{name}" has no cron inputs')
        now = time.time()
        for cron in crons:
            last = self.store.last_tick(project, name, cron.name)
            self.scheduler.tick(record, cron, max(now, (last or 0.0) + 1.0))

    def check_runnable(self, record: PipelineRecord) -> None:
        """Raise if the spec cannot run here: no working directory, no such command."""
        transform = record.spec.transform
        cwd = transform.working_dir or str(self.workdir)
        if not os.path.isdir(cwd):
            raise FailedPrecondition(f"working directory {cwd} does not exist")
        program = transform.cmd[0]
        if "/" in program:
            path = program if os.path.isabs(program) else os.path.join(cwd, program)
            found = os.access(path, os.X_OK) and os.path.isfile(path)
        else:
            env_path = dict(transform.env).get("PATH") or self._path()
            found = shutil.which(program, path=env_path) is not None
        if not found:
            raise FailedPrecondition(f'transform command "{program}" was not found (the image is not pulled here)')

    @staticmethod
    def _path() -> str:
        # python/python3 resolve to the server's own environment first.
        return os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", os.defpath)

    def base_env(self, pipeline: PipelineRecord, job_id: str) -> dict[str, str]:
        """The environment every datum of a job starts from (Pachyderm's worker variables)."""
        env = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
        env["PATH"] = self._path()
        env.update(pipeline.spec.transform.env)
        env.update({
            "PACH_JOB_ID": job_id,
            "PACH_OUTPUT_COMMIT_ID": job_id,
            "PPS_PIPELINE_NAME": pipeline.name,
            "PPS_PROJECT_NAME": pipeline.project,
            "PPS_SPEC_COMMIT": pipeline.spec_commit,
            "PPS_POD_NAME": f"{pipeline.project}-{pipeline.name}-v{pipeline.version}-local",
            "PPS_NAMESPACE": "pachmagic",
            "PPS_WORKER_IP": "127.0.0.1",
            "PEER_PORT": "1080",
        })
        return env

    # --- sandboxes ---------------------------------------------------------------------

    def sandboxes(self, pipeline: PipelineRecord, count: int) -> list[Sandbox]:
        """Long-lived sandboxes for a pipeline's workers (prepared once, reused per datum)."""
        key = (pipeline.project, pipeline.name)
        with self.lock:
            boxes = self._sandboxes.setdefault(key, [])
            need = count - len(boxes)
        new = []
        for i in range(max(0, need)):
            root = self.scratch_dir / "sandboxes" / f"{pipeline.project}-{pipeline.name}-{len(boxes) + i}"
            root.mkdir(parents=True, exist_ok=True)
            new.append(Sandbox(root, hidden=[self.hidden_dir]))
        with self.lock:
            boxes = self._sandboxes.setdefault(key, [])
            boxes.extend(new)
            return boxes[:count]

    def close_sandboxes(self, project: str, name: str) -> None:
        with self.lock:
            boxes = self._sandboxes.pop((project, name), [])
        for box in boxes:
            box.close()

    # --- jobs --------------------------------------------------------------------------

    def inspect_job(self, project: str, name: str, job_id: str) -> JobRecord:
        self.scheduler.sync()
        job = self.store.job(project, name, job_id)
        if job is None:
            if self.store.get(project, name) is None:
                raise not_found(project, name)
            raise NotFound(f"job {project}/{name}@{job_id} not found")
        return job

    def list_jobs(
        self, *, project: str | None = None, pipeline: str | None = None, job_id: str | None = None
    ) -> list[JobRecord]:
        """Jobs, newest first."""
        self.scheduler.sync()
        return self.store.jobs(project=project, pipeline=pipeline, job_id=job_id)

    def job_set(self, job_id: str) -> list[JobRecord]:
        self.scheduler.sync()
        jobs = self.store.jobs(job_id=job_id)
        if not jobs:
            raise NotFound(f"no jobs found for job set {job_id}")
        return jobs

    def stop_job(self, project: str, name: str, job_id: str, reason: str = "") -> None:
        job = self.inspect_job(project, name, job_id)
        if job.state in TERMINAL:
            return
        reason = reason or "job was stopped"
        entry = self.scheduler.runner_for(project, name, job_id)
        if entry is not None:
            entry[0].kill(reason)
            entry[1].join(timeout=60)
        job = self.inspect_job(project, name, job_id)
        if job.state not in TERMINAL:
            end_job(self, job, job_id, JOB_KILLED, reason)

    def delete_job(self, project: str, name: str, job_id: str) -> None:
        self.stop_job(project, name, job_id, "job deleted")
        self.store.delete_job(project, name, job_id)
        self.changed()

    def running_job(self, project: str, name: str, job_id: str) -> JobRunner | None:
        entry = self.scheduler.runner_for(project, name, job_id)
        return entry[0] if entry is not None else None

    # --- datums ------------------------------------------------------------------------

    def datums(self, project: str, name: str, job_id: str) -> list[DatumRecord]:
        """A job's datums, sorted by ID (a running job's come from its runner)."""
        job = self.inspect_job(project, name, job_id)
        if job.state not in TERMINAL:
            runner = self.running_job(project, name, job_id)
            if runner is not None:
                records = runner.datum_records()
                # The runner may have ended in between: then the table has them.
                if records or self.inspect_job(project, name, job_id).state not in TERMINAL:
                    return sorted(records, key=lambda d: d.datum_id)
        return self.store.datums(project, name, job_id)

    def restart_datums(self, project: str, name: str, job_id: str, datum_ids: set[str] | None) -> None:
        """RestartDatum: rerun running datums now; for a finished job, a new job retries its failures."""
        job = self.inspect_job(project, name, job_id)
        if job.state not in TERMINAL:
            runner = self.running_job(project, name, job_id)
            if runner is not None:
                runner.restart_datums(datum_ids)
            return  # or not started yet: every datum runs anyway
        record = self.inspect_pipeline(project, name)
        if record.stopped:
            raise FailedPrecondition(f'pipeline "{project}/{name}" is stopped; start it to retry datums')
        if self.store.jobs(project=project, pipeline=name, unfinished=True):
            return  # the next job retries failed datums anyway
        # Failed datums never count as processed, so a new job over the same inputs retries them.
        catalog = self.storage.catalog
        with self.lifecycle_lock, self.storage.changing():
            catalog.propagate([catalog.branch_id(BranchKey(RepoKey(project, name, SPEC), "master"))], new_commit_id())
        self.scheduler.sync()
        self.wake()

    def dry_run_datums(self, node: pps_pb2.Input, project: str) -> list[Datum]:
        """The datums an input spec would have over the current heads of its branches."""
        spec_input = pps_pb2.Input()
        spec_input.CopyFrom(node)
        default_input(spec_input, project, "dry-run")
        sources: dict[str, CommitSource] = {}
        for pfs in pfs_inputs(spec_input):
            ref = CommitRef(RepoKey(pfs.project, pfs.repo, pfs.repo_type), branch=pfs.branch)
            row = self.storage.resolve(ref)
            sources[pfs.name] = CommitSource(self.storage.reader_for(row), row.id)
        for cron in cron_inputs(spec_input):
            try:
                row = self.storage.resolve(CommitRef(RepoKey(cron.project, cron.repo), branch="master"))
            except NotFound:
                raise InvalidArgument(f"cron repo {cron.repo} does not exist yet") from None
            sources[cron.name] = CommitSource(self.storage.reader_for(row), row.id)
        return plan(spec_input, sources)


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
