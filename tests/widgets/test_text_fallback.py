"""The widgets' text/plain fallback is static, so saved notebooks and nbval see the same text every run."""

from __future__ import annotations

from pachmagic.client import Client
from pachmagic.widgets import Dashboard, JobMonitor, PipelineDAG, RepoBrowser


def test_text_fallbacks_name_the_widget_and_the_connection(client: Client) -> None:
    for kind in (RepoBrowser, PipelineDAG, JobMonitor, Dashboard):
        widget = kind(client, refresh_interval=None)
        try:
            widget.wait()
            text = widget._repr_mimebundle_()["text/plain"]
            assert text == f"<{kind.__name__} of pachd at {client.address}, project default (a live widget)>"
            assert "children" not in text and len(text) <= 110  # ipywidgets cuts longer text with '…'
        finally:
            widget.close()
