"""pachmagic.widgets: live ipywidgets panels over a Pachyderm client.

    >>> from pachmagic.widgets import Dashboard
    >>> Dashboard(client)                 # doctest: +SKIP

``RepoBrowser(client)`` (projects, repos, refs, files with previews, download,
history), ``PipelineDAG(client)`` (inline SVG DAG, states, globs, specs, commit
sets), ``JobMonitor(client)`` (progress bars, failed datums and their logs) and
``Dashboard(client)`` (the three together; ``dashboard(client)`` is what
``%pach dashboard`` shows). Every panel does its RPCs on a worker thread,
refreshes in the background until closed, has a refresh button, and shows
errors inside itself. The logic lives in pure functions under ``logic/``.

Widgets take a client; they import ``pachmagic.client``/``errors`` and never
the server.
"""

from __future__ import annotations

from pachmagic.widgets.dashboard import Dashboard, dashboard
from pachmagic.widgets.job_monitor import JobMonitor
from pachmagic.widgets.pipeline_dag import PipelineDAG
from pachmagic.widgets.repo_browser import RepoBrowser

__all__ = ["RepoBrowser", "PipelineDAG", "JobMonitor", "Dashboard", "dashboard"]
