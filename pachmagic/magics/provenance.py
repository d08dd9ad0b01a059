"""``provenance REF``: where a file, commit or job came from, drawn inline.

The walk and the drawing live in ``pachmagic.provenance``; this module parses
the command and hands it the session's client (tracing is not recorded as a
read by a data lock).
"""

from __future__ import annotations

import argparse

from IPython.core.error import UsageError

from pachmagic.magics.context import Context
from pachmagic.magics.parser import Command, MagicParser
from pachmagic.provenance import Lineage, trace

__all__ = ["COMMANDS"]


def _build(p: MagicParser) -> None:
    p.add_argument("ref", metavar="REPO@REF[:PATH]",
                   help="a file (repo@ref:/path), a commit (repo@ref) or a job (pipeline@<job id>)")
    p.add_argument("--max-datums", type=int, default=20, metavar="N",
                   help="datums shown per output path; more become one '+N more datums' step (default 20)")


def provenance(ctx: Context, args: argparse.Namespace) -> Lineage:
    if args.max_datums < 1:
        raise UsageError("%pach provenance: --max-datums must be at least 1")
    return trace(ctx.client, args.ref, max_datums=args.max_datums)


COMMANDS = (
    Command(("provenance",), "where a file, commit or job came from: an SVG graph back to the source data "
            "(.frame: a DataFrame)", provenance, _build,
            examples=("%pach provenance histogram@master:/landscape.png", "%pach provenance histogram@master",
                      "lineage = %pach provenance contour@<job id>")),
)
