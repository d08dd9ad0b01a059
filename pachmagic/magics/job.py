"""``list|inspect|wait|stop job``, and the datum-counting wait used after puts.

``list job`` returns one row per job (pachctl's ``list job -x``): that is what
a DataFrame is for; ``--sets`` gives pachctl's job-set view and ``list job ID``
the jobs of one job set; the state comes right after the job's name, the wide
columns last. Waits (``waits.py``) show the jobs and their datums while they
run, then a one-line summary, and failures in red.
"""

from __future__ import annotations

import argparse
from typing import Callable

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from pachmagic.client import Job, JobInfo, RecordList, to_frame
from pachmagic.errors import Unimplemented
from pachmagic.magics import waits
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import Command, MagicParser

__all__ = ["COMMANDS", "wait_job_set", "wait_jobs", "job_frame", "parse_history"]


def parse_history(text: str) -> int:
    """pachctl's ``--history``: ``none`` (0), ``all`` (-1) or a number of versions."""
    lowered = text.strip().lower()
    if lowered == "none":
        return 0
    if lowered == "all":
        return -1
    try:
        return int(lowered)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid history {text!r}: use none, all or a number") from None


def wait_jobs(ctx: Context, fetch: Callable[[bool], list[JobInfo]], what: str) -> list[JobInfo]:
    """Wait until every job ``fetch`` returns is done, showing them; then the summary and any failure.

    Parameters
    ----------
    ctx:
        The command's context.
    fetch:
        ``fetch(wait)`` returns the jobs; with ``wait=True`` it blocks until they are done.
    what:
        What is waited for, as the user named it.
    """
    jobs = waits.watch(ctx, what, fetch)
    waits.report(ctx, what, jobs)
    return jobs


def wait_job_set(ctx: Context, job_set_id: str, what: str | None = None, *, none_ok: bool = False) -> pd.DataFrame:
    """Wait for every job of a job set (= commit set) and return them as a DataFrame.

    ``none_ok``: a set without jobs is no error (a commit no pipeline reads).
    """
    client = ctx.client

    def fetch(wait: bool) -> list[JobInfo]:
        if none_ok:
            return waits.jobs_of_set(client, job_set_id, wait)
        return list(client.pps.inspect_job_set(job_set_id, wait=wait))

    jobs = wait_jobs(ctx, fetch,
                     what or f"job set {job_set_id[:8]}")
    return ctx.frame(job_frame(RecordList(JobInfo, jobs)))


def job_frame(jobs: RecordList[JobInfo]) -> pd.DataFrame:
    """Jobs as a DataFrame with the state right after the job's name (the wide columns last)."""
    frame = to_frame(jobs, kind=JobInfo)
    first = [c for c in ("project", "pipeline", "id", "state", "progress") if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def _build_list(p: MagicParser) -> None:
    p.add_argument("job_set", metavar="ID", nargs="?", help="list the jobs of this job set (global id)")
    p.add_argument("-p", "--pipeline", help="only this pipeline's jobs")
    p.add_argument("--history", type=parse_history, default=0, metavar="none|all|N",
                   help="also jobs of earlier pipeline versions")
    p.add_argument("--state", action="append", default=[], metavar="STATE",
                   help="only jobs in this state (success, failure, running...); repeatable")
    p.add_argument("-n", "--number", type=int, default=0, help="at most this many jobs (newest first)")
    p.add_argument("--sets", action="store_true", help="one row per job set, as pachctl's plain 'list job'")
    p.add_argument("-x", "--expand", action="store_true", help="accepted for pachctl habits (rows are jobs anyway)")
    p.add_argument("-A", "--all-projects", action="store_true", help="jobs of every project")


def _job_sets(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for job_id, group in frame.groupby("id", sort=False):
        done = int(group["state"].isin(sorted(JobInfo.TERMINAL)).sum())
        rows.append({
            "id": job_id,
            "subjobs": len(group),
            "progress": f"{done} / {len(group)}",
            "created": group["started"].min(),
            "modified": group[["started", "finished"]].max().max(),
        })
    out = pd.DataFrame(rows, columns=["id", "subjobs", "progress", "created", "modified"])
    return out.astype({"id": "str", "subjobs": "int64", "progress": "str",
                       "created": "datetime64[ns, UTC]", "modified": "datetime64[ns, UTC]"})


def list_job(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    client = ctx.client
    if args.job_set:
        jobs = client.pps.inspect_job_set(args.job_set)
    else:
        jobs = client.pps.list_job(pipeline=args.pipeline, history=args.history, number=args.number,
                                   all_projects=args.all_projects)
    frame = job_frame(jobs)
    if args.state:
        wanted = {s.lower().removeprefix("job_") for s in args.state}
        frame = frame[frame["state"].isin(sorted(wanted))].reset_index(drop=True)
    if args.sets:
        frame = _job_sets(frame)
    return ctx.frame(frame)


def _build_job(p: MagicParser) -> None:
    p.add_argument("job", metavar="PIPELINE@ID", help="the job")


def inspect_job(ctx: Context, args: argparse.Namespace) -> JobInfo:
    return ctx.client.pps.inspect_job(Job.from_uri(args.job), details=True)


def _build_wait(p: MagicParser) -> None:
    p.add_argument("job", metavar="ID|PIPELINE@ID", help="a job set (all its jobs) or one job")


def wait_job(ctx: Context, args: argparse.Namespace) -> JobInfo | pd.DataFrame:
    client = ctx.client
    if "@" not in args.job:
        return wait_job_set(ctx, args.job)
    job = Job.from_uri(args.job)
    [info] = wait_jobs(ctx, lambda wait: [client.pps.inspect_job(job, wait=wait)], str(job))
    return info


def _build_stop(p: MagicParser) -> None:
    _build_job(p)
    p.add_argument("--reason", default="", help="why (recorded as the job's reason)")


def stop_job(ctx: Context, args: argparse.Namespace) -> Text:
    job = Job.from_uri(args.job)
    stop = getattr(ctx.client.pps, "stop_job", None)
    if stop is None:
        raise Unimplemented("stop job: this pachmagic client cannot send StopJob yet")
    stop(job, reason=args.reason)
    return Text(f"stopped job {job}")


COMMANDS = (
    Command(("list", "job"), "jobs as a DataFrame (one row per job; --sets for job sets)", list_job, _build_list,
            examples=("%pach list job", "%pach list job -p contour --state failure")),
    Command(("inspect", "job"), "a job's details", inspect_job, _build_job),
    Command(("wait", "job"), "wait for a job (or every job of a job set), with a datum progress bar",
            wait_job, _build_wait),
    Command(("stop", "job"), "stop (kill) a running job", stop_job, _build_stop),
)
