"""``put file``: local files, directories (``-r``), URLs, list files (``-i``) or the cell body.

Where files land follows pachctl: no path means the source's base name (its
whole path with ``--full-path``); one source and a path means that path (a
path ending in ``/`` is a directory to put it in); several sources and a path
use the path as a directory; ``-r`` puts a directory's files under
``path/<relative>`` (default ``<dir name>/<relative>``). ``%%pach put file
REPO@BRANCH:PATH`` writes the cell body to PATH. The whole invocation is one
ModifyFile stream, hence one commit. URLs are fetched here (http, https, ftp,
file) and streamed to the server.

With ``--wait`` (or ``PachMagic.auto_wait``) the magic then waits for the jobs
that the new commit triggered, with a datum progress bar.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import re
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from IPython.core.error import UsageError

from pachmagic.client import File, human_size
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import CELL_OPTIONAL, Command, MagicParser
from pachmagic.magics.progress import ByteCounter

__all__ = ["COMMANDS", "plan_destinations", "is_url"]

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_FETCHABLE = {"http", "https", "ftp", "file"}


def is_url(source: str) -> bool:
    """Whether a ``-f`` source is a URL rather than a local path."""
    return bool(_URL.match(source))


def _join(*parts: str) -> str:
    path = "/".join(p.strip("/") for p in parts if p.strip("/"))
    return "/" + path


def plan_destinations(
    sources: list[str], path: str | None, *, recursive: bool = False, full_path: bool = False
) -> list[tuple[str, str]]:
    """Decide where each source goes, as pachctl does.

    Parameters
    ----------
    sources:
        Local paths and URLs, in order.
    path:
        The PATH of ``REPO@BRANCH:PATH``, or None.
    recursive:
        Whether directories are allowed (and walked).
    full_path:
        Use a local source's whole path instead of its base name.

    Returns
    -------
    list[tuple[str, str]]
        ``(PFS path, source)`` pairs; paths are kept as written (the server
        rejects ``..`` segments with Pachyderm's message).
    """
    many = len(sources) > 1
    out: list[tuple[str, str]] = []
    for source in sources:
        if is_url(source):
            name = posixpath.basename(urlsplit(source).path.rstrip("/")) or "index"
            is_dir = False
        else:
            name = source if full_path else os.path.basename(os.path.normpath(source))
            is_dir = os.path.isdir(source)
        if is_dir:
            if not recursive:
                raise UsageError(f"%pach put file: {source} is a directory: add -r to put its files")
            base = path if (path is not None and not many) else _join(path or "", name)
            for root, dirs, files in os.walk(source):
                dirs.sort()
                for fname in sorted(files):
                    local = os.path.join(root, fname)
                    relative = os.path.relpath(local, source).replace(os.sep, "/")
                    out.append((_join(base, relative), local))
            continue
        if path is None:
            dest = "/" + name.lstrip("/")
        elif path.endswith("/") or many:
            dest = path.rstrip("/") + "/" + name.lstrip("/")
        else:
            dest = path  # as typed: the server cleans it and rejects '..' with Pachyderm's message
        out.append((dest, source))
    return out


def _read_list(spec: str) -> list[str]:
    if is_url(spec):
        with urllib.request.urlopen(spec, timeout=60) as response:  # noqa: S310 - user-chosen URL
            text = response.read().decode("utf-8")
    else:
        text = Path(spec).expanduser().read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _open(source: str, stack: ExitStack) -> tuple[Any, int | None]:
    """The upload source for a local path or URL, and its size when known."""
    if is_url(source):
        scheme = urlsplit(source).scheme.lower()
        if scheme not in _FETCHABLE:
            raise UsageError(f"%pach put file: cannot fetch {scheme}:// URLs here (http, https, ftp, file)")
        response: IO[bytes] = stack.enter_context(urllib.request.urlopen(source, timeout=60))  # noqa: S310
        headers = getattr(response, "headers", None)
        length = headers.get("Content-Length") if headers is not None else None
        return response, int(length) if length and str(length).isdigit() else None
    local = Path(source).expanduser()
    if not local.is_file():
        raise FileNotFoundError(f"no such local file: {source}")
    return local, local.stat().st_size


def _build(p: MagicParser) -> None:
    p.add_argument("target", metavar="REPO@BRANCH[:PATH]", help="where to put the files (a branch or an open commit)")
    p.add_argument("-f", "--file", dest="sources", action="append", default=[], metavar="FILE|URL",
                   help="a local file, directory (with -r) or URL; repeat for several")
    p.add_argument("-r", "--recursive", action="store_true", help="put directories' files recursively")
    p.add_argument("-a", "--append", action="store_true", help="append to existing files instead of replacing them")
    p.add_argument("-i", "--input-file", metavar="LISTFILE|URL", help="a file listing sources, one per line")
    p.add_argument("--full-path", action="store_true", help="use each local source's whole path as its PFS path")
    wait = p.add_mutually_exclusive_group()
    wait.add_argument("--wait", action="store_true", default=None,
                      help="wait for the jobs the commit triggers (default: PachMagic.auto_wait)")
    wait.add_argument("--no-wait", dest="wait", action="store_false", help="do not wait, whatever PachMagic.auto_wait says")


def put_file(ctx: Context, args: argparse.Namespace) -> Text:
    ref = File.from_uri(args.target)
    path = args.target.partition("@")[2].partition(":")[2] or None
    sources = list(args.sources)
    if args.input_file:
        sources.extend(_read_list(args.input_file))
    if ctx.cell is not None and ctx.cell.strip():
        if sources:
            raise UsageError("%pach put file: give either a cell body or -f/-i sources, not both")
        if not path or path.endswith("/"):
            raise UsageError("%%pach put file: the cell body needs a file path: REPO@BRANCH:PATH")
        plan: list[tuple[str, Any]] = [(path, ctx.cell)]
        sizes: list[int | None] = [len(ctx.cell.encode("utf-8"))]
        return _upload(ctx, ref, plan, sizes, args)
    if not sources:
        raise UsageError("%pach put file: nothing to put: give -f FILE (or -i LISTFILE, or a %%pach cell body)")
    with ExitStack() as stack:
        opened: list[tuple[str, Any]] = []
        sizes = []
        for dest, source in plan_destinations(sources, path, recursive=args.recursive, full_path=args.full_path):
            handle, size = _open(source, stack)
            opened.append((dest, handle))
            sizes.append(size)
        return _upload(ctx, ref, opened, sizes, args)


def _upload(ctx: Context, ref: File, plan: list[tuple[str, Any]], sizes: list[int | None], args: argparse.Namespace) -> Text:
    client = ctx.client
    known = None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)
    desc = f"{len(plan)} file{'s' if len(plan) != 1 else ''} → {ref.commit}"
    with ctx.bar(total=known, unit="B", desc=desc) as bar:
        counter = ByteCounter(bar, len(plan))
        client.pfs.put_files(ref.commit, plan, append=args.append, progress=counter)
        sent = counter.bytes_done
    ctx.session.forget()
    commit = client.pfs.inspect_commit(ref.commit)
    text = f"put {len(plan)} file{'s' if len(plan) != 1 else ''} ({human_size(sent)}) into {ref.commit}"
    wait = ctx.settings.auto_wait if args.wait is None else args.wait
    jobs = None
    if wait:
        from pachmagic.magics.job import wait_job_set

        jobs = wait_job_set(ctx, commit.id, f"the jobs of {ref.commit}", none_ok=True)
        if len(jobs):
            states = ", ".join(f"{p} {s}" for p, s in zip(jobs["pipeline"], jobs["state"]))
            text += f"; jobs: {states}"
    return Text(text, commit=commit.commit, commit_id=commit.id, paths=[d for d, _ in plan], jobs=jobs)


COMMANDS = (
    Command(("put", "file"), "upload files, directories, URLs or the cell body into a branch", put_file, _build,
            cell=CELL_OPTIONAL, cell_help="the content of the file REPO@BRANCH:PATH",
            examples=("%pach put file photos@master -f landscape.png -f hand.png",
                      "%pach put file photos@master:/raw/ -f images/ -r",
                      "%%pach put file notes@master:/README.md   (cell body = content)")),
)
