"""``list|create|inspect|delete branch``.

``create branch REPO@BRANCH --head COMMIT -p REPO@BRANCH ...`` moves or
creates a branch; ``--head`` takes a commit id or branch of the same repo, or
a full ``REPO@REF``.
"""

from __future__ import annotations

import argparse

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from pachmagic.client import Branch, BranchInfo, Commit, is_commit_id, to_frame
from pachmagic.magics.context import Context
from pachmagic.magics.parser import Command, MagicParser

__all__ = ["COMMANDS"]


def _build_list(p: MagicParser) -> None:
    p.add_argument("repo", metavar="REPO", help="[project/]repo")


def list_branch(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    return ctx.frame(to_frame(ctx.client.pfs.list_branch(args.repo), kind=BranchInfo))


def _build_create(p: MagicParser) -> None:
    p.add_argument("branch", metavar="REPO@BRANCH", help="the branch to create or move")
    p.add_argument("--head", metavar="COMMIT", help="the commit it points at: an id or branch of the repo, or REPO@REF")
    p.add_argument("-p", "--provenance", action="append", default=[], metavar="REPO@BRANCH",
                   help="a branch this one is computed from; repeatable")


def create_branch(ctx: Context, args: argparse.Namespace) -> None:
    branch = Branch.from_uri(args.branch)
    head: Commit | str | None = None
    if args.head:
        if "@" in args.head:
            head = args.head
        elif is_commit_id(args.head):
            head = Commit(branch.repo, id=args.head)
        else:
            head = Commit(branch.repo, branch=args.head)
    ctx.client.pfs.create_branch(branch, head=head, provenance=args.provenance)
    ctx.session.forget()


def _build_ref(p: MagicParser) -> None:
    p.add_argument("branch", metavar="REPO@BRANCH", help="the branch")


def inspect_branch(ctx: Context, args: argparse.Namespace) -> BranchInfo:
    return ctx.client.pfs.inspect_branch(args.branch)


def _build_delete(p: MagicParser) -> None:
    _build_ref(p)
    p.add_argument("-f", "--force", action="store_true", help="delete even if other branches depend on it")


def delete_branch(ctx: Context, args: argparse.Namespace) -> None:
    ctx.client.pfs.delete_branch(args.branch, force=args.force)
    ctx.session.forget()


COMMANDS = (
    Command(("list", "branch"), "a repo's branches as a DataFrame", list_branch, _build_list),
    Command(("create", "branch"), "create or move a branch (--head, -p provenance)", create_branch, _build_create,
            examples=("%pach create branch photos@staging --head master",)),
    Command(("inspect", "branch"), "a branch's details", inspect_branch, _build_ref),
    Command(("delete", "branch"), "delete a branch (its commits stay)", delete_branch, _build_delete),
)
