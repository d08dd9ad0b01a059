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
No gRPC here.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from ..._proto import pps_pb2
from ...errors import AlreadyExists, FailedPrecondition, NotFound
from ...pachyderm.inputs import cron_inputs, pfs_inputs
from ..storage import BranchKey, RepoKey, new_commit_id
from ..storage.model import META, SPEC, USER
from .scheduler import PIPELINE_PAUSED, PIPELINE_STARTING
from .spec import input_branches, validate_and_default
from .store import PipelineRecord

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["create_pipeline", "delete_pipeline", "stop_pipeline", "start_pipeline", "not_found"]


def not_found(project: str, name: str) -> NotFound:
    return NotFound(f'pipeline "{project}/{name}" not found')


def _provenance(record_spec: pps_pb2.CreatePipelineRequest) -> list[BranchKey]:
    return [BranchKey(RepoKey(b.project, b.repo, b.repo_type), b.branch) for b in input_branches(record_spec.input)]


def create_pipeline(
    engine: "Engine",
    request: pps_pb2.CreatePipelineRequest,
    *,
    update: bool = False,
    reprocess: bool = False,
    user_json: str = "",
    dry_run: bool = False,
) -> PipelineRecord:
    """Create a pipeline, or (``update``) a new version of one; return its record."""
    spec = validate_and_default(request)
    project, name = spec.pipeline.project.name, spec.pipeline.name
    storage, store = engine.storage, engine.store
    catalog = storage.catalog
    out_repo = RepoKey(project, name)
    with engine.lifecycle_lock:
        existing = store.get(project, name)
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
        if dry_run:
            now = time.time()
            version = existing.version + 1 if existing is not None else 1
            return PipelineRecord(project, name, version, spec, user_json, spec.salt, "", now, now,
                                  PIPELINE_STARTING, False, "")
        if existing is not None:
            # Jobs of the old version are killed, as pachd does on update.
            engine.scheduler.kill_jobs(project, name, "all jobs killed because pipeline was updated")
        if reprocess or existing is None:
            salt = uuid.uuid4().hex if reprocess or not spec.salt else spec.salt
        else:
            salt = spec.salt or existing.salt
        spec.salt = salt
        set_id = new_commit_id()
        spec_branch = BranchKey(RepoKey(project, name, SPEC), "master")
        out_branch = BranchKey(out_repo, spec.output_branch)
        meta_branch = BranchKey(RepoKey(project, name, META), spec.output_branch)
        version = 1 if existing is None else existing.version + 1
        stopped = existing.stopped if existing is not None else False
        with storage.changing():
            if existing is None:
                catalog.create_repo(out_repo, f"Output repo for pipeline {project}/{name}.")
                catalog.create_repo(spec_branch.repo, f"Spec repo for pipeline {project}/{name}.")
                catalog.create_repo(meta_branch.repo, f"Meta repo for pipeline {project}/{name}.")
            for cron in cron_inputs(spec.input):
                cron_repo = RepoKey(cron.project, cron.repo)
                try:
                    catalog.inspect_repo(cron_repo)
                except NotFound:
                    catalog.create_repo(cron_repo, f"Cron tick repo for pipeline {project}/{name}.")
            provenance = _provenance(spec)
            for prov in provenance:
                catalog.ensure_branch(prov, set_id)
            for branch in (out_branch, meta_branch, spec_branch):
                catalog.declare_branch(branch)
            if not stopped:
                for branch in (out_branch, meta_branch):
                    catalog.set_provenance(branch, [*provenance, spec_branch])
            spec_commit = catalog.make_commit(spec_branch, set_id, finished=True, propagate=not stopped)
            store.put_version(
                project, name, version, spec, user_json, salt, spec_commit.id,
                stopped=stopped, state=PIPELINE_PAUSED if stopped else PIPELINE_STARTING,
            )
        record = store.get(project, name)
        assert record is not None
    engine.scheduler.sync()
    engine.changed()
    engine.wake()
    return record


def delete_pipeline(
    engine: "Engine", project: str, name: str, *, force: bool = False, keep_repo: bool = False, must_exist: bool = False
) -> bool:
    storage, store = engine.storage, engine.store
    catalog = storage.catalog
    with engine.lifecycle_lock:
        record = store.get(project, name)
        if record is None:
            if must_exist:
                raise not_found(project, name)
            return False
        out_repo = RepoKey(project, name)
        if not keep_repo and not force:
            # Refuse before touching anything if another pipeline reads this output.
            for other in store.pipelines():
                if (other.project, other.name) == (project, name):
                    continue
                if any(p.project == project and p.repo == name for p in pfs_inputs(other.spec.input)):
                    raise FailedPrecondition(
                        f'cannot delete pipeline "{project}/{name}": pipeline "{other.project}/{other.name}" '
                        "reads its output; delete that pipeline first or use force"
                    )
        engine.scheduler.kill_jobs(project, name, "pipeline deleted")
        with storage.changing():
            for repo_type in (SPEC, META):
                catalog.delete_repo(RepoKey(project, name, repo_type), force=True)
            for cron in cron_inputs(record.spec.input):
                catalog.delete_repo(RepoKey(cron.project, cron.repo), force=True)
            if keep_repo:
                try:
                    for branch in catalog.list_branches(out_repo):
                        catalog.set_provenance(branch.key, [])
                except NotFound:
                    pass
            else:
                catalog.delete_repo(out_repo, force=True)
            store.delete(project, name)
        engine.scheduler.forget(project, name)
    engine.close_sandboxes(project, name)
    engine.changed()
    return True


def stop_pipeline(engine: "Engine", project: str, name: str) -> None:
    with engine.lifecycle_lock:
        record = engine.inspect_pipeline(project, name)
        engine.scheduler.kill_jobs(project, name, "all jobs killed because pipeline was stopped")
        with engine.storage.changing():
            for repo_type in (USER, META):
                engine.storage.catalog.set_provenance(
                    BranchKey(RepoKey(project, name, repo_type), record.spec.output_branch), []
                )
            engine.store.set_state(project, name, state=PIPELINE_PAUSED, stopped=True, reason="")
    engine.close_sandboxes(project, name)
    engine.changed()


def start_pipeline(engine: "Engine", project: str, name: str) -> None:
    with engine.lifecycle_lock:
        record = engine.inspect_pipeline(project, name)
        if not record.stopped:
            return
        catalog = engine.storage.catalog
        spec_branch = BranchKey(RepoKey(project, name, SPEC), "master")
        with engine.storage.changing():
            for repo_type in (USER, META):
                branch = BranchKey(RepoKey(project, name, repo_type), record.spec.output_branch)
                catalog.set_provenance(branch, [*_provenance(record.spec), spec_branch])
            # A new output commit over the current input heads: the job that catches up.
            catalog.propagate([catalog.branch_id(spec_branch)], new_commit_id())
            engine.store.set_state(project, name, state=PIPELINE_STARTING, stopped=False, reason="")
    engine.scheduler.sync()
    engine.changed()
    engine.wake()
