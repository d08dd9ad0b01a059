"""The job monitor's pure logic: progress, durations, summaries, failed datums (no kernel, no server)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pachmagic.client import DatumInfo, File, JobInfo, LogMessage
from pachmagic.widgets.logic import jobs

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def job(state: str = "success", **kw: object) -> JobInfo:
    base: dict[str, object] = dict(project="default", pipeline="edges", id="0123456789abcdef", state=state, started=T0)
    base.update(kw)
    return JobInfo(**base)  # type: ignore[arg-type]


def test_progress_counts_and_text() -> None:
    p = jobs.progress(job(data_processed=3, data_skipped=1, data_failed=1, data_total=6))
    assert (p.done, p.total) == (5, 6) and abs(p.fraction - 5 / 6) < 1e-9
    assert p.text == "3 + 1 / 6 · 1 failed"
    assert jobs.progress(job(data_processed=1, data_recovered=2, data_total=3)).text == "1 + 0 + 2 / 3"
    assert jobs.Progress(0, 0, 0, 0, 0).fraction == 0.0


def test_progress_html_segments_are_proportional() -> None:
    html = jobs.progress_html(jobs.Progress(2, 1, 0, 1, 4), "running")
    assert "width:50.00%" in html and "width:25.00%" in html
    assert "pachmagic-seg processed" in html and "pachmagic-seg failed" in html and "recovered'" not in html
    assert "repeating-linear-gradient" in html  # a running job's bar is striped
    assert "repeating" not in jobs.progress_html(jobs.Progress(1, 0, 0, 0, 1), "success")
    assert "2 + 1 / 4 · 1 failed" in html


def test_duration_running_and_finished() -> None:
    assert jobs.duration(job(finished=T0 + timedelta(seconds=90))) == timedelta(seconds=90)
    assert jobs.duration(job("running"), now=T0 + timedelta(seconds=5)) == timedelta(seconds=5)
    assert jobs.duration(job("created", started=None)) is None
    assert "1m30s" in jobs.job_state_html(job(finished=T0 + timedelta(seconds=90)))


def test_state_reason_label_and_summary() -> None:
    failed = job("failure", reason="datum x failed <oops>")
    html = jobs.job_state_html(failed)
    assert "failure" in html and "&lt;oops&gt;" in html and "data-state='failure'" in html
    assert "edges" in jobs.job_label_html(failed) and "@01234567" in jobs.job_label_html(failed)
    assert jobs.job_key(failed) == "default/edges@0123456789abcdef"
    assert jobs.jobs_summary([job(), job("running"), failed]) == "3 jobs · 1 running · 1 failed"
    assert jobs.jobs_summary([job()]) == "1 job"
    assert jobs.any_running([job(), job("starting")]) and not jobs.any_running([job(), failed])


def datum(state: str, ident: str, path: str = "/a") -> DatumInfo:
    return DatumInfo(project="default", pipeline="edges", job_id="j", id=ident, state=state, files=(File.from_uri(f"photos@master:{path}"),))


def test_failed_datums_first_with_their_logs() -> None:
    ds = [datum("success", "d1"), datum("failed", "d2", "/bad.png"), datum("skipped", "d3"), datum("failed", "d4")]
    assert [d.id for d in jobs.failed_first(ds)] == ["d2", "d4", "d1", "d3"]
    assert jobs.datum_counts(ds) == {"success": 1, "failed": 2, "skipped": 1}
    logs = {"d2": [LogMessage(message="Traceback: <boom>"), LogMessage(message="exit 1")]}
    html = jobs.datum_details_html(job("failure", reason="datum d2 failed"), ds, logs, max_failed=1)
    assert "Traceback: &lt;boom&gt;\nexit 1" in html and "photos@master:/bad.png" in html
    assert "1 more failed datums" in html and "2 failed" in html and "d4" not in html
    quiet = jobs.datum_details_html(job("failure", reason="killed"), [], {})
    assert "no datums" in quiet and "No failed datums recorded" in quiet
