"""Shared pieces of the run scenarios: shell pipelines, commits, and waits for jobs to finish.

Waits are unrecorded (``r.quiet``): how long each server takes is not compared,
only what it says once its jobs are done. Both servers start jobs
asynchronously (pachd's pods need a second or two to start), so a scenario
says how many jobs it expects before it reads them.
"""

from __future__ import annotations

import json
import time
from typing import Any


from ..build import commit, pfs, pipeline, pps, repo
from ..harness import Run

WAIT_SECONDS = 180.0
IMAGE = "ubuntu:22.04"  # recorded, not pulled: user code runs with the host's sh and coreutils
TERMINAL = {pps.JOB_SUCCESS, pps.JOB_FAILURE, pps.JOB_KILLED, pps.JOB_UNRUNNABLE}


def shell(name: str, script: str, input_: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A pachctl JSON spec whose transform is one sh script."""
    transform = {"image": IMAGE, "cmd": ["sh"], "stdin": [script]}
    transform.update(extra.pop("transform", {}))
    out: dict[str, Any] = {"pipeline": {"name": name}, "transform": transform, "input": input_}
    out.update(extra)
    return out


def pfs_in(repo_name: str, glob: str = "/*", **extra: Any) -> dict[str, Any]:
    return {"pfs": {"repo": repo_name, "glob": glob, **extra}}


def create(r: Run, *, spec: dict[str, Any], quiet: bool = False, **kwargs: Any) -> Any:
    req = pps.CreatePipelineV2Request(create_pipeline_request_json=json.dumps(spec), **kwargs)
    return (r.quiet.pps if quiet else r.pps).CreatePipelineV2(req)


def make_repo(r: Run, name: str) -> None:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo(name)))


def put_commit(r: Run, repo_name: str, files: dict[str, bytes] | None = None, delete: tuple[str, ...] = ()) -> str:
    """One commit on master: ``delete`` paths removed, ``files`` written; its id (unrecorded)."""
    c = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=pfs.Branch(repo=repo(repo_name), name="master")))
    msgs = [pfs.ModifyFileRequest(set_commit=c)]
    for path in delete:
        msgs.append(pfs.ModifyFileRequest(delete_file=pfs.DeleteFile(path=path)))
    for path, data in (files or {}).items():
        msgs.append(pfs.ModifyFileRequest(add_file=pfs.AddFile(path=path, raw={"value": data})))
    r.side.stubs["pfs"].ModifyFile(iter(msgs), timeout=60)
    r.quiet.pfs.FinishCommit(pfs.FinishCommitRequest(commit=c))
    r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=c, wait=pfs.FINISHED))
    return str(c.id)


def settle(r: Run, jobs: int) -> None:
    """Until at least ``jobs`` jobs exist, all are done and their output commits finished (unrecorded)."""
    deadline = time.monotonic() + WAIT_SECONDS
    infos: list[Any] = []
    while time.monotonic() < deadline:
        infos = r.quiet.pps.ListJob(pps.ListJobRequest(history=-1))
        if len(infos) >= jobs and all(j.state in TERMINAL for j in infos):
            break
        time.sleep(0.2)
    else:
        raise TimeoutError(f"{r.side.name}: {len(infos)} jobs, states {[pps.JobState.Name(j.state) for j in infos]}")
    for j in infos:
        r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=j.output_commit, wait=pfs.FINISHED), timeout=WAIT_SECONDS)


def job(name: str, id_: str) -> pps.Job:
    return pps.Job(pipeline=pipeline(name), id=id_)


def read_job(r: Run, name: str, id_: str) -> None:
    """What a client reads of a finished job: the job, its datums, its output commit's files."""
    r.pps.InspectJob(pps.InspectJobRequest(job=job(name, id_), details=True))
    # pachd lists datums in its own storage order; compare them as a set.
    r.pps.ListDatum(pps.ListDatumRequest(job=job(name, id_)), unordered=True)
    r.pfs.ListFile(pfs.ListFileRequest(file=pfs.File(commit=commit(name, "", id=id_), path="/")))


def read_jobs(r: Run, name: str) -> list[Any]:
    """The pipeline's jobs (newest first), and each one as ``read_job`` reads it."""
    jobs = r.pps.ListJob(pps.ListJobRequest(pipeline=pipeline(name))) or []
    for j in jobs:
        read_job(r, name, j.job.id)
    return list(jobs)


def outputs(r: Run, name: str) -> None:
    """The output branch's files, walked, with their content."""
    files = r.pfs.WalkFile(pfs.WalkFileRequest(file=pfs.File(commit=commit(name), path="/"))) or []
    for info in files:
        if info.file_type == pfs.FILE:
            r.pfs.GetFile(pfs.GetFileRequest(file=pfs.File(commit=commit(name), path=info.file.path)), join=True)


