"""``%%pach pipeline NAME --input REPO:GLOB``: the cell body is Python that becomes the transform.

The spec is ``transform: {image: IMAGE, cmd: ["python3"], stdin: <the cell's
lines>}``: Pachyderm pipes ``stdin`` into ``python3``, so the same spec runs
unchanged on a cluster with a Python image (default ``PachMagic.default_image``)
and on the embedded server. The code reads ``/pfs/<input>`` and writes
``/pfs/out`` as any transform does. Re-running the cell updates the pipeline
(``--reprocess`` to redo datums already processed); ``--dry-run`` shows the
spec without creating anything.
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from pachmagic.errors import NotFound
from pachmagic.magics.context import Context
from pachmagic.magics.parser import CELL_REQUIRED, Command, MagicParser
from pachmagic.magics.pipeline import create_from_spec
from pachmagic.magics.preview import input_from_flags

__all__ = ["COMMANDS", "python_spec"]


def _env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise UsageError(f"%%pach pipeline: invalid --env {pair!r}: expected KEY=VALUE")
        env[key] = value
    return env


def python_spec(name: str, code: str, args: argparse.Namespace, image: str) -> dict[str, Any]:
    """The pipeline spec whose transform runs ``code`` with ``python3`` (stdin)."""
    pipeline: dict[str, Any] = {"name": name}
    if args.project:
        pipeline["project"] = {"name": args.project}
    transform: dict[str, Any] = {"image": args.image or image, "cmd": ["python3"], "stdin": code.splitlines()}
    env = _env(args.env)
    if env:
        transform["env"] = env
    spec: dict[str, Any] = {"pipeline": pipeline, "transform": transform,
                            "input": input_from_flags(args.input, args.union)}
    if args.description:
        spec["description"] = args.description
    if args.parallelism:
        spec["parallelism_spec"] = {"constant": args.parallelism}
    if args.datum_tries:
        spec["datum_tries"] = args.datum_tries
    return spec


def _build(p: MagicParser) -> None:
    p.add_argument("name", metavar="NAME", help="the pipeline's name (also its output repo's)")
    p.add_argument("--input", action="append", required=True, metavar="[NAME=]REPO[@BRANCH]:GLOB",
                   help="an input, e.g. photos:/* ; repeat to cross several (or --union)")
    p.add_argument("--union", action="store_true", help="union the inputs instead of crossing them")
    p.add_argument("--image", metavar="IMAGE", help="the image a cluster runs it in (default: PachMagic.default_image)")
    p.add_argument("-d", "--description", default="", help="the pipeline's description")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="an environment variable")
    p.add_argument("--parallelism", type=int, default=0, metavar="N", help="workers (parallelism_spec.constant)")
    p.add_argument("--datum-tries", type=int, default=0, metavar="N", help="tries per datum (default 3)")
    p.add_argument("--reprocess", action="store_true", help="when updating, redo datums already processed")
    p.add_argument("--dry-run", action="store_true", help="show the spec without creating anything")
    p.add_argument("--wait", action="store_true", default=None, help="wait for the first job (default: PachMagic.auto_wait)")


def python_pipeline(ctx: Context, args: argparse.Namespace) -> Any:
    code = ctx.cell or ""
    spec = python_spec(args.name, code, args, ctx.settings.default_image)
    if args.dry_run:
        return create_from_spec(ctx, spec, update=False, reprocess=False, dry_run=True, wait=None)
    try:
        ctx.client.pps.inspect_pipeline(args.name)
        exists = True
    except NotFound:
        exists = False
    return create_from_spec(ctx, spec, update=exists, reprocess=args.reprocess, dry_run=False, wait=args.wait)


COMMANDS = (
    Command(("pipeline",), "create or update a pipeline whose transform is the cell's Python code",
            python_pipeline, _build, cell=CELL_REQUIRED, project=True,
            cell_help="Python code run with python3 in the pipeline (reads /pfs/<input>, writes /pfs/out)",
            examples=("%%pach pipeline sizes --input photos:/*",)),
)
