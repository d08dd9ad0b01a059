"""``start|finish|inspect|list|wait commit``.

``list commit REPO[@REF]`` lists a repo's (or a branch's) commits,
``list commit ID`` the commits of one commit set, and ``list commit`` alone the
commit sets, as pachctl does. ``wait commit`` accepts ``REPO@REF`` or a commit
set ID (then it waits for every commit of the set).
"""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from pachmagic.client import Branch, Commit, CommitInfo, is_commit_id, to_frame
from pachmagic.magics import waits
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import Command, MagicParser

__all__ = ["COMMANDS"]


def _build_start(p: MagicParser) -> None:
    p.add_argument("branch", metavar="REPO@BRANCH", help="the branch to open a commit on")
    p.add_argument("-p", "--parent", metavar="COMMIT", help="the parent commit (default: the branch head)")
    p.add_argument("-m", "--message", "--description", dest="message", default="", help="the commit's description")


def start_commit(ctx: Context, args: argparse.Namespace) -> Text:
    branch = Branch.from_uri(args.branch)
    parent = None
    if args.parent:
        parent = args.parent if "@" in args.parent else Commit(branch.repo, id=args.parent)
    commit = ctx.client.pfs.start_commit(branch, parent=parent, description=args.message)
    ctx.session.forget()
    return Text(f"started commit {commit}", commit=commit, id=commit.id)


def _build_finish(p: MagicParser) -> None:
    p.add_argument("commit", metavar="REPO@REF", help="the open commit (or its branch)")
    p.add_argument("-m", "--message", "--description", dest="message", default=None, help="set the description")
    p.add_argument("-f", "--force", action="store_true", help="finish even a pipeline's output commit")


def finish_commit(ctx: Context, args: argparse.Namespace) -> None:
    ctx.client.pfs.finish_commit(args.commit, description=args.message, force=args.force)
    ctx.session.forget()


def _build_ref(p: MagicParser) -> None:
    p.add_argument("commit", metavar="REPO@REF", help="a branch (its head), a commit id, or ancestry like master^2")


def inspect_commit(ctx: Context, args: argparse.Namespace) -> CommitInfo:
    return ctx.client.pfs.inspect_commit(args.commit)


def _build_wait(p: MagicParser) -> None:
    p.add_argument("commit", metavar="REPO@REF|ID", help="a commit, or a commit set id (all its commits)")


def wait_commit(ctx: Context, args: argparse.Namespace) -> CommitInfo | pd.DataFrame:
    client = ctx.client
    if "@" not in args.commit and is_commit_id(args.commit):
        what = f"commit set {args.commit[:8]}"
        fetch_set = lambda wait: waits.jobs_of_set(client, args.commit, wait)  # noqa: E731
        holder: list[Any] = []
        jobs = waits.watch(ctx, what, fetch_set,
                           block=lambda: holder.append(client.pfs.inspect_commit_set(args.commit, wait=True)))
        waits.report(ctx, what, jobs)
        return ctx.frame(to_frame(holder[0], kind=CommitInfo))
    # The commit the ref names now (perhaps still open); its id is its commit set's, whose jobs
    # are what finishing it waits for.
    current = client.pfs.inspect_commit(args.commit)
    commit = Commit(current.commit.repo, id=current.id)
    fetch = lambda wait: waits.jobs_of_set(client, current.id, wait)  # noqa: E731
    done: list[CommitInfo] = []
    jobs = waits.watch(ctx, str(args.commit), fetch,
                       finished=lambda: client.pfs.inspect_commit(commit).finished is not None,
                       block=lambda: done.append(client.pfs.wait_commit(commit)))
    info = done[0]
    # only the jobs this commit waited for: its own pipeline's and those upstream in the set
    mine = [j for j in jobs if j.done]
    waits.report(ctx, str(args.commit), mine)
    return info


def _build_list(p: MagicParser) -> None:
    p.add_argument("target", metavar="REPO[@REF]|ID", nargs="?",
                   help="a repo or branch (its commits), or a commit set id; none: the commit sets")
    p.add_argument("-n", "--number", type=int, default=0, help="at most this many commits")
    p.add_argument("-r", "--reverse", action="store_true", help="oldest first")
    p.add_argument("--all", action="store_true", help="every origin (AUTO commits too)")
    p.add_argument("--origin", choices=["USER", "AUTO", "FSCK", "user", "auto", "fsck"],
                   help="only commits of this origin")


def _commit_sets(ctx: Context) -> pd.DataFrame:
    client = ctx.client
    by_id: dict[str, list[CommitInfo]] = {}
    for repo in client.pfs.list_repo(type=None):
        for commit in client.pfs.list_commit(repo.repo, all=True):
            by_id.setdefault(commit.id, []).append(commit)
    rows = []
    for commit_id, commits in by_id.items():
        finished = sum(1 for c in commits if c.finished is not None)
        times = [t for c in commits for t in (c.started, c.finished) if t is not None]
        rows.append({
            "id": commit_id,
            "subcommits": len(commits),
            "progress": f"{finished} / {len(commits)}",
            "created": min((c.started for c in commits if c.started is not None), default=None),
            "modified": max(times, default=None),
        })
    frame = pd.DataFrame(rows, columns=["id", "subcommits", "progress", "created", "modified"])
    frame = frame.astype({"id": "str", "subcommits": "int64", "progress": "str",
                          "created": "datetime64[ns, UTC]", "modified": "datetime64[ns, UTC]"})
    return frame.sort_values("created", ascending=False, kind="stable").reset_index(drop=True)


def list_commit(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    client = ctx.client
    if args.target is None:
        return ctx.frame(_commit_sets(ctx))
    if "@" not in args.target and "/" not in args.target and is_commit_id(args.target) and len(args.target) == 32:
        return ctx.frame(to_frame(client.pfs.inspect_commit_set(args.target), kind=CommitInfo))
    commits = client.pfs.list_commit(args.target, number=args.number, reverse=args.reverse, all=args.all,
                                     origin=args.origin)
    return ctx.frame(to_frame(commits, kind=CommitInfo))


COMMANDS = (
    Command(("start", "commit"), "open a commit on a branch", start_commit, _build_start),
    Command(("finish", "commit"), "finish an open commit", finish_commit, _build_finish),
    Command(("inspect", "commit"), "a commit's details", inspect_commit, _build_ref),
    Command(("list", "commit"), "commits as a DataFrame (of a repo or branch, of a commit set, or the commit sets)",
            list_commit, _build_list,
            examples=("%pach list commit photos@master -n 5", "%pach list commit")),
    Command(("wait", "commit"), "wait until a commit (or a commit set) is finished", wait_commit, _build_wait),
)
