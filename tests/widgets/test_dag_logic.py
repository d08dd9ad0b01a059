"""The DAG's pure logic: inputs from specs, graph, layers, ordering, SVG (no kernel, no server)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from pachmagic.client import PipelineInfo, RepoInfo
from pachmagic.widgets.logic import dag, style


def pipeline(name: str, spec_input: dict[str, Any] | None, state: str = "running", job: str = "success", project: str = "default") -> PipelineInfo:
    return PipelineInfo(project=project, name=name, state=state, last_job_state=job, spec={"input": spec_input} if spec_input else {})


def repo(name: str, project: str = "default", type: str = "user") -> RepoInfo:
    return RepoInfo(project=project, name=name, type=type)


TUTORIAL = [
    pipeline("contour", {"pfs": {"repo": "photos", "glob": "/"}}),
    pipeline("histogram", {"pfs": {"repo": "contour", "glob": "/*"}}, state="standby", job="failure"),
]
REPOS = [repo("photos"), repo("contour"), repo("histogram"), repo("contour", type="spec"), repo("contour", type="meta")]


def test_input_edges_walks_every_combinator() -> None:
    spec = {
        "cross": [
            {"pfs": {"repo": "a", "glob": "/*"}},
            {"union": [{"pfs": {"repo": "b", "glob": "/x/*", "branch": "dev"}}, {"pfs": {"repo": "c", "glob": "/", "project": "other"}}]},
            {"join": [{"pfs": {"repo": "d", "glob": "/(*)"}}]},
            {"group": [{"pfs": {"repo": "e", "glob": "/(*)"}}]},
            {"cron": {"name": "tick", "spec": "@every 1m", "repo": "p_tick"}},
        ]
    }
    edges = dag.input_edges(spec)
    assert [(e.repo, e.glob) for e in edges] == [
        ("a", "/*"), ("b", "/x/*"), ("c", "/"), ("d", "/(*)"), ("e", "/(*)"), ("p_tick", "@every 1m"),
    ]
    assert edges[1].branch == "dev" and edges[2].project == "other" and edges[-1].kind == "cron"
    assert dag.input_edges(None) == [] and dag.input_edges({}) == []


def test_build_graph_merges_pipelines_with_their_output_repos() -> None:
    graph = dag.build_graph(TUTORIAL, REPOS)
    assert [(n.kind, n.name) for n in graph.nodes] == [("pipeline", "contour"), ("pipeline", "histogram"), ("repo", "photos")]
    assert [(e.source, e.target, e.label) for e in graph.edges] == [
        ("repo:default/photos", "pipeline:default/contour", "/"),
        ("pipeline:default/contour", "pipeline:default/histogram", "/*"),
    ]
    assert graph.node("pipeline:default/histogram").last_job_state == "failure"


def test_unlisted_input_repos_still_get_nodes() -> None:
    graph = dag.build_graph([pipeline("p", {"pfs": {"repo": "elsewhere", "glob": "/", "project": "other"}})], [])
    assert "repo:other/elsewhere" in {n.id for n in graph.nodes}
    assert graph.edges[0].source == "repo:other/elsewhere"


def test_layers_are_longest_paths_and_survive_cycles() -> None:
    graph = dag.build_graph(
        TUTORIAL + [pipeline("both", {"cross": [{"pfs": {"repo": "photos", "glob": "/"}}, {"pfs": {"repo": "histogram", "glob": "/"}}]})],
        REPOS,
    )
    layers = dag.assign_layers(graph)
    assert layers == {"repo:default/photos": 0, "pipeline:default/contour": 1, "pipeline:default/histogram": 2, "pipeline:default/both": 3}
    loop = dag.Graph(
        (dag.Node("a", "pipeline", "a", "p"), dag.Node("b", "pipeline", "b", "p")),
        (dag.Edge("a", "b", "/"), dag.Edge("b", "a", "/")),
    )
    assert set(dag.assign_layers(loop).values()) <= {0, 1}


def crossings(graph: dag.Graph, columns: list[list[str]]) -> int:
    pos = {node: (i, k) for i, column in enumerate(columns) for k, node in enumerate(column)}
    segments = [(pos[e.source], pos[e.target]) for e in graph.edges]
    count = 0
    for a, (s1, t1) in enumerate(segments):
        for s2, t2 in segments[a + 1 :]:
            if s1[0] == s2[0] and t1[0] == t2[0] and (s1[1] - s2[1]) * (t1[1] - t2[1]) < 0:
                count += 1
    return count


def test_barycenter_ordering_uncrosses_edges() -> None:
    # By name alone, a/z and p1/p2 cross (z feeds p1, a feeds p2); the sweeps untangle them.
    graph = dag.build_graph(
        [pipeline("p1", {"pfs": {"repo": "z", "glob": "/"}}), pipeline("p2", {"pfs": {"repo": "a", "glob": "/"}})],
        [repo("a"), repo("z")],
    )
    layers = dag.assign_layers(graph)
    assert crossings(graph, dag.order_layers(graph, layers, sweeps=0)) == 1
    assert crossings(graph, dag.order_layers(graph, layers)) == 0


def test_layout_places_columns_left_to_right_without_overlap() -> None:
    graph = dag.build_graph(TUTORIAL, REPOS)
    placed = dag.layout(graph)
    xs = [placed.positions[n] for n in ("repo:default/photos", "pipeline:default/contour", "pipeline:default/histogram")]
    assert xs[0][0] < xs[1][0] < xs[2][0]
    assert placed.width >= xs[2][0] + dag.NODE_W and placed.height >= dag.NODE_H
    wide = dag.build_graph([pipeline(f"p{i}", {"pfs": {"repo": "src", "glob": "/"}}) for i in range(4)], [repo("src")])
    ys = sorted(y for node, (x, y) in dag.layout(wide).positions.items() if node.startswith("pipeline"))
    assert all(b - a >= dag.NODE_H for a, b in zip(ys, ys[1:]))


def test_svg_is_well_formed_with_names_globs_states_and_highlight() -> None:
    graph = dag.build_graph(TUTORIAL, REPOS)
    svg = dag.render_svg(
        graph,
        selected="pipeline:default/contour",
        highlight={"repo:default/photos", "pipeline:default/contour"},
        highlight_states={"pipeline:default/contour": "running"},
    )
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = "".join(root.itertext())
    for word in ("photos", "contour", "histogram", "/*", "last job failure", "running · job running"):
        assert word in text
    # a pipeline whose last job failed is drawn as failed (red), not in its own state's colour
    groups_svg = {g.get("data-name"): ET.tostring(g).decode() for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-name")}
    assert style.pipeline_fill("failure") in groups_svg["histogram"] and "#b00020" in groups_svg["histogram"]
    assert style.pipeline_fill("running") in groups_svg["contour"]
    # theme colours: repos and labels follow JupyterLab's variables (readable in the dark theme)
    assert "var(--jp-ui-font-color1" in groups_svg["photos"] and "var(--jp-layout-color1" in groups_svg["photos"]
    groups = {g.get("data-name"): g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-name")}
    assert "highlighted" in (groups["contour"].get("class") or "") and "highlighted" not in (groups["histogram"].get("class") or "")
    assert groups["histogram"].get("data-job-state") == "failure"
    assert "stroke-dasharray" in ET.tostring(groups["contour"]).decode()
    assert dag.HIGHLIGHT in svg  # the edge photos → contour is lit too


def test_svg_escapes_and_truncates_and_handles_empty() -> None:
    long = pipeline("a" * 40, {"pfs": {"repo": "src", "glob": "/<*>&"}})
    svg = dag.render_svg(dag.build_graph([long], [repo("src")]))
    ET.fromstring(svg)
    assert "&lt;*&gt;&amp;" in svg and "…" in svg
    assert "No repos or pipelines" in dag.render_svg(dag.Graph((), ()))
