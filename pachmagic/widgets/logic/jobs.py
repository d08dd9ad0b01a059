"""What the job monitor shows: progress of a job, its duration, failed datums and their logs.

A job's progress bar is stacked: processed (green), skipped (grey), recovered
(amber) and failed (red) datums out of the total, with pachctl's words beside
it. Pure: ``JobInfo``/``DatumInfo``/``LogMessage`` records in, values and
HTML text out. No widgets, no RPCs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Sequence

from pachmagic.client import DatumInfo, JobInfo, LogMessage, human_duration
from pachmagic.widgets.logic.style import DATUM_COLOURS, badge, esc, job_colour, short_id

__all__ = [
    "Progress", "progress", "progress_html", "duration", "job_key", "job_label_html", "job_state_html",
    "failed_first", "datum_counts", "datum_details_html", "any_running", "jobs_summary",
]


@dataclass(frozen=True)
class Progress:
    """Datum counts of a job; ``done`` = processed + skipped + recovered + failed."""

    processed: int
    skipped: int
    recovered: int
    failed: int
    total: int

    @property
    def done(self) -> int:
        return self.processed + self.skipped + self.recovered + self.failed

    @property
    def fraction(self) -> float:
        """Done over total in [0, 1] (0 when the total is still unknown)."""
        return min(self.done / self.total, 1.0) if self.total else 0.0

    @property
    def text(self) -> str:
        """``3 + 1 / 5`` as pachctl prints it, then the failed count when any."""
        base = f"{self.processed} + {self.skipped}"
        if self.recovered:
            base += f" + {self.recovered}"
        base += f" / {self.total}"
        return base + (f" · {self.failed} failed" if self.failed else "")


def progress(job: JobInfo) -> Progress:
    """The datum counts of a job."""
    return Progress(job.data_processed, job.data_skipped, job.data_recovered, job.data_failed, job.data_total)


def progress_html(p: Progress, state: str = "") -> str:
    """A stacked progress bar (processed/skipped/recovered/failed of total) with its numbers."""
    segments = (
        ("processed", p.processed, DATUM_COLOURS["success"]),
        ("skipped", p.skipped, DATUM_COLOURS["skipped"]),
        ("recovered", p.recovered, DATUM_COLOURS["recovered"]),
        ("failed", p.failed, DATUM_COLOURS["failed"]),
    )
    total = max(p.total, p.done, 1)
    bars = "".join(
        f"<div class='pachmagic-seg {name}' title='{count} {name}' style='width:{100 * count / total:.2f}%;background:{colour}'></div>"
        for name, count, colour in segments
        if count
    )
    running = state in ("running", "starting", "finishing", "egressing", "created")
    stripe = "background-image:repeating-linear-gradient(45deg,#e5e7eb 0 6px,#f3f4f6 6px 12px);" if running else "background:#e5e7eb;"
    title = f"processed {p.processed} · skipped {p.skipped} · recovered {p.recovered} · failed {p.failed} of {p.total}"
    return (
        f"<div class='pachmagic-progress' title='{esc(title)}' style='display:flex;align-items:center;gap:8px'>"
        f"<div style='flex:1;min-width:120px;height:12px;border-radius:6px;overflow:hidden;display:flex;{stripe}'>{bars}</div>"
        f"<span class='pachmagic-progress-text' style='font-size:12px;font-family:monospace;white-space:nowrap'>{esc(p.text)}</span></div>"
    )


def duration(job: JobInfo, now: datetime | None = None) -> timedelta | None:
    """How long a job ran: finished − started, or now − started while it runs."""
    if job.started is None:
        return None
    end = job.finished or (now or datetime.now(timezone.utc))
    return max(end - job.started, timedelta())


def job_key(job: JobInfo) -> str:
    """``[project/]pipeline@id``: the job's pachctl name."""
    return str(job.job)


