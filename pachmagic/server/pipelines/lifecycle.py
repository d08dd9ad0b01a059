"""A pipeline's lifecycle: create, update, stop, start and delete, as pachd does them.

Creating a pipeline creates its output repo, its ``.spec`` and ``.meta`` repos and
any cron repos, writes a finished spec commit (one per version) and gives the
output and meta branches the provenance "every input branch + the spec branch".
That spec commit propagates like any commit, so a first job is created at once.
Updating writes a new version the same way after killing unfinished jobs; the
salt is kept unless ``reprocess``, so unchanged datums are skipped. Stopping
kills running jobs and drops the provenance (no new jobs, PAUSED); starting
restores it and propagates a new commit (a job over the current inputs).
Deleting kills jobs and deletes the repos (the output repo unless ``keep_repo``).

Every operation holds the engine's lifecycle lock, so they run one at a time and
the scheduler never starts a job of a pipeline halfway through a change. Records
are written through the ledger, repos and branches through ``Storage``. No gRPC here.
"""

from __future__ import annotations

import threading
import time
import uuid

from ...errors import AlreadyExists, FailedPrecondition, NotFound
from ...pachyderm.inputs import cron_inputs, pfs_inputs
from ...pachyderm.spec import Spec
from ..storage import BranchKey, RepoKey, Storage, new_commit_id
from ..storage.model import META, SPEC, USER
from ..storage.pipeline_records import PipelineRecord
from .ledger import Ledger
from .pool import WorkerPool
from .scheduler import Scheduler
from .spec import input_branches, validate_and_default
from .states import UNFINISHED, PipelineState

__all__ = ["Lifecycle", "not_found"]


def not_found(project: str, name: str) -> NotFound:
    return NotFound(f'pipeline "{project}/{name}" not found')


def _provenance(spec: Spec) -> list[BranchKey]:
    return [BranchKey(RepoKey(b.project, b.repo, b.repo_type), b.branch) for b in input_branches(spec.input)]


