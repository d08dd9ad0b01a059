"""``PipelineDAG``: the repos and pipelines of a project drawn inline as an SVG, live.

Pipelines are filled by their state and outlined by their last job's state;
edges carry the input globs. One button per pipeline (coloured the same way)
selects it: its spec and recent jobs show below the drawing. The commit-set
menu lists recent global ids; choosing one rings every repo and pipeline that
has a commit in that set and shows each pipeline's job state in it.

Graph, layout and drawing are pure functions in ``logic/dag.py``; this module
only fetches records and wires widgets. It never imports the server.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import yaml

from pachmagic.client import JobInfo, PipelineInfo
from pachmagic.widgets._panel import Panel, replace_children
from pachmagic.widgets.logic import dag
from pachmagic.widgets.logic.browse import ago
from pachmagic.widgets.logic.jobs import progress, progress_html
from pachmagic.widgets.logic.style import badge, esc, job_colour, short_id

__all__ = ["PipelineDAG", "DagDrawing"]

_BUTTON_STYLES = {"success": "success", "failure": "danger", "killed": "danger", "unrunnable": "danger", "running": "info", "starting": "info"}


class PipelineDAG(Panel):
    """The pipeline DAG of the client's current project.

    Parameters
    ----------
    client:
        A ``pachmagic.client.Client``.
    recent_jobs:
        How many jobs of the selected pipeline to list.
    refresh_interval:
        Seconds between background refreshes (None: only on demand).
    """

    def __init__(self, client: Any, *, recent_jobs: int = 5, refresh_interval: float | None = 2.0, **kwargs: Any) -> None:
        self._recent_jobs = recent_jobs
        self._pipelines: dict[str, PipelineInfo] = {}
        self._graph = dag.Graph((), ())
        self._selected: str | None = None
        self._commit_set: str | None = None
        self._lit: frozenset[str] = frozenset()
        self._lit_states: dict[str, str] = {}
        self._drawn = ""
        self._button_names: dict[int, str] = {}
        super().__init__(client, title="Pipelines", refresh_interval=refresh_interval, **kwargs)
        self.add_class("pachmagic-pipeline-dag")

    def _build(self) -> list[w.Widget]:
        self._svg = w.HTML("", layout=w.Layout(overflow="auto", max_width="100%"))
        self._buttons = w.HBox([], layout=w.Layout(flex_flow="row wrap"))
        self._commit_sets = w.Dropdown(description="commit set", options=[("none", "")], value="", layout=w.Layout(width="380px"))
        self._details = w.HTML("")
        self._commit_sets.observe(self._on_commit_sets_change, names="value")
        label = w.HTML("<span style='font-size:12px'>pipelines:</span>")
        row = w.HBox([label, self._buttons], layout=w.Layout(align_items="center"))
        return [self._svg, row, self._commit_sets, self._details]

    @property
    def graph(self) -> dag.Graph:
        """The graph last drawn."""
        return self._graph

    @property
    def svg(self) -> str:
        """The SVG last drawn."""
        return self._drawn

    @property
    def drawing(self) -> DagDrawing:
        """The DAG last drawn as an object a notebook displays, trusted or not (an image, not inline SVG)."""
        return DagDrawing(self._drawn, self._graph)

    @property
    def selected(self) -> str | None:
        """The selected pipeline's name."""
        return self._selected

    @property
    def highlighted(self) -> frozenset[str]:
        """Node ids ringed for the chosen commit set."""
        return self._lit

    def select(self, pipeline: str | None) -> None:
        """Show a pipeline's spec and recent jobs (None clears); queued."""
        self._selected = pipeline
        self._submit(self._show_selection)

    def highlight(self, commit_set: str | None) -> None:
        """Ring every repo and pipeline with a commit in this global id (None clears); queued."""
        self._commit_set = commit_set or None
        self._submit(self._load_highlight)

    # --- worker thread ----------------------------------------------------------------

    def _refresh_now(self) -> None:
        pfs, pps = self.client.pfs, self.client.pps
        pipelines = list(pps.list_pipeline(details=True))
        repos = list(pfs.list_repo())
        self._pipelines = {p.name: p for p in pipelines}
        self._graph = dag.build_graph(pipelines, repos)
        jobs = list(pps.list_job(number=30))
        self._update_buttons(pipelines)
        self._update_commit_sets(jobs)
        if self._commit_set:
            self._load_highlight(draw=False)
        self._draw()
        if self._selected:
            self._show_selection()
        running = sum(1 for p in pipelines if p.last_job_state in ("running", "starting", "created", "finishing"))
        self._set_status(f"{len(pipelines)} pipelines · {len(self._graph.nodes) - len(pipelines)} source repos" + (f" · {running} running" if running else ""))

    def _draw(self) -> None:
        selected = dag.pipeline_id(self.client.project, self._selected) if self._selected else None
        svg = dag.render_svg(self._graph, selected=selected, highlight=self._lit, highlight_states=self._lit_states)
        if svg != self._drawn:
            self._drawn = svg
            self._svg.value = svg

    def _update_buttons(self, pipelines: list[PipelineInfo]) -> None:
        names = [p.name for p in sorted(pipelines, key=lambda p: p.name)]
        current = [self._button_names.get(id(b)) for b in self._buttons.children]
        if current != names:
            buttons = []
            self._button_names = {}
            for name in names:
                button = w.Button(description=name, layout=w.Layout(width="auto"), tooltip=f"Show the spec and jobs of {name}")
                button.on_click(self._captured(self._on_pipeline_button_click))
                self._button_names[id(button)] = name
                buttons.append(button)
            replace_children(self._buttons, buttons)
        for button in self._buttons.children:
            info = self._pipelines[self._button_names[id(button)]]
            style = _BUTTON_STYLES.get(info.last_job_state, "")
            if button.button_style != style:
                button.button_style = style
            icon = "check" if button.description == self._selected else ""
            if button.icon != icon:
                button.icon = icon

    def _update_commit_sets(self, jobs: list[JobInfo]) -> None:
        by_id: dict[str, list[JobInfo]] = {}
        for job in jobs:
            by_id.setdefault(job.id, []).append(job)
        options = [("none", "")]
        for set_id, members in by_id.items():
            names = ", ".join(sorted(j.pipeline for j in members))
            when = ago(min((j.created for j in members if j.created), default=None))
            options.append((f"{short_id(set_id, 10)} · {names} · {when}", set_id))
        if self._commit_set and self._commit_set not in by_id:
            options.append((short_id(self._commit_set, 10), self._commit_set))
        if list(self._commit_sets.options) != options:
            self._commit_sets.options = options
        if self._commit_sets.value != (self._commit_set or ""):
            self._commit_sets.value = self._commit_set or ""

    def _load_highlight(self, draw: bool = True) -> None:
        lit: set[str] = set()
        states: dict[str, str] = {}
        if self._commit_set:
            for commit in self.client.pfs.inspect_commit_set(self._commit_set):
                if commit.repo_type != "user":
                    continue
                node = dag.pipeline_id(commit.project, commit.repo)
                lit.add(node if node in {n.id for n in self._graph.nodes} else dag.repo_id(commit.project, commit.repo))
            for job in self.client.pps.inspect_job_set(self._commit_set):
                node = dag.pipeline_id(job.project, job.pipeline)
                lit.add(node)
                states[node] = job.state
        self._lit, self._lit_states = frozenset(lit), states
        if self._commit_sets.value != (self._commit_set or "") and self._commit_set in [v for _, v in self._commit_sets.options]:
            self._commit_sets.value = self._commit_set
        if draw:
            self._draw()

    def _show_selection(self) -> None:
        name = self._selected
        if self._pipelines:
            self._update_buttons(list(self._pipelines.values()))
        self._draw()
        if not name:
            self._details.value = ""
            return
        info = self.client.pps.inspect_pipeline(name, details=True)
        jobs = list(self.client.pps.list_job(pipeline=name, number=self._recent_jobs))
        self._details.value = _details_html(info, jobs)

    # --- handlers (kernel thread) --------------------------------------------------------

    def _on_pipeline_button_click(self, button: w.Button) -> None:
        name = self._button_names.get(id(button))
        self.select(None if name == self._selected else name)

    def _on_commit_sets_change(self, change: dict[str, Any]) -> None:
        if not self._worker.in_worker():
            self.highlight(change["new"] or None)


