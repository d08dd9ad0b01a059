"""The pipeline DAG: graph from pipeline specs, layered layout, inline SVG.

A node is either a *source repo* (a user repo that no pipeline writes) or a
*pipeline* (which stands for the pipeline and its output repo, as in
Pachyderm's Console). Edges go from the node that owns an input repo to the
pipeline reading it, labelled with the input's glob. Layers are longest paths
from the sources; within a layer nodes are ordered by a few barycenter sweeps
to keep edges from crossing. Pipelines are filled by the pipeline's state and
outlined by its last job's state; a pipeline whose last job failed is drawn as
failed (red, "last job failure"), whatever the pipeline's own state says.
Repos, edges and labels take JupyterLab's theme colours, so the drawing reads
in the dark theme too. A commit set can be highlighted.

Pure: takes ``PipelineInfo``/``RepoInfo`` records and returns values and SVG
text. No widgets, no RPCs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from pachmagic.client import PipelineInfo, RepoInfo
from pachmagic.widgets.logic.style import LINE, MUTED, SURFACE, TEXT, esc, job_colour, pipeline_fill

__all__ = [
    "InputEdge", "Node", "Edge", "Graph", "Layout",
    "input_edges", "build_graph", "assign_layers", "order_layers", "layout", "render_svg",
    "repo_id", "pipeline_id",
]

NODE_W, NODE_H, COL_GAP, ROW_GAP, MARGIN = 156, 48, 96, 22, 14
FAILED_JOBS = frozenset({"failure", "killed", "unrunnable"})
HIGHLIGHT = "#f39c12"


@dataclass(frozen=True)
class InputEdge:
    """One PFS (or cron) leaf of a pipeline's input: where it reads and with which glob."""

    repo: str
    project: str | None
    glob: str
    branch: str = "master"
    kind: str = "pfs"


@dataclass(frozen=True)
class Node:
    """A DAG node: ``kind`` is ``repo`` or ``pipeline``."""

    id: str
    kind: str
    name: str
    project: str
    state: str = ""
    last_job_state: str = ""


@dataclass(frozen=True)
class Edge:
    """An edge from the owner of an input repo to a pipeline, labelled with the glob."""

    source: str
    target: str
    label: str


@dataclass(frozen=True)
class Graph:
    """Nodes and edges, nodes sorted by id."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, node_id: str) -> Node:
        """The node with this id."""
        return next(n for n in self.nodes if n.id == node_id)


@dataclass(frozen=True)
class Layout:
    """Where each node goes (top-left corner) and the drawing's size."""

    positions: Mapping[str, tuple[int, int]]
    columns: tuple[tuple[str, ...], ...]
    width: int
    height: int


def repo_id(project: str, name: str) -> str:
    """Node id of a source repo."""
    return f"repo:{project}/{name}"


def pipeline_id(project: str, name: str) -> str:
    """Node id of a pipeline (and its output repo)."""
    return f"pipeline:{project}/{name}"


def input_edges(spec_input: Mapping[str, Any] | None) -> list[InputEdge]:
    """Every PFS/cron leaf of a pipeline input (protojson), through cross/union/join/group.

    Parameters
    ----------
    spec_input:
        The ``input`` of a pipeline spec as a dict (snake_case or camelCase keys).

    Returns
    -------
    list[InputEdge]
        In spec order.
    """
    if not spec_input:
        return []
    found: list[InputEdge] = []
    pfs = spec_input.get("pfs")
    if isinstance(pfs, Mapping) and pfs.get("repo"):
        found.append(
            InputEdge(
                repo=str(pfs["repo"]), project=(str(pfs["project"]) if pfs.get("project") else None),
                glob=str(pfs.get("glob", "")), branch=str(pfs.get("branch") or "master"),
            )
        )
    cron = spec_input.get("cron")
    if isinstance(cron, Mapping) and cron.get("name"):
        found.append(InputEdge(repo=str(cron.get("repo") or cron["name"]), project=None, glob=str(cron.get("spec", "")), kind="cron"))
    for key in ("cross", "union", "join", "group"):
        for child in spec_input.get(key) or ():
            if isinstance(child, Mapping):
                found.extend(input_edges(child))
    return found


