"""How a job ends: the ``Outcome`` the ledger records, and the pure function that judges a run.

A job that ran its datums SUCCEEDS unless a datum failed or the merged output breaks
PFS's rules (two datums writing one path: FAILURE with pachd's message). A job also
ends without running: KILLED (stopped, pipeline stopped/updated/deleted, timeout),
UNRUNNABLE (an input commit carries an upstream failure) or FAILURE (an error of
the engine itself). ``judge`` decides from results alone, with no I/O, so the rule
is testable on its own. No gRPC here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..storage.pipeline_records import DatumRecord, JobKey, JobUpdate
from .merge import datum_inputs_json
from .planner import JobPlan
from .states import DatumState, JobState
from .worker import DatumResult

__all__ = ["Outcome", "judge"]


@dataclass(frozen=True)
class Outcome:
    """A job's end, as the ledger records it in one transaction.

    ``trees`` maps a repo type (``user``, ``meta``) to the new root of the job's
    commit there; a type not in it keeps its tree. The commits are finished with
    ``reason`` as their error unless the job succeeded.
    """

    state: JobState
    reason: str = ""
    trees: Mapping[str, bytes | None] = field(default_factory=dict)
    datums: tuple[DatumRecord, ...] = ()
    carry: tuple[str, frozenset[str]] | None = None  # (base job, datums kept from it)
    counts: JobUpdate = JobUpdate()

    @property
    def error(self) -> str:
        """The commits' error: empty for a success."""
        return "" if self.state == JobState.SUCCESS else (self.reason or "job failed")


def judge(job: JobKey, plan: JobPlan, results: list[DatumResult], merge_error: str) -> Outcome:
    """The outcome of a job that ran ``plan``'s datums (trees are added by the caller).

    ``merge_error`` is what merging the outputs found wrong ("" for nothing).
    """
    project, pipeline, job_id = job.project, job.pipeline, job.id
    records = tuple(
        DatumRecord(
            project, pipeline, job_id, r.datum.id, r.state, plan.hashes[r.datum.id], datum_inputs_json(r.datum.inputs),
            [e.path for e in r.entries] if r.state == DatumState.SUCCESS else [], r.stats, r.reason, job_id,
        )
        for r in results
    )
    failed = sorted(r.datum.id for r in results if r.state == DatumState.FAILED)
    stats: dict[str, float] = {"planning_time": plan.planned}
    for r in results:
        for k, v in r.stats.items():
            stats[k] = stats.get(k, 0.0) + v
    counts = JobUpdate(
        processed=sum(1 for r in results if r.state == DatumState.SUCCESS),
        failed=len(failed),
        recovered=sum(1 for r in results if r.state == DatumState.RECOVERED),
        skipped=len(plan.kept),
        total=len(plan.datums),
        stats=stats,
    )
    if merge_error:
        state, reason = JobState.FAILURE, merge_error
    elif failed:
        state, reason = JobState.FAILURE, f"datum {failed[0]} failed"
    else:
        state, reason = JobState.SUCCESS, ""
    carry = (plan.base_id, plan.kept) if plan.kept else None
    return Outcome(state, reason, datums=records, carry=carry, counts=counts)