class DagDrawing:
    """A drawing of the DAG: ``image/svg+xml``, an ``<img>`` in ``text/html`` and a text outline.

    JupyterLab shows inline SVG only in trusted notebooks (``<IPython.core.display.SVG
    object>`` otherwise); an image in HTML shows in both.
    """

    def __init__(self, svg: str, graph: dag.Graph) -> None:
        self.svg = svg
        self.graph = graph

    def __repr__(self) -> str:
        names = {n.id: n.name for n in self.graph.nodes}
        edges = [f"{names[e.source]} → {names[e.target]}" for e in self.graph.edges]
        return f"<pipeline DAG: {', '.join(edges) or 'no pipelines'}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from pachmagic.widgets._snapshot import svg_as_img

        bundle: dict[str, Any] = {"text/plain": repr(self)}
        if self.svg.startswith("<svg"):
            bundle["text/html"] = svg_as_img(self.svg, "pipeline DAG")
            bundle["image/svg+xml"] = self.svg
        elif self.svg:
            bundle["text/html"] = self.svg
        return bundle


def _details_html(info: PipelineInfo, jobs: list[JobInfo]) -> str:
    spec = yaml.safe_dump(info.spec, sort_keys=False, default_flow_style=False) if info.spec else "(no spec)"
    rows = "".join(
        f"<tr><td><code>{esc(short_id(j.id))}</code></td><td>{badge(j.state, job_colour(j.state))}</td>"
        f"<td style='min-width:200px'>{progress_html(progress(j), j.state)}</td><td>{esc(ago(j.created))}</td>"
        f"<td style='color:var(--jp-error-color1,#b00020)'>{esc(j.reason)}</td></tr>"
        for j in jobs
    )
    return (
        f"<div class='pachmagic-pipeline-details' style='font-size:12px'>"
        f"<b>{esc(info.name)}</b> v{info.version} · {badge(info.state, '#4b5563')} · last job {badge(info.last_job_state, job_colour(info.last_job_state))}"
        f"{f' · {esc(info.reason)}' if info.reason else ''}"
        f"<table class='pachmagic-recent-jobs' style='margin:4px 0'><tr><th>job</th><th>state</th><th>progress</th><th>created</th><th>reason</th></tr>{rows}</table>"
        f"<pre class='pachmagic-spec' style='max-height:220px;overflow:auto;background:var(--jp-layout-color2,#fafafa);margin:4px 0;padding:4px'>{esc(spec)}</pre>"
        f"</div>"
    )
