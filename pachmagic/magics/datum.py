"""``list|inspect|restart datum``.

``list datum PIPELINE@JOB`` lists a job's datums (``id``, ``files``,
``state``, ``time``); ``list datum -f SPEC`` previews the datums of a spec
instead, as pachctl's dry run does (see ``preview.py``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from IPython.core.error import UsageError

from pachmagic.client import DatumInfo, Job, to_frame
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import Command, MagicParser
from pachmagic.magics.preview import datums_frame, normalise_input, plan_datums

__all__ = ["COMMANDS"]


def _build_list(p: MagicParser) -> None:
    p.add_argument("job", metavar="PIPELINE@JOB", nargs="?", help="the job whose datums to list")
    p.add_argument("-f", "--file", metavar="SPEC", help="preview the datums of this pipeline spec instead")


def list_datum(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    if (args.job is None) == (args.file is None):
        raise UsageError("%pach list datum: give PIPELINE@JOB, or -f SPEC for a preview")
    if args.file:
        node = normalise_input(Path(args.file).expanduser().read_text(encoding="utf-8"))
        return ctx.frame(datums_frame(plan_datums(ctx.client, node)))
    return ctx.frame(to_frame(ctx.client.pps.list_datum(Job.from_uri(args.job)), kind=DatumInfo))


def _build_inspect(p: MagicParser) -> None:
    p.add_argument("job", metavar="PIPELINE@JOB", help="the job")
    p.add_argument("datum", metavar="DATUM", help="the datum's id")


def inspect_datum(ctx: Context, args: argparse.Namespace) -> DatumInfo:
    return ctx.client.pps.inspect_datum(Job.from_uri(args.job), args.datum)


def _build_restart(p: MagicParser) -> None:
    p.add_argument("job", metavar="PIPELINE@JOB", help="the job")
    p.add_argument("paths", metavar="PATHS", help="comma-separated input paths selecting the datums to restart")


def restart_datum(ctx: Context, args: argparse.Namespace) -> Text:
    job = Job.from_uri(args.job)
    filters = [p for p in args.paths.split(",") if p]
    ctx.client.pps.restart_datum(job, data_filters=filters)
    return Text(f"restarting the datums of {job} matching {', '.join(filters)}")


COMMANDS = (
    Command(("list", "datum"), "a job's datums as a DataFrame (or -f SPEC: a preview)", list_datum, _build_list),
    Command(("inspect", "datum"), "a datum's details", inspect_datum, _build_inspect),
    Command(("restart", "datum"), "restart a job's datums matching input paths", restart_datum, _build_restart),
)
