"""``preview datums``: which files land in which datum, computed without running anything.

The input spec comes from the cell body (a pipeline spec, or just its
``input``; JSON or YAML), from ``-f FILE``, from ``--pipeline NAME`` (an
existing pipeline's input) or from ``--input [NAME=]REPO[@BRANCH]:GLOB`` flags
(several are crossed, or unioned with ``--union``). Each PFS input is globbed
on the server (``GlobFile`` on the branch head), then the datums are planned
by the same rules the embedded server uses (``pachmagic.pachyderm.datums``):
``cross`` is a Cartesian product, ``union`` a concatenation, IDs are Pachyderm's
datum IDs, deduplicated and sorted. Specs with ``join`` or
``group`` inputs (whose keys come from glob capture groups) are planned by the
server instead, with ``ListDatum`` on the input spec: a dry run that works on
the embedded server and on a real pachd alike — except over given input commits
(``--pipeline ... --input-commit``), which ListDatum cannot read: those are
planned here by the same rules.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
import yaml
from IPython.core.error import UsageError

from pachmagic.client import Client
from pachmagic.errors import InvalidArgument, NotFound
from pachmagic.pachyderm import datums as rules
from pachmagic.pachyderm.inputs import input_from_dict, pfs_inputs, sorted_input
from pachmagic.pachyderm.spec import parse_pipeline_specs, spec_to_dict
from pachmagic.magics import skips
from pachmagic.magics.context import Context
from pachmagic.magics.parser import CELL_OPTIONAL, Command, MagicParser

__all__ = ["COMMANDS", "DatumFile", "plan_datums", "input_from_flags", "normalise_input", "datums_frame"]

_INPUT = re.compile(r"^(?:(?P<name>[\w-]+)=)?(?P<repo>(?:[\w-]+/)?[\w-]+)(?:@(?P<branch>[\w-]+))?:(?P<glob>.+)$")


@dataclass(frozen=True)
class DatumFile:
    """One input's share of a datum."""

    name: str
    project: str
    repo: str
    branch: str
    path: str
    type: str
    size: int
    hash: str = ""  # content hash (hex) as GlobFile gives it; "" for reference inputs (not part of skipping)


def input_from_flags(inputs: list[str], union: bool) -> dict[str, Any]:
    """An input spec from ``[NAME=]REPO[@BRANCH]:GLOB`` flags (several: cross, or union)."""
    nodes = []
    for text in inputs:
        match = _INPUT.match(text)
        if match is None:
            raise UsageError(f"invalid --input {text!r}: expected [NAME=]REPO[@BRANCH]:GLOB, e.g. photos:/*")
        project, _, repo = match["repo"].rpartition("/")
        pfs: dict[str, Any] = {"repo": repo, "glob": match["glob"]}
        if project:
            pfs["project"] = project
        if match["name"]:
            pfs["name"] = match["name"]
        if match["branch"]:
            pfs["branch"] = match["branch"]
        nodes.append({"pfs": pfs})
    if len(nodes) == 1:
        return nodes[0]
    return {"union" if union else "cross": nodes}


def normalise_input(spec: str | dict[str, Any]) -> dict[str, Any]:
    """The ``input`` of a pipeline spec (or of a bare input spec), validated, with snake_case keys.

    Syntax errors and unknown fields are reported by the spec parser (with line/column, or the field's name).
    """
    doc: Any = spec
    if isinstance(spec, str):
        try:
            doc = json.loads(spec) if spec.lstrip().startswith("{") else yaml.safe_load(spec)
        except (ValueError, yaml.YAMLError):
            parse_pipeline_specs(spec)  # raises InvalidArgument saying where
            raise
    if not isinstance(doc, dict):
        raise UsageError("%pach preview datums: the spec must be a mapping (a pipeline spec or an input spec)")
    if "pipeline" not in doc:
        doc = {"pipeline": {"name": "preview"}, "input": doc["input"] if "input" in doc else doc}
    requests = parse_pipeline_specs(doc)
    return dict(spec_to_dict(requests[0]).get("input", {}))


@dataclass(frozen=True)
class _Match:
    """A GlobFile result as datum planning reads it."""

    path: str
    is_dir: bool
    size: int
    hash: bytes


