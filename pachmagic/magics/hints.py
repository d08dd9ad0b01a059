"""What to do next after an error: the hint shown after the one-line message.

Hints are best effort and never fail: a missing repo lists similar repo names,
a missing pipeline similar pipelines, a missing branch the repo's branches, an
unreachable server how to start one. The missing name is read from the
server's (Pachyderm's canonical) message only to *suggest*; no behaviour
depends on the message text.
"""

from __future__ import annotations

import difflib
import re
from typing import Callable, Iterable

from pachmagic.client import Client
from pachmagic.errors import ConnectionFailed, NotFound, PachError

__all__ = ["hint_for", "did_you_mean"]

_REPO = re.compile(r"repo (?:(?P<project>[\w-]+)/)?(?P<name>[\w-]+)(?:\.\w+)? not found")
_PIPELINE = re.compile(r'pipeline "(?:(?P<project>[\w-]+)/)?(?P<name>[\w-]+)" not found')
_BRANCH = re.compile(r'branch "(?P<branch>[\w-]+)" not found in repo (?:(?P<project>[\w-]+)/)?(?P<repo>[\w-]+)')
_PROJECT = re.compile(r'project "?(?P<name>[\w-]+)"? not found')


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``did you mean: a, b?`` for the candidates close to ``name`` ('' if none)."""
    options = sorted(set(candidates) - {name})
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    if not close:
        close = [c for c in options if name.lower() in c.lower() or c.lower() in name.lower()][:3]
    return f"did you mean: {', '.join(close)}?" if close else ""


def _existing(names: Callable[[], Iterable[str]], plural: str, name: str) -> str:
    try:
        known = list(names())
    except PachError:
        return ""
    suggestion = did_you_mean(name, known)
    if suggestion:
        return suggestion
    if not known:
        return f"there are no {plural} yet"
    listed = ", ".join(sorted(known)[:8]) + (", ..." if len(known) > 8 else "")
    return f"existing {plural}: {listed}"


def hint_for(error: BaseException, client: Client | None) -> str:
    """The hint for ``error`` ('' when there is nothing useful to say).

    Parameters
    ----------
    error:
        The error a command raised.
    client:
        The session's client, to look up similar names (None when not connected).
    """
    if isinstance(error, ConnectionFailed):
        return "start an embedded server with `%pach connect local`, or `%pach connect ADDRESS`"
    if not isinstance(error, NotFound) or client is None:
        return ""
    text = error.details
    match = _BRANCH.search(text)
    if match:
        repo = f"{match['project'] or client.project}/{match['repo']}"
        hint = _existing(lambda: (b.name for b in client.pfs.list_branch(repo)), "branches", match["branch"])
        return "the repo has no commits yet: put a file first" if hint.startswith("there are no") else hint
    match = _REPO.search(text)
    if match:
        project = match["project"] or client.project
        return _existing(
            lambda: (r.name for r in client.pfs.list_repo(project=project)), "repos", match["name"]
        )
    match = _PIPELINE.search(text)
    if match:
        project = match["project"] or client.project
        return _existing(
            lambda: (p.name for p in client.pps.list_pipeline(project=project)), "pipelines", match["name"]
        )
    match = _PROJECT.search(text)
    if match:
        return _existing(lambda: (p.name for p in client.pfs.list_project()), "projects", match["name"])
    return ""
