"""The ``%pach`` grammar: argparse parsers that raise IPython's ``UsageError``.

Each command (``list repo``, ``put file``...) is a ``Command``: the words that
name it, a one-line summary, a function that adds its arguments to a
``MagicParser`` and a function that runs it. The noun modules (``repo.py``,
``file.py``...) declare their commands; ``registry.py`` collects them.

A ``MagicParser`` never exits the process and never prints: a bad argument
raises ``UsageError`` with the error and the usage line (IPython shows it
without a traceback), and ``-h``/``--help`` raises ``HelpRequested`` carrying
the help text, which the router returns as the cell's result.

This module knows nothing about clients or servers.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

from IPython.core.error import UsageError

if TYPE_CHECKING:
    from pachmagic.magics.context import Context

__all__ = [
    "Command",
    "HelpRequested",
    "MagicParser",
    "split_line",
    "CELL_NONE",
    "CELL_OPTIONAL",
    "CELL_REQUIRED",
]

CELL_NONE = "none"
CELL_OPTIONAL = "optional"
CELL_REQUIRED = "required"


class HelpRequested(Exception):
    """Raised instead of printing when a parser is asked for ``--help``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class MagicParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` for one ``%pach`` command that never exits.

    Parameters
    ----------
    prog:
        The command as typed, e.g. ``%pach list repo``.
    description:
        The help text's description.
    """

    def __init__(self, prog: str, description: str = "", epilog: str = "") -> None:
        super().__init__(
            prog=prog,
            description=description,
            epilog=epilog or None,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split())  # one line, however long
        raise UsageError(f"{self.prog}: {message}\n{usage}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or f"{self.prog}: exited with status {status}")

    def print_help(self, file: Any = None) -> None:
        raise HelpRequested(self.format_help())

    def print_usage(self, file: Any = None) -> None:
        raise HelpRequested(self.format_usage())


Runner = Callable[["Context", argparse.Namespace], Any]
Builder = Callable[[MagicParser], None]


def _no_arguments(parser: MagicParser) -> None:
    """A command without arguments."""


@dataclass(frozen=True)
class Command:
    """One ``%pach`` command.

    Attributes
    ----------
    words:
        The words that name it, e.g. ``("list", "repo")``.
    summary:
        One line for ``%pach help`` and the README.
    run:
        ``run(context, args)`` returns the cell's result (or None).
    build:
        Adds the command's arguments to its parser.
    cell:
        Whether ``%%pach`` may (``optional``) or must (``required``) give a cell body.
    cell_help:
        What the cell body is, for help texts.
    project:
        Whether the command takes ``--project`` (refs without a project use it).
    description:
        Longer help text (defaults to the summary).
    """

    words: tuple[str, ...]
    summary: str
    run: Runner
    build: Builder = _no_arguments
    cell: str = CELL_NONE
    cell_help: str = ""
    project: bool = True
    description: str = ""
    examples: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """The words joined: ``list repo``."""
        return " ".join(self.words)

    def parser(self) -> MagicParser:
        """A fresh parser for this command."""
        text = self.description or self.summary
        if self.cell != CELL_NONE:
            kind = "required" if self.cell == CELL_REQUIRED else "optional"
            text += f"\n\nCell body ({kind}, with %%pach): {self.cell_help}"
        epilog = ""
        if self.examples:
            epilog = "examples:\n" + "\n".join(f"  {e}" for e in self.examples)
        parser = MagicParser(f"%pach {self.name}", text, epilog)
        self.build(parser)
        if self.project:
            parser.add_argument(
                "--project",
                metavar="PROJECT",
                help="project for names without one (default: the session's project)",
            )
        return parser

    def parse(self, argv: Sequence[str]) -> argparse.Namespace:
        """Parse the arguments after the command's words (``UsageError`` if bad)."""
        return self.parser().parse_args(list(argv))


def _without_comment(line: str) -> str:
    """``line`` up to a ``#`` that starts a word outside quotes (``a#b`` and ``"# x"`` stay)."""
    quote = ""
    word_start = True
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and quote != "'":  # an escaped character is never a quote or a comment
            i += 2
            word_start = False
            continue
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and word_start:
            return line[:i]
        word_start = char.isspace()
        i += 1
    return line


def split_line(line: str) -> list[str]:
    """Split a magic line like a shell would (quotes group words, ``# ...`` is a comment).

    IPython hands a line magic the whole rest of the line, trailing comment
    included; a ``#`` that starts a word starts the comment, as in a shell.

    Raises
    ------
    UsageError
        For an unterminated quote.
    """
    try:
        return shlex.split(_without_comment(line), comments=False, posix=True)
    except ValueError as exc:
        raise UsageError(f"%pach: cannot split the line: {exc}") from None
