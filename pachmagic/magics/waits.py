"""Waiting on jobs and commits: what is being waited for, a one-line summary, failures in red.

Every wait of the magics (``wait commit``, ``wait job``, ``put file --wait``,
``create pipeline --wait``) goes through ``watch``:

- while it waits, an erasable line shows what it waits for: the jobs and their
  datums done of total (``jobs 1/2 · datums 5/8``), each job with its state.
  The bar counts each job as an equal share, so it never reads 100% while a
  job still runs, and a job that joins later shows up in the list (the total
  does not jump silently);
- when it is done the line is erased and one summary line stays
  (``histogram@master: contour success (4 processed), histogram success (4 processed)``);
- a failed job shows as a red line naming the pipeline, the job and the cause
  (the first error line of its first failed datum's log, e.g. ``python3: can't
  open file '/tmp/x/contour.py'``); with ``PachMagic.raise_on_failure`` that
  line is the cell's error instead, so "Run All" stops there;
- Kernel > Interrupt ends the wait with one line (``interrupted: contour@master
  still has 1 running job``); the server and the session stay usable.

With ``PachMagic.progress`` off the wait is one blocking call and nothing is
shown while it lasts (the summary and failures still are).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Sequence

from pachmagic.client import JobInfo
from pachmagic.errors import NotFound, PachError
from pachmagic.magics import progress
from pachmagic.magics.context import Context
from pachmagic.magics.display import OneLineError

__all__ = ["JobsProgress", "jobs_of_set", "watch", "summary", "cause_line", "failure_lines", "report", "WaitInterrupted", "JobFailed", "FailureLine"]

_LOG_LINES = 200  # enough of a datum's log to find its first error


class WaitInterrupted(OneLineError):
    """A wait interrupted by the user (Kernel > Interrupt), shown as one line."""


class JobFailed(OneLineError):
    """A job that failed while ``PachMagic.raise_on_failure`` is on: the cell fails with this line."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class JobsProgress:
    """How far a set of jobs is: what the waiting line shows."""

    jobs: tuple[JobInfo, ...]

    @property
    def finished(self) -> int:
        """Jobs in a terminal state."""
        return sum(1 for j in self.jobs if j.done)

    @property
    def running(self) -> int:
        """Jobs not finished yet."""
        return len(self.jobs) - self.finished

    @property
    def datums_done(self) -> int:
        return sum(j.data_processed + j.data_skipped + j.data_failed + j.data_recovered for j in self.jobs)

    @property
    def datums_total(self) -> int:
        return sum(j.data_total for j in self.jobs)

    @property
    def failed(self) -> int:
        """Failed datums."""
        return sum(j.data_failed for j in self.jobs)

    @property
    def fraction(self) -> float | None:
        """Each job an equal share (its datums done of its total; 1 once finished); None with no jobs.

        Below 1 while any job runs, whatever the datum counts say.
        """
        if not self.jobs:
            return None
        shares = []
        for j in self.jobs:
            if j.done:
                shares.append(1.0)
            elif j.data_total:
                done = j.data_processed + j.data_skipped + j.data_failed + j.data_recovered
                shares.append(min(done / j.data_total, 0.99))
            else:
                shares.append(0.0)
        return sum(shares) / len(shares)

    def detail(self) -> str:
        """``jobs 1/2 · datums 5/8 · 1 failed — contour success 4/4, histogram running 1/4``."""
        if not self.jobs:
            return "no jobs yet"
        head = f"jobs {self.finished}/{len(self.jobs)} · datums {self.datums_done}/{self.datums_total}"
        if self.failed:
            head += f" · {self.failed} failed"
        each = ", ".join(
            f"{j.pipeline} {j.state} {j.data_processed + j.data_skipped + j.data_failed + j.data_recovered}/{j.data_total}"
            for j in self.jobs
        )
        return f"{head} — {each}"


def jobs_of_set(client: Any, commit_set: str, wait: bool) -> list[JobInfo]:
    """The jobs of a commit set; none when no pipeline reads what it changed (pachd says NOT_FOUND)."""
    try:
        return list(client.pps.inspect_job_set(commit_set, wait=wait))
    except NotFound:
        return []


def summary(what: str, jobs: Sequence[JobInfo]) -> str:
    """The line that stays after a wait: each job's state and datums."""
    if not jobs:
        return f"{what}: finished (no jobs)"
    parts = []
    for j in sorted(jobs, key=lambda j: (j.started is None, j.started or 0, j.pipeline)):
        counts = [f"{j.data_processed} processed"]
        if j.data_skipped:
            counts.append(f"{j.data_skipped} skipped")
        if j.data_failed:
            counts.append(f"{j.data_failed} failed")
        if j.data_recovered:
            counts.append(f"{j.data_recovered} recovered")
        parts.append(f"{j.pipeline} {j.state} ({', '.join(counts)})")
    return f"{what}: {', '.join(parts)}"


