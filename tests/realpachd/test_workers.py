"""The reference pachd runs its pipelines (``-workers``): Pachyderm's own worker and sidecar.

What the -workers mode must give, each checked here: jobs that run to
JOB_SUCCESS with their outputs; datums, failures and logs as Pachyderm's worker
makes them (GetLogs by pipeline, job and datum, from the mode's Loki); a
private ``/pfs`` per pod even while pods of two pipelines run at once; user
code that starts in the configured directory with our ``python3``; pods that
follow their pipeline (stopped, started, deleted) and never outlive the
server, user code's background processes included.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from pachmagic.client import Client, connect
from tests.realpachd.launcher import RealPachd

WAIT = 120.0


@pytest.fixture
def client(real_pachd_workers: RealPachd) -> Iterator[Client]:
    with connect(real_pachd_workers.address) as c:
        yield c


def pod_processes(pachd: RealPachd) -> dict[int, str]:
    """The server's pod containers now running: pid -> "pod-worker" / "pod-sidecar"."""
    assert pachd.process is not None
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pachd.process.pid and len(argv) > 1 and argv[1] in (b"pod-worker", b"pod-sidecar"):
            found[int(entry.name)] = argv[1].decode()
    return found


def processes_with(marker: str) -> list[int]:
    """Pids of processes whose command line contains ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def wait_for(what: str, predicate: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def shell_pipeline(name: str, script: str, input_: dict[str, Any], **extra: Any) -> dict[str, Any]:
    spec = {"pipeline": {"name": name}, "transform": {"image": "ubuntu:22.04", "cmd": ["sh"], "stdin": [script]},
            "input": input_}
    spec.update(extra)
    return spec


def finished_jobs(client: Client, pipeline: str, count: int = 1) -> list[Any]:
    def done() -> list[Any] | None:
        jobs = client.pps.list_job(pipeline=pipeline)
        if len(jobs) >= count and all(j.done for j in jobs):
            return list(jobs)
        return None

    return wait_for(f"{count} finished job(s) of {pipeline}", done)  # type: ignore[no-any-return]


def test_a_pipeline_runs_with_pachyderms_worker(client: Client, real_pachd_workers: RealPachd) -> None:
    client.pfs.create_repo("words")
    client.pfs.put_files("words@master", {"/a.txt": b"alpha\n", "/b.txt": b"beta\n"})
    client.pps.create_pipeline(shell_pipeline(
        "upper", "for f in /pfs/words/*; do tr a-z A-Z < $f > /pfs/out/$(basename $f); done; echo datum $PACH_DATUM_ID",
        {"pfs": {"repo": "words", "glob": "/*"}},
    ))
    (job,) = finished_jobs(client, "upper")
    assert job.state == "success", job
    assert (job.data_processed, job.data_total, job.data_failed) == (2, 2, 0)
    assert client.pfs.get_file("upper@master:/a.txt") == b"ALPHA\n"
    assert client.pfs.get_file("upper@master:/b.txt") == b"BETA\n"
    datums = client.pps.list_datum(job.job)
    assert sorted(d.state for d in datums) == ["success", "success"]
    # Logs come from the containers' output through the mode's Loki, by pipeline, job and datum.
    user_lines = [m.message for m in client.pps.get_logs(pipeline="upper") if m.user]
    assert sorted(user_lines) == sorted(f"datum {d.id}" for d in datums)
    assert sorted(m.message for m in client.pps.get_logs(job=job.job) if m.user) == sorted(user_lines)
    one = datums[0]
    assert [m.message for m in client.pps.get_logs(job=job.job, datum=one.id) if m.user] == [f"datum {one.id}"]


def test_failures_retries_err_cmd_and_unrunnable_downstream(client: Client) -> None:
    client.pfs.create_repo("nums")
    client.pfs.put_files("nums@master", {"/0": b"0", "/1": b"1"})
    fail = 'if grep -q 1 /pfs/nums/*; then echo boom >&2; exit 3; fi; cp /pfs/nums/* /pfs/out/'
    client.pps.create_pipeline(shell_pipeline(
        "recovers", fail, {"pfs": {"repo": "nums", "glob": "/*"}},
        transform={"image": "ubuntu:22.04", "cmd": ["sh"], "stdin": [fail], "err_cmd": ["true"]}, datum_tries=2,
    ))
    client.pps.create_pipeline(shell_pipeline("fails", fail, {"pfs": {"repo": "nums", "glob": "/*"}}, datum_tries=2))
    client.pps.create_pipeline(shell_pipeline("after", "cp -r /pfs/fails/* /pfs/out/", {"pfs": {"repo": "fails", "glob": "/"}}))
    (recovered,) = finished_jobs(client, "recovers")
    assert (recovered.state, recovered.data_processed, recovered.data_recovered) == ("success", 1, 1)
    (failed,) = finished_jobs(client, "fails")
    assert (failed.state, failed.data_failed) == ("failure", 1)
    assert failed.reason.startswith("datum ") and failed.reason.endswith(" failed")
    (after,) = finished_jobs(client, "after")
    assert after.state == "unrunnable"
    # datum_tries=2: the failing datum ran twice.
    assert [m.message for m in client.pps.get_logs(pipeline="fails") if m.user and m.message == "boom"] == ["boom", "boom"]


def test_each_pod_has_its_own_pfs(client: Client, real_pachd_workers: RealPachd) -> None:
    """Two pipelines' pods run at once; each sees only its own inputs under /pfs."""
    for repo in ("left", "right"):
        client.pfs.create_repo(repo)
        client.pfs.put_files(f"{repo}@master", {f"/{repo}.txt": repo.encode()})
    script = "sleep 1; ls /pfs > /pfs/out/listing; ls /pfs/{r} > /pfs/out/files"
    for repo in ("left", "right"):
        client.pps.create_pipeline(shell_pipeline(f"see-{repo}", script.format(r=repo), {"pfs": {"repo": repo, "glob": "/"}}))
    wait_for("two worker pods at once", lambda: list(pod_processes(real_pachd_workers).values()).count("pod-worker") == 2)
    for repo in ("left", "right"):
        (job,) = finished_jobs(client, f"see-{repo}")
        assert job.state == "success"
        # Pachyderm's worker links the datum's inputs and out into /pfs (its scratch space is hidden).
        assert sorted(client.pfs.get_file(f"see-{repo}@master:/listing").split()) == sorted([b"out", repo.encode()])
        assert client.pfs.get_file(f"see-{repo}@master:/files").split() == [f"{repo}.txt".encode()]
    assert not Path("/pfs").exists() or not any(Path("/pfs").iterdir()), "pods must not touch the host's /pfs"


