"""The lineage as an inline SVG, drawn like the pipeline DAG panel: sources on top, the traced ref below.

Layers come from the DAG panel's own layering (longest path from the sources,
barycenter ordering: ``pachmagic.widgets.logic.dag``) and colours from its
palette (``style``); each layer is a row. Files are white, commits grey, jobs
and datums coloured by their state; the traced node has an amber ring. Node
labels carry short ids (``1a2b3c4d…``), tooltips the full ones. Pure: nodes in,
SVG text out.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from pachmagic.provenance.trace import Edge, Node
from pachmagic.widgets.logic import dag
from pachmagic.widgets.logic.style import DATUM_COLOURS, esc, job_colour

__all__ = ["render"]

W, H, HGAP, VGAP, MARGIN = 176, 46, 22, 34, 12
AMBER = "#f39c12"
_FILLS = {"file": "#ffffff", "commit": "#f3f4f6", "more": "#ffffff"}


def short(identifier: str) -> str:
    """The first 8 characters and an ellipsis (the form the tutorial's sanitizer knows)."""
    return identifier[:8] + "…" if len(identifier) > 8 else identifier


def _fit(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


def _texts(node: Node) -> tuple[str, str]:
    if node.kind == "file":
        return _fit(node.path), f"{node.repo}@{short(node.commit)}"
    if node.kind == "commit":
        return f"{node.repo}@{short(node.commit)}", f"commit · {node.state.lower()}"
    if node.kind == "job":
        version = f" v{node.version}" if node.version else ""
        return f"{node.repo}{version}", f"job {short(node.commit)} · {node.state}"
    if node.kind == "datum":
        return f"datum {short(node.path)}", f"{node.repo} · {node.state}"
    return node.note, ""


def _colours(node: Node) -> tuple[str, str]:
    """(fill, outline)."""
    if node.kind == "job":
        return "#eef4fd", job_colour(node.state)
    if node.kind == "datum":
        return "#ffffff", DATUM_COLOURS.get(node.state, "#8a8f98")
    return _FILLS.get(node.kind, "#ffffff"), "#6b7280"


def _tip(node: Node) -> str:
    parts = [f"{node.kind} {node.name}"]
    if node.spec:
        parts.append(f"spec {node.spec}")
    if node.note:
        parts.append(node.note)
    return "; ".join(parts)


def render(nodes: Sequence[Node], edges: Sequence[Edge], root: str) -> str:
    """The lineage as one ``<svg>`` element."""
    if not nodes:
        return "<div style='color:#6b7280'>No provenance.</div>"
    graph = dag.Graph(
        tuple(sorted((dag.Node(n.key, n.kind, n.repo, n.project) for n in nodes), key=lambda n: n.id)),
        tuple(dag.Edge(e.source, e.target, "") for e in edges),
    )
    rows = dag.order_layers(graph, dag.assign_layers(graph))
    widest = max(len(r) for r in rows)
    width = MARGIN * 2 + widest * W + (widest - 1) * HGAP
    height = MARGIN * 2 + len(rows) * H + (len(rows) - 1) * VGAP
    at: dict[str, tuple[int, int]] = {}
    for i, row in enumerate(rows):
        used = len(row) * W + (len(row) - 1) * HGAP
        left = (width - used) // 2
        for k, key in enumerate(row):
            at[key] = (left + k * (W + HGAP), MARGIN + i * (H + VGAP))
    by_key = {n.key: n for n in nodes}
    body = "".join(_edge(e, at) for e in edges if e.source in at and e.target in at)
    body += "".join(_node(by_key[key], *at[key], key == root) for row in rows for key in row)
    marker = ("<marker id='pm-prov-arrow' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' "
              "orient='auto'><path d='M0,0 L10,5 L0,10 z' fill='#9ca3af'/></marker>")
    return (
        f"<svg class='pachmagic-provenance' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"style='max-width:100%;height:auto' viewBox='0 0 {width} {height}' font-family='sans-serif' role='img' "
        f"aria-label='provenance'><defs>{marker}</defs>{body}</svg>"
    )


def _node(node: Node, x: int, y: int, is_root: bool) -> str:
    fill, outline = _colours(node)
    title, subtitle = _texts(node)
    dashed = " stroke-dasharray='5 3'" if node.kind == "more" else ""
    parts = [f"<g class='pachmagic-prov-node {node.kind}' data-key='{esc(node.key)}'>"]
    if is_root:
        parts.append(f"<rect x='{x - 4}' y='{y - 4}' width='{W + 8}' height='{H + 8}' rx='11' fill='none' "
                     f"stroke='{AMBER}' stroke-width='3'/>")
    width = 2 if node.kind in ("job", "datum") else 1.5
    parts.append(f"<rect x='{x}' y='{y}' width='{W}' height='{H}' rx='8' fill='{fill}' stroke='{outline}' "
                 f"stroke-width='{width}'{dashed}/>")
    parts.append(f"<text x='{x + 10}' y='{y + 19}' font-size='12.5' font-weight='600' fill='#1f2937'>{esc(title)}</text>")
    if subtitle:
        parts.append(f"<text x='{x + 10}' y='{y + 36}' font-size='11' fill='#4b5563'>{esc(subtitle)}</text>")
    parts.append(f"<title>{esc(_tip(node))}</title></g>")
    return "".join(parts)


def _edge(edge: Edge, at: Mapping[str, tuple[int, int]]) -> str:
    sx, sy = at[edge.source]
    tx, ty = at[edge.target]
    x1, y1, x2, y2 = sx + W // 2, sy + H, tx + W // 2, ty
    mid = (y1 + y2) / 2
    return (f"<path class='pachmagic-prov-edge' d='M{x1},{y1} C{x1},{mid:.0f} {x2},{mid:.0f} {x2},{y2 - 2}' "
            f"fill='none' stroke='#9ca3af' stroke-width='1.5' marker-end='url(#pm-prov-arrow)'/>")
