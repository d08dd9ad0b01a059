"""Tab completion for ``%pach``: commands, flags, and names from the server, with their kinds.

``candidates(line, magic)`` is a pure function of the text before the cursor
and the magic's session: it completes command words, then the command's flags
(read from its argparse parser), then values by the argument's metavar —
repos, ``repo@branch``, ``repo@ref:/paths``, pipelines, ``pipeline@job``,
projects, local files. Each candidate carries its kind (``command``, ``flag``,
``repo``, ``branch``, ``path``, ``pipeline``, ``job``, ``project``, ``file``),
which Jupyter shows beside it. Names come from the connected server through
the session's cache (``PachMagic.completion_cache_seconds``); nothing connects
just to complete, and a failing server gives no completions rather than an
error.

``install(shell, magic)`` puts it in front of IPython's completer. In a kernel
IPython completes with Jedi, which knows nothing of ``%pach`` and offers every
Python name (``abs``, ``AbstractSet``...). So inside a ``%pach`` line (or the
first line of a ``%%pach`` cell) only our candidates are offered, and nothing
at all when we have none; everywhere else IPython completes as before. Two
seams: the completer's ``completions`` (what ipykernel and the terminal call,
and the only place that can say "nothing") and the ``complete_command`` hook
(IPython's older ``complete()`` path).
"""

from __future__ import annotations

import argparse
import os
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from pachmagic.client import File
from pachmagic.magics import registry
from pachmagic.magics.parser import Command

if TYPE_CHECKING:
    from pachmagic.magics.magic import PachMagic

__all__ = ["Candidate", "candidates", "pach_line", "make_completer", "install", "uninstall"]

# A line magic, possibly assigned (``jobs = %pach list job``); a cell magic only on the cell's first line.
_LINE = re.compile(r"^\s*(?:[A-Za-z_][\w.]*\s*=\s*)?%pach\s")
_CELL = re.compile(r"^\s*%%pach\s")
_PREFIX = re.compile(r"^\s*(?:[A-Za-z_][\w.]*\s*=\s*)?%{1,2}pach\s+")
_REF_METAVARS = ("REPO@", "NEW", "OLD", "SRC", "DST")
_LOCAL_METAVARS = ("FILE", "FILE|URL", "LISTFILE|URL", "DIR", "SPEC", "LOCAL")
_NEW_NAME = ("create repo", "create project")
# IPython and Jupyter replace the word after these characters; so do we.
_DELIMITERS = "@:"


@dataclass(frozen=True)
class Candidate:
    """One completion: the whole word it completes to, and what it is."""

    text: str
    kind: str


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


def _refs(magic: PachMagic, word: str, with_paths: bool) -> list[Candidate]:
    if "@" not in word:
        return [Candidate(f"{r}@", "repo") for r in _repos(magic)]
    repo, _, rest = word.partition("@")
    if ":" not in rest or not with_paths:
        return [Candidate(f"{repo}@{b}", "branch") for b in _branches(magic, repo)]
    ref, _, path = rest.partition(":")
    directory = posixpath.dirname(path) if "/" in path else "/"
    return [Candidate(f"{repo}@{ref}:{p}", "path") for p in _files(magic, f"{repo}@{ref}", directory or "/")]


def _local_files(word: str) -> list[Candidate]:
    """Paths on this machine (``-f FILE``, ``--data-dir DIR``...), directories with a trailing ``/``."""
    if "://" in word:
        return []
    head, _, _ = word.rpartition("/")
    directory = os.path.expanduser(head + "/" if head or word.startswith("/") else ".")
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    prefix = head + "/" if head or word.startswith("/") else ""
    found = []
    for name in names:
        if name.startswith(".") and not word.rpartition("/")[2].startswith("."):
            continue
        is_dir = os.path.isdir(os.path.join(directory, name))
        found.append(Candidate(prefix + name + ("/" if is_dir else ""), "file"))
    return found


def _values(magic: PachMagic, kind: str, word: str) -> list[Candidate]:
    """Completions for an argument whose metavar (or dest) is ``kind``."""
    kind = kind.upper()
    if kind.startswith(_REF_METAVARS):
        return _refs(magic, word, with_paths=":" in kind or kind in ("NEW", "OLD", "SRC", "DST"))
    if "PIPELINE@" in kind or kind in ("JOB",):
        if "@" in word:
            pipeline = word.partition("@")[0]
            return [Candidate(f"{pipeline}@{j}", "job") for j in _jobs(magic, pipeline)]
        return [Candidate(f"{p}@", "pipeline") for p in _pipelines(magic)]
    if kind.startswith("REPO"):
        return [Candidate(r, "repo") for r in _repos(magic)]
    if kind.startswith("PIPELINE"):
        return [Candidate(p, "pipeline") for p in _pipelines(magic)]
    if kind == "PROJECT":
        return [Candidate(p, "project") for p in _projects(magic)]
    if kind == "LOCAL|ADDRESS":
        return [Candidate("local", "server")]
    if kind == "COMMAND":
        return [Candidate(w, "command") for w in sorted({w for c in registry.COMMANDS for w in c.words})]
    if kind in _LOCAL_METAVARS:
        return _local_files(word)
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


