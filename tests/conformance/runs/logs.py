"""GetLogs of user code, by pipeline, job and datum; InspectDatum of a finished job."""

from __future__ import annotations

from ..build import pps
from ..harness import Run
from . import run_scenario
from ._jobs import create, job, make_repo, pfs_in, pipeline, put_commit, settle, shell

SAYS = 'for f in /pfs/in/*; do echo "processing $(basename $f)"; echo "to stderr $(cat $f)" >&2; done; cp /pfs/in/* /pfs/out/'


def _user_lines(r: Run, label: str, request: pps.GetLogsRequest) -> None:
    """Recorded: the user code's lines only (the worker's own progress lines are Pachyderm's
    internal logging, which our server does not imitate line for line), as a set: datums may run in
    any order."""
    def user() -> list[pps.LogMessage]:
        return [m for m in r.side.stubs["pps"].GetLogs(request, timeout=60) if m.user]

    r.record(label, request, user, unordered=True)


@run_scenario("runs: logs by pipeline, job and datum")
def logs(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"alpha", "/b": b"beta"})
    create(r, quiet=True, spec=shell("talks", SAYS, pfs_in("in", "/*")))
    settle(r, 1)
    jobs = r.quiet.pps.ListJob(pps.ListJobRequest(pipeline=pipeline("talks")))
    j = job("talks", jobs[0].job.id) if jobs else job("talks", "")
    _user_lines(r, "pps.GetLogs(pipeline)", pps.GetLogsRequest(pipeline=pipeline("talks")))
    _user_lines(r, "pps.GetLogs(job)", pps.GetLogsRequest(job=j))
    datums = r.pps.ListDatum(pps.ListDatumRequest(job=j), unordered=True) or []
    for d in sorted(datums, key=lambda d: d.datum.id):
        _user_lines(r, "pps.GetLogs(datum)", pps.GetLogsRequest(job=j, datum=pps.Datum(job=j, id=d.datum.id)))
        r.pps.InspectDatum(pps.InspectDatumRequest(datum=pps.Datum(job=j, id=d.datum.id)))
    _user_lines(r, "pps.GetLogs(data filter)", pps.GetLogsRequest(job=j, data_filters=["/a"]))
    # The last lines only: by pipeline, job and datum.
    for tail in (1, 3):
        _user_lines(r, "pps.GetLogs(pipeline, tail)", pps.GetLogsRequest(pipeline=pipeline("talks"), tail=tail))
        _user_lines(r, "pps.GetLogs(job, tail)", pps.GetLogsRequest(job=j, tail=tail))
        for d in sorted(datums, key=lambda d: d.datum.id):
            _user_lines(r, "pps.GetLogs(datum, tail)",
                        pps.GetLogsRequest(job=j, datum=pps.Datum(job=j, id=d.datum.id), tail=tail))
    _user_lines(r, "pps.GetLogs(master)", pps.GetLogsRequest(pipeline=pipeline("talks"), master=True))
    r.pps.GetLogs(pps.GetLogsRequest(job=job("talks", "0" * 32)))
    r.pps.GetLogs(pps.GetLogsRequest(pipeline=pipeline("nope")))
    r.pps.InspectDatum(pps.InspectDatumRequest(datum=pps.Datum(job=j, id="0" * 64)))


@run_scenario("runs: logs of failed and retried datums")
def failed_logs(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/bad": b"bad"})
    script = 'echo "attempt on $(cat /pfs/in/*)"; exit 3'
    create(r, quiet=True, spec=shell("retries", script, pfs_in("in", "/*"), datum_tries=3,
                                     transform={"err_cmd": ["sh"], "err_stdin": ["echo err_cmd ran; exit 1"]}))
    settle(r, 1)
    _user_lines(r, "pps.GetLogs(pipeline)", pps.GetLogsRequest(pipeline=pipeline("retries")))
