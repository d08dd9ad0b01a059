"""Generate the README's magic and configuration references from the code.

``python -m pachmagic.magics.reference --write README.md`` replaces what lies
between ``<!-- magic-reference:start ... -->`` / ``<!-- magic-reference:end -->``
(every command of ``registry.COMMANDS``, its usage and its arguments, from the
argparse parsers) and between ``<!-- config-reference:start ... -->`` /
``<!-- config-reference:end -->`` (every ``PachMagic`` traitlet with its type,
default and help). ``--check README.md`` exits 1 when those sections are stale.
Nothing outside the markers is touched.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Sequence

from pachmagic.magics import registry
from pachmagic.magics.magic import PachMagic
from pachmagic.magics.parser import CELL_NONE, CELL_REQUIRED, Command

__all__ = ["render_magic_reference", "render_config_reference", "update_readme", "main"]

_TYPES = {"Unicode": "str", "Int": "int", "Float": "float", "Bool": "bool"}
_SECTION = r"(<!-- {name}:start[^\n]*?-->\n)(.*?)(<!-- {name}:end -->)"


def _usage(command: Command) -> str:
    usage = command.parser().format_usage()
    return " ".join(usage.replace("usage: ", "", 1).split()).replace(" [-h]", "")


def _arguments(command: Command) -> list[str]:
    lines = []
    for action in command.parser()._actions:  # argparse keeps no public list of arguments
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            names = ", ".join(action.option_strings)
            if action.nargs != 0:
                names += f" {action.metavar or action.dest.upper()}"
        else:
            names = str(action.metavar or action.dest)
        text = " ".join((action.help or "").split())
        lines.append(f"  - `{names}`: {text}" if text else f"  - `{names}`")
    return lines


def render_magic_reference() -> str:
    """The Markdown reference of every ``%pach`` command."""
    out = [
        "Generated from the `%pach` parsers by `python -m pachmagic.magics.reference --write README.md`.",
        "",
        f"`{registry.GLOBAL_USAGE}` — `%pach help [COMMAND]` and `%pach COMMAND -h` show the same help in a "
        "notebook. `--verbose` shows a failure with its full traceback instead of one line.",
        "",
    ]
    for command in registry.COMMANDS:
        out.append(f"- **`%pach {command.name}`** — {command.summary}.")
        out.append(f"  Usage: `{_usage(command)}`")
        if command.cell != CELL_NONE:
            kind = "required" if command.cell == CELL_REQUIRED else "optional"
            out.append(f"  Cell body ({kind}, `%%pach {command.name}`): {command.cell_help}.")
        out.extend(_arguments(command))
        for example in command.examples:
            out.append(f"  - e.g. `{example}`")
    return "\n".join(out) + "\n"


def render_config_reference() -> str:
    """The Markdown table of every ``PachMagic`` option."""
    out = [
        "Set with `%config PachMagic.<option> = <value>` (e.g. `%config PachMagic.display_limit = 20`), "
        "or in an IPython profile as `c.PachMagic.<option>`. Generated from the `PachMagic` traitlets.",
        "",
        "| Option | Type | Default | What it does |",
        "|---|---|---|---|",
    ]
    for name, trait in sorted(PachMagic.class_traits(config=True).items()):
        default = trait.default_value
        help_text = " ".join((trait.help or "").split()).replace("|", "\\|")
        kind = _TYPES.get(type(trait).__name__, type(trait).__name__)
        out.append(f"| `{name}` | {kind} | `{default!r}` | {help_text} |")
    return "\n".join(out) + "\n"


def update_readme(text: str) -> str:
    """``text`` with both generated sections replaced (markers must exist)."""
    for name, body in (("magic-reference", render_magic_reference()), ("config-reference", render_config_reference())):
        pattern = re.compile(_SECTION.format(name=name), re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"README has no <!-- {name}:start --> ... <!-- {name}:end --> markers")
        match = pattern.search(text)
        assert match is not None
        text = text[: match.start(2)] + body + text[match.end(2):]
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Print the references, or ``--write``/``--check`` a README's sections."""
    parser = argparse.ArgumentParser(prog="python -m pachmagic.magics.reference", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="README", type=Path, help="update the sections in this file")
    group.add_argument("--check", metavar="README", type=Path, help="exit 1 if the sections in this file are stale")
    args = parser.parse_args(argv)
    if args.write or args.check:
        path: Path = args.write or args.check
        current = path.read_text(encoding="utf-8")
        updated = update_readme(current)
        if args.check:
            if updated != current:
                print(f"{path}: the generated references are stale; run "
                      f"python -m pachmagic.magics.reference --write {path}", file=sys.stderr)
                return 1
            return 0
        if updated != current:
            path.write_text(updated, encoding="utf-8")
        return 0
    print(render_magic_reference())
    print(render_config_reference())
    return 0


if __name__ == "__main__":
    sys.exit(main())