def build_graph(pipelines: Iterable[PipelineInfo], repos: Iterable[RepoInfo] = ()) -> Graph:
    """Build the DAG from pipeline records (with ``spec``) and repo records.

    Pipelines without a spec fall back to nothing for inputs (ask
    ``list_pipeline(details=True)``). Input repos that are not listed (another
    project, a cron tick repo) still get a node.
    """
    pipelines = list(pipelines)
    outputs = {(p.project, p.name) for p in pipelines}
    nodes: dict[str, Node] = {}
    for repo in repos:
        if repo.type == "user" and (repo.project, repo.name) not in outputs:
            nodes[repo_id(repo.project, repo.name)] = Node(repo_id(repo.project, repo.name), "repo", repo.name, repo.project)
    edges: list[Edge] = []
    for p in pipelines:
        pid = pipeline_id(p.project, p.name)
        nodes[pid] = Node(pid, "pipeline", p.name, p.project, p.state, p.last_job_state)
        for leaf in input_edges(p.spec.get("input") if p.spec else None):
            project = leaf.project or p.project
            if (project, leaf.repo) in outputs:
                source = pipeline_id(project, leaf.repo)
            else:
                source = repo_id(project, leaf.repo)
                nodes.setdefault(source, Node(source, "repo", leaf.repo, project))
            label = leaf.glob if leaf.kind == "pfs" else f"cron {leaf.glob}"
            if leaf.branch != "master":
                label = f"{label} ({leaf.branch})"
            edges.append(Edge(source, pid, label))
    return Graph(tuple(sorted(nodes.values(), key=lambda n: n.id)), tuple(edges))


def assign_layers(graph: Graph) -> dict[str, int]:
    """Layer of each node: the longest path from a source (cycles are cut, not followed)."""
    parents: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        if e.source != e.target:
            parents[e.target].append(e.source)
    layers: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(node: str) -> int:
        if node in layers:
            return layers[node]
        if node in visiting:  # a cycle: treat the back edge as absent
            return -1
        visiting.add(node)
        value = max((depth(p) + 1 for p in parents[node]), default=0)
        visiting.discard(node)
        layers[node] = max(value, 0)
        return layers[node]

    for n in graph.nodes:
        depth(n.id)
    return layers


def order_layers(graph: Graph, layers: Mapping[str, int], sweeps: int = 4) -> list[list[str]]:
    """Nodes per layer, ordered to reduce crossings (barycenter heuristic, alternating sweeps)."""
    count = max(layers.values(), default=-1) + 1
    columns: list[list[str]] = [[] for _ in range(count)]
    for n in graph.nodes:  # nodes are sorted by id: a stable start
        columns[layers[n.id]].append(n.id)
    neighbours: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        neighbours[e.source].append(e.target)
        neighbours[e.target].append(e.source)
    for sweep in range(sweeps):
        forward = sweep % 2 == 0
        indices = range(1, count) if forward else range(count - 2, -1, -1)
        for i in indices:
            ref = columns[i - 1] if forward else columns[i + 1]
            pos = {node: k for k, node in enumerate(ref)}

            def key(node: str, pos: dict[str, int] = pos) -> tuple[float, str]:
                linked = [pos[m] for m in neighbours[node] if m in pos]
                return (sum(linked) / len(linked) if linked else float("inf"), node)

            current = columns[i]
            placed = sorted(current, key=key)
            columns[i] = placed
    return columns


def layout(graph: Graph) -> Layout:
    """Place nodes in columns (one per layer, left to right), each column centred vertically."""
    columns = order_layers(graph, assign_layers(graph))
    tallest = max((len(c) for c in columns), default=0)
    height = MARGIN * 2 + max(tallest, 1) * NODE_H + max(tallest - 1, 0) * ROW_GAP
    width = MARGIN * 2 + max(len(columns), 1) * NODE_W + max(len(columns) - 1, 0) * COL_GAP
    positions: dict[str, tuple[int, int]] = {}
    for i, column in enumerate(columns):
        used = len(column) * NODE_H + max(len(column) - 1, 0) * ROW_GAP
        top = (height - used) // 2
        for k, node in enumerate(column):
            positions[node] = (MARGIN + i * (NODE_W + COL_GAP), top + k * (NODE_H + ROW_GAP))
    return Layout(positions, tuple(tuple(c) for c in columns), width, height)


def _fit(text: str, limit: int = 19) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class _Style:
    selected: str | None = None
    highlight: frozenset[str] = frozenset()
    highlight_states: Mapping[str, str] = field(default_factory=dict)


