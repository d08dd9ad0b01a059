"""The pipeline engine: pipelines' lifecycle and a scheduler that turns commits into jobs.

Creating a pipeline creates its output, spec and meta repos and wires the output
branch's provenance to the inputs and the spec; from then on PFS's commit-set
propagation opens an output commit for every new input commit (and for every
spec change). The scheduler notices output commits without a job, creates the
job (job ID = commit set ID), and runs each pipeline's jobs one at a time, in
commit order, once their input commits are finished. State lives in the
database, so a restarted server resumes unfinished jobs. No gRPC here.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

from ..._proto import pps_pb2
from ...errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from ..storage import BranchKey, CommitRef, RepoKey, Storage, new_commit_id
from ..storage.model import META, SPEC, USER
from ..storage.tree import Changes, Tree
from .runner import JobRunner
from .sandbox import Sandbox
from .spec import pfs_inputs, spec_to_json, validate_and_default
from .store import (
    JOB_CREATED,
    JOB_FAILURE,
    JOB_KILLED,
    JOB_STARTING,
    JOB_UNRUNNABLE,
    TERMINAL,
    DatumRecord,
    JobRecord,
    PipelineRecord,
    PipelineStore,
)

__all__ = ["Engine", "PIPELINE_STARTING", "PIPELINE_RUNNING", "PIPELINE_PAUSED", "PIPELINE_FAILURE"]

log = logging.getLogger("pachmagic.pipelines")

# pps_v2.PipelineState values.
PIPELINE_STARTING, PIPELINE_RUNNING, PIPELINE_RESTARTING, PIPELINE_FAILURE, PIPELINE_PAUSED = 1, 2, 3, 4, 5


def _not_found(project: str, name: str) -> NotFound:
    return NotFound(f'pipeline "{project}/{name}" not found')


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
        Where relative transform commands run when a spec has no ``working_dir``.
    on_change:
        Called (from any thread) whenever job or pipeline state changes.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        data_dir: Path | None,
        workdir: Path,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.storage = storage
        self.store = PipelineStore(storage.db)
        self.workdir = workdir
        self._tmp: str | None = None
        if data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="pachmagic-scratch-")
            self.scratch_dir = Path(self._tmp)
        else:
            self.scratch_dir = data_dir / "scratch"
            shutil.rmtree(self.scratch_dir, ignore_errors=True)
            self.scratch_dir.mkdir(parents=True, exist_ok=True)
        self._on_change = on_change
        self._wake = threading.Condition()
        self._dirty = True
        self._stop = False
        self._thread: threading.Thread | None = None
        self._running: dict[tuple[str, str], tuple[JobRunner, threading.Thread]] = {}
        self._sandboxes: dict[tuple[str, str], list[Sandbox]] = {}
        self._lock = threading.RLock()
        self._unsubscribe = storage.subscribe(self.wake)

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        # Jobs that were running when the server stopped run again from scratch:
        # their output commits are still open, so nothing half-done is visible.
        for job in self.store.jobs():
            if job.state not in TERMINAL and job.state != JOB_CREATED:
                self.store.update_job(job.project, job.pipeline, job.id, state=JOB_CREATED, restart=job.restart + 1)
        for record in self.store.list():
            if not record.stopped and record.state == PIPELINE_STARTING:
                self.store.set_state(record.project, record.name, state=PIPELINE_RUNNING)
        self._thread = threading.Thread(target=self._loop, name="pachmagic-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._unsubscribe()
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        with self._lock:
            running = list(self._running.values())
        for runner, _ in running:
            runner.kill("server stopping")
        for _, thread in running:
            thread.join(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            for boxes in self._sandboxes.values():
                for box in boxes:
                    box.close()
            self._sandboxes.clear()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def wake(self) -> None:
        with self._wake:
            self._dirty = True
            self._wake.notify_all()

    def changed(self) -> None:
        self._on_change()

    # --- pipelines ---------------------------------------------------------------

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
        spec = validate_and_default(request)
        project, name = spec.pipeline.project.name, spec.pipeline.name
        catalog = self.storage.catalog
        out_repo = RepoKey(project, name)
        inputs = list(pfs_inputs(spec.input))
        with self._lock:
            existing = self.store.get(project, name)
            if existing is not None and not update:
                raise AlreadyExists(f'pipeline "{project}/{name}" already exists')
            self.storage.inspect_project(project)
            for pfs in inputs:
                self.storage.inspect_repo(RepoKey(pfs.project, pfs.repo, pfs.repo_type))
                if pfs.project == project and pfs.repo == name:
                    raise InvalidArgument(f"pipeline {name} cannot take its own output repo as input")
            if existing is None:
                try:
                    self.storage.inspect_repo(out_repo)
                    raise AlreadyExists(
                        f'pipeline "{name}" cannot be created because a repo with the same name already exists'
                    )
                except NotFound:
                    pass
            if dry_run:
                return self._record_for(spec, existing, user_json)
            salt = spec.salt or (existing.salt if existing is not None and not reprocess else uuid.uuid4().hex)
            spec.salt = salt
            set_id = new_commit_id()
            spec_branch = BranchKey(RepoKey(project, name, SPEC), "master")
            out_branch = BranchKey(out_repo, spec.output_branch)
            meta_branch = BranchKey(RepoKey(project, name, META), spec.output_branch)
            version = 1 if existing is None else existing.version + 1
            if existing is not None:
                self._kill_jobs(project, name, "all jobs killed because pipeline was updated")
            with self.storage.changing():
                if existing is None:
                    catalog.create_repo(out_repo, f"Output repo for pipeline {project}/{name}.")
                    catalog.create_repo(spec_branch.repo, f"Spec repo for pipeline {project}/{name}.")
                    catalog.create_repo(meta_branch.repo, f"Meta repo for pipeline {project}/{name}.")
                provenance = [BranchKey(RepoKey(p.project, p.repo, p.repo_type), p.branch) for p in inputs]
                for prov in provenance:
                    catalog.ensure_branch(prov, set_id)
                stopped = existing.stopped if existing is not None else False
                for branch in (out_branch, meta_branch, spec_branch):
                    catalog.declare_branch(branch)
                if not stopped:
                    for branch in (out_branch, meta_branch):
                        catalog.set_provenance(branch, [*provenance, spec_branch])
                spec_commit = catalog.make_commit(spec_branch, set_id, finished=True, propagate=not stopped)
                self.store.put_version(
                    project, name, version, spec, user_json, salt, spec_commit.id,
                    stopped=stopped, state=PIPELINE_PAUSED if stopped else PIPELINE_RUNNING,
                )
            record = self.store.get(project, name)
            assert record is not None
        self.changed()
        self.wake()
        return record

    def _record_for(
        self, spec: pps_pb2.CreatePipelineRequest, existing: PipelineRecord | None, user_json: str
    ) -> PipelineRecord:
        now = time.time()
        return PipelineRecord(
            spec.pipeline.project.name, spec.pipeline.name, (existing.version + 1) if existing else 1, spec,
            user_json, spec.salt, "", now, now, PIPELINE_STARTING, False, "",
        )

    def inspect_pipeline(self, project: str, name: str, version: int | None = None) -> PipelineRecord:
        record = self.store.get(project, name, version)
        if record is None:
            raise _not_found(project, name)
        return record

    def pipeline_history(self, project: str, name: str) -> list[PipelineRecord]:
        records = self.store.history(project, name)
        if not records:
            raise _not_found(project, name)
        return records

    def list_pipelines(self, projects: Iterable[str] = ()) -> list[PipelineRecord]:
        return self.store.list(projects)

    def delete_pipeline(self, project: str, name: str, *, force: bool = False, keep_repo: bool = False, must_exist: bool = False) -> bool:
        with self._lock:
            record = self.store.get(project, name)
            if record is None:
                if must_exist:
                    raise _not_found(project, name)
                return False
            out_repo = RepoKey(project, name)
            catalog = self.storage.catalog
            if not keep_repo and not force:
                # Refuse before touching anything if another pipeline reads this output.
                for other in self.store.list():
                    if other.name == name and other.project == project:
                        continue
                    for pfs in pfs_inputs(other.spec.input):
                        if pfs.project == project and pfs.repo == name:
                            raise FailedPrecondition(
                                f'cannot delete pipeline "{project}/{name}": pipeline "{other.project}/{other.name}" '
                                "reads its output; delete that pipeline first or use force"
                            )
            self._kill_jobs(project, name, "pipeline deleted")
            with self.storage.changing():
                for repo_type in (SPEC, META):
                    catalog.delete_repo(RepoKey(project, name, repo_type), force=True)
                if keep_repo:
                    try:
                        for branch in catalog.list_branches(out_repo):
                            catalog.set_provenance(branch.key, [])
                    except NotFound:
                        pass
                else:
                    catalog.delete_repo(out_repo, force=True)
                self.store.delete(project, name)
            self._close_sandboxes(project, name)
        self.changed()
        return True

    def delete_all(self) -> None:
        for record in self.store.list():
            self.delete_pipeline(record.project, record.name, force=True)

    def stop_pipeline(self, project: str, name: str) -> None:
        with self._lock:
            record = self.inspect_pipeline(project, name)
            self._kill_jobs(project, name, "all jobs killed because pipeline was stopped")
            with self.storage.changing():
                for repo_type in (USER, META):
                    self.storage.catalog.set_provenance(BranchKey(RepoKey(project, name, repo_type), record.spec.output_branch), [])
                self.store.set_state(project, name, state=PIPELINE_PAUSED, stopped=True)
        self.changed()

    def start_pipeline(self, project: str, name: str) -> None:
        with self._lock:
            record = self.inspect_pipeline(project, name)
            if not record.stopped:
                return
            catalog = self.storage.catalog
            provenance = [BranchKey(RepoKey(p.project, p.repo, p.repo_type), p.branch) for p in pfs_inputs(record.spec.input)]
            spec_branch = BranchKey(RepoKey(project, name, SPEC), "master")
            set_id = new_commit_id()
            with self.storage.changing():
                for repo_type in (USER, META):
                    branch = BranchKey(RepoKey(project, name, repo_type), record.spec.output_branch)
                    catalog.set_provenance(branch, [*provenance, spec_branch])
                spec_id = catalog.branch_id(spec_branch)
                catalog.propagate([spec_id], set_id)
                self.store.set_state(project, name, state=PIPELINE_RUNNING, stopped=False)
        self.changed()
        self.wake()

    # --- jobs --------------------------------------------------------------------

    def _kill_jobs(self, project: str, name: str, reason: str) -> None:
        runner = None
        with self._lock:
            entry = self._running.get((project, name))
            if entry is not None:
                runner, thread = entry
                runner.kill(reason)
        if runner is not None:
            thread.join(timeout=60)
        for job in self.store.jobs(project=project, pipeline=name):
            if job.state not in TERMINAL:
                self._end_job_without_running(project, name, job.id, JOB_KILLED, reason)

    def _end_job_without_running(self, project: str, name: str, job_id: str, state: int, reason: str) -> None:
        with self.storage.changing():
            for repo_type in (USER, META):
                try:
                    row = self.storage.catalog.resolve(CommitRef(RepoKey(project, name, repo_type), id=job_id))
                except NotFound:
                    continue
                if row.is_open:
                    self.storage.catalog.finish_commit(row, error=reason, force=True)
            self.store.update_job(project, name, job_id, state=state, reason=reason, finished=time.time())
        self.changed()

    def stop_job(self, project: str, name: str, job_id: str, reason: str = "") -> None:
        job = self.inspect_job(project, name, job_id)
        if job.state in TERMINAL:
            return
        reason = reason or "job killed"
        with self._lock:
            entry = self._running.get((project, name))
            if entry is not None and entry[0].job.id == job_id:
                entry[0].kill(reason)
                thread = entry[1]
            else:
                thread = None
        if thread is not None:
            thread.join(timeout=60)
        else:
            self._end_job_without_running(project, name, job_id, JOB_KILLED, reason)

    def inspect_job(self, project: str, name: str, job_id: str) -> JobRecord:
        job = self.store.job(project, name, job_id)
        if job is None:
            if self.store.get(project, name) is None:
                raise _not_found(project, name)
            raise NotFound(f"job {project}/{name}@{job_id} not found")
        return job

    def list_jobs(self, *, project: str | None = None, pipeline: str | None = None, job_id: str | None = None) -> list[JobRecord]:
        return self.store.jobs(project=project, pipeline=pipeline, job_id=job_id)

    def job_set(self, job_id: str) -> list[JobRecord]:
        jobs = self.store.jobs(job_id=job_id)
        if not jobs:
            raise NotFound(f"no jobs found for job set {job_id}")
        return jobs

    def datums(self, project: str, name: str, job_id: str) -> list[DatumRecord]:
        self.inspect_job(project, name, job_id)
        return self.store.datums(project, name, job_id)

    def finish_job(
        self,
        runner: JobRunner,
        state: int,
        reason: str,
        changes: Changes | None,
        records: list[DatumRecord],
        counts: dict[str, int],
        rows: list[tuple[bytes, int, int, int]],
        base_root: bytes | None,
    ) -> None:
        """Record a job's end: output and meta commits finished, job row updated, atomically."""
        project, name, job_id = runner.pipeline.project, runner.pipeline.name, runner.job.id
        catalog = self.storage.catalog
        error = (reason or "job failed") if state in (JOB_FAILURE, JOB_KILLED, JOB_UNRUNNABLE) else ""
        runner.flush_logs()
        with self.storage.changing():
            if rows:
                self.storage.db.executemany(
                    "INSERT OR IGNORE INTO chunks(id, pack, offset, size) VALUES (?, ?, ?, ?)", rows
                )
            for repo_type in (USER, META):
                try:
                    row = catalog.resolve(CommitRef(RepoKey(project, name, repo_type), id=job_id))
                except NotFound:
                    continue
                if not row.is_open:
                    continue
                size = None
                if repo_type == USER and changes is not None:
                    base = Tree(self.storage.nodes, base_root, self.storage.node_cache)
                    new = base.apply(changes)
                    size = new.stats()[1]
                    catalog.set_commit_root(row.seq, row.root, new.root, size)
                catalog.finish_commit(row, error=error, force=True, size=size)
            if records:
                self.store.put_datums(records)
            values = {k: v for k, v in counts.items()}
            self.store.update_job(project, name, job_id, state=state, reason=reason, finished=time.time(), **values)
        log.info("job %s/%s@%s ended: state %s %s", project, name, job_id, state, reason)
        self.changed()
        self.wake()

    # --- sandboxes ---------------------------------------------------------------

    def sandboxes(self, pipeline: PipelineRecord, count: int) -> list[Sandbox]:
        """Long-lived sandboxes for a pipeline's workers (prepared once, reused per datum)."""
        key = (pipeline.project, pipeline.name)
        with self._lock:
            boxes = self._sandboxes.setdefault(key, [])
            while len(boxes) < count:
                root = self.scratch_dir / "sandboxes" / f"{pipeline.project}-{pipeline.name}-{len(boxes)}"
                root.mkdir(parents=True, exist_ok=True)
                boxes.append(Sandbox(root))
            return boxes[:count]

    def _close_sandboxes(self, project: str, name: str) -> None:
        with self._lock:
            boxes = self._sandboxes.pop((project, name), [])
        for box in boxes:
            box.close()

    # --- scheduling --------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._dirty and not self._stop:
                    self._wake.wait(timeout=1.0)
                if self._stop:
                    return
                self._dirty = False
            try:
                self._schedule()
            except Exception:  # noqa: BLE001 - the scheduler must keep going
                log.exception("scheduler pass failed")
                time.sleep(0.2)
                self.wake()

    def _schedule(self) -> None:
        for record in self.store.list():
            self._sync_jobs(record)
            if record.stopped:
                continue
            with self._lock:
                key = (record.project, record.name)
                entry = self._running.get(key)
                if entry is not None:
                    if entry[1].is_alive():
                        continue
                    del self._running[key]
                job = self._next_job(record)
                if job is None:
                    continue
                runner = JobRunner(self, record, job)
                thread = threading.Thread(
                    target=self._run_job, args=(runner,), name=f"job-{record.name}-{job.id[:8]}", daemon=True
                )
                self._running[key] = (runner, thread)
                thread.start()

    def _run_job(self, runner: JobRunner) -> None:
        try:
            runner.run()
        finally:
            with self._lock:
                key = (runner.pipeline.project, runner.pipeline.name)
                entry = self._running.get(key)
                if entry is not None and entry[0] is runner:
                    del self._running[key]
            self.wake()

    def _sync_jobs(self, record: PipelineRecord) -> None:
        """Create a job for every output commit that has none (job ID = commit set ID)."""
        catalog = self.storage.catalog
        try:
            rows = catalog.commits_after(RepoKey(record.project, record.name), record.spec.output_branch, 0)
        except NotFound:
            return
        known = {j.id for j in self.store.jobs(project=record.project, pipeline=record.name)}
        created = False
        for row in rows:
            if row.id in known or row.origin != 2 or not row.is_open:
                continue
            created |= self.store.add_job(record.project, record.name, row.id, record.version)
        if created:
            self.changed()

    def _next_job(self, record: PipelineRecord) -> JobRecord | None:
        """The oldest unfinished job whose inputs are all finished, if any."""
        pending = [j for j in self.store.jobs(project=record.project, pipeline=record.name) if j.state not in TERMINAL]
        if not pending:
            return None
        catalog = self.storage.catalog
        rows = {}
        for job in pending:
            try:
                rows[job.id] = catalog.resolve(CommitRef(RepoKey(record.project, record.name), id=job.id))
            except NotFound:
                self.store.update_job(record.project, record.name, job.id, state=JOB_KILLED, reason="output commit deleted")
        pending = sorted((j for j in pending if j.id in rows), key=lambda j: rows[j.id].seq)
        if not pending:
            return None
        job = pending[0]
        row = rows[job.id]
        if not row.is_open:
            self.store.update_job(record.project, record.name, job.id, state=JOB_KILLED, reason="output commit was finished outside the job")
            self.wake()
            return None
        if row.parent_seq is not None and catalog.commit_row(row.parent_seq).is_open:
            return None
        info = catalog.commit_info(row)
        for prov in info.direct_provenance:
            if self.storage.inspect_commit(CommitRef(prov.repo, id=prov.id)).finished is None:
                if job.state == JOB_CREATED:
                    self.store.update_job(record.project, record.name, job.id, state=JOB_STARTING)
                    self.changed()
                return None
        return job
