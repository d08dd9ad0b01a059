"""``dashboard``: the repo browser, pipeline DAG and job monitor panels together.

The panels live in ``pachmagic.widgets``; this module only builds them for the
session's client. They refresh in the background while shown, until closed;
re-running the cell closes the dashboard it replaces (and deleting the cell
closes its dashboard), so only what is on screen polls the server.
"""

from __future__ import annotations

import argparse
from typing import Any

from pachmagic.magics.context import Context
from pachmagic.magics.parser import Command, MagicParser

__all__ = ["COMMANDS"]


def _build(p: MagicParser) -> None:
    p.add_argument("--refresh", type=float, default=2.0, metavar="SECONDS",
                   help="seconds between background refreshes (0: only the refresh buttons)")
    p.add_argument("--jobs", type=int, default=10, metavar="N", help="how many recent jobs the job monitor shows")


def dashboard(ctx: Context, args: argparse.Namespace) -> Any:
    from pachmagic.widgets import dashboard as make

    board = make(ctx.session.quiet_client(), refresh_interval=args.refresh or None, jobs=args.jobs)
    return ctx.session.show_in_cell(ctx.cell_id, board)


COMMANDS = (
    Command(("dashboard",), "the repo browser, pipeline DAG and job monitor, live", dashboard, _build,
            examples=("%pach dashboard", "%pach dashboard --refresh 5 --jobs 20")),
)