def _node_svg(node: Node, x: int, y: int, style: _Style) -> str:
    lit = node.id in style.highlight
    title = f"{node.project}/{node.name}"
    parts = [
        f"<g class='pachmagic-node {node.kind}{' highlighted' if lit else ''}' data-name='{esc(node.name)}' "
        f"data-state='{esc(node.state)}' data-job-state='{esc(node.last_job_state)}'>"
    ]
    if lit:
        parts.append(f"<rect x='{x - 4}' y='{y - 4}' width='{NODE_W + 8}' height='{NODE_H + 8}' rx='11' fill='none' stroke='{HIGHLIGHT}' stroke-width='3'/>")
    if node.kind == "repo":
        tip = f"repo {title}"
        parts.append(f"<rect x='{x}' y='{y}' width='{NODE_W}' height='{NODE_H}' rx='8' style='fill:{SURFACE};stroke:{MUTED}' stroke-width='1.5'/>")
        parts.append(f"<text x='{x + 10}' y='{y + 19}' font-size='13' font-weight='600' style='fill:{TEXT}'>{esc(_fit(node.name))}</text>")
        parts.append(f"<text x='{x + 10}' y='{y + 37}' font-size='11' style='fill:{MUTED}'>repo</text>")
    else:
        job = style.highlight_states.get(node.id) if lit else None
        job_state = job or node.last_job_state
        failed = node.last_job_state in FAILED_JOBS
        tip = f"pipeline {title}: {node.state}, last job {node.last_job_state}"
        dashed = " stroke-dasharray='5 3'" if node.id == style.selected else ""
        width = 3 if node.id == style.selected else 2
        # Pastel fills keep dark text readable in either theme.
        fill = pipeline_fill("failure") if failed else pipeline_fill(node.state)
        parts.append(
            f"<rect x='{x}' y='{y}' width='{NODE_W}' height='{NODE_H}' rx='8' fill='{fill}' "
            f"stroke='{job_colour(node.last_job_state)}' stroke-width='{width}'{dashed}/>"
        )
        parts.append(f"<text x='{x + 10}' y='{y + 19}' font-size='13' font-weight='600' fill='#1f2937'>{esc(_fit(node.name))}</text>")
        parts.append(f"<circle cx='{x + 15}' cy='{y + 33}' r='5' fill='{job_colour(job_state)}'/>")
        words = f"last job {job_state}" if failed or not node.state else f"{node.state} · job {job_state or 'none'}"
        colour = "#b00020" if failed else "#374151"
        parts.append(f"<text x='{x + 25}' y='{y + 37}' font-size='11' fill='{colour}'>{esc(_fit(words, 22))}</text>")
    parts.append(f"<title>{esc(tip)}</title></g>")
    return "".join(parts)


def _edge_svg(edge: Edge, positions: Mapping[str, tuple[int, int]], style: _Style) -> str:
    sx, sy = positions[edge.source]
    tx, ty = positions[edge.target]
    x1, y1 = sx + NODE_W, sy + NODE_H // 2
    x2, y2 = tx, ty + NODE_H // 2
    mid = (x1 + x2) / 2
    lit = edge.source in style.highlight and edge.target in style.highlight
    colour = HIGHLIGHT if lit else LINE
    marker = "pm-arrow-lit" if lit else "pm-arrow"
    path = f"M{x1},{y1} C{mid:.0f},{y1} {mid:.0f},{y2} {x2 - 2},{y2}"
    label = ""
    if edge.label:
        lx, ly = mid, (y1 + y2) / 2 - 5
        label = (
            f"<text class='pachmagic-glob' x='{lx:.0f}' y='{ly:.0f}' font-size='11' text-anchor='middle' "
            f"style='fill:{MUTED}' font-family='monospace'>{esc(_fit(edge.label, 16))}</text>"
        )
    return (
        f"<g class='pachmagic-edge'><path d='{path}' fill='none' style='stroke:{colour}' stroke-width='{2.5 if lit else 1.5}' "
        f"marker-end='url(#{marker})'/>{label}</g>"
    )


def render_svg(
    graph: Graph,
    placed: Layout | None = None,
    *,
    selected: str | None = None,
    highlight: Iterable[str] = (),
    highlight_states: Mapping[str, str] | None = None,
) -> str:
    """Draw the DAG as an inline ``<svg>`` element.

    Parameters
    ----------
    graph:
        From ``build_graph``.
    placed:
        From ``layout`` (computed when omitted).
    selected:
        A pipeline node id drawn with a dashed, thicker outline.
    highlight:
        Node ids of one commit set, ringed in amber (edges between them too).
    highlight_states:
        For highlighted pipelines, the state of their job in that commit set.
    """
    if not graph.nodes:
        return "<div class='pachmagic-dag-empty' style='color:var(--jp-ui-font-color2,#6b7280)'>No repos or pipelines yet.</div>"
    placed = placed or layout(graph)
    style = _Style(selected, frozenset(highlight), dict(highlight_states or {}))
    defs = "".join(
        f"<marker id='{name}' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' orient='auto'>"
        f"<path d='M0,0 L10,5 L0,10 z' style='fill:{colour}'/></marker>"
        for name, colour in (("pm-arrow", LINE), ("pm-arrow-lit", HIGHLIGHT))
    )
    body = "".join(_edge_svg(e, placed.positions, style) for e in graph.edges)
    body += "".join(_node_svg(n, *placed.positions[n.id], style) for n in graph.nodes)
    return (
        f"<svg class='pachmagic-dag' xmlns='http://www.w3.org/2000/svg' width='{placed.width}' height='{placed.height}' "
        f"style='max-width:100%;height:auto' viewBox='0 0 {placed.width} {placed.height}' font-family='sans-serif' role='img' "
        f"aria-label='pipeline DAG'><defs>{defs}</defs>{body}</svg>"
    )
