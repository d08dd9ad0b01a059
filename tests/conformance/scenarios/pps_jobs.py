"""Jobs, job sets and datums, up to job creation (the reference pachd has no workers to run them)."""

from __future__ import annotations

from pachyderm_sdk.api import pps as spps

from ..build import branch, commit, pfs, pipeline, pps, put, repo
from ..harness import Run
from . import scenario
from ._pps import create_v2, input_repo, spec, wait_jobs, wait_pipeline
from .pfs_commits import MISSING_ID

RUNNING = pps.PIPELINE_RUNNING


def _job(name: str, id_: str) -> pps.Job:
    return pps.Job(pipeline=pipeline(name), id=id_)


@scenario("jobs: created by commits")
def jobs(r: Run) -> None:
    input_repo(r)
    create_v2(r, spec("p"), quiet=True)
    wait_pipeline(r, "p", RUNNING)
    wait_jobs(r, "p", 1)
    r.pps.ListJob(pps.ListJobRequest(pipeline=pipeline("p")))
    c = r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("in")))
    r.pfs.ModifyFile(iter(put(c, "/new.txt", b"new")))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=c))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=c, wait=pfs.FINISHED))
    wait_jobs(r, "p", 2)
    r.pps.InspectJob(pps.InspectJobRequest(job=_job("p", c.id)))
    r.pps.InspectJob(pps.InspectJobRequest(job=_job("p", c.id), details=True))
    r.pps.InspectJob(pps.InspectJobRequest(job=_job("p", MISSING_ID)))
    r.pps.InspectJob(pps.InspectJobRequest(job=_job("nope", c.id)))
    r.pps.InspectJob(pps.InspectJobRequest(job=_job("p", "")))
    r.pps.ListJob(pps.ListJobRequest())
    r.pps.ListJob(pps.ListJobRequest(pipeline=pipeline("p"), details=True))
    r.pps.ListJob(pps.ListJobRequest(pipeline=pipeline("nope")))
    r.pps.ListJob(pps.ListJobRequest(input_commit=[commit("in", "", id=c.id)]))
    r.pps.ListJob(pps.ListJobRequest(history=-1))
    r.pps.InspectJobSet(pps.InspectJobSetRequest(job_set=pps.JobSet(id=c.id)), unordered=True)
    r.pps.InspectJobSet(pps.InspectJobSetRequest(job_set=pps.JobSet(id=MISSING_ID)))
    r.pps.ListJobSet(pps.ListJobSetRequest())
    r.pfs.InspectCommitSet(pfs.InspectCommitSetRequest(commit_set=pfs.CommitSet(id=c.id)), unordered=True)
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("p", "", id=c.id)))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("p")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("p", type="meta")))
    r.pps.ListDatum(pps.ListDatumRequest(job=_job("p", c.id)))
    r.pps.InspectDatum(pps.InspectDatumRequest(datum=pps.Datum(job=_job("p", c.id), id="0" * 64)))
    r.sdk.pps.list_job(pipeline=spps.Pipeline(name="p"))
    r.sdk.pps.inspect_job(job=spps.Job(pipeline=spps.Pipeline(name="p"), id=c.id))
    r.sdk.pps.job_exists(spps.Job(pipeline=spps.Pipeline(name="p"), id=MISSING_ID))


@scenario("jobs: stop and delete")
def stop_delete(r: Run) -> None:
    input_repo(r)
    create_v2(r, spec("p"), quiet=True)
    wait_pipeline(r, "p", RUNNING)
    wait_jobs(r, "p", 1)
    c = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("in")))
    r.quiet.pfs.FinishCommit(pfs.FinishCommitRequest(commit=c))
    wait_jobs(r, "p", 2)
    r.pps.StopJob(pps.StopJobRequest(job=_job("p", c.id), reason="enough"))
    r.pps.InspectJob(pps.InspectJobRequest(job=_job("p", c.id)))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("p", "", id=c.id), wait=pfs.FINISHED))
    r.pps.StopJob(pps.StopJobRequest(job=_job("p", c.id)))
    r.pps.StopJob(pps.StopJobRequest(job=_job("p", MISSING_ID)))
    r.pps.DeleteJob(pps.DeleteJobRequest(job=_job("p", MISSING_ID)))
    r.pps.DeleteJob(pps.DeleteJobRequest(job=_job("p", c.id)))
    r.pps.ListJob(pps.ListJobRequest(pipeline=pipeline("p")))


@scenario("datums of an input spec")
def datums(r: Run) -> None:
    input_repo(r, files=3)
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("other")))
    r.quiet.pfs.ModifyFile(iter(put(commit("other", "master"), "/dir/x.csv", b"x")))
    r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("other", "master"), wait=pfs.FINISHED))
    ld = r.pps.ListDatum
    inputs = [
        pps.Input(pfs=pps.PFSInput(repo="in", glob="/*")),
        pps.Input(pfs=pps.PFSInput(repo="in", glob="/")),
        pps.Input(pfs=pps.PFSInput(repo="in", glob="/*", name="renamed")),
        pps.Input(pfs=pps.PFSInput(repo="in", glob="/nothing*")),
        pps.Input(pfs=pps.PFSInput(repo="in", glob="/f0.txt", branch="master")),
        pps.Input(cross=[pps.Input(pfs=pps.PFSInput(repo="in", glob="/*")), pps.Input(pfs=pps.PFSInput(repo="other", glob="/*"))]),
        pps.Input(union=[pps.Input(pfs=pps.PFSInput(repo="in", glob="/*")), pps.Input(pfs=pps.PFSInput(repo="other", glob="/"))]),
        pps.Input(pfs=pps.PFSInput(repo="nope", glob="/*")),
        pps.Input(pfs=pps.PFSInput(repo="in", glob="/[a")),
        pps.Input(pfs=pps.PFSInput(repo="in", glob="/*", commit=MISSING_ID)),
        pps.Input(),
    ]
    for spec_ in inputs:
        ld(pps.ListDatumRequest(input=spec_), unordered=True)
    ld(pps.ListDatumRequest(input=inputs[0], number=1))
    ld(pps.ListDatumRequest(input=inputs[0], reverse=True))
    ld(pps.ListDatumRequest())
    r.sdk.pps.list_datum(input=spps.Input(pfs=spps.PfsInput(repo="in", glob="/*")), unordered=True)


@scenario("logs without workers")
def logs(r: Run) -> None:
    input_repo(r)
    create_v2(r, spec("p"), quiet=True)
    wait_pipeline(r, "p", RUNNING)
    r.pps.GetLogs(pps.GetLogsRequest(pipeline=pipeline("p")))
    r.pps.GetLogs(pps.GetLogsRequest(pipeline=pipeline("nope")))
