"""Walking provenance back from a file or commit to the source data, with public API calls only.

From a file: its commit; the commit's job when the repo is a pipeline's output
(InspectJob: pipeline version, state; the ``.spec`` commit in the commit's
provenance is the spec that ran); the datums that wrote the path (GlobFile on
the pipeline's ``.meta`` commit, ``/pfs/<datum>/out/<path>``, as pachd's worker
lays it out); each datum's input files at their commits (InspectDatum); and on
through upstream pipelines until source repos. From a commit: its job and the
input commits of its provenance (InspectCommit), recursively. When a job's
datums cannot be told (a pachd that ran no worker), the file's step falls back to
the job's input commits.

Everything is read through the client's ``unrecorded()`` twin: tracing is not
reading the data, so a data lock neither records nor redirects it. Node keys are
made from names and paths, never from random ids, so the same history traces to
the same keys (and the same drawing) on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pachmagic.client import Commit, CommitInfo, File, Repo
from pachmagic.errors import NotFound, PachError

if TYPE_CHECKING:
    from pachmagic.client import Client

__all__ = ["Node", "Edge", "Walk", "TooBig", "MAX_DATUMS", "MAX_NODES"]

MAX_DATUMS = 20  # datums shown per output path; the rest become one "+N more" node
MAX_NODES = 400  # a bound on the whole walk (a glob "/" over thousands of files)


@dataclass(frozen=True)
class Node:
    """One step of the lineage.

    ``kind`` is ``file``, ``commit``, ``job``, ``datum`` or ``more``. ``repo`` is
    the repo (files, commits) or the pipeline (jobs, datums); ``commit`` the
    commit id (files, commits) or the job id (jobs, datums); ``path`` the file's
    path, or the datum's id.
    """

    key: str
    kind: str
    project: str
    repo: str
    commit: str = ""
    path: str = ""
    state: str = ""
    version: int = 0
    spec: str = ""
    note: str = ""

    @property
    def name(self) -> str:
        """How the lineage names it: ``photos@<id>:/a.png``, ``contour@<id>``, ``job contour@<id>``..."""
        where = f"{self.repo}@{self.commit}"
        return {
            "file": f"{where}:{self.path}",
            "commit": where,
            "job": f"job {where}",
            "datum": f"datum {self.path} of job {where}",
        }.get(self.kind, self.note)


@dataclass(frozen=True)
class Edge:
    """Data flows from ``source`` into ``target`` (keys of nodes)."""

    source: str
    target: str


class Walk:
    """One trace: the nodes and edges found from a root, each step at most once."""

    def __init__(self, client: Client, *, max_datums: int = MAX_DATUMS) -> None:
        self.c = client.unrecorded()
        self.max_datums = max_datums
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self._keys: dict[tuple[str, ...], str] = {}
        self._commits: dict[tuple[str, str, str], CommitInfo] = {}
        self._done: set[str] = set()

    # --- bookkeeping -----------------------------------------------------------------

    def _key(self, identity: tuple[str, ...], base: str) -> str:
        """A key from names (``base``), unique per identity: the same history, the same keys."""
        if identity in self._keys:
            return self._keys[identity]
        key, n = base, 1
        while key in self.nodes:
            n += 1
            key = f"{base}#{n}"
        self._keys[identity] = key
        return key

    def _add(self, node: Node) -> str:
        if len(self.nodes) >= MAX_NODES and node.key not in self.nodes:
            raise TooBig()
        self.nodes.setdefault(node.key, node)
        return node.key

    def _link(self, source: str, target: str) -> None:
        edge = Edge(source, target)
        if edge not in self.edges:
            self.edges.append(edge)

    def _commit_info(self, project: str, repo: str, ref: str) -> CommitInfo:
        key = (project, repo, ref)
        if key not in self._commits:
            self._commits[key] = self.c.pfs.inspect_commit(Commit.from_uri(f"{Repo(repo, project=project)}@{ref}"))
        return self._commits[key]

    # --- steps -----------------------------------------------------------------------

    def commit(self, project: str, repo: str, ref: str, *, inputs: bool = True) -> tuple[str, str | None]:
        """Add a commit (and its job, and with ``inputs`` its input commits); return (commit key, job key)."""
        info = self._commit_info(project, repo, ref)
        ckey = self._add(Node(self._key(("commit", project, repo, info.id), f"commit:{project}/{repo}"), "commit",
                              project, repo, info.id, state=info.origin))
        job_key = self._job(info, ckey)
        if inputs and job_key is not None and f"inputs:{ckey}" not in self._done:
            self._done.add(f"inputs:{ckey}")
            for upstream in _inputs(info):
                up_key, _ = self.commit(upstream.repo.project or project, upstream.repo.name, upstream.id or "",
                                        inputs=True)
                self._link(up_key, job_key)
        return ckey, job_key

    def _job(self, info: CommitInfo, commit_key: str) -> str | None:
        spec = next((p for p in info.direct_provenance if Commit.from_uri(p).repo.type == "spec"), None)
        if spec is None or info.repo_type != "user":
            return None  # not a pipeline's output commit: a source
        project, pipeline = info.project, info.repo
        try:
            job = self.c.pps.inspect_job(f"{project}/{pipeline}@{info.id}")
            state, version = job.state, job.pipeline_version
        except NotFound:
            state, version = "unknown", 0
        key = self._add(Node(self._key(("job", project, pipeline, info.id), f"job:{project}/{pipeline}"), "job",
                             project, pipeline, info.id, state=state, version=version, spec=spec))
        self._link(key, commit_key)
        return key

    def file(self, project: str, repo: str, ref: str, path: str) -> str:
        """Add a file (or directory) at a commit and everything it came from; return its key."""
        commit_info = self._commit_info(project, repo, ref)
        commit_id = commit_info.id
        info = self.c.pfs.inspect_file(File(Commit(Repo(repo, project=project), None, commit_id), path))
        shown = info.path if info.type == "file" else (info.path.rstrip("/") or "/")
        fkey = self._add(Node(self._key(("file", project, repo, commit_id, shown), f"file:{project}/{repo}:{shown}"),
                              "file", project, repo, commit_id, shown, state=info.type))
        if fkey in self._done:
            return fkey
        self._done.add(fkey)
        ckey, job_key = self.commit(project, repo, commit_id, inputs=False)
        self._link(ckey, fkey)
        if job_key is None:
            return fkey
        datums = self._datums_writing(project, repo, commit_id, shown)
        if not datums:  # the datums cannot be told: go on by commits
            for upstream in _inputs(commit_info):
                up_key, _ = self.commit(upstream.repo.project or project, upstream.repo.name, upstream.id or "")
                self._link(up_key, job_key)
            return fkey
        for datum_id in datums[: self.max_datums]:
            self._datum(project, repo, commit_id, datum_id, job_key)
        if len(datums) > self.max_datums:
            more = len(datums) - self.max_datums
            mkey = self._add(Node(self._key(("more", project, repo, commit_id, shown), f"more:{project}/{repo}:{shown}"),
                                  "more", project, repo, commit_id, note=f"+{more} more datums"))
            self._link(mkey, job_key)
        return fkey

    def _datums_writing(self, project: str, pipeline: str, commit_id: str, path: str) -> list[str]:
        """IDs of the datums whose output holds ``path`` (a file, or anything under a directory)."""
        pattern = "/pfs/*/out" + ("" if path == "/" else path.rstrip("/"))
        try:
            infos = self.c.pfs.glob_file(f"{project}/{pipeline}.meta@{commit_id}", pattern)
        except PachError:
            return []
        # pachd may prefix a datum's directory with its index ("00..07-<id>").
        return sorted({i.path.split("/")[2].rsplit("-", 1)[-1] for i in infos if i.path.count("/") >= 3})

    def _datum(self, project: str, pipeline: str, job_id: str, datum_id: str, job_key: str) -> None:
        try:
            datum = self.c.pps.inspect_datum(f"{project}/{pipeline}@{job_id}", datum_id)
        except NotFound:
            return
        note = "skipped here: its output is carried over" if datum.state == "skipped" else ""
        dkey = self._add(Node(self._key(("datum", project, pipeline, job_id, datum_id),
                                        f"datum:{project}/{pipeline}:{datum_id}"),
                              "datum", project, pipeline, job_id, datum_id, state=datum.state, note=note))
        self._link(dkey, job_key)
        for item in datum.files:
            repo = item.commit.repo
            ref = item.commit.id or item.commit.branch or "master"
            up_key = self.file(repo.project or project, repo.name, ref, item.path)
            self._link(up_key, dkey)


class TooBig(Exception):
    """The walk reached ``MAX_NODES``."""


def _inputs(info: CommitInfo) -> list[Commit]:
    """The input commits in a commit's provenance (its spec commit aside)."""
    out = []
    for text in info.direct_provenance:
        ref = Commit.from_uri(text)
        if ref.repo.type == "user" and ref.id:
            out.append(Commit(ref.repo, None, ref.id))
    return sorted(out, key=lambda c: (c.repo.project or "", c.repo.name))
