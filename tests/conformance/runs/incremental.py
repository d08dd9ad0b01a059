"""Incremental processing: skipped datums, removed outputs, and updates with or without reprocess."""

from __future__ import annotations

from ..build import pps
from ..harness import Run
from . import run_scenario
from ._jobs import create, make_repo, outputs, pfs_in, put_commit, read_jobs, settle, shell

COPY = "cp -r /pfs/in/* /pfs/out/"
# Writes one file per datum, named after it, so the output shows which datums ran when.
STAMP = 'for f in /pfs/in/*; do echo "v1 $(cat $f)" > /pfs/out/$(basename $f); done'


@run_scenario("runs: incremental, skipped datums and removed outputs")
def incremental(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1", "/b": b"2"})
    create(r, quiet=True, spec=shell("inc", COPY, pfs_in("in", "/*")))
    settle(r, 1)
    put_commit(r, "in", {"/c": b"3"})  # a and b unchanged: skipped
    settle(r, 2)
    put_commit(r, "in", {"/a": b"changed"})  # a reprocessed
    settle(r, 3)
    put_commit(r, "in", delete=("/b",))  # b's output removed, nothing to run
    settle(r, 4)
    read_jobs(r, "inc")
    outputs(r, "inc")


@run_scenario("runs: incremental, glob / reprocesses the whole")
def incremental_root(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1"})
    create(r, quiet=True, spec=shell("whole", COPY, pfs_in("in", "/")))
    settle(r, 1)
    put_commit(r, "in", {"/b": b"2"})
    settle(r, 2)
    put_commit(r, "in", delete=("/a", "/b"))  # an empty input commit: no datum
    settle(r, 3)
    read_jobs(r, "whole")
    outputs(r, "whole")


@run_scenario("runs: update without and with reprocess")
def update(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1", "/b": b"2"})
    create(r, quiet=True, spec=shell("up", STAMP, pfs_in("in", "/*")))
    settle(r, 1)
    # A new transform, no reprocess: the datums' outputs are kept (skipped).
    create(r, quiet=True, spec=shell("up", STAMP.replace("v1", "v2"), pfs_in("in", "/*")), update=True)
    settle(r, 2)
    outputs(r, "up")
    # reprocess: every datum runs again with the new transform.
    create(r, quiet=True, spec=shell("up", STAMP.replace("v1", "v3"), pfs_in("in", "/*")), update=True, reprocess=True)
    settle(r, 3)
    outputs(r, "up")
    read_jobs(r, "up")
    r.pps.ListJob(pps.ListJobRequest(pipeline=pps.Pipeline(name="up"), history=-1))
    r.pps.ListJob(pps.ListJobRequest())
    r.pps.ListJob(pps.ListJobRequest(history=-1))


@run_scenario("runs: reprocess_spec every_job")
def every_job(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1", "/b": b"2"})
    create(r, quiet=True, spec=shell("every", STAMP, pfs_in("in", "/*"), reprocess_spec="every_job"))
    settle(r, 1)
    put_commit(r, "in", {"/c": b"3"})
    settle(r, 2)
    read_jobs(r, "every")
    outputs(r, "every")


@run_scenario("runs: a chain of pipelines and its job sets")
def chain(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1", "/b": b"2"})
    create(r, quiet=True, spec=shell("first", COPY, pfs_in("in", "/*")))
    create(r, quiet=True, spec=shell("second", "cp -r /pfs/first/* /pfs/out/", pfs_in("first", "/*")))
    settle(r, 2)
    c = put_commit(r, "in", {"/c": b"3"})
    settle(r, 4)
    r.pps.InspectJobSet(pps.InspectJobSetRequest(job_set=pps.JobSet(id=c), wait=True), unordered=True)
    r.pps.ListJobSet(pps.ListJobSetRequest())
    for name in ("first", "second"):
        read_jobs(r, name)
        outputs(r, name)
