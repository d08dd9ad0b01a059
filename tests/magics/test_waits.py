"""Waits: what they wait for while they run, a one-line summary after, failures as a red line.

Before: ``%pach wait commit`` showed a bar stuck at ``0/?`` and left it behind,
the ``put --wait`` bar could read 100% with jobs still running, and a failed
pipeline came back as an ordinary table with an ``error`` cell that "Run All"
walked past.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pachmagic.client import JobInfo
from pachmagic.magics._testing import TestingShell
from pachmagic.magics.waits import JobFailed, JobsProgress, cause_line

SLOW = {
    "pipeline": {"name": "slow"},
    "transform": {"image": "busybox", "cmd": ["sh", "-c", "sleep 1; cp -r /pfs/nums/* /pfs/out/"]},
    "input": {"pfs": {"repo": "nums", "glob": "/*"}},
}
BROKEN = {
    "pipeline": {"name": "contour"},
    "transform": {"image": "python:3.11", "cmd": ["python3", "/nowhere/contour.py"]},
    "input": {"pfs": {"repo": "nums", "glob": "/"}},
}


def job(pipeline: str, state: str, processed: int = 0, total: int = 0, failed: int = 0) -> JobInfo:
    return JobInfo(project="default", pipeline=pipeline, id="a" * 32, state=state, data_processed=processed,
                   data_failed=failed, data_total=total, started=datetime.now(timezone.utc))


def test_the_bar_never_reads_full_while_a_job_runs() -> None:
    # contour is done; histogram was just created and does not know its datums yet
    waiting = JobsProgress((job("contour", "success", 4, 4), job("histogram", "created")))
    assert waiting.fraction == 0.5 and waiting.running == 1
    assert waiting.detail() == "jobs 1/2 · datums 4/4 — contour success 4/4, histogram created 0/0"
    # every datum counted but the job not finished yet: still not full
    finishing = JobsProgress((job("contour", "finishing", 4, 4),))
    assert finishing.fraction is not None and finishing.fraction < 1
    assert JobsProgress((job("contour", "success", 4, 4),)).fraction == 1


def test_the_cause_is_the_last_line_of_the_first_attempt() -> None:
    class Line:
        def __init__(self, message: str, user: bool = True) -> None:
            self.message, self.user = message, user

    traceback = [Line("hello"), Line("Traceback (most recent call last):"), Line('  File "x.py", line 3'),
                 Line("ValueError: boom"), Line("datum 1c67 failed (exit code 1), attempt 1 of 3", user=False),
                 Line("hello"), Line("ValueError: boom again")]
    assert cause_line(traceback) == "ValueError: boom"
    assert cause_line([Line("python3: can't open file '/x/contour.py': [Errno 2] No such file or directory")]) == \
        "python3: can't open file '/x/contour.py': [Errno 2] No such file or directory"
    assert cause_line([]) == ""


@pytest.fixture
def nums(ip: TestingShell) -> TestingShell:
    ip.run_cell("%pach create repo nums")
    ip.run_cell("%%pach put file nums@master:/1.txt\none")
    return ip


@pytest.mark.workers
def test_wait_commit_shows_jobs_and_datums_then_one_summary_line(nums: TestingShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip = nums
    ip.run_cell("%config PachMagic.progress = True")
    ip.run_cell("%config PachMagic.wait_poll_seconds = 0.05")
    ip.run_cell(f"%%pach create pipeline\n{__import__('json').dumps(SLOW)}")
    capsys.readouterr()
    info = ip.value("%pach wait commit slow@master")
    shown = capsys.readouterr()
    assert info.finished is not None and info.repo == "slow"
    assert "waiting for slow@master: jobs 0/1 · datums 0/1 — slow " in shown.err  # what it waits for, not 0/?
    assert shown.err.endswith("\r")  # the line is cleared: no dead bar is left
    assert shown.out.splitlines()[0] == "slow@master: slow success (1 processed)"


@pytest.mark.workers
def test_a_failed_job_is_a_red_line_with_its_cause(nums: TestingShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip = nums
    ip.run_cell(f"%%pach create pipeline\n{__import__('json').dumps(BROKEN)}")
    capsys.readouterr()
    info = ip.value("%pach wait commit contour@master")  # raise_on_failure is off: the cell goes on
    out = capsys.readouterr().out
    assert info.error  # the record still says so
    [red] = [line for line in out.splitlines() if line.startswith("✗ ")]
    job_id = ip.value("%pach list job -p contour")["id"][0]
    assert red.startswith(f"✗ contour@{job_id[:8]} failure: python3: can't open file '/nowhere/contour.py'")
    assert "(datum " in red
    # list job: the state comes right after the job's name, before the wide columns
    columns = list(ip.value("%pach list job"))
    assert columns[:4] == ["project", "pipeline", "id", "state"]


@pytest.mark.workers
def test_raise_on_failure_makes_the_cell_fail_with_that_line(nums: TestingShell) -> None:
    ip = nums
    ip.run_cell("%config PachMagic.raise_on_failure = True")
    ip.run_cell(f"%%pach create pipeline\n{__import__('json').dumps(BROKEN)}")
    failure = ip.fail("%pach wait commit contour@master")
    assert isinstance(failure.error, JobFailed)
    [line] = failure.lines[-1:]
    assert line.startswith("failed: contour@") and "can't open file '/nowhere/contour.py'" in line
    assert "Traceback" not in failure.shown
    # and the put that triggers it fails the same way
    failure = ip.fail("%%pach put file nums@master:/2.txt --wait\ntwo")
    assert failure.lines[-1].startswith("failed: contour@")