class _GlobSource:
    """One input's branch head, globbed on the server (an ``InputSource``)."""

    def __init__(self, client: Client, project: str, repo: str, commit: str) -> None:
        self.client = client
        self.ref = f"{project}/{repo}@{commit}"
        self.commit = commit
        client.pfs.inspect_repo(f"{project}/{repo}")  # a missing repo is an error, a missing branch is empty

    def glob(self, pattern: str) -> Iterator[_Match]:
        try:
            infos = self.client.pfs.glob_file(self.ref, pattern)
        except NotFound:
            return
        for info in infos:
            yield _Match(info.path, info.type == "dir", info.size_bytes, bytes.fromhex(info.hash))

    def is_empty(self) -> bool:
        return next(iter(self.glob("/*")), None) is None


def _plan_here(client: Client, node: dict[str, Any]) -> list[tuple[str, tuple[DatumFile, ...]]]:
    """Datums of a cross/union tree planned here, by the server's rules, over GlobFile results."""
    if _has(node, "cron"):
        raise UsageError("%pach preview datums: cron inputs are not previewed (their datums are ticks)")
    try:
        # Sorted by the names the spec gives, before they are defaulted, as pachd does.
        tree = sorted_input(input_from_dict(node))
    except InvalidArgument as err:
        raise UsageError(f"%pach preview datums: {err.details}") from None
    sources: dict[str, _GlobSource] = {}
    seen: dict[str, tuple[str, str, str]] = {}
    for pfs in pfs_inputs(tree):
        if not pfs.glob:
            raise UsageError(f"input {pfs.name or pfs.repo!r} has no glob")
        # The defaults pachd fills in (the server's validation does it for real pipelines).
        pfs.project = pfs.project or client.project
        pfs.name = pfs.name or pfs.repo
        pfs.branch = pfs.branch or "master"
        where = (pfs.project, pfs.repo, pfs.commit or pfs.branch)
        if seen.setdefault(pfs.name, where) != where:
            raise UsageError(f'%pach preview datums: input name "{pfs.name}" is used for two repos; set "name"')
        if pfs.name not in sources:
            sources[pfs.name] = _GlobSource(client, *where)
    try:
        planned = rules.plan(tree, sources)
    except InvalidArgument:
        raise UsageError("%pach preview datums: the input spec has no pfs, cross, union, join or group input") from None
    return [(d.id, tuple(_datum_file(i) for i in d.inputs)) for d in planned]


def _datum_file(item: rules.DatumInput) -> DatumFile:
    return DatumFile(item.name, item.project, item.repo, item.branch, item.path.rstrip("/") or "/",
                     "dir" if item.is_dir else "file", item.size, "" if item.reference else item.hash.hex())


def _has(node: dict[str, Any], kind: str) -> bool:
    return bool(node.get(kind)) or any(_has(c, kind) for c in _children(node))


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [child for kind in ("cross", "union", "join", "group") for child in node.get(kind) or []]


def _needs_server(node: dict[str, Any]) -> bool:
    return _has(node, "join") or _has(node, "group")


def _pfs_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    own = [node["pfs"]] if "pfs" in node else []
    return own + [p for child in _children(node) for p in _pfs_nodes(child)]


def _plan_on_server(client: Client, node: dict[str, Any]) -> list[tuple[str, tuple[DatumFile, ...]]]:
    """Datums planned by the server (``ListDatum`` with the input spec: nothing runs)."""
    found: dict[tuple[str, str, str], tuple[str, int]] = {}  # (project, repo, path) -> (type, size)
    names: dict[tuple[str, str], str] = {}
    for pfs in _pfs_nodes(node):
        project = pfs.get("project") or client.project
        repo = pfs.get("repo", "")
        names.setdefault((project, repo), pfs.get("name") or repo)
        source = _GlobSource(client, project, repo, pfs.get("commit") or pfs.get("branch") or "master")
        for match in source.glob(pfs.get("glob") or "/"):
            found[(project, repo, match.path.rstrip("/") or "/")] = ("dir" if match.is_dir else "file", match.size)
    datums = []
    for info in client.pps.list_datum(input=node):
        files = []
        for index, ref in enumerate(info.files):
            repo = ref.commit.repo
            project = repo.project or client.project
            path = ref.path.rstrip("/") or "/"
            key = (project, repo.name, path)
            if key not in found:  # globs with capture groups match nothing as plain globs
                info_ = client.pfs.inspect_file(f"{project}/{repo.name}@{ref.commit.id or ref.commit.branch}:{path}")
                found[key] = (info_.type, info_.size_bytes)
            kind, size = found[key]
            name = names.get((project, repo.name), repo.name)
            digest = info.hashes[index] if index < len(info.hashes) else ""
            files.append(DatumFile(name, project, repo.name, ref.commit.branch or "master", path, kind, size, digest))
        datums.append((info.id, tuple(files)))
    return sorted(datums)


