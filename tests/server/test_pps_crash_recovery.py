"""Crash recovery of pipelines: SIGKILL the server at seeded moments during jobs, restart, compare.

One uninterrupted run of a workload (a two-pipeline DAG fed by a sequence of
input commits) gives the reference. Then, for each seed, the same workload runs
on a child-process server that is SIGKILLed at seeded delays after input commits
(while datums run, outputs upload, jobs finish) and restarted on the same data
directory. At the end:

* every job is terminal and succeeded (restarted jobs finish; some did restart);
* for every input commit, both pipelines' output commits hold exactly what the
  uninterrupted run produced (no duplicated, lost or half-merged output);
* datum counters add up and the meta commits describe each datum once;
* ``fsck`` of the data directory reports no damage.

Set ``PACHMAGIC_PPS_CRASH_SEEDS`` (comma-separated) to replay given seeds.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from pachmagic.client import Client, Job, Pipeline
from pachmagic.server import LocalServer
from pachmagic.server.storage.fsck import fsck_data_dir

pytestmark = pytest.mark.slow

SEEDS = [int(s) for s in os.environ.get("PACHMAGIC_PPS_CRASH_SEEDS", "11,23,37,41").split(",")]
# Each datum sleeps a little so that kills land inside datums as often as between them.
UPPER = "sleep 0.02; for f in /pfs/in/*; do tr a-z A-Z < $f > /pfs/out/$(basename $f); done"
SUMMARY = "cd /pfs/upper && for f in $(ls | sort); do echo \"$f $(cat $f)\"; done > /pfs/out/summary"
PIPELINES = [
    {"pipeline": {"name": "upper"}, "transform": {"image": "x", "cmd": ["sh", "-c", UPPER]},
     "input": {"pfs": {"repo": "in", "glob": "/*"}}, "parallelism_spec": {"constant": 2}},
    {"pipeline": {"name": "summary"}, "transform": {"image": "x", "cmd": ["sh", "-c", SUMMARY]},
     "input": {"pfs": {"repo": "upper", "glob": "/"}}},
]


def workload() -> list[tuple[dict[str, bytes], list[str]]]:
    """Input commits: (files to write, paths to delete), the same for every run."""
    rng = random.Random(7)
    steps: list[tuple[dict[str, bytes], list[str]]] = []
    names: list[str] = []
    for step in range(6):
        writes = {}
        for _ in range(rng.randint(3, 8)):
            name = f"/f{rng.randint(0, 30):02d}"
            writes[name] = f"step {step} {name} {rng.random():.6f}".encode()
        deletes = [n for n in names if n not in writes and rng.random() < 0.2]
        names = sorted((set(names) | set(writes)) - set(deletes))
        steps.append((writes, deletes))
    return steps


def apply(client: Client, writes: dict[str, bytes], deletes: list[str]) -> str:
    with client.pfs.commit("in@master") as commit:
        for path in deletes:
            commit.delete_file(path)
        for path, data in writes.items():
            commit.put_file(path, data)
    return client.pfs.inspect_commit("in@master").id


def outputs(client: Client, set_ids: list[str]) -> list[dict[str, dict[str, bytes]]]:
    """For each input commit: both pipelines' output files in its commit set."""
    result = []
    for set_id in set_ids:
        per = {}
        for name in ("upper", "summary"):
            per[name] = {f.path: client.pfs.get_file(f"{name}@{set_id}:{f.path}")
                         for f in client.pfs.walk_file(f"{name}@{set_id}:/") if f.type == "file"}
        result.append(per)
    return result


def settle(client: Client, set_ids: list[str]) -> list[Any]:
    for set_id in set_ids:
        client.pps.inspect_job_set(set_id, wait=True)
    jobs = list(client.pps.list_job())
    for job in jobs:
        client.pps.wait_job(job.job)
    return list(client.pps.list_job())


def run(data_dir: Path, workdir: Path, kills: random.Random | None) -> tuple[list[Any], list[Any], int]:
    server = LocalServer(data_dir, in_process=False, workdir=workdir).start()
    killed = 0
    try:
        client = server.client()
        client.pfs.create_repo("in")
        for spec in PIPELINES:
            client.pps.create_pipeline(spec)
        set_ids = []
        for writes, deletes in workload():
            set_ids.append(apply(client, writes, deletes))
            if kills is not None and kills.random() < 0.8:
                # Let the jobs of this commit get somewhere, then pull the plug.
                time.sleep(kills.uniform(0.0, 0.6))
                client.close()
                server.kill()
                killed += 1
                server = LocalServer(data_dir, in_process=False, workdir=workdir).start()
                client = server.client()
        jobs = settle(client, set_ids)
        result = outputs(client, set_ids)
        client.close()
    finally:
        server.stop()
    return jobs, result, killed


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    base = tmp_path_factory.mktemp("reference")
    jobs, result, _ = run(base / "data", base, None)
    assert all(j.state == "success" for j in jobs)
    return result


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_during_jobs_then_restart(seed: int, reference: list[Any], tmp_path: Path) -> None:
    jobs, result, killed = run(tmp_path / "data", tmp_path, random.Random(seed))
    assert killed >= 1
    assert [(j.pipeline, j.state, j.reason) for j in jobs if j.state != "success"] == []
    for job in jobs:
        assert job.data_processed + job.data_skipped == job.data_total and job.data_failed == 0
    assert result == reference
    report = fsck_data_dir(tmp_path / "data")
    assert report.ok, "\n".join(report.lines())


def test_restarted_jobs_are_counted(tmp_path: Path) -> None:
    """A job interrupted by a crash runs again from the start and says so (``restart``)."""
    data = tmp_path / "data"
    server = LocalServer(data, in_process=False, workdir=tmp_path).start()
    try:
        client = server.client()
        client.pfs.create_repo("in")
        client.pfs.put_file("in@master", "/a", b"a")
        gate = tmp_path / "gate"
        client.pps.create_pipeline({
            "pipeline": {"name": "held"}, "input": {"pfs": {"repo": "in", "glob": "/"}},
            "transform": {"image": "x", "cmd": ["sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.05; done; cp /pfs/in/a /pfs/out/"]},
        })
        job = client.pps.list_job(pipeline="held")[0]
        for _ in range(600):
            if client.pps.inspect_job(job.job).state == "running":
                break
            time.sleep(0.05)
        client.close()
        server.kill()
        gate.touch()
        server = LocalServer(data, in_process=False, workdir=tmp_path).start()
        client = server.client()
        done = client.pps.wait_job(Job(Pipeline("held"), job.id))
        assert (done.state, done.restart) == ("success", 1)
        assert client.pfs.get_file("held@master:/a") == b"a"
        client.close()
    finally:
        server.stop()
