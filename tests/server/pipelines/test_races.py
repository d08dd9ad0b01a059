"""Races between stopping a job and the scheduler starting it (#16 item 11)."""

from __future__ import annotations

import threading

import pytest

from pachmagic.server.pipelines.states import JobState
from tests.server.pipelines.harness import Harness, pfs, spec


def test_stop_job_while_its_thread_is_being_started(pps: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop that comes after the job was chosen but before its thread started ends the job cleanly.

    The probe runs ``stop job`` on the scheduler's own thread at the last moment
    before the job thread starts: deterministically, the moment that used to find a
    thread registered as running but not started (``cannot join thread before it
    is started``).
    """
    pps.repo("in")
    pps.put("in", {"/a": "a"})
    errors: list[BaseException] = []
    probed: list[str] = []
    real_start = threading.Thread.start

    class Probe(threading.Thread):
        def start(self) -> None:
            if self.name.startswith("job-slow-") and not probed:
                job = pps.engine.list_jobs(project="default", pipeline="slow")[0]
                probed.append(job.id)
                try:
                    pps.engine.stop_job("default", "slow", job.id, "stopped as it started")
                except BaseException as err:  # noqa: BLE001 - recorded for the assertion
                    errors.append(err)
            real_start(self)

    monkeypatch.setattr(threading, "Thread", Probe)
    pps.pipeline(spec("slow", "sleep 30; cp -r /pfs/in/. /pfs/out/", pfs("in")))
    job = pps.job("slow", pps.wait(lambda: probed and probed[0], message="the job's launch"))
    monkeypatch.undo()
    assert errors == []
    assert (job.state, job.reason) == (JobState.KILLED, "stopped as it started")
    assert pps.commit("slow", job.id).error == "stopped as it started"
    # The pipeline goes on: the next commit gets a job that runs.
    pps.engine.delete_pipeline("default", "slow")
    pps.pipeline(spec("slow", "cp -r /pfs/in/. /pfs/out/", pfs("in")))
    assert pps.job("slow").state == JobState.SUCCESS
    assert pps.files("slow") == {"/a": b"a"}


def test_stopping_a_running_job_waits_for_it(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "a"})
    pps.pipeline(spec("sleepy", "echo started; sleep 60", pfs("in")))
    running = pps.wait(lambda: (j := pps.engine.list_jobs(pipeline="sleepy")) and j[0].state == JobState.RUNNING
                       and pps.engine.scheduler.running(j[0].key) and j[0], message="a running job")
    pps.engine.stop_job("default", "sleepy", running.id, "enough")
    job = pps.engine.inspect_job("default", "sleepy", running.id)
    assert (job.state, job.reason) == (JobState.KILLED, "enough")
    assert pps.engine.scheduler.running(job.key) is None
