"""Colours for Pachyderm's states and the small HTML pieces the panels share.

Pure: strings in, strings out. Colours follow the usual traffic-light reading
(green done, blue working, amber waiting, red failed, grey stopped/unknown).
"""

from __future__ import annotations

import html

__all__ = ["TEXT", "MUTED", "SURFACE", "LINE", "ERROR", "JOB_COLOURS", "PIPELINE_FILLS", "DATUM_COLOURS", "job_colour", "pipeline_fill", "badge", "esc", "error_html", "short_id"]

JOB_COLOURS: dict[str, str] = {
    "success": "#2e9d57",
    "failure": "#d13b3b",
    "killed": "#8e44ad",
    "unrunnable": "#8e44ad",
    "running": "#2f6fd1",
    "starting": "#2f6fd1",
    "finishing": "#2f6fd1",
    "egressing": "#2f6fd1",
    "created": "#c99a06",
}

PIPELINE_FILLS: dict[str, str] = {
    "running": "#e3f4e9",
    "standby": "#e6eefb",
    "starting": "#fff6dc",
    "restarting": "#fff6dc",
    "paused": "#eeeeee",
    "failure": "#fbe3e3",
    "crashing": "#fbe3e3",
}

DATUM_COLOURS: dict[str, str] = {
    "success": "#2e9d57",
    "skipped": "#9aa5b1",
    "failed": "#d13b3b",
    "recovered": "#c99a06",
    "starting": "#2f6fd1",
}

UNKNOWN = "#8a8f98"

# Text and lines follow JupyterLab's theme (light or dark); the values after the comma are for
# pages without JupyterLab's CSS variables (a saved notebook on GitHub, a standalone SVG).
TEXT = "var(--jp-ui-font-color1,#1f2937)"
MUTED = "var(--jp-ui-font-color2,#6b7280)"
SURFACE = "var(--jp-layout-color1,#ffffff)"
LINE = "var(--jp-border-color1,#d1d5db)"
ERROR = "var(--jp-error-color1,#b00020)"


def job_colour(state: str) -> str:
    """Colour of a job state word (``success`` → green...)."""
    return JOB_COLOURS.get(state, UNKNOWN)


def pipeline_fill(state: str) -> str:
    """Background colour of a pipeline state word (``running`` → light green...)."""
    return PIPELINE_FILLS.get(state, "#f4f4f4")


def esc(text: object) -> str:
    """HTML-escape any value's ``str``."""
    return html.escape(str(text), quote=True)


def badge(text: str, colour: str) -> str:
    """A small rounded label with white text."""
    return (
        f"<span class='pachmagic-badge' style='background:{colour};color:#fff;border-radius:8px;"
        f"padding:0 7px;font-size:11px;line-height:18px;display:inline-block'>{esc(text)}</span>"
    )


def error_html(message: str) -> str:
    """The one-line error shown inside a panel (empty text for no error)."""
    if not message:
        return ""
    return (
        f"<div class='pachmagic-error' style='color:{ERROR};background:rgba(209,59,59,0.12);border-radius:4px;"
        f"padding:2px 8px;font-size:12px'>&#9888; {esc(message)}</div>"
    )


def short_id(identifier: str | None, n: int = 8) -> str:
    """The first ``n`` characters of an id (``-`` for none)."""
    return identifier[:n] if identifier else "-"
