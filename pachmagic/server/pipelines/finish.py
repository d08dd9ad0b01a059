"""A job's end: merge the outputs, write the meta commit, and finish everything in one transaction.

``finish_job`` turns a runner's datum results into the output and meta trees
(``merge``), decides the job's state (FAILURE for a failed datum or an output
that breaks PFS's rules, else SUCCESS) and hands them to ``end_job``, which is
also how a job ends without running (KILLED, UNRUNNABLE, FAILURE): both commits
finished — with the job's error unless it succeeded — the datums recorded and
the job row updated, in one database transaction. New chunks are indexed and new
tree nodes written just before it (content-addressed, so harmless if a crash
comes in between). No gRPC here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import NotFound
from ...pachyderm.datums import Datum
from ..storage import CommitRef, RepoKey
from ..storage.model import META, USER
from ..storage.tree import Changes, Tree
from .merge import datum_inputs_json, meta_changes, output_changes
from .store import (
    DATUM_FAILED,
    DATUM_RECOVERED,
    DATUM_SUCCESS,
    JOB_FAILURE,
    JOB_FINISHING,
    JOB_SUCCESS,
    TERMINAL,
    DatumRecord,
    JobRecord,
    PipelineRecord,
)
from .worker import DatumResult

if TYPE_CHECKING:
    from .engine import Engine
    from .runner import JobRunner

__all__ = ["JobPlan", "end_job", "finish_job"]

log = logging.getLogger("pachmagic.pipelines")


@dataclass
class JobPlan:
    """What a job decided before running datums: its datums, their hashes, its base."""

    datums: list[Datum]
    hashes: dict[str, str]
    base_id: str  # the base job ("" for none)
    out_root: bytes | None  # the base job's output tree
    meta_root: bytes | None  # the base job's meta tree
    base: dict[str, tuple[str, list[str]]]  # the base job's datums: ID -> (hash, outputs)
    kept: set[str]  # datums skipped, their outputs carried over
    planned: float  # seconds spent planning


def end_job(
    engine: "Engine",
    record: PipelineRecord | JobRecord,
    job_id: str,
    state: int,
    reason: str,
    *,
    trees: dict[str, bytes | None] | None = None,
    datums: list[DatumRecord] | None = None,
    carry: tuple[str, set[str]] | None = None,
    counts: dict[str, Any] | None = None,
) -> None:
    """Finish a job's output and meta commits and record its end, in one transaction.

    ``trees`` maps repo type to the new root of that commit (absent: unchanged).
    The commit is finished with ``reason`` as its error unless the job succeeded.
    """
    project = record.project
    name = record.name if isinstance(record, PipelineRecord) else record.pipeline
    storage, store = engine.storage, engine.store
    catalog = storage.catalog
    error = "" if state == JOB_SUCCESS else (reason or "job failed")
    with storage.changing():
        current = store.job(project, name, job_id)
        if current is None or current.state in TERMINAL:
            return  # ended meanwhile (killed, deleted): the first end stands
        for repo_type in (USER, META):
            try:
                row = catalog.resolve(CommitRef(RepoKey(project, name, repo_type), id=job_id))
            except NotFound:
                continue
            if not row.is_open:
                continue
            size = None
            if trees is not None and repo_type in trees:
                root = trees[repo_type]
                size = Tree(storage.nodes, root, storage.node_cache).stats()[1]
                catalog.set_commit_root(row.seq, row.root, root, size)
            catalog.finish_commit(row, error=error, force=True, size=size)
        if carry is not None:
            store.carry_datums(project, name, carry[0], job_id, carry[1])
        if datums:
            store.put_datums(datums)
        store.update_job(project, name, job_id, state=state, reason=reason, finished=time.time(), **(counts or {}))
    log.info("job %s/%s@%s ended: state %s %s", project, name, job_id, state, reason)
    engine.changed()
    engine.wake()


def _apply(engine: "Engine", root: bytes | None, changes: Changes) -> bytes | None:
    storage = engine.storage
    return Tree(storage.nodes, root, storage.node_cache).apply(changes).root


def finish_job(runner: "JobRunner", plan: JobPlan, results: list[DatumResult]) -> None:
    """Merge a run's results and end the job (SUCCESS or FAILURE) atomically."""
    engine, p, job_id = runner.engine, runner.pipeline, runner.job.id
    started = time.time()
    engine.store.update_job(p.project, p.name, job_id, state=JOB_FINISHING)
    engine.changed()
    out_changes, error = output_changes(plan.base, plan.kept, results)
    job_pb = {"pipeline": {"project": {"name": p.project}, "name": p.name}, "id": job_id}
    meta = meta_changes(
        engine.storage, runner.writer, runner.writer_lock, job_pb, plan.base, plan.kept, results, plan.hashes,
        runner.datum_lines(),
    )
    rows = runner.writer.finish()
    if rows:
        # Indexed before the trees that use them; unreferenced rows after a crash are harmless.
        with engine.storage.db.transaction():
            engine.storage.db.executemany("INSERT OR IGNORE INTO chunks(id, pack, offset, size) VALUES (?, ?, ?, ?)", rows)
    trees = {USER: _apply(engine, plan.out_root, out_changes), META: _apply(engine, plan.meta_root, meta)}
    records = [
        DatumRecord(
            p.project, p.name, job_id, r.datum.id, r.state, plan.hashes[r.datum.id], datum_inputs_json(r.datum.inputs),
            [e.path for e in r.entries] if r.state == DATUM_SUCCESS else [], r.stats, r.reason, job_id,
        )
        for r in results
    ]
    failed = sorted(r.datum.id for r in results if r.state == DATUM_FAILED)
    stats: dict[str, float] = {"planning_time": plan.planned}
    for r in results:
        for k, v in r.stats.items():
            stats[k] = stats.get(k, 0.0) + v
    counts: dict[str, Any] = {
        "processed": sum(1 for r in results if r.state == DATUM_SUCCESS),
        "failed": len(failed),
        "recovered": sum(1 for r in results if r.state == DATUM_RECOVERED),
        "skipped": len(plan.kept),
        "total": len(plan.datums),
        "stats": stats,
    }
    if error:
        state, reason = JOB_FAILURE, error
    elif failed:
        state, reason = JOB_FAILURE, f"datum {failed[0]} failed"
    else:
        state, reason = JOB_SUCCESS, ""
    if reason:
        runner.log(reason)
    runner.flush(force=True)
    runner.raise_if_killed()
    stats["finishing_time"] = time.time() - started  # the merge; the final transaction comes on top
    end_job(
        engine, p, job_id, state, reason, trees=trees, datums=records,
        carry=(plan.base_id, plan.kept) if plan.kept else None, counts=counts,
    )
