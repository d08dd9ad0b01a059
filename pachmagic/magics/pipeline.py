"""``create|update|list|inspect|delete|start|stop pipeline``.

Specs are pachctl's JSON or YAML, from ``-f FILE|URL`` or the ``%%pach`` cell
body (several documents create several pipelines). Syntax errors say the line
and column, unknown fields are named, missing input repos are reported with
similar names. ``--dry-run`` checks all that without creating anything and
returns the normalised spec. With ``--wait`` (or ``PachMagic.auto_wait``) the
magic waits for the pipelines' first jobs.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from IPython.core.error import UsageError

from pachmagic.client import JobInfo, PipelineInfo, RecordList, to_frame
from pachmagic.pachyderm.spec import parse_pipeline_specs, spec_to_dict
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import CELL_OPTIONAL, Command, MagicParser

__all__ = ["COMMANDS", "pfs_inputs", "create_from_spec"]


def pfs_inputs(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every PFS input (as a dict with snake_case keys) of an input tree, in order."""
    if "pfs" in node:
        yield node["pfs"]
    for kind in ("cross", "union", "join", "group"):
        for child in node.get(kind, ()):
            yield from pfs_inputs(child)


def _read_spec(ctx: Context, source: str | None) -> str:
    if source and ctx.cell is not None and ctx.cell.strip():
        raise UsageError("%pach create pipeline: give either -f FILE or a cell body, not both")
    if source:
        if "://" in source:
            with urllib.request.urlopen(source, timeout=60) as response:  # noqa: S310 - user-chosen URL
                return str(response.read().decode("utf-8"))
        return Path(source).expanduser().read_text(encoding="utf-8")
    if ctx.cell is not None and ctx.cell.strip():
        return ctx.cell
    raise UsageError("%pach create pipeline: give -f FILE|URL, or the spec (JSON or YAML) as a %%pach cell body")


def _check_inputs(ctx: Context, specs: list[dict[str, Any]]) -> None:
    client = ctx.client
    for spec in specs:
        for pfs in pfs_inputs(spec.get("input", {})):
            repo = f"{pfs['project']}/{pfs['repo']}" if pfs.get("project") else pfs.get("repo", "")
            client.pfs.inspect_repo(repo)


def wait_first_jobs(ctx: Context, names: list[str]) -> pd.DataFrame:
    """Wait for the newest job of each pipeline; return them as a DataFrame."""
    from pachmagic.magics.job import job_frame, wait_jobs

    client = ctx.client

    def fetch(wait: bool) -> list[JobInfo]:
        jobs = []
        for name in names:
            latest = client.pps.list_job(pipeline=name, number=1)
            if latest:
                jobs.append(client.pps.inspect_job(latest[0].job, wait=wait))
        return jobs

    return ctx.frame(job_frame(RecordList(JobInfo, wait_jobs(ctx, fetch, ", ".join(names)))))


def create_from_spec(
    ctx: Context, spec: str | dict[str, Any], *, update: bool, reprocess: bool, dry_run: bool, wait: bool | None
) -> Any:
    """Create (or update) pipelines from a spec; the shared end of ``create pipeline`` and ``%%pach pipeline``."""
    specs = [spec_to_dict(r) for r in parse_pipeline_specs(spec)]
    client = ctx.client
    if dry_run:
        _check_inputs(ctx, specs)
        # The server validates too (names free, inputs exist) and creates nothing.
        client.pps.create_pipeline(spec, update=update, reprocess=reprocess, dry_run=True)
        return Text(json.dumps(specs[0] if len(specs) == 1 else specs, indent=2), specs=specs)
    created = client.pps.create_pipeline(spec, update=update, reprocess=reprocess)
    ctx.session.forget()
    if ctx.settings.auto_wait if wait is None else wait:
        return wait_first_jobs(ctx, [p.name for p in created])
    return None


def _build_create(p: MagicParser) -> None:
    p.add_argument("-f", "--file", metavar="FILE|URL", help="the spec (JSON or YAML); default: the cell body")
    p.add_argument("--dry-run", action="store_true", help="validate and show the spec without creating anything")
    p.add_argument("--wait", action="store_true", default=None, help="wait for the first jobs (default: PachMagic.auto_wait)")


def _build_update(p: MagicParser) -> None:
    _build_create(p)
    p.add_argument("--reprocess", action="store_true", help="reprocess datums already processed by an earlier version")


def create_pipeline(ctx: Context, args: argparse.Namespace) -> Any:
    return create_from_spec(ctx, _read_spec(ctx, args.file), update=False, reprocess=False,
                            dry_run=args.dry_run, wait=args.wait)


