"""Tab completion for ``%pach``: commands, flags, and names from the server.

``candidates(line, magic)`` is a pure function of the text before the cursor
and the magic's session: it completes command words, then the command's flags
(read from its argparse parser), then values by the argument's metavar —
repos, ``repo@branch``, ``repo@ref:/paths``, pipelines, ``pipeline@job``,
projects. Names come from the connected server through the session's cache
(``PachMagic.completion_cache_seconds``); nothing connects just to complete, and
a failing server gives no completions rather than an error.

``make_completer`` adapts it to IPython's ``complete_command`` hook, whose
matches must replace only the token after IPython's delimiters (``@``, ``:``).
"""

from __future__ import annotations

import argparse
import posixpath
import re
from typing import TYPE_CHECKING, Any, Callable, Sequence

from pachmagic.client import File
from pachmagic.magics import registry
from pachmagic.magics.parser import Command

if TYPE_CHECKING:
    from pachmagic.magics.magic import PachMagic

__all__ = ["candidates", "make_completer"]

_PREFIX = re.compile(r"^\s*%{1,2}pach\b\s*")
_REF_METAVARS = ("REPO@", "NEW", "OLD", "SRC", "DST")


def _names(magic: PachMagic, key: str, fetch: Callable[[], list[str]]) -> list[str]:
    session = magic.session
    if not session.connected:
        return []
    project = session.quiet_client().project
    try:
        return session.cached((key, project), magic.completion_cache_seconds, fetch)
    except Exception:  # completion must never fail loudly
        return []


def _repos(magic: PachMagic) -> list[str]:
    return _names(magic, "repos", lambda: sorted(r.name for r in magic.session.quiet_client().pfs.list_repo()))


def _pipelines(magic: PachMagic) -> list[str]:
    return _names(magic, "pipelines", lambda: sorted(p.name for p in magic.session.quiet_client().pps.list_pipeline()))


def _projects(magic: PachMagic) -> list[str]:
    return _names(magic, "projects", lambda: sorted(p.name for p in magic.session.quiet_client().pfs.list_project()))


def _branches(magic: PachMagic, repo: str) -> list[str]:
    return _names(magic, f"branches:{repo}",
                  lambda: sorted(b.name for b in magic.session.quiet_client().pfs.list_branch(repo)))


def _jobs(magic: PachMagic, pipeline: str) -> list[str]:
    return _names(magic, f"jobs:{pipeline}",
                  lambda: [j.id for j in magic.session.quiet_client().pps.list_job(pipeline=pipeline)])


def _files(magic: PachMagic, commit: str, directory: str) -> list[str]:
    def fetch() -> list[str]:
        infos = magic.session.quiet_client().pfs.list_file(File.from_uri(f"{commit}:{directory}"))
        return [i.path + ("/" if i.type == "dir" and not i.path.endswith("/") else "") for i in infos]

    return _names(magic, f"files:{commit}:{directory}", fetch)


def _refs(magic: PachMagic, word: str, with_paths: bool) -> list[str]:
    if "@" not in word:
        return [f"{r}@" for r in _repos(magic)]
    repo, _, rest = word.partition("@")
    if ":" not in rest or not with_paths:
        return [f"{repo}@{b}" for b in _branches(magic, repo)]
    ref, _, path = rest.partition(":")
    directory = posixpath.dirname(path) if "/" in path else "/"
    return [f"{repo}@{ref}:{p}" for p in _files(magic, f"{repo}@{ref}", directory or "/")]


def _values(magic: PachMagic, kind: str, word: str) -> list[str]:
    """Completions for an argument whose metavar (or dest) is ``kind``."""
    kind = kind.upper()
    if kind.startswith(_REF_METAVARS):
        return _refs(magic, word, with_paths=":" in kind or kind in ("NEW", "OLD", "SRC", "DST"))
    if "PIPELINE@" in kind or kind in ("JOB",):
        if "@" in word:
            pipeline = word.partition("@")[0]
            return [f"{pipeline}@{j}" for j in _jobs(magic, pipeline)]
        return [f"{p}@" for p in _pipelines(magic)]
    if kind.startswith("REPO"):
        return _repos(magic)
    if kind.startswith("PIPELINE"):
        return _pipelines(magic)
    if kind == "PROJECT":
        return _projects(magic)
    if kind == "LOCAL|ADDRESS":
        return ["local"]
    if kind == "COMMAND":
        return sorted({w for c in registry.COMMANDS for w in c.words})
    return []


def _command_words(done: Sequence[str]) -> list[str]:
    n = len(done)
    return sorted({c.words[n] for c in registry.COMMANDS if len(c.words) > n and list(c.words[:n]) == list(done)})


def _argument_kind(command: Command, args: Sequence[str]) -> str | None:
    """The metavar of the argument the next token fills, given the tokens typed so far."""
    parser = command.parser()
    options: dict[str, argparse.Action] = {}
    positionals: list[argparse.Action] = []
    for action in parser._actions:  # argparse has no public accessor for these
        if action.option_strings:
            for flag in action.option_strings:
                options[flag] = action
        else:
            positionals.append(action)
    position = 0
    expecting: argparse.Action | None = None
    for token in args:
        if expecting is not None:
            expecting = None
            continue
        if token.startswith("-") and token in options:
            if options[token].nargs != 0:
                expecting = options[token]
            continue
        position += 1
    if expecting is not None:
        return str(expecting.metavar or expecting.dest).upper()
    index = 0
    for action in positionals:
        many = action.nargs in ("*", "+")
        if position <= index or many:
            return str(action.metavar or action.dest).upper()
        index += 1
    return None


def candidates(line: str, magic: PachMagic) -> list[str]:
    """Full-word completions for the last word of ``line`` (the text before the cursor)."""
    match = _PREFIX.match(line)
    if match is None:
        return []
    rest = line[match.end():]
    words = rest.split()
    if rest and not rest[-1].isspace() and words:
        word, done = words[-1], words[:-1]
    else:
        word, done = "", words
    while done and done[0] == "--verbose":
        done = done[1:]
    if not done and word.startswith("--"):
        return ["--verbose"]
    try:
        command, args = registry.resolve(done)
    except Exception:
        return [w for w in _command_words(done) if w.startswith(word)]
    if len(args) == 0 and len(command.words) < max(len(c.words) for c in registry.COMMANDS):
        longer = _command_words(list(command.words))
        if longer:
            return [w for w in longer if w.startswith(word)]
    if word.startswith("-"):
        flags = sorted(f for a in command.parser()._actions for f in a.option_strings)
        return [f for f in flags if f.startswith(word)]
    kind = _argument_kind(command, args)
    found = _values(magic, kind, word) if kind else []
    return [c for c in found if c.startswith(word)]


def make_completer(magic: PachMagic) -> Callable[[Any, Any], list[str]]:
    """An IPython ``complete_command`` hook for ``%pach`` bound to ``magic``."""

    def complete(shell: Any, event: Any) -> list[str]:
        try:
            line = event.text_until_cursor
            found = candidates(line, magic)
        except Exception:
            return []
        word = "" if not line or line[-1].isspace() else line.split()[-1]
        cut = max(0, len(word) - len(event.symbol or ""))
        return [c[cut:] for c in found if c.startswith(word)]

    return complete