class Lifecycle:
    """Create, update, stop, start and delete pipelines."""

    def __init__(
        self, *, storage: Storage, ledger: Ledger, pool: WorkerPool, scheduler: Scheduler, lock: threading.RLock
    ) -> None:
        self.storage = storage
        self.ledger = ledger
        self.pool = pool
        self.scheduler = scheduler
        self.lock = lock

    def _record(self, project: str, name: str) -> PipelineRecord:
        record = self.storage.pps.get(project, name)
        if record is None:
            raise not_found(project, name)
        return record

    def create(
        self, request: Spec, *, update: bool = False, reprocess: bool = False, user_json: str = "", dry_run: bool = False
    ) -> PipelineRecord:
        """Create a pipeline, or (``update``) a new version of one; return its record."""
        spec = validate_and_default(request)
        project, name = spec.pipeline.project.name, spec.pipeline.name
        storage = self.storage
        out_repo = RepoKey(project, name)
        with self.lock:
            existing = storage.pps.get(project, name)
            if existing is not None and not update:
                raise AlreadyExists(f'pipeline "{project}/{name}" already exists')
            storage.inspect_project(project)
            for pfs in pfs_inputs(spec.input):
                storage.inspect_repo(RepoKey(pfs.project, pfs.repo, pfs.repo_type))
            if existing is None:
                try:
                    storage.inspect_repo(out_repo)
                except NotFound:
                    pass
                else:
                    raise AlreadyExists(
                        f'pipeline "{name}" cannot be created because a repo with the same name already exists'
                    )
            version = existing.version + 1 if existing is not None else 1
            if dry_run:
                now = time.time()
                return PipelineRecord(project, name, version, spec, user_json, spec.salt, "", now, now,
                                      PipelineState.STARTING, False, "")
            if existing is not None:
                # Jobs of the old version are killed, as pachd does on update.
                self.scheduler.stop_jobs(project, name, "all jobs killed because pipeline was updated")
            if reprocess or existing is None:
                salt = uuid.uuid4().hex if reprocess or not spec.salt else spec.salt
            else:
                salt = spec.salt or existing.salt
            spec.salt = salt
            set_id = new_commit_id()
            spec_branch = BranchKey(RepoKey(project, name, SPEC), "master")
            out_branch = BranchKey(out_repo, spec.output_branch)
            meta_branch = BranchKey(RepoKey(project, name, META), spec.output_branch)
            stopped = existing.stopped if existing is not None else False
            with storage.changing():
                if existing is None:
                    storage.create_repo(out_repo, f"Output repo for pipeline {project}/{name}.")
                    storage.create_repo(spec_branch.repo, f"Spec repo for pipeline {project}/{name}.")
                    storage.create_repo(meta_branch.repo, f"Meta repo for pipeline {project}/{name}.")
                for cron in cron_inputs(spec.input):
                    storage.ensure_repo(RepoKey(cron.project, cron.repo), f"Cron tick repo for pipeline {project}/{name}.")
                provenance = _provenance(spec)
                for prov in provenance:
                    storage.ensure_branch(prov, set_id)
                for branch in (out_branch, meta_branch, spec_branch):
                    storage.declare_branch(branch)
                if not stopped:
                    for branch in (out_branch, meta_branch):
                        storage.set_provenance(branch, [*provenance, spec_branch])
                spec_commit = storage.make_commit(spec_branch, set_id, finished=True, propagate=not stopped)
                now = time.time()
                self.ledger.add_version(PipelineRecord(
                    project, name, version, spec, user_json, salt, spec_commit.id, now, now,
                    PipelineState.PAUSED if stopped else PipelineState.STARTING, stopped, "",
                ))
            record = self._record(project, name)
        self.ledger.sync()
        self.scheduler.wake()
        return record

    def delete(self, project: str, name: str, *, force: bool = False, keep_repo: bool = False,
               must_exist: bool = False) -> bool:
        storage = self.storage
        with self.lock:
            record = storage.pps.get(project, name)
            if record is None:
                if must_exist:
                    raise not_found(project, name)
                return False
            out_repo = RepoKey(project, name)
            if not keep_repo and not force:
                # Refuse before touching anything if another pipeline reads this output.
                for other in storage.pps.pipelines():
                    if (other.project, other.name) == (project, name):
                        continue
                    if any(p.project == project and p.repo == name for p in pfs_inputs(other.spec.input)):
                        raise FailedPrecondition(
                            f'cannot delete pipeline "{project}/{name}": pipeline "{other.project}/{other.name}" '
                            "reads its output; delete that pipeline first or use force"
                        )
            self.scheduler.stop_jobs(project, name, "pipeline deleted")
            with storage.changing():
                for repo_type in (SPEC, META):
                    storage.delete_repo(RepoKey(project, name, repo_type), force=True)
                for cron in cron_inputs(record.spec.input):
                    storage.delete_repo(RepoKey(cron.project, cron.repo), force=True)
                if keep_repo:
                    storage.clear_provenance(out_repo)
                else:
                    storage.delete_repo(out_repo, force=True)
                self.ledger.delete_pipeline(project, name)
            self.ledger.forget(project, name)
        self.pool.release((project, name))
        return True

    def stop(self, project: str, name: str) -> None:
        with self.lock:
            record = self._record(project, name)
            self.scheduler.stop_jobs(project, name, "all jobs killed because pipeline was stopped")
            with self.storage.changing():
                for repo_type in (USER, META):
                    self.storage.set_provenance(BranchKey(RepoKey(project, name, repo_type), record.spec.output_branch), [])
                self.ledger.set_pipeline_state(project, name, PipelineState.PAUSED, stopped=True)
        self.pool.release((project, name))

    def start(self, project: str, name: str) -> None:
        with self.lock:
            record = self._record(project, name)
            if not record.stopped:
                return
            spec_branch = BranchKey(RepoKey(project, name, SPEC), "master")
            with self.storage.changing():
                for repo_type in (USER, META):
                    branch = BranchKey(RepoKey(project, name, repo_type), record.spec.output_branch)
                    self.storage.set_provenance(branch, [*_provenance(record.spec), spec_branch])
                # A new output commit over the current input heads: the job that catches up.
                self.storage.propagate(spec_branch, new_commit_id())
                self.ledger.set_pipeline_state(project, name, PipelineState.STARTING, stopped=False)
        self.ledger.sync()
        self.scheduler.wake()

    def retry(self, project: str, name: str) -> None:
        """A new job over the pipeline's current inputs (failed datums never count as processed: they run again)."""
        with self.lock:
            if self.storage.pps.jobs(project=project, pipeline=name, states=UNFINISHED):
                return  # the next job retries failed datums anyway
            self.storage.propagate(BranchKey(RepoKey(project, name, SPEC), "master"), new_commit_id())
        self.ledger.sync()
        self.scheduler.wake()