def update_pipeline(ctx: Context, args: argparse.Namespace) -> Any:
    return create_from_spec(ctx, _read_spec(ctx, args.file), update=True, reprocess=args.reprocess,
                            dry_run=args.dry_run, wait=args.wait)


def _build_list(p: MagicParser) -> None:
    p.add_argument("pipeline", metavar="PIPELINE", nargs="?", help="only this pipeline")
    p.add_argument("--spec", action="store_true", help="the specs (JSON) instead of the table")
    p.add_argument("--state", action="append", default=[], metavar="STATE",
                   help="only pipelines in this state (running, paused, failure...); repeatable")
    p.add_argument("-A", "--all-projects", action="store_true", help="pipelines of every project")
    p.add_argument("--history", type=int, default=0, metavar="N",
                   help="also N earlier versions of each pipeline (-1: every version)")


def list_pipeline(ctx: Context, args: argparse.Namespace) -> pd.DataFrame | Text:
    infos = ctx.client.pps.list_pipeline(
        args.pipeline, details=args.spec, all_projects=args.all_projects, history=args.history
    )
    wanted = {s.lower().removeprefix("pipeline_") for s in args.state}
    kept = RecordList(PipelineInfo, [
        i for i in infos
        if (args.pipeline is None or i.name == args.pipeline.rpartition("/")[2]) and (not wanted or i.state in wanted)
    ])
    if args.spec:
        specs = [i.spec for i in kept]
        return Text(json.dumps(specs, indent=2, default=str), specs=specs)
    return ctx.frame(to_frame(kept, kind=PipelineInfo))


def _build_name(p: MagicParser) -> None:
    p.add_argument("pipeline", metavar="PIPELINE", help="[project/]name")


def inspect_pipeline(ctx: Context, args: argparse.Namespace) -> PipelineInfo:
    return ctx.client.pps.inspect_pipeline(args.pipeline)


def _build_delete(p: MagicParser) -> None:
    p.add_argument("pipeline", metavar="PIPELINE", nargs="?", help="[project/]name")
    p.add_argument("--all", action="store_true", help="delete every pipeline")
    p.add_argument("-f", "--force", action="store_true", help="delete even if other pipelines depend on it")
    p.add_argument("--keep-repo", action="store_true", help="keep the output repo (as a plain repo)")
    p.add_argument("-A", "--all-projects", action="store_true", help="with --all: in every project")


def delete_pipeline(ctx: Context, args: argparse.Namespace) -> Text | None:
    client = ctx.client
    if args.all == (args.pipeline is not None):
        raise UsageError("%pach delete pipeline: give either PIPELINE or --all")
    ctx.session.forget()
    if args.pipeline:
        client.pps.delete_pipeline(args.pipeline, force=args.force, keep_repo=args.keep_repo)
        return None
    infos = list(client.pps.list_pipeline(all_projects=args.all_projects))
    # Downstream pipelines first, so that no deletion leaves a dangling input.
    for info in reversed(infos):
        client.pps.delete_pipeline(info.pipeline, force=True, keep_repo=args.keep_repo)
    return Text(f"deleted {len(infos)} pipeline{'s' if len(infos) != 1 else ''}")


def start_pipeline(ctx: Context, args: argparse.Namespace) -> None:
    ctx.client.pps.start_pipeline(args.pipeline)


def stop_pipeline(ctx: Context, args: argparse.Namespace) -> None:
    ctx.client.pps.stop_pipeline(args.pipeline)


_SPEC_HELP = "the pipeline spec, JSON or YAML (several documents for several pipelines)"

COMMANDS = (
    Command(("create", "pipeline"), "create pipelines from a JSON/YAML spec (-f or the cell body)",
            create_pipeline, _build_create, cell=CELL_OPTIONAL, cell_help=_SPEC_HELP,
            examples=("%pach create pipeline -f contour.yaml", "%%pach create pipeline   (cell body = spec)")),
    Command(("update", "pipeline"), "update pipelines from a spec (--reprocess to redo datums)",
            update_pipeline, _build_update, cell=CELL_OPTIONAL, cell_help=_SPEC_HELP),
    Command(("list", "pipeline"), "pipelines as a DataFrame (--spec for their specs)", list_pipeline, _build_list),
    Command(("inspect", "pipeline"), "a pipeline's details and spec", inspect_pipeline, _build_name),
    Command(("delete", "pipeline"), "delete a pipeline (or --all) with its output, spec and meta repos",
            delete_pipeline, _build_delete),
    Command(("start", "pipeline"), "restart a stopped pipeline", start_pipeline, _build_name),
    Command(("stop", "pipeline"), "stop a pipeline (running jobs are killed)", stop_pipeline, _build_name),
)
