"""Long-lived calls never starve the server: more waiters than RPC threads, and it still answers."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from pachyderm_sdk import Client as SdkClient
from pachyderm_sdk.api import pfs, pps

from pachmagic.client import connect

PER_KIND = 12  # x 4 kinds of waiter: well above the runtime's thread pool


def test_waiters_do_not_starve_other_calls(server: Any, tmp_path: Path) -> None:
    app = server._threaded.app  # noqa: SLF001 - the in-process server's runtime, to count waiters
    pool_threads = app.runtime.pool._max_workers  # noqa: SLF001
    assert PER_KIND * 4 > pool_threads
    gate = tmp_path / "gate"
    host, port = server.address.rsplit(":", 1)
    with connect(server.address) as client:
        client.pfs.create_repo("in")
        client.pfs.put_file("in@master", "/a", b"A")
        client.pps.create_pipeline({
            "pipeline": {"name": "gated"},
            # The gate's directory as working directory: the sandbox shows it (read-only, live).
            "transform": {"image": "x", "working_dir": str(tmp_path),
                          "cmd": ["sh", "-c", f"echo waiting; while [ ! -e {gate} ]; do sleep 0.05; done; "
                                              "cp /pfs/in/a /pfs/out/a; echo done"]},
            "input": {"pfs": {"repo": "in", "glob": "/"}},
        })
        job_id = client.pps.list_job(pipeline="gated")[0].id
        job = pps.Job(pipeline=pps.Pipeline(name="gated"), id=job_id)
        sdk = SdkClient(host=host, port=int(port))
        results: dict[str, list[Any]] = {"job": [], "commit": [], "logs": [], "subscribe": []}
        lock = threading.Lock()

        def record(kind: str, value: Any) -> None:
            with lock:
                results[kind].append(value)

        def wait_job() -> None:
            record("job", sdk.pps.inspect_job(job=job, wait=True).state)

        def wait_commit() -> None:
            info = sdk.pfs.inspect_commit(commit=pfs.Commit.from_uri(f"gated@{job_id}"), wait=pfs.CommitState.FINISHED)
            record("commit", info.finished is not None)

        def follow_logs() -> None:
            record("logs", [m.message for m in sdk.pps.get_logs(job=job, follow=True) if m.user])

        def subscribe() -> None:
            for info in sdk.pps.subscribe_job(pipeline=pps.Pipeline(name="gated")):
                if info.job.id == job_id and info.state == pps.JobState.JOB_SUCCESS:
                    record("subscribe", info.state)
                    return

        kinds: list[Callable[[], None]] = [wait_job, wait_commit, follow_logs, subscribe]
        threads = [threading.Thread(target=fn, daemon=True) for fn in kinds for _ in range(PER_KIND)]
        for t in threads:
            t.start()
        # Every waiter is parked on a change event on the server, none on a thread.
        # (Bounded polls, generous for a loaded machine: they end as soon as the state is reached.)
        pause = threading.Event()
        for _ in range(3000):
            if len(app.runtime._events) >= len(threads):  # noqa: SLF001
                break
            pause.wait(0.05)
        assert len(app.runtime._events) >= len(threads)  # noqa: SLF001
        # Meanwhile every other kind of call still answers.
        assert [r.name for r in client.pfs.list_repo()] == ["gated", "in"]
        assert client.pps.inspect_pipeline("gated").name == "gated"
        client.pfs.create_repo("other")
        client.pfs.put_file("other@master", "/x", b"x")
        assert client.pfs.get_file("other@master:/x") == b"x"
        # The job stays unfinished while the gate is shut: 'created'/'starting' until a
        # worker takes its datum (later under load), then 'running' until the gate opens.
        assert len(client.pps.list_job()) == 1
        for _ in range(3000):
            state = client.pps.inspect_job(("gated", job_id)).state
            if state not in ("created", "starting"):
                break
            pause.wait(0.05)
        assert state == "running"
        assert all(t.is_alive() for t in threads)
        gate.touch()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads)
        sdk._channel.close()  # noqa: SLF001 - the SDK has no public close
    assert results["job"] == [pps.JobState.JOB_SUCCESS] * PER_KIND
    assert results["commit"] == [True] * PER_KIND
    assert results["logs"] == [["waiting", "done"]] * PER_KIND
    assert results["subscribe"] == [pps.JobState.JOB_SUCCESS] * PER_KIND
