"""Pipelines stopped and started, jobs stopped, datums restarted: states and counters."""

from __future__ import annotations

import time

from ..build import pps
from ..harness import Run
from . import run_scenario
from ._jobs import create, job, make_repo, outputs, pfs_in, pipeline, put_commit, read_jobs, settle, shell

COPY = "cp -r /pfs/in/* /pfs/out/"


def _until_state(r: Run, name: str, state: int) -> None:
    """Until the pipeline shows ``state`` (pachd's controller moves it asynchronously), unrecorded."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if r.quiet.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline(name))).state == state:
            return
        time.sleep(0.2)


@run_scenario("runs: stop and start a pipeline")
def stop_start(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1"})
    create(r, quiet=True, spec=shell("toggled", COPY, pfs_in("in", "/*")))
    settle(r, 1)
    r.pps.StopPipeline(pps.StopPipelineRequest(pipeline=pipeline("toggled")))
    _until_state(r, "toggled", pps.PIPELINE_PAUSED)
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("toggled")))
    r.pps.StartPipeline(pps.StartPipelineRequest(pipeline=pipeline("toggled")))
    _until_state(r, "toggled", pps.PIPELINE_RUNNING)
    put_commit(r, "in", {"/b": b"2"})
    settle(r, 2)
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("toggled")))
    read_jobs(r, "toggled")
    outputs(r, "toggled")


@run_scenario("runs: stop a running job")
def stop_job(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1"})
    create(r, quiet=True, spec=shell("slow", "sleep 600", pfs_in("in", "/*")))
    deadline = time.monotonic() + 120
    jobs: list[pps.JobInfo] = []
    while time.monotonic() < deadline:
        jobs = r.quiet.pps.ListJob(pps.ListJobRequest(pipeline=pipeline("slow")))
        # Running, with its datum counted (pachd counts datums a moment after it starts).
        if jobs and jobs[0].state == pps.JOB_RUNNING and jobs[0].data_total >= 1:
            break
        time.sleep(0.2)
    if jobs:
        r.pps.StopJob(pps.StopJobRequest(job=job("slow", jobs[0].job.id), reason="enough"))
    settle(r, 1)
    read_jobs(r, "slow")
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("slow")))


@run_scenario("runs: job states and counters across a DAG")
def counters(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1", "/b": b"2", "/bad": b"bad"})
    fails = 'if grep -q bad /pfs/in/*; then exit 1; fi; cp /pfs/in/* /pfs/out/'
    create(r, quiet=True, spec=shell("mixed", fails, pfs_in("in", "/*"), datum_tries=1,
                                     transform={"err_cmd": ["true"]}))
    settle(r, 1)
    put_commit(r, "in", {"/c": b"3"})
    settle(r, 2)
    read_jobs(r, "mixed")
    r.pps.ListJob(pps.ListJobRequest(pipeline=pipeline("mixed"), details=True))
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("mixed"), details=True))
    outputs(r, "mixed")


@run_scenario("runs: listing order of pipelines and of the jobs an update creates")
def listing_order(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1"})
    # Upstream "up" sorts after downstream "down": which decides the order of one set's jobs?
    create(r, quiet=True, spec=shell("up", COPY, pfs_in("in", "/*")))
    create(r, quiet=True, spec=shell("down", "cp -r /pfs/up/* /pfs/out/", pfs_in("up", "/*")))
    create(r, quiet=True, spec=shell("other", COPY, pfs_in("in", "/*")))
    settle(r, 3)
    r.pps.ListPipeline(pps.ListPipelineRequest())
    create(r, quiet=True, spec=shell("up", COPY + " && true", pfs_in("in", "/*")), update=True)
    settle(r, 5)
    r.pps.ListPipeline(pps.ListPipelineRequest())
    r.pps.ListPipeline(pps.ListPipelineRequest(history=-1))
    r.pps.ListJob(pps.ListJobRequest(history=-1))
    r.pps.ListJob(pps.ListJobRequest())
    r.pps.ListJob(pps.ListJobRequest(history=-1, reverse=True, number=10))
    # The update's job set, in its own order (pachd walks the commit set: upstream first).
    newest = r.quiet.pps.ListJob(pps.ListJobRequest(history=-1, number=1))
    r.pps.InspectJobSet(pps.InspectJobSetRequest(job_set=pps.JobSet(id=newest[0].job.id if newest else "")))
    r.pps.ListJobSet(pps.ListJobSetRequest())
    put_commit(r, "in", {"/b": b"2"})
    settle(r, 8)
    r.pps.ListJob(pps.ListJobRequest(history=-1))
