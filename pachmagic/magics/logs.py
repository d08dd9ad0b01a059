"""``logs``: the log lines of a pipeline, a job or a datum.

Without ``-f`` the result is a ``Logs`` object: its text is the user code's
lines (``--master`` for the pipeline master's instead, ``--raw`` for every
field as JSON), ``.messages`` the records and ``.to_frame()`` a DataFrame
(``ts``, ``pipeline``, ``job``, ``datum``, ``worker``, ``user``, ``message``).

``-f`` follows: new lines are printed as they arrive until the job is done
(with ``-j``) or the cell is interrupted. It polls the server, so it works the
same against pachd and the embedded server and always stops cleanly.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import time
from datetime import timedelta
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from IPython.core.error import UsageError

from pachmagic.client import Job, LogMessage, RecordList, defer_interrupts, to_frame
from pachmagic.magics.context import Context
from pachmagic.magics.parser import Command, MagicParser

__all__ = ["COMMANDS", "Logs", "parse_since"]

_SINCE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> timedelta:
    """A Go-style duration (``24h``, ``90m``, ``1h30m``) as a timedelta."""
    parts = _SINCE.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 30s, 15m, 24h, 1h30m")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def _line(message: LogMessage, raw: bool) -> str:
    if not raw:
        return message.message
    record = {"ts": message.ts.isoformat() if message.ts else None, "pipeline": message.pipeline,
              "job": message.job_id, "datum": message.datum_id, "user": message.user, "message": message.message}
    return json.dumps(record)


class Logs:
    """Log lines: shown as text, with the records behind them.

    Attributes
    ----------
    messages:
        The ``LogMessage`` records, oldest first.
    """

    def __init__(self, messages: list[LogMessage], *, raw: bool = False) -> None:
        self.messages = messages
        self.raw = raw

    @property
    def text(self) -> str:
        """The lines joined with newlines."""
        return "\n".join(_line(m, self.raw) for m in self.messages)

    def to_frame(self) -> pd.DataFrame:
        """The records as a DataFrame."""
        return to_frame(RecordList(LogMessage, self.messages))

    def __len__(self) -> int:
        return len(self.messages)

    def __repr__(self) -> str:
        return self.text if self.messages else "(no log lines)"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


def _build(p: MagicParser) -> None:
    p.add_argument("-p", "--pipeline", metavar="PIPELINE", help="a pipeline's logs")
    p.add_argument("-j", "--job", metavar="PIPELINE@JOB", help="a job's logs")
    p.add_argument("--datum", metavar="ID", help="with -j: one datum's logs")
    p.add_argument("--inputs", metavar="PATHS", help="only lines about these comma-separated input paths")
    p.add_argument("--master", action="store_true", help="the pipeline master's lines instead of the user code's")
    p.add_argument("--raw", action="store_true", help="every field of each line, as JSON")
    p.add_argument("-f", "--follow", action="store_true", help="print new lines as they come (until the job ends)")
    p.add_argument("--since", type=parse_since, metavar="DURATION", help="only lines younger than this (e.g. 24h)")
    p.add_argument("--tail", type=int, default=0, metavar="N", help="only the last N lines")


def _fetch(ctx: Context, args: argparse.Namespace) -> list[LogMessage]:
    job = Job.from_uri(args.job) if args.job else None
    pipeline = None if job is not None else args.pipeline
    filters = [p for p in (args.inputs or "").split(",") if p]
    messages = ctx.client.pps.get_logs(pipeline=pipeline, job=job, datum=args.datum, master=args.master,
                                       tail=args.tail, since=args.since, data_filters=filters)
    lines = list(messages)
    if not args.master and not args.raw:
        lines = [m for m in lines if m.user]
    # A deployed pachd (logs from Loki) ignores the request's tail, and so does ours: the last N shown are ours to cut.
    return lines[-args.tail:] if args.tail > 0 else lines


def _follow(ctx: Context, args: argparse.Namespace) -> None:
    client = ctx.client
    job = Job.from_uri(args.job) if args.job else None
    shown = 0
    try:
        while True:
            done = job is not None and client.pps.inspect_job(job).done
            lines = _fetch(ctx, args)
            with defer_interrupts():  # a flushing print waits on ipykernel's IOPub thread
                for message in lines[shown:]:
                    print(_line(message, args.raw), flush=True)
            shown = max(shown, len(lines))
            if done:
                return
            time.sleep(max(0.2, ctx.settings.wait_poll_seconds))
    except KeyboardInterrupt:
        return


def logs(ctx: Context, args: argparse.Namespace) -> Any:
    if not args.pipeline and not args.job:
        raise UsageError("%pach logs: give -p PIPELINE or -j PIPELINE@JOB")
    if args.datum and not args.job:
        raise UsageError("%pach logs: --datum needs -j PIPELINE@JOB")
    if args.follow:
        _follow(ctx, args)
        return None
    return Logs(_fetch(ctx, args), raw=args.raw)


COMMANDS = (
    Command(("logs",), "log lines of a pipeline, job or datum (-f follows them)", logs, _build,
            examples=("%pach logs -p contour", "%pach logs -j contour@<id> -f")),
)