def plan_datums(client: Client, node: dict[str, Any]) -> list[tuple[str, tuple[DatumFile, ...]]]:
    """Every datum of an input spec over the current branch heads: ``(datum id, inputs)``, sorted by id."""
    # ListDatum plans over branch heads only (pachd replaces a given ``commit``; ours refuses
    # it), so a spec pinned to input commits (``--input-commit``) is planned here.
    if _needs_server(node) and not any(p.get("commit") for p in _pfs_nodes(node)):
        return _plan_on_server(client, node)
    return _plan_here(client, node)


def datums_frame(datums: list[tuple[str, tuple[DatumFile, ...]]]) -> pd.DataFrame:
    """One row per (datum, input file): ``datum`` (0-based), ``datum_id``, ``input``, ``repo``, ``branch``, ``path``..."""
    columns = ["datum", "datum_id", "input", "project", "repo", "branch", "path", "type", "size"]
    rows = [
        (n, key, f.name, f.project, f.repo, f.branch, f.path, f.type, f.size)
        for n, (key, files) in enumerate(datums)
        for f in files
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.astype({c: "str" for c in columns if c not in ("datum", "size")} | {"datum": "int64", "size": "int64"})
    frame.attrs["pachmagic"] = {"kind": "DatumPreview", "sizes": ["size"], "durations": []}  # human sizes in HTML
    return frame


def _build(p: MagicParser) -> None:
    p.add_argument("--input", action="append", default=[], metavar="[NAME=]REPO[@BRANCH]:GLOB",
                   help="a PFS input; repeat to cross several (or --union)")
    p.add_argument("--union", action="store_true", help="union the --input flags instead of crossing them")
    p.add_argument("-f", "--file", metavar="FILE", help="a pipeline spec (or input spec) file")
    p.add_argument("--pipeline", metavar="PIPELINE",
                   help="an existing pipeline's input; marks each datum skip, new or changed against its last job")
    p.add_argument("--input-commit", action="append", default=[], metavar="REPO@COMMIT",
                   help="with --pipeline: plan over this commit of an input repo instead of its branch head")


def preview_datums(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    given = [bool(args.input), bool(args.file), bool(args.pipeline), bool(ctx.cell and ctx.cell.strip())]
    if sum(given) != 1:
        raise UsageError("%pach preview datums: give exactly one of --input, -f FILE, --pipeline or a cell body")
    client = ctx.client
    if args.input:
        node = input_from_flags(args.input, args.union)
        node = normalise_input({"input": node})
    elif args.file:
        node = normalise_input(Path(args.file).expanduser().read_text(encoding="utf-8"))
    elif args.pipeline:
        pipeline = client.pps.inspect_pipeline(args.pipeline)
        node = skips.at_commits(normalise_input(pipeline.spec), args.input_commit, pipeline.project)
        planned = plan_datums(client, node)
        return skips.annotate(client, pipeline.project, pipeline.name, planned, datums_frame(planned),
                              ctx.settings.display_limit)
    else:
        node = normalise_input(ctx.cell or "")
    if args.input_commit:
        raise UsageError("%pach preview datums: --input-commit goes with --pipeline")
    return ctx.frame(datums_frame(plan_datums(client, node)))


COMMANDS = (
    Command(("preview", "datums"), "which files land in which datum for an input spec (nothing runs)",
            preview_datums, _build, cell=CELL_OPTIONAL,
            cell_help="an input spec or a whole pipeline spec (JSON or YAML)",
            examples=("%pach preview datums --input photos:/*",
                      "%pach preview datums --input photos:/* --input models:/",
                      "%pach preview datums --pipeline contour",
                      "%pach preview datums --pipeline contour --input-commit photos@<id>")),
)