def cause_line(lines: Sequence[Any]) -> str:
    """The first error line of a failed datum's log: the last line its code wrote in the first attempt.

    A Python traceback ends with the exception (``ValueError: boom``); a shell
    error is its only line. Lines the worker adds (``datum ... failed (exit
    code 1), attempt 1 of 3``) end an attempt and are not the cause.
    """
    first_attempt: list[str] = []
    for line in lines:
        if not getattr(line, "user", True):
            if first_attempt:
                break
            continue
        text = str(getattr(line, "message", line)).strip()
        if text:
            first_attempt.append(text)
    return first_attempt[-1] if first_attempt else ""


def _short(identifier: str, n: int = 8) -> str:
    return identifier[:n]


def failure_lines(client: Any, jobs: Sequence[JobInfo]) -> list[str]:
    """One line per failed job: pipeline, job, and the cause from its first failed datum's log."""
    lines = []
    for job in jobs:
        if job.state not in ("failure", "killed", "unrunnable") and not job.data_failed:
            continue
        cause, datum = "", ""
        try:
            failed = [d for d in client.pps.list_datum(job.job) if d.state == "failed"]
            if failed:
                datum = failed[0].id
                stream = client.pps.get_logs(job=job.job, datum=datum)
                try:
                    cause = cause_line(list(islice(stream, _LOG_LINES)))
                finally:
                    close = getattr(stream, "close", None)
                    if callable(close):
                        close()
        except PachError:
            pass  # the reason below still says something
        what = f"{job.pipeline}@{_short(job.id)} {job.state}"
        why = cause or job.reason or "no reason given"
        where = f" (datum {_short(datum)})" if datum and cause else ""
        lines.append(f"{what}: {why}{where}")
    return lines


class FailureLine:
    """A failed job as the red line a notebook shows (text elsewhere)."""

    def __init__(self, line: str) -> None:
        self.line = line

    def __repr__(self) -> str:
        return f"✗ {self.line}"

    def _repr_html_(self) -> str:
        return ("<div class='pachmagic-failure' style='color:var(--jp-error-color1,#b00020);font-weight:600'>"
                f"✗ {html.escape(self.line)}</div>")


def _show_failures(lines: list[str]) -> None:
    from IPython.display import display

    for line in lines:
        display(FailureLine(line))  # type: ignore[no-untyped-call,unused-ignore]


def report(ctx: Context, what: str, jobs: Sequence[JobInfo]) -> None:
    """After a wait: print the summary line; show failures in red, or fail the cell with them."""
    print(summary(what, jobs))
    lines = failure_lines(ctx.client, jobs)
    if not lines:
        return
    if ctx.settings.raise_on_failure:
        extra = f" (and {_plural(len(lines) - 1, 'more failed job')})" if len(lines) > 1 else ""
        raise JobFailed(f"failed: {lines[0]}{extra}")
    _show_failures(lines)


def _interrupted(what: str, fetch: Callable[[bool], list[JobInfo]]) -> WaitInterrupted:
    try:
        running = sum(1 for j in fetch(False) if not j.done)
    except (PachError, KeyboardInterrupt):
        return WaitInterrupted(f"interrupted: stopped waiting for {what}")
    if running:
        return WaitInterrupted(f"interrupted: {what} still has {_plural(running, 'running job')}")
    return WaitInterrupted(f"interrupted: stopped waiting for {what}")


def watch(
    ctx: Context,
    what: str,
    fetch: Callable[[bool], list[JobInfo]],
    *,
    finished: Callable[[], bool] | None = None,
    block: Callable[[], Any] | None = None,
) -> list[JobInfo]:
    """Wait for jobs, showing them; returns them once done (see the module docstring).

    Parameters
    ----------
    ctx:
        The command's context.
    what:
        What is waited for, as the user named it (``contour@master``).
    fetch:
        ``fetch(wait)`` returns the jobs; with ``wait=True`` it blocks until they are done.
    finished:
        When given, the wait ends when it returns True rather than when the jobs are done
        (a commit can be finished while later jobs of its set still run, or have no jobs).
    block:
        A blocking call made at the end (``wait_commit``), interruptible like the rest.
    """
    try:
        if not ctx.settings.progress:
            jobs = fetch(True) if finished is None else []
            if block is not None:
                block()
            if finished is not None:
                jobs = fetch(False)
            return jobs
        line = progress.status()
        try:
            while True:
                jobs = fetch(False)
                state = JobsProgress(tuple(jobs))
                text = f"waiting for {what}: {state.detail()}"
                line.show(progress.bar_html(state.fraction, f"waiting for {what}", state.detail(),
                                            failed=bool(state.failed)), text)
                done = finished() if finished is not None else state.running == 0
                if done:
                    break
                time.sleep(ctx.settings.wait_poll_seconds)
            if block is not None:
                block()
            return jobs if finished is None else fetch(False)
        finally:
            line.close()
    except KeyboardInterrupt:
        raise _interrupted(what, fetch) from None
