"""``Dashboard``: the repo browser, the pipeline DAG and the job monitor together, refreshed as one.

One background thread refreshes the three panels (each on its own worker, so a
slow listing never holds up the others); the header's button refreshes them
all. Showing a job's datums in the monitor highlights its commit set in the
DAG. ``dashboard(client)`` is what ``%pach dashboard`` displays.
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as w

from pachmagic.client import JobInfo
from pachmagic.widgets._panel import ViewTracker, close_parts, describe_client, start_auto_refresh, with_snapshot
from pachmagic.widgets.job_monitor import JobMonitor
from pachmagic.widgets.logic.style import esc
from pachmagic.widgets.pipeline_dag import PipelineDAG
from pachmagic.widgets.repo_browser import RepoBrowser

__all__ = ["Dashboard", "dashboard"]


class Dashboard(w.VBox):  # type: ignore[misc]
    """Repos, pipelines and jobs of one connection, side by side and live.

    It polls while shown and pauses while none of its views is (a cleared
    output); ``close()`` stops it for good (``%pach dashboard`` closes the
    dashboard a re-run of its cell replaces).

    Parameters
    ----------
    client:
        A ``pachmagic.client.Client``.
    refresh_interval:
        Seconds between background refreshes of all three panels (None: only on demand).
    jobs:
        How many recent jobs the monitor lists.
    """

    _closes_own_tree = True

    def __init__(self, client: Any, *, refresh_interval: float | None = 2.0, jobs: int = 10, **kwargs: Any) -> None:
        self._client = client
        self._stop = threading.Event()
        self._repos = RepoBrowser(client, refresh_interval=None, layout=_panel_layout("1 1 45%"))
        self._dag = PipelineDAG(client, refresh_interval=None, layout=_panel_layout("1 1 55%"))
        self._jobs = JobMonitor(client, number=jobs, refresh_interval=None, layout=_panel_layout("1 1 auto"))
        self._jobs.on_select(self._on_jobs_select)
        self._refresh_button = w.Button(description="Refresh all", icon="refresh", layout=w.Layout(width="auto"))
        self._refresh_button.on_click(self._on_refresh_button_click)
        address = getattr(client, "address", "")
        self._header = w.HTML(f"<b style='font-size:15px'>Pachyderm</b> <span style='color:var(--jp-ui-font-color2,#6b7280)'>{esc(address)} · project {esc(getattr(client, 'project', ''))}</span>")
        header = w.HBox([self._header, self._refresh_button], layout=w.Layout(align_items="center"))
        top = w.HBox([self._repos, self._dag], layout=w.Layout(flex_flow="row wrap", width="100%"))
        super().__init__(children=[header, top, self._jobs], **kwargs)
        self.add_class("pachmagic-dashboard")
        self._views = ViewTracker(self)
        self._views.changed = self._on_views_change
        self._refresher: threading.Thread | None = None
        if refresh_interval:
            self._refresher = start_auto_refresh(self, self._stop, float(refresh_interval), "pachmagic-Dashboard-refresh")

    def __repr__(self) -> str:
        # A static text fallback for the widget view (see Panel.__repr__).
        return f"<Dashboard of {describe_client(self._client)} (a live widget)>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        # the live widget, plus a static snapshot for saved and untrusted notebooks (see Panel)
        return with_snapshot(self, super()._repr_mimebundle_(**kwargs), self.wait)

    @property
    def client(self) -> Any:
        """The client the dashboard reads from."""
        return self._client

    @property
    def repo_browser(self) -> RepoBrowser:
        """The repo browser panel."""
        return self._repos

    @property
    def pipeline_dag(self) -> PipelineDAG:
        """The pipeline DAG panel."""
        return self._dag

    @property
    def job_monitor(self) -> JobMonitor:
        """The job monitor panel."""
        return self._jobs

    @property
    def panels(self) -> tuple[RepoBrowser, PipelineDAG, JobMonitor]:
        """The three panels."""
        return (self._repos, self._dag, self._jobs)

    @property
    def auto_refreshing(self) -> bool:
        """True while the background refresh thread runs."""
        return self._refresher is not None and self._refresher.is_alive()

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._stop.is_set()

    def refresh(self) -> None:
        """Queue a reload of every panel; returns immediately."""
        for panel in self.panels:
            panel.refresh()

    def wait(self, timeout: float | None = 60.0) -> bool:
        """Block until every panel's queued work is done (False on timeout)."""
        return all([panel.wait(timeout) for panel in self.panels])

    @property
    def hidden(self) -> bool:
        """True while the dashboard was shown and none of its views is left (it does not poll then)."""
        return self._views.hidden

    def _tick(self) -> bool:
        if self._stop.is_set() or self.comm is None:
            return False
        if not self.hidden:
            for panel in self.panels:
                panel._tick()
        return True

    def close(self) -> None:
        """Stop refreshing and close the three panels and every widget the dashboard made."""
        if not hasattr(self, "_jobs"):  # a constructor that failed half-way (Widget.__del__)
            super().close()
            return
        self._stop.set()
        for panel in self.panels:
            panel.close()
        close_parts(self)
        super().close()

    def _on_views_change(self, hidden: bool) -> None:
        if not hidden and not self._stop.is_set():
            self.refresh()  # shown again (a reloaded page): bring it up to date now

    def _on_refresh_button_click(self, _button: w.Button) -> None:
        self.refresh()

    def _on_jobs_select(self, job: JobInfo) -> None:
        self._dag.highlight(job.id)


def _panel_layout(flex: str) -> w.Layout:
    return w.Layout(border="1px solid var(--jp-border-color1,#d1d5db)", padding="6px", flex=flex, min_width="360px")


def dashboard(client: Any, **kwargs: Any) -> Dashboard:
    """The dashboard for ``client`` (what ``%pach dashboard`` displays).

    Parameters
    ----------
    client:
        A ``pachmagic.client.Client``.
    **kwargs:
        Passed to ``Dashboard`` (``refresh_interval``, ``jobs``).
    """
    return Dashboard(client, **kwargs)
