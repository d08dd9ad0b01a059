"""Provenance, inline: the chain from a file, commit or job back to the source data.

``pachmagic.provenance.trace(client, "histogram@master:/landscape.png")`` walks
output file → its commit → the job (pipeline, version, spec commit) → the
datums that wrote it → their input files at their commits → through upstream
pipelines to the source repos (``trace.py``), and returns a ``Lineage``: shown
in a notebook as an SVG graph like the DAG panel (``svg.py``), with ``.frame``
the same as a DataFrame. A job is named by its output commit
(``pipeline@<job id>``: in Pachyderm 2.x the job id is the commit's id).

Public API calls only (InspectFile, InspectCommit, InspectJob, GlobFile on the
``.meta`` repo, InspectDatum), so it works against a real pachd.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from pachmagic.client import Commit, File
from pachmagic.provenance.svg import render
from pachmagic.provenance.trace import MAX_DATUMS, Edge, Node, TooBig, Walk

if TYPE_CHECKING:
    from pachmagic.client import Client

__all__ = ["trace", "Lineage", "Node", "Edge"]

_COLUMNS = ["step", "kind", "project", "repo", "commit", "path", "state", "pipeline_version", "spec", "inputs"]


@dataclass(frozen=True)
class Lineage:
    """Where a file or commit came from.

    Attributes
    ----------
    ref:
        What was traced, as given.
    root:
        The key of its node.
    nodes, edges:
        The steps (``Node``) and how data flowed between them (``Edge``: source → target).
    truncated:
        True when the walk stopped at its size bound (``trace.MAX_NODES``).
    """

    ref: str
    root: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    truncated: bool = False

    @property
    def frame(self) -> pd.DataFrame:
        """One row per step: ``step`` (0 = the ref, 1 = what it came from...), ``kind``, ``project``,
        ``repo`` (or pipeline), ``commit`` (or job id), ``path`` (or datum id), ``state``,
        ``pipeline_version``, ``spec`` (the job's spec commit), ``inputs`` (names of the steps it came from)."""
        by_key = {n.key: n for n in self.nodes}
        upstream: dict[str, list[str]] = {}
        for e in self.edges:
            upstream.setdefault(e.target, []).append(e.source)
        depth = {self.root: 0}
        queue = [self.root]
        while queue:
            key = queue.pop(0)
            for source in upstream.get(key, []):
                if source not in depth:
                    depth[source] = depth[key] + 1
                    queue.append(source)
        rows = []
        for node in sorted(self.nodes, key=lambda n: (depth.get(n.key, 10**6), n.key)):
            rows.append((
                depth.get(node.key, -1), node.kind, node.project, node.repo, node.commit, node.path, node.state,
                node.version, node.spec, tuple(by_key[s].name for s in upstream.get(node.key, [])),
            ))
        frame = pd.DataFrame(rows, columns=_COLUMNS)
        return frame.astype({"step": "int64", "pipeline_version": "int64"} | {c: "str" for c in _COLUMNS[1:7] + ["spec"]})

    @property
    def sources(self) -> list[Node]:
        """The steps nothing came into: source data (files or commits of repos no pipeline writes)."""
        targets = {e.target for e in self.edges}
        fed = {e.source for e in self.edges} | targets
        return [n for n in self.nodes if n.key not in targets and n.key in fed and n.kind in ("file", "commit")]

    def svg(self) -> str:
        """The graph as an inline ``<svg>``."""
        return render(self.nodes, self.edges, self.root)

    def _repr_html_(self) -> str:
        note = "<p style='color:#b45309'>(the walk stopped at its size bound)</p>" if self.truncated else ""
        caption = f"<p>provenance of <code>{html.escape(self.ref)}</code></p>"
        return caption + self.svg() + note

    def __repr__(self) -> str:
        frame = self.frame
        lines = [f"provenance of {self.ref}"]
        for _, row in frame.iterrows():
            node = next(n for n in self.nodes if (n.kind, n.repo, n.commit, n.path) ==
                        (row["kind"], row["repo"], row["commit"], row["path"]))
            kind = "" if node.kind in ("job", "datum", "more") else f"{node.kind} "
            state = f" [{node.state}]" if node.kind in ("job", "datum") else ""
            lines.append(f"{'  ' * int(max(row['step'], 0))}{kind}{node.name}{state}")
        return "\n".join(lines)


def trace(client: Client, ref: str, *, max_datums: int = MAX_DATUMS) -> Lineage:
    """Trace a file (``repo@ref:/path``), a commit (``repo@ref``) or a job (``pipeline@<job id>``) to its sources.

    Parameters
    ----------
    client:
        The connection (its reads are not recorded by a data lock: tracing is not reading data).
    ref:
        A pachctl URI.
    max_datums:
        Datums shown per output path; more become one ``+N more datums`` step.

    Returns
    -------
    Lineage
        Shown as an SVG graph; ``.frame`` is the DataFrame form.
    """
    walk = Walk(client, max_datums=max_datums)
    truncated = False
    if ":" in ref:
        file = File.from_uri(ref)
        commit = file.commit
        project = commit.repo.project or client.project
        token = commit.id or commit.branch or ""
        if commit.branch and commit.id:
            token = commit.id
        try:
            root = walk.file(project, commit.repo.name, token, file.path)
        except TooBig:
            truncated, root = True, next(iter(walk.nodes))
    else:
        commit = Commit.from_uri(ref)
        project = commit.repo.project or client.project
        token = commit.id if commit.id else (commit.branch or "")
        try:
            root, _ = walk.commit(project, commit.repo.name, token)
        except TooBig:
            truncated, root = True, next(iter(walk.nodes))
    return Lineage(ref, root, tuple(walk.nodes.values()), tuple(walk.edges), truncated)
