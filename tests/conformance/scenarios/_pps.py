"""Shared pieces of the PPS scenarios: specs, and waits for pachd's asynchronous state changes."""

from __future__ import annotations

import json
import time
from typing import Any

from ..build import commit, pfs, pipeline, pps, put, repo
from ..harness import Run

WAIT_SECONDS = 30.0


def spec(name: str, input_repo: str = "in", glob: str = "/*", **extra: Any) -> dict[str, Any]:
    """A pachctl-style JSON spec that copies its input (never run on the reference)."""
    out: dict[str, Any] = {
        "pipeline": {"name": name},
        "transform": {"image": "alpine:3.19", "cmd": ["sh"], "stdin": [f"cp -r /pfs/{input_repo}/* /pfs/out/"]},
        "input": {"pfs": {"repo": input_repo, "glob": glob}},
    }
    out.update(extra)
    return out


def create_v2(r: Run, body: dict[str, Any] | str, *, quiet: bool = False, **kwargs: Any) -> Any:
    text = body if isinstance(body, str) else json.dumps(body)
    req = pps.CreatePipelineV2Request(create_pipeline_request_json=text, **kwargs)
    return (r.quiet.pps if quiet else r.pps).CreatePipelineV2(req)


def input_repo(r: Run, name: str = "in", files: int = 2) -> None:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo(name)))
    for i in range(files):
        r.quiet.pfs.ModifyFile(iter(put(commit(name, "master"), f"/f{i}.txt", f"file {i}".encode())))
        r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit(name, "master"), wait=pfs.FINISHED))


def wait_pipeline(r: Run, name: str, *states: int, project: str = "default") -> None:
    """Until the pipeline is in one of ``states`` (pachd's controller moves it later), unrecorded."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            info = r.quiet.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline(name, project)))
        except Exception:  # noqa: BLE001 - gone or not there yet: the recorded calls will tell
            return
        if info.state in states and (info.stopped or pps.PIPELINE_PAUSED not in states):
            return
        time.sleep(0.1)


def wait_jobs(r: Run, name: str, count: int) -> None:
    """Until the pipeline has ``count`` jobs (ours makes them just after the commit), unrecorded."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        jobs = r.quiet.pps.ListJob(pps.ListJobRequest(pipeline=pipeline(name)))
        if len(jobs) >= count:
            return
        time.sleep(0.1)
