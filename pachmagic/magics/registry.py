"""All ``%pach`` commands, found by their leading words, and ``%pach help``.

The noun modules declare ``COMMANDS``; this module collects them in one table
(verb noun → ``Command``), resolves a tokenised line to a command, and renders
the help index. The README's magic reference is generated from this table
(``reference.py``), so a command that is registered here is documented there.
"""

from __future__ import annotations

import argparse
import difflib
from typing import Sequence

from IPython.core.error import UsageError

from pachmagic.magics import (
    branch,
    commit,
    config,
    connect,
    dashboard,
    datum,
    file,
    job,
    lock,
    logs,
    pipeline,
    preview,
    provenance,
    pycell,
    put,
    repo,
    rundatum,
)
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import CELL_NONE, Command, MagicParser

__all__ = ["COMMANDS", "resolve", "help_text", "GLOBAL_USAGE"]

GLOBAL_USAGE = "%pach [--verbose] COMMAND [ARGS...]   (%%pach for commands that take a cell body)"


def _help(ctx: Context, args: argparse.Namespace) -> Text:
    return Text(help_text(args.command))


def _build_help(p: MagicParser) -> None:
    p.add_argument("command", nargs="*", metavar="COMMAND", help="a command, e.g. 'list repo'")


_HELP = Command(("help",), "this index, or one command's arguments", _help, _build_help, project=False)

COMMANDS: tuple[Command, ...] = (
    *connect.COMMANDS,
    *config.COMMANDS,
    *repo.COMMANDS,
    *branch.COMMANDS,
    *commit.COMMANDS,
    *put.COMMANDS,
    *file.COMMANDS,
    *pipeline.COMMANDS,
    *pycell.COMMANDS,
    *job.COMMANDS,
    *datum.COMMANDS,
    *preview.COMMANDS,
    *rundatum.COMMANDS,
    *logs.COMMANDS,
    *dashboard.COMMANDS,
    *lock.COMMANDS,
    *provenance.COMMANDS,
    _HELP,
)

_BY_WORDS: dict[tuple[str, ...], Command] = {c.words: c for c in COMMANDS}
assert len(_BY_WORDS) == len(COMMANDS), "two commands share their words"
_MAX_WORDS = max(len(c.words) for c in COMMANDS)


def resolve(tokens: Sequence[str]) -> tuple[Command, list[str]]:
    """Find the command named by the leading tokens.

    Returns
    -------
    tuple[Command, list[str]]
        The command and the remaining tokens (its arguments).

    Raises
    ------
    UsageError
        For an unknown command, with the closest known ones.
    """
    for n in range(min(_MAX_WORDS, len(tokens)), 0, -1):
        command = _BY_WORDS.get(tuple(tokens[:n]))
        if command is not None:
            return command, list(tokens[n:])
    typed = " ".join(tokens[:2])
    names = [c.name for c in COMMANDS]
    close = difflib.get_close_matches(typed, names, n=3, cutoff=0.5)
    if not close and tokens:
        close = [n for n in names if n.split()[0] == tokens[0]][:8]
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise UsageError(f"%pach: unknown command {typed!r}{hint} (see %pach help)")


def help_text(words: Sequence[str] = ()) -> str:
    """The help index, or the full help of the command named by ``words``."""
    if words:
        command, rest = resolve(words)
        if rest:
            raise UsageError(f"%pach help: unknown command {' '.join(words)!r} (see %pach help)")
        return command.parser().format_help()
    width = max(len(c.name) for c in COMMANDS) + 2
    lines = [f"usage: {GLOBAL_USAGE}", "", "commands:"]
    for command in COMMANDS:
        cell = "  [%%pach: cell body]" if command.cell != CELL_NONE else ""
        lines.append(f"  {command.name.ljust(width)}{command.summary}{cell}")
    lines += ["", "%pach help COMMAND (or %pach COMMAND -h) shows a command's arguments;",
              "%pach --verbose COMMAND shows the full error on failure."]
    return "\n".join(lines)
