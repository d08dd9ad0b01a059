"""``JobMonitor``: recent jobs with live progress bars, and the failed datums of one with their logs.

Each row shows a job's pipeline and id, a stacked progress bar (processed,
skipped, recovered, failed of total), its state, duration and reason, and a
``Datums`` button. The button shows the job's datum counts and, for each
failed datum, its input files and log lines. Rows update in place while jobs
run; ``on_select(callback)`` tells others (the dashboard highlights the job's
commit set in the DAG).

What a row says is decided by pure functions in ``logic/jobs.py``; this module
only fetches records and wires widgets. It never imports the server.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable

import ipywidgets as w

from pachmagic.client import JobInfo, LogMessage
from pachmagic.widgets._panel import Panel, replace_children
from pachmagic.widgets.logic import jobs as logic

__all__ = ["JobMonitor"]


def _no_jobs() -> w.HTML:
    return w.HTML("<span style='color:var(--jp-ui-font-color2,#6b7280);font-size:12px'>No jobs yet.</span>")


class _Row:
    """One job's row: its box and the widgets inside, made once and updated in place."""

    def __init__(self, key: str, on_click: Callable[[w.Button], None]) -> None:
        self.key = key
        self.label = w.HTML(layout=w.Layout(width="190px"))
        self.bar = w.HTML(layout=w.Layout(flex="1 1 auto", min_width="200px"))
        self.state = w.HTML(layout=w.Layout(width="240px", overflow="hidden"))
        self.button = w.Button(description="Datums", icon="list", layout=w.Layout(width="auto"),
                               tooltip=f"Datums and logs of {key}")
        self.button.on_click(on_click)
        self.box = w.HBox([self.label, self.bar, self.state, self.button], layout=w.Layout(align_items="center"))


class JobMonitor(Panel):
    """Recent jobs of the client's current project (or one pipeline), refreshed while they run.

    Parameters
    ----------
    client:
        A ``pachmagic.client.Client``.
    number:
        How many recent jobs to show.
    pipeline:
        Only this pipeline's jobs.
    max_failed_datums, max_log_lines:
        How much of a failed job the details show.
    refresh_interval:
        Seconds between background refreshes (None: only on demand).
    """

    def __init__(
        self,
        client: Any,
        *,
        number: int = 10,
        pipeline: str | None = None,
        max_failed_datums: int = 10,
        max_log_lines: int = 40,
        refresh_interval: float | None = 2.0,
        **kwargs: Any,
    ) -> None:
        self._number = number
        self._pipeline = pipeline
        self._max_failed = max_failed_datums
        self._max_lines = max_log_lines
        self._jobs: list[JobInfo] = []
        self._rows: dict[str, _Row] = {}
        self._selected: str | None = None
        self._listeners: list[Callable[[JobInfo], None]] = []
        super().__init__(client, title="Jobs", refresh_interval=refresh_interval, **kwargs)
        self.add_class("pachmagic-job-monitor")

    def _build(self) -> list[w.Widget]:
        self._table = w.VBox([_no_jobs()])
        self._details = w.HTML("")
        return [self._table, self._details]

    @property
    def jobs(self) -> list[JobInfo]:
        """The jobs last shown, newest first."""
        return list(self._jobs)

    @property
    def selected(self) -> str | None:
        """``pipeline@id`` of the job whose details are shown."""
        return self._selected

    def on_select(self, callback: Callable[[JobInfo], None]) -> None:
        """Call ``callback(job)`` (on the panel's worker thread) when a job's details are shown."""
        self._listeners.append(callback)

    def select(self, job: str | None) -> None:
        """Show the details of ``pipeline@id`` (None hides them); queued."""
        self._selected = job
        self._submit(self._show_details)

    # --- worker thread ----------------------------------------------------------------

    def _refresh_now(self) -> None:
        jobs = list(self.client.pps.list_job(pipeline=self._pipeline, number=self._number))
        changed = {logic.job_key(j): j for j in jobs} != {logic.job_key(j): j for j in self._jobs}
        self._jobs = jobs
        self._update_rows()
        self._set_status(logic.jobs_summary(jobs))
        if changed and self._selected:
            self._show_details(notify=False)

    def _update_rows(self) -> None:
        keys = [logic.job_key(j) for j in self._jobs]
        if keys != list(self._rows):
            rows = {key: self._rows.pop(key) if key in self._rows else _Row(key, self._captured(self._on_datums_button_click))
                    for key in keys}
            self._rows = rows
            # the table drops the boxes of jobs no longer listed, and closes them with their widgets
            replace_children(self._table, [row.box for row in rows.values()] or [_no_jobs()])
        for job in self._jobs:
            row = self._rows[logic.job_key(job)]
            for widget, value in (
                (row.label, logic.job_label_html(job)),
                (row.bar, logic.progress_html(logic.progress(job), job.state)),
                (row.state, logic.job_state_html(job)),
            ):
                if widget.value != value:
                    widget.value = value
            style = "danger" if job.data_failed or job.state == "failure" else ""
            if row.button.button_style != style:
                row.button.button_style = style

    def _show_details(self, notify: bool = True) -> None:
        key = self._selected
        if not key:
            self._details.value = ""
            return
        job = self.client.pps.inspect_job(key)
        datums = logic.failed_first(self.client.pps.list_datum(key))
        logs: dict[str, list[LogMessage]] = {}
        for datum in [d for d in datums if d.state == "failed"][: self._max_failed]:
            stream = self.client.pps.get_logs(job=key, datum=datum.id)
            try:
                logs[datum.id] = list(islice(stream, self._max_lines))
            finally:
                close = getattr(stream, "close", None)
                if callable(close):
                    close()
        self._details.value = logic.datum_details_html(job, datums, logs, max_failed=self._max_failed)
        if notify:
            for listener in list(self._listeners):
                listener(job)

    # --- handlers (kernel thread) ------------------------------------------------------

    def _on_datums_button_click(self, button: w.Button) -> None:
        key = next((row.key for row in self._rows.values() if row.button is button), None)
        self.select(None if key == self._selected else key)
