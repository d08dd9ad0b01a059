"""How many workers a pipeline gets, and that a stopping server takes them all along (#15 item 6).

``parallelism_spec: {constant: 1000000000000}`` used to be taken at its word: the
server started workers without end, the job never started, and SIGTERM no longer
stopped the server. Workers are now capped by the job's datums and by the
machine's limit (``--max-workers``, default the CPU count).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from pachmagic.server.local import READY_PREFIX
from pachmagic.server.pipelines.pool import WorkerPool, default_max_workers
from pachmagic.server.pipelines.states import JobState
from tests.server.pipelines.harness import Harness, pfs, spec

HUGE = 10**12
MARKER = "987.654"  # an unusual sleep, to find the transform's processes


def test_workers_are_capped_by_datums_and_by_the_machine(tmp_path: Path) -> None:
    pool = WorkerPool(tmp_path, max_workers=3)
    assert pool.workers(HUGE) == 3
    assert pool.workers(HUGE, datums=2) == 2
    assert pool.workers(2, datums=10) == 2
    assert pool.workers(0) == 1 and pool.workers(5, datums=0) == 1
    assert WorkerPool(tmp_path).max_workers == default_max_workers() == max(1, os.cpu_count() or 1)
    with pytest.raises(ValueError, match="at least 1"):
        WorkerPool(tmp_path, max_workers=0)


def test_a_huge_parallelism_spec_gets_the_machine_limit(make_pps: Callable[..., Harness]) -> None:
    pps = make_pps(max_workers=2)
    pps.repo("in")
    pps.put("in", {"/a": "1", "/b": "2", "/c": "3"})
    pps.pipeline(spec("wide", "cp -r /pfs/in/. /pfs/out/", pfs("in"), parallelism_spec={"constant": HUGE}))
    job = pps.job("wide")
    assert (job.state, job.processed) == (JobState.SUCCESS, 3)
    assert pps.engine.pool.count(("default", "wide")) == 2
    assert pps.files("wide") == {"/a": b"1", "/b": b"2", "/c": b"3"}


def _pids_with(text: str) -> list[int]:
    """Processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def _wait_for(check: Callable[[], bool], within: float) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_the_server_and_every_worker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pachmagic", "serve", "--port", "0", "--data-dir", str(data),
         "--workdir", str(tmp_path), "--max-workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert READY_PREFIX in line, line
        from pachmagic.client import connect

        client = connect(line.split(READY_PREFIX)[1].split()[0])
        client.pfs.create_repo("in")
        client.pfs.put_files("in@master", {"/a": b"1", "/b": b"2", "/c": b"3"})
        client.pps.create_pipeline({
            "pipeline": {"name": "wide"}, "transform": {"image": "x", "cmd": ["sleep", MARKER]},
            "input": {"pfs": {"repo": "in", "glob": "/*"}}, "parallelism_spec": {"constant": HUGE},
        })
        # Two datums run at once (the limit), each a sleeping transform.
        assert _wait_for(lambda: len(_pids_with(f"sleep {MARKER}")) == 2, within=120), _pids_with(f"sleep {MARKER}")
        client.close()
        workers = _pids_with(str(data))  # the sandbox workers keep their roots under the data directory
        assert workers
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)  # a bound for a hang, not a speed test: it takes about a second
        except subprocess.TimeoutExpired:
            pytest.fail("the server did not stop on SIGTERM")
        assert _wait_for(lambda: not _pids_with(f"sleep {MARKER}"), within=30), "a transform outlived the server"
        assert _wait_for(lambda: not set(_pids_with(str(data))) & set(workers), within=30), "a worker outlived it"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