def test_user_code_starts_in_worker_dir_with_our_python(client: Client) -> None:
    """As on the embedded server: the tutorial directory, and python3 from this environment."""
    client.pfs.create_repo("x")
    client.pfs.put_files("x@master", {"/x": b"x"})
    client.pps.create_pipeline({
        "pipeline": {"name": "where"},
        "transform": {"image": "python:3.11", "cmd": ["python3", "-c",
                      "import os, sys; open('/pfs/out/where', 'w').write(os.getcwd() + '\\n' + sys.prefix)"]},
        "input": {"pfs": {"repo": "x", "glob": "/"}},
    })
    (job,) = finished_jobs(client, "where")
    assert job.state == "success"
    cwd, prefix = client.pfs.get_file("where@master:/where").decode().split("\n")
    assert Path(cwd).name == "tutorial" and (Path(cwd) / "contour.py").exists()
    assert prefix == sys.prefix


def test_pods_follow_their_pipeline_and_die_with_the_server(
    client: Client, real_pachd_workers: RealPachd
) -> None:
    client.pfs.create_repo("in")
    client.pfs.put_files("in@master", {"/a": b"a"})
    marker = f"{time.time_ns() % 100000}.{os.getpid()}"  # a unique sleep length to find the process by
    client.pps.create_pipeline(shell_pipeline(
        # setsid: out of the process group Pachyderm's worker kills after each datum (wait
        # until it is: its session is its own pid).
        "bg", f"setsid sleep {marker} </dev/null >/dev/null 2>&1 & pid=$!; "
        'while [ "$(cut -d" " -f6 /proc/$pid/stat)" != "$pid" ]; do sleep 0.05; done; cp /pfs/in/a /pfs/out/a',
        {"pfs": {"repo": "in", "glob": "/"}},
    ))
    (job,) = finished_jobs(client, "bg")
    assert job.state == "success"
    assert sorted(pod_processes(real_pachd_workers).values()) == ["pod-sidecar", "pod-worker"]
    assert processes_with(marker)
    client.pps.stop_pipeline("bg")
    wait_for("the pod to stop with its pipeline", lambda: not pod_processes(real_pachd_workers))
    wait_for("user code's processes to die with the pod", lambda: not processes_with(marker))
    client.pps.start_pipeline("bg")
    wait_for("the pod to start again", lambda: len(pod_processes(real_pachd_workers)) == 2)
    client.pfs.put_files("in@master", {"/b": b"b"})
    finished_jobs(client, "bg", 2)
    assert processes_with(marker), "the background process of user code runs meanwhile"
    pods = pod_processes(real_pachd_workers)
    real_pachd_workers.stop()
    for pid in [*pods, *processes_with(marker)]:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3], pid
    assert not processes_with(marker)


def test_a_spec_without_workers_mode_still_only_creates_jobs(real_pachd: RealPachd) -> None:
    """Without -workers the reference server is as before: no pods, jobs stay created."""
    with connect(real_pachd.address) as c:
        c.pfs.create_repo("in")
        c.pfs.put_files("in@master", {"/a": b"a"})
        c.pps.create_pipeline(shell_pipeline("idle", "true", {"pfs": {"repo": "in", "glob": "/"}}))
        wait_for("a job", lambda: c.pps.list_job(pipeline="idle"))
        time.sleep(2)
        assert [j.state for j in c.pps.list_job(pipeline="idle")] == ["created"]
    assert not pod_processes(real_pachd)


def test_worker_env_reaches_user_code(real_pachd_factory: Any) -> None:
    pachd = real_pachd_factory(workers=True, worker_env={"PATH": "/usr/bin:/bin", "GREETING": "hello from the image"})
    with connect(pachd.address) as c:
        c.pfs.create_repo("in")
        c.pfs.put_files("in@master", {"/a": b"a"})
        c.pps.create_pipeline(shell_pipeline("env", 'echo "$GREETING" > /pfs/out/greeting; pwd > /pfs/out/pwd',
                                             {"pfs": {"repo": "in", "glob": "/"}}))
        (job,) = finished_jobs(c, "env")
        assert job.state == "success"
        assert c.pfs.get_file("env@master:/greeting") == b"hello from the image\n"
        assert c.pfs.get_file("env@master:/pwd") == b"/\n"
        assert c.pps.inspect_pipeline("env").spec["transform"]["image"] == "ubuntu:22.04"