def job_label_html(job: JobInfo) -> str:
    """Pipeline name and short job id."""
    return (
        f"<div class='pachmagic-job' style='font-size:13px;white-space:nowrap'><b>{esc(job.pipeline)}</b>"
        f"<span style='color:var(--jp-ui-font-color2,#6b7280);font-family:monospace'>@{esc(short_id(job.id))}</span></div>"
    )


def job_state_html(job: JobInfo, now: datetime | None = None) -> str:
    """State badge, duration and reason of a job."""
    took = duration(job, now)
    when = f"<span style='color:var(--jp-ui-font-color1,#374151);font-size:12px'>{esc(human_duration(took))}</span>" if took is not None else ""
    reason = (
        f"<div style='color:var(--jp-error-color1,#b00020);font-size:11px;max-width:100%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap' "
        f"title='{esc(job.reason)}'>{esc(job.reason)}</div>"
        if job.reason
        else ""
    )
    return f"<div class='pachmagic-job-state' data-state='{esc(job.state)}'>{badge(job.state, job_colour(job.state))} {when}{reason}</div>"


def any_running(jobs: Iterable[JobInfo]) -> bool:
    """True when some job has not reached a terminal state."""
    return any(not job.done for job in jobs)


def jobs_summary(jobs: Sequence[JobInfo]) -> str:
    """``5 jobs · 1 running · 1 failed``."""
    counts = Counter(job.state for job in jobs)
    parts = [f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}"]
    running = sum(1 for job in jobs if not job.done)
    if running:
        parts.append(f"{running} running")
    if counts.get("failure"):
        parts.append(f"{counts['failure']} failed")
    return " · ".join(parts)


def failed_first(datums: Iterable[DatumInfo]) -> list[DatumInfo]:
    """Failed datums first, then the rest; stable otherwise."""
    items = list(datums)
    return [d for d in items if d.state == "failed"] + [d for d in items if d.state != "failed"]


def datum_counts(datums: Iterable[DatumInfo]) -> dict[str, int]:
    """How many datums are in each state."""
    return dict(Counter(d.state for d in datums))


def datum_details_html(
    job: JobInfo, datums: Sequence[DatumInfo], logs: Mapping[str, Sequence[LogMessage]], *, max_failed: int = 10
) -> str:
    """The details of one job: datum counts, then (up to ``max_failed``) failed datums with their inputs and log lines."""
    counts = datum_counts(datums)
    summary = " · ".join(f"{badge(f'{n} {state}', DATUM_COLOURS.get(state, '#8a8f98'))}" for state, n in sorted(counts.items())) or "no datums"
    parts = [
        f"<div class='pachmagic-job-details' style='font-size:12px'><b>{esc(job_key(job))}</b> {badge(job.state, job_colour(job.state))}"
        f"<div style='margin:4px 0'>{summary}</div>"
    ]
    if job.reason:
        parts.append(f"<div style='color:var(--jp-error-color1,#b00020)'>{esc(job.reason)}</div>")
    failed = [d for d in datums if d.state == "failed"]
    for d in failed[:max_failed]:
        files = ", ".join(str(f) for f in d.files) or "-"
        lines = logs.get(d.id, ())
        text = "\n".join(m.message for m in lines) or "(no log lines)"
        parts.append(
            f"<div class='pachmagic-failed-datum' style='border-left:3px solid #d13b3b;padding-left:6px;margin:6px 0'>"
            f"<div>failed datum <code>{esc(short_id(d.id, 12))}</code> · input {esc(files)}</div>"
            f"<pre style='max-height:180px;overflow:auto;margin:2px 0;background:var(--jp-layout-color2,#fafafa)'>{esc(text)}</pre></div>"
        )
    if len(failed) > max_failed:
        parts.append(f"<div>… and {len(failed) - max_failed} more failed datums</div>")
    if not failed and job.state == "failure":
        parts.append("<div>No failed datums recorded; see the reason above.</div>")
    parts.append("</div>")
    return "".join(parts)