def _split(line: str) -> tuple[str, list[str]] | None:
    """The word being completed and the words before it, or None outside a ``%pach`` line."""
    match = _PREFIX.match(line)
    if match is None:
        return None
    rest = line[match.end():]
    words = rest.split()
    if rest and not rest[-1].isspace() and words:
        return words[-1], words[:-1]
    return "", words


def candidates(line: str, magic: PachMagic) -> list[Candidate]:
    """Completions of the last word of ``line`` (the text before the cursor), as whole words with kinds."""
    split = _split(line)
    if split is None:
        return []
    word, done = split
    while done and done[0] == "--verbose":
        done = done[1:]
    if not done and word.startswith("-"):
        return [Candidate(f, "flag") for f in ("--verbose",) if f.startswith(word)]
    try:
        command, args = registry.resolve(done)
    except Exception:
        return [Candidate(w, "command") for w in _command_words(done) if w.startswith(word)]
    if len(args) == 0 and len(command.words) < max(len(c.words) for c in registry.COMMANDS):
        longer = _command_words(list(command.words))
        if longer:
            return [Candidate(w, "command") for w in longer if w.startswith(word)]
    if word.startswith("-"):
        flags = sorted(f for a in command.parser()._actions for f in a.option_strings)
        return [Candidate(f, "flag") for f in flags if f.startswith(word)]
    kind = _argument_kind(command, args)
    if command.name in _NEW_NAME and kind in ("REPO", "PROJECT"):
        return []  # a name that does not exist yet: existing ones are no help
    found = _values(magic, kind, word) if kind else []
    return [c for c in found if c.text.startswith(word)]


def pach_line(text: str, offset: int) -> str | None:
    """The text before the cursor if the cursor is in a ``%pach`` line (or a ``%%pach`` first line), else None.

    Parameters
    ----------
    text:
        The whole cell.
    offset:
        The cursor's position in ``text``.
    """
    before = text[:offset]
    line_start = before.rfind("\n") + 1
    line = before[line_start:]
    if _LINE.match(line) or (line_start == 0 and _CELL.match(line)):
        return line
    return None


def _fragment(word: str) -> str:
    """The part of ``word`` that a completion replaces: after its last ``@`` or ``:``."""
    cut = max(word.rfind(d) for d in _DELIMITERS)
    return word[cut + 1:]


def _completions(line: str, offset: int, magic: PachMagic) -> Iterator[Any]:
    from IPython.core.completer import Completion

    split = _split(line)
    word = split[0] if split else ""
    fragment = _fragment(word)
    start = offset - len(fragment)
    keep = len(word) - len(fragment)
    for candidate in candidates(line, magic):
        yield Completion(start, offset, candidate.text[keep:], type=candidate.kind, signature="")


def make_completer(magic: PachMagic) -> Callable[[Any, Any], list[str]]:
    """An IPython ``complete_command`` hook for ``%pach`` bound to ``magic`` (IPython's ``complete()`` path)."""

    def complete(shell: Any, event: Any) -> list[str]:
        try:
            line = event.text_until_cursor
            found = [c.text for c in candidates(line, magic)]
        except Exception:
            return []
        word = "" if not line or line[-1].isspace() else line.split()[-1]
        cut = max(0, len(word) - len(event.symbol or ""))
        return [c[cut:] for c in found if c.startswith(word)]

    return complete


_HOOK_KEYS = ("%pach", "%%pach")


def install(shell: Any, magic: PachMagic) -> None:
    """Complete ``%pach`` lines in ``shell`` with ``magic``'s candidates only (see the module docstring)."""
    for key in _HOOK_KEYS:
        shell.set_hook("complete_command", make_completer(magic), str_key=key)
    completer = shell.Completer
    original = completer.completions

    def completions(text: str, offset: int) -> Iterator[Any]:
        line = pach_line(text, offset)
        if line is None:
            yield from original(text, offset)
            return
        try:
            found = list(_completions(line, offset, magic))
        except Exception:  # completion must never fail loudly
            found = []
        yield from found

    completions.pachmagic_original = original  # type: ignore[attr-defined]
    completer.completions = completions


def uninstall(shell: Any) -> None:
    """Give ``shell``'s completer back its own ``completions`` (``%unload_ext pachmagic``)."""
    completer = getattr(shell, "Completer", None)
    current = getattr(completer, "completions", None)
    original = getattr(current, "pachmagic_original", None)
    if completer is not None and original is not None:
        completer.completions = original
    hooks = getattr(shell, "strdispatchers", {}).get("complete_command")
    for key in _HOOK_KEYS:
        if hooks is not None and key in getattr(hooks, "strs", {}):
            del hooks.strs[key]
