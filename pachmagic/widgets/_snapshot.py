"""A static HTML picture of a live panel, for saved notebooks and untrusted views.

A widget's output carries the widget's id, which only a running kernel can
bring to life; without one (a notebook opened from disk, untrusted, or shown
on GitHub) a front end falls back to the output's ``text/html``. Panels put
this snapshot there: their current state drawn as plain HTML that survives
JupyterLab's sanitizer (no scripts, no inline ``<svg>``: drawings become
``<img>`` with a data URI; layout with inline flex styles).

``snapshot_html(widget)`` walks the widget tree: HTML values as they are,
images as images, buttons and pickers as labels, boxes as flex ``<div>``.
Output widgets (a panel's log) are left out. Nothing here talks to a server.
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any

import ipywidgets as w

__all__ = ["snapshot_html", "svg_as_img", "START", "END"]

START = "<div class='pachmagic-snapshot'"
END = "<!-- /pachmagic-snapshot -->"
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_SELECT_ROWS = 20


def svg_as_img(svg: str, alt: str = "drawing") -> str:
    """An ``<img>`` showing ``svg`` (a data URI: sanitizers keep images, not inline SVG)."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f"<img alt='{html.escape(alt, quote=True)}' style='max-width:100%' src='data:image/svg+xml;base64,{data}'>"


def _layout_style(widget: Any) -> str:
    layout = getattr(widget, "layout", None)
    parts = []
    for name in ("width", "min_width", "max_width", "flex", "border", "padding", "flex_flow", "align_items"):
        value = getattr(layout, name, None) if layout is not None else None
        if value:
            parts.append(f"{name.replace('_', '-')}:{value}")
    return ";".join(parts)


def _piece(widget: Any) -> str:
    if getattr(widget, "comm", None) is None and not isinstance(widget, w.Widget):
        return ""
    if isinstance(widget, w.Output):
        return ""  # a panel's log: live detail only
    if isinstance(widget, w.Box):
        row = isinstance(widget, w.HBox)
        style = f"display:flex;flex-direction:{'row' if row else 'column'};gap:4px;{_layout_style(widget)}"
        if row:
            style += ";align-items:center;flex-wrap:wrap"
        inner = "".join(_piece(child) for child in widget.children)
        classes = " ".join(getattr(widget, "_dom_classes", ()))
        return f"<div class='{html.escape(classes, quote=True)}' style='{style}'>{inner}</div>"
    if isinstance(widget, (w.HTML, w.HTMLMath)):
        value = _SVG.sub(lambda m: svg_as_img(m.group(0), "pipeline DAG"), str(widget.value or ""))
        return f"<div style='{_layout_style(widget)}'>{value}</div>" if value else ""
    if isinstance(widget, w.Label):
        return f"<span>{html.escape(str(widget.value))}</span>"
    if isinstance(widget, w.Image):
        fmt = str(widget.format or "png")
        data = base64.b64encode(bytes(widget.value or b"")).decode("ascii")
        return f"<img style='max-width:100%;max-height:320px;object-fit:contain' src='data:image/{fmt};base64,{data}'>"
    if isinstance(widget, w.Button):
        return ("<span style='border:1px solid var(--jp-border-color1,#d1d5db);border-radius:3px;padding:0 6px;"
                f"font-size:12px;color:var(--jp-ui-font-color2,#6b7280)'>{html.escape(str(widget.description))}</span>")
    if isinstance(widget, w.Dropdown):
        label = widget.label if widget.label is not None else "-"
        return (f"<span style='font-size:12px'>{html.escape(str(widget.description))} "
                f"<b>{html.escape(str(label))}</b></span>")
    if isinstance(widget, w.Select):
        items = []
        for label, value in list(zip(widget._options_labels, widget._options_values))[:_SELECT_ROWS]:
            text = html.escape(str(label))
            items.append(f"<div style='white-space:pre'>{'<b>' + text + '</b>' if value == widget.value else text}</div>")
        more = len(widget._options_labels) - _SELECT_ROWS
        if more > 0:
            items.append(f"<div>… {more} more</div>")
        return f"<div style='font-size:12px;font-family:monospace;{_layout_style(widget)}'>{''.join(items)}</div>"
    return ""


def snapshot_html(widget: Any, note: str = "") -> str:
    """The widget tree as static HTML, marked as a snapshot (``note`` says when and what)."""
    caption = ("<div style='font-size:11px;color:var(--jp-ui-font-color2,#6b7280)'>"
               f"{html.escape(note)}</div>") if note else ""
    return f"{START} style='border:1px dashed var(--jp-border-color1,#d1d5db);padding:4px'>{caption}{_piece(widget)}</div>{END}"
