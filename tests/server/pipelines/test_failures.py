"""Failures as Pachyderm has them: retries, err_cmd, return codes, timeouts, kills, restarts."""

from __future__ import annotations

from pathlib import Path

from pachmagic.server.pipelines.states import DatumState, JobState, PipelineState
from tests.server.pipelines.harness import Harness, pfs, spec


def attempts() -> str:
    """A script fragment counting this datum's attempts in the worker's /tmp, and saying the count.

    /tmp is the worker's own (kept for the worker's life, as in a pod), so the
    count survives retries and jobs; the host sees it only in the logs.
    """
    return ('n=$(cat /tmp/tries-$(basename /pfs/in/*) 2>/dev/null || echo 0); n=$((n+1)); '
            'echo $n > /tmp/tries-$(basename /pfs/in/*); echo "try $(basename /pfs/in/*) $n"')


def tries(pps: Harness, name: str) -> int:
    """The last attempt count a datum of input file ``name`` reported."""
    said = [r.message for r in pps.engine.storage.pps.logs(project="default", pipeline="retry")
            if r.message.startswith(f"try {name} ")]
    return int(said[-1].split()[-1])


def test_datum_tries(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/flaky": "", "/broken": ""})
    # "flaky" succeeds on its third attempt; "broken" never does.
    script = attempts() + '; [ "$(basename /pfs/in/*)" = flaky ] && [ $n -ge 3 ] && touch /pfs/out/$(basename /pfs/in/*)'
    pps.pipeline(spec("retry", script, pfs("in"), datum_tries=3))
    job = pps.job("retry")
    assert tries(pps, "flaky") == 3
    assert tries(pps, "broken") == 3
    assert (job.state, job.processed, job.failed) == (JobState.FAILURE, 1, 1)
    failed = [d for d in pps.engine.datums("default", "retry", job.id) if d.state == DatumState.FAILED]
    assert job.reason == f"datum {failed[0].datum_id} failed" and failed[0].reason == "exit code 1"
    assert any("attempt 3 of 3" in r.message for r in pps.engine.storage.pps.logs(project="default", pipeline="retry"))
    # Failed datums are not "processed": the next job retries them (until_success). A
    # failed job is no base for skipping either, so "flaky" runs again too, as in pachd.
    job = pps.job("retry", pps.put("in", {"/other": ""}))
    assert tries(pps, "broken") == 6
    assert (job.processed, job.skipped, job.failed) == (1, 0, 2)


def test_err_cmd_recovers_a_datum(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/good": "", "/bad": ""})
    pps.pipeline(spec("rescue", 'touch /pfs/out/$(basename /pfs/in/*); [ ! -e /pfs/in/bad ]', pfs("in"),
                      datum_tries=1, transform={"err_cmd": ["sh", "-c", "echo recovering $PACH_DATUM_ID"]}))
    job = pps.job("rescue")
    assert (job.state, job.processed, job.recovered, job.failed) == (JobState.SUCCESS, 1, 1, 0)
    # A recovered datum's outputs are not passed downstream.
    assert pps.files("rescue") == {"/good": b""}
    states = sorted(d.state for d in pps.engine.datums("default", "rescue", job.id))
    assert states == [DatumState.SUCCESS, DatumState.RECOVERED]
    assert sum(1 for line in pps.user_logs("rescue") if line.startswith("recovering ")) == 1


def test_failing_err_cmd_leaves_the_datum_failed(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/bad": ""})
    pps.pipeline(spec("norescue", "false", pfs("in"), datum_tries=1, transform={"err_cmd": ["false"]}))
    job = pps.job("norescue")
    assert (job.state, job.failed, job.recovered) == (JobState.FAILURE, 1, 0)


def test_accept_return_code(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/x": ""})
    pps.pipeline(spec("codes", "touch /pfs/out/x; exit 3", pfs("in"), datum_tries=1,
                      transform={"accept_return_code": [3, 4]}))
    assert pps.job("codes").state == JobState.SUCCESS and pps.files("codes") == {"/x": b""}


def test_datum_timeout(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/slow": "", "/fast": ""})
    pps.pipeline(spec("timeout", '[ -e /pfs/in/slow ] && sleep 30; touch /pfs/out/$(basename /pfs/in/*)', pfs("in"),
                      datum_tries=1, datum_timeout="1s"))
    job = pps.job("timeout")
    assert (job.state, job.processed, job.failed) == (JobState.FAILURE, 1, 1)
    (failed,) = [d for d in pps.engine.datums("default", "timeout", job.id) if d.state == DatumState.FAILED]
    assert failed.reason == "datum timed out"


def test_job_timeout_kills_the_job(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/x": ""})
    pps.pipeline(spec("slowjob", "sleep 30", pfs("in"), job_timeout="1s"))
    job = pps.job("slowjob")
    assert job.state == JobState.KILLED and job.reason == "job exceeded its timeout of 1s"
    assert pps.commit("slowjob", job.id).error == job.reason


def running(pps: Harness, name: str) -> str:
    return pps.wait(lambda: (j := pps.engine.list_jobs(project="default", pipeline=name)) and j[0].state == JobState.RUNNING
                    and j[0].id, message=f"{name} running")


def test_stop_pipeline_kills_its_job_and_start_catches_up(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/x": "1"})
    pps.pipeline(spec("sleepy", 'sleep 60; cp /pfs/in/* /pfs/out/', pfs("in")))
    pps.pipeline(spec("after", "cp -r /pfs/sleepy/. /pfs/out/", pfs("sleepy", "/")))
    job_id = running(pps, "sleepy")
    pps.engine.stop_pipeline("default", "sleepy")
    job = pps.job("sleepy", job_id)
    assert job.state == JobState.KILLED and job.reason == "all jobs killed because pipeline was stopped"
    assert pps.job("after").state == JobState.UNRUNNABLE
    assert pps.engine.inspect_pipeline("default", "sleepy").state == PipelineState.PAUSED
    # Stopped: new input makes no new job.
    pps.put("in", {"/y": "2"})
    pps.idle()
    assert [j.id for j in pps.engine.list_jobs(project="default", pipeline="sleepy")] == [job_id]
    # Started again (now fast): one job over the current inputs.
    pps.pipeline(spec("sleepy", "cp /pfs/in/* /pfs/out/", pfs("in")), update=True)
    pps.engine.start_pipeline("default", "sleepy")
    pps.pipeline_state("sleepy", PipelineState.RUNNING)
    pps.wait(lambda: pps.files("sleepy") == {"/x": b"1", "/y": b"2"}, message="catch-up job")
    pps.idle()
    assert pps.files("after") == {"/x": b"1", "/y": b"2"}


def test_update_kills_running_jobs(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/x": "1"})
    pps.pipeline(spec("slow", "sleep 60", pfs("in")))
    job_id = running(pps, "slow")
    pps.pipeline(spec("slow", "cp /pfs/in/* /pfs/out/", pfs("in")), update=True)
    job = pps.job("slow", job_id)
    assert job.state == JobState.KILLED and job.reason == "all jobs killed because pipeline was updated"
    newest = pps.wait(lambda: (j := pps.job("slow")).version == 2 and j)
    assert newest.state == JobState.SUCCESS and pps.files("slow") == {"/x": b"1"}


def test_stop_job(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/x": "1"})
    pps.pipeline(spec("slow", "sleep 60", pfs("in")))
    job_id = running(pps, "slow")
    pps.engine.stop_job("default", "slow", job_id, "enough")
    job = pps.job("slow", job_id)
    assert (job.state, job.reason) == (JobState.KILLED, "enough")
    assert pps.engine.inspect_pipeline("default", "slow").state == PipelineState.RUNNING


def test_restart_datum_of_a_failed_job(pps: Harness, tmp_path: Path) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "", "/b": ""})
    flag = tmp_path / "fixed"
    pps.pipeline(spec("fragile", f'[ -e /pfs/in/b ] && [ ! -e {flag} ] && exit 1; touch /pfs/out/$(basename /pfs/in/*)',
                      pfs("in"), datum_tries=1))
    job = pps.job("fragile")
    assert job.state == JobState.FAILURE
    (bad,) = [d.datum_id for d in pps.engine.datums("default", "fragile", job.id) if d.state == DatumState.FAILED]
    flag.touch()
    pps.engine.restart_datums("default", "fragile", job.id, {bad})
    retry = pps.wait(lambda: (j := pps.job("fragile")).id != job.id and j)
    # A new job over the same inputs; the failed job is no base, so both datums run.
    assert (retry.state, retry.processed, retry.skipped) == (JobState.SUCCESS, 2, 0)
    assert pps.files("fragile") == {"/a": b"", "/b": b""}


def test_restart_datum_while_running(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": ""})
    # The first run hangs; the restarted run (same worker, same /tmp) finds the marker and finishes.
    pps.pipeline(spec("hang", 'if [ -e /tmp/seen ]; then touch /pfs/out/a; else touch /tmp/seen; echo hanging; sleep 60; fi',
                      pfs("in"), datum_tries=1))
    job_id = running(pps, "hang")
    pps.wait(lambda: any(r.message == "hanging" for r in pps.engine.storage.pps.logs(project="default", pipeline="hang")))
    pps.engine.restart_datums("default", "hang", job_id, None)
    job = pps.job("hang", job_id)
    assert (job.state, job.processed) == (JobState.SUCCESS, 1)


def test_pipeline_failure_when_the_spec_cannot_run(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/x": ""})
    pps.pipeline(spec("nocmd", ["no-such-program-pachmagic"], pfs("in")))
    pps.pipeline(spec("nodir", "true", pfs("in"), transform={"working_dir": "/no/such/dir"}))
    pps.pipeline(spec("downstream", "true", pfs("nocmd")))
    record = pps.pipeline_state("nocmd", PipelineState.FAILURE)
    assert record.reason == 'transform command "no-such-program-pachmagic" was not found (the image is not pulled here)'
    assert pps.pipeline_state("nodir", PipelineState.FAILURE).reason == "working directory /no/such/dir does not exist"
    job = pps.job("nocmd")
    assert job.state == JobState.FAILURE and job.reason == f"pipeline failed: {record.reason}"
    assert pps.job("downstream").state == JobState.UNRUNNABLE
    # Updating with a command that exists brings it back.
    pps.pipeline(spec("nocmd", "cp /pfs/in/* /pfs/out/", pfs("in")), update=True)
    pps.pipeline_state("nocmd", PipelineState.RUNNING)
    assert pps.wait(lambda: (j := pps.job("nocmd")).version == 2 and j).state == JobState.SUCCESS
