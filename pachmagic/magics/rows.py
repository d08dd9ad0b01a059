"""``diff file NEW [OLD] --rows [--key COL ...]``: a row-level diff of a table between two commits.

``file.py`` hands ``diff file`` here when ``--rows`` (or ``--key``/``--format``)
is given; the diff itself is ``pachmagic.rowdiff.diff_rows`` over the session's
client (so the reads are recorded like any other). pachctl's argument order is
kept: NEW first, then OLD (default: the same path in NEW's parent commit).
"""

from __future__ import annotations

import argparse

from IPython.core.error import UsageError

from pachmagic.client import Commit, File
from pachmagic.magics.context import Context
from pachmagic.magics.parser import MagicParser
from pachmagic.rowdiff import FORMATS, RowDiff, RowDiffError, diff_rows

__all__ = ["add_arguments", "wants_rows", "diff_file_rows"]


def add_arguments(p: MagicParser) -> None:
    """The row-diff options of ``diff file``."""
    p.add_argument("--rows", action="store_true",
                   help="compare the rows of a table (CSV, TSV, Parquet, JSON lines): added, removed, changed")
    p.add_argument("--key", nargs="+", action="extend", default=[], metavar="COL",
                   help="with --rows: the column(s) identifying a row, so that changed rows are paired")
    p.add_argument("--format", choices=FORMATS, help="with --rows: the table format (default: from the file name)")


def wants_rows(args: argparse.Namespace) -> bool:
    """Whether ``diff file`` was asked for a row diff."""
    if (args.key or args.format) and not args.rows:
        raise UsageError("%pach diff file: --key and --format go with --rows")
    return bool(args.rows)


def diff_file_rows(ctx: Context, args: argparse.Namespace) -> RowDiff:
    """Run the row diff of ``diff file NEW [OLD] --rows``."""
    if args.shallow or args.name_only:
        raise UsageError("%pach diff file: --shallow and --name-only do not go with --rows")
    client = ctx.client
    new = File.from_uri(args.new)
    if args.old:
        old = File.from_uri(args.old)
    else:
        commit_id = client.pfs.inspect_file(new).commit_id or new.commit.id
        old = File(Commit(new.commit.repo, None, f"{commit_id}^"), new.path)
    try:
        return diff_rows(str(old), str(new), key=args.key or None, format=args.format, client=client)
    except RowDiffError as err:
        raise UsageError(f"%pach diff file: {err}") from None
