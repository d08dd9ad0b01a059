"""A job's plan: its input commits, its datums, its base job and the datums it can skip.

The output commit's direct provenance names the job's input commits; datums are
planned over them by Pachyderm's rules (``pachmagic.pachyderm.datums``). The base
job is the nearest earlier job of the pipeline that succeeded with an output commit
without error: its datums with the same hash are skipped (kept) unless the spec's
``reprocess_spec`` is ``every_job``, and its output and meta trees are what the new
ones are built on. Reads only: nothing here writes. No gRPC here.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from ...errors import InvalidArgument, NotFound, Unknown
from ...pachyderm.datums import Datum, plan
from ...pachyderm.inputs import Input, cron_inputs, pfs_inputs
from ...pachyderm.spec import Spec
from ..storage import CommitRef, RepoKey, Storage
from ..storage.files import Reader
from ..storage.model import META, USER, CommitInfo, FileInfo
from ..storage.pipeline_records import JobKey
from ..storage.tree import Entry
from .spec import default_input, input_branches
from .states import JobState

__all__ = ["CommitSource", "JobPlan", "input_sources", "plan_job", "dry_run"]


_gc_lock = threading.Lock()
_gc_pausers = 0  # planners running now with the cyclic collector paused (guarded by _gc_lock)
_gc_resume = False  # whether the collector was on when the first of them paused it


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a plan is built (reference counting goes on).

    Planning makes a handful of objects per input file and keeps them all (100,000
    files: ~600,000): the collector, triggered by allocations, would scan them again
    and again as they pile up — a third of planning's CPU. None of them is part of a
    reference cycle. Planners on several threads share one pause; the collector is
    back on when the last one is done.
    """
    global _gc_pausers, _gc_resume
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_resume = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_resume:
                gc.enable()


@dataclass(frozen=True)
class CommitSource:
    """One input name's commit, read for datum planning (an ``InputSource``)."""

    reader: Reader
    commit: str

    def glob(self, pattern: str) -> Iterator[FileInfo | Entry]:
        return self.reader.glob_matches(pattern)

    def is_empty(self) -> bool:
        return next(self.reader.files_under("/"), None) is None


@dataclass(frozen=True)
class JobPlan:
    """What a job decided before running datums: its datums, their hashes, its base."""

    datums: list[Datum]
    hashes: dict[str, str]
    base_id: str = ""  # the base job ("" for none)
    out_root: bytes | None = None  # the base job's output tree
    meta_root: bytes | None = None  # the base job's meta tree
    base: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # base datums: ID -> (hash, outputs)
    kept: frozenset[str] = frozenset()  # datums skipped, their outputs carried over
    planned: float = 0.0  # seconds spent planning

    @property
    def todo(self) -> list[Datum]:
        return [d for d in self.datums if d.id not in self.kept]


def input_sources(storage: Storage, spec: Spec, job: JobKey) -> tuple[dict[str, CommitSource], list[str]]:
    """Each input name's commit in the job's provenance; or the names of upstream repos whose commit failed."""
    info = storage.inspect_commit(CommitRef(RepoKey(job.project, job.pipeline), id=job.id))
    commits: dict[tuple[str, str, str], list[CommitInfo]] = {}
    for key in info.direct_provenance:
        ci = storage.inspect_commit(CommitRef(key.repo, id=key.id))
        commits.setdefault((key.repo.project, key.repo.name, key.repo.type), []).append(ci)

    def commit_of(project: str, repo: str, repo_type: str, branch: str) -> CommitInfo:
        candidates = commits.get((project, repo, repo_type), [])
        for ci in candidates:
            if ci.branch is not None and ci.branch.name == branch:
                return ci
        if candidates:  # a head moved onto another branch's commit
            return candidates[0]
        raise Unknown(f"no commit of {project}/{repo}@{branch} in the provenance of job {job.id}")

    failed = sorted({b.repo for b in input_branches(spec.input)
                     if commit_of(b.project, b.repo, b.repo_type, b.branch).error})
    if failed:
        return {}, failed
    sources: dict[str, CommitSource] = {}
    for pfs in pfs_inputs(spec.input):
        ci = commit_of(pfs.project, pfs.repo, pfs.repo_type or USER, pfs.branch)
        sources[pfs.name] = CommitSource(storage.reader(CommitRef(ci.key.repo, id=ci.key.id)), ci.key.id)
    for cron in cron_inputs(spec.input):
        ci = commit_of(cron.project, cron.repo, USER, "master")
        sources[cron.name] = CommitSource(storage.reader(CommitRef(ci.key.repo, id=ci.key.id)), ci.key.id)
    return sources, []


def _base(storage: Storage, job: JobKey) -> tuple[str, bytes | None, bytes | None, dict[str, tuple[str, list[str]]]]:
    """The base job's ID, output tree, meta tree and skip table ("", None, None, {} for none)."""
    out_repo = RepoKey(job.project, job.pipeline)
    parent = storage.resolve(CommitRef(out_repo, id=job.id)).parent_seq
    while parent is not None:
        row = storage.commit_row(parent)
        parent = row.parent_seq
        if row.error or row.finished is None:
            continue
        base = JobKey(job.project, job.pipeline, row.id)
        record = storage.pps.job(base)
        if record is None or record.state != JobState.SUCCESS:
            continue
        try:
            meta_root = storage.resolve(CommitRef(RepoKey(job.project, job.pipeline, META), id=row.id)).root
        except NotFound:
            meta_root = None
        return row.id, row.root, meta_root, storage.pps.skip_table(base)
    return "", None, None, {}


def plan_job(storage: Storage, spec: Spec, salt: str, job: JobKey, sources: dict[str, CommitSource]) -> JobPlan:
    """Plan a job's datums over its input commits and decide what it skips."""
    t0 = time.time()
    with _collector_paused():
        datums = plan(spec.input, sources)
    planned = time.time() - t0
    base_id, out_root, meta_root, base = _base(storage, job)
    hashes = {d.id: d.hash(salt) for d in datums}
    if spec.reprocess_spec == "every_job":
        kept: frozenset[str] = frozenset()
    else:
        kept = frozenset(d.id for d in datums if d.id in base and base[d.id][0] == hashes[d.id])
    return JobPlan(datums, hashes, base_id, out_root, meta_root, base, kept, planned)


def dry_run(storage: Storage, node: Input, project: str) -> list[Datum]:
    """The datums an input spec would have over the current heads of its branches."""
    spec_input = Input()
    spec_input.CopyFrom(node)
    # pachd's ListDatum reads each input at its branch's head, whatever commit it names.
    for pfs in pfs_inputs(spec_input):
        pfs.commit = ""
    default_input(spec_input, project, "dry-run")
    sources: dict[str, CommitSource] = {}
    for pfs in pfs_inputs(spec_input):
        ref = CommitRef(RepoKey(pfs.project, pfs.repo, pfs.repo_type), branch=pfs.branch)
        row = storage.resolve(ref)
        sources[pfs.name] = CommitSource(storage.reader_for(row), row.id)
    for cron in cron_inputs(spec_input):
        try:
            row = storage.resolve(CommitRef(RepoKey(cron.project, cron.repo), branch="master"))
        except NotFound:
            raise InvalidArgument(f"cron repo {cron.repo} does not exist yet") from None
        sources[cron.name] = CommitSource(storage.reader_for(row), row.id)
    with _collector_paused():
        return plan(spec_input, sources)
