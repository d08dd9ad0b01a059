"""``list|create|inspect|update|delete repo`` and ``list|create|inspect|delete project``.

Listings are DataFrames with pachctl's columns (``project``, ``name``,
``created``, ``size``, ``description``); ``inspect`` returns the record.
Create and delete return nothing, as pachctl prints nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from pachmagic.client import ProjectInfo, Repo, RepoInfo, to_frame
from pachmagic.errors import NotFound
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import Command, MagicParser

__all__ = ["COMMANDS", "new_repo"]


def new_repo(text: str) -> Repo:
    """A user repo named ``[project/]name``: dots are not allowed (they address system repos)."""
    project, _, name = text.rpartition("/")
    return Repo(name, "user", project or None)


def _build_list(p: MagicParser) -> None:
    p.add_argument("--all", action="store_true", help="include system repos (spec, meta)")
    p.add_argument("--type", default="user", help="repo type to list (default: user)")
    p.add_argument("-A", "--all-projects", action="store_true", help="repos of every project")


def list_repo(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    repo_type = None if args.all else args.type
    repos = ctx.client.pfs.list_repo(type=repo_type, all_projects=args.all_projects)
    return ctx.frame(to_frame(repos, kind=RepoInfo))


def _build_create(p: MagicParser) -> None:
    p.add_argument("repo", metavar="REPO", help="[project/]name: letters, digits, '_' and '-'")
    p.add_argument("-d", "--description", default="", help="the repo's description")


def _project_must_exist(ctx: Context, text: str, repo: Repo) -> None:
    """``project/repo`` is pachctl's reading of a slash; say so when that project does not exist.

    (The one-line error's hint then lists the projects there are.)
    """
    if not repo.project:
        return
    try:
        ctx.client.pfs.inspect_project(repo.project)
    except NotFound:
        raise NotFound(
            f'project "{repo.project}" not found: "{text}" is repo "{repo.name}" in project "{repo.project}" '
            f"(pachctl reads PROJECT/REPO; repo names cannot contain '/')"
        ) from None


def create_repo(ctx: Context, args: argparse.Namespace) -> None:
    repo = new_repo(args.repo)
    _project_must_exist(ctx, args.repo, repo)
    ctx.client.pfs.create_repo(repo, description=args.description)
    ctx.session.forget()


def _build_update(p: MagicParser) -> None:
    p.add_argument("repo", metavar="REPO", help="[project/]name")
    p.add_argument("-d", "--description", required=True, help="the new description")


def update_repo(ctx: Context, args: argparse.Namespace) -> None:
    ctx.client.pfs.create_repo(new_repo(args.repo), description=args.description, update=True)


def _build_inspect(p: MagicParser) -> None:
    p.add_argument("repo", metavar="REPO", help="[project/]name[.type]")


def inspect_repo(ctx: Context, args: argparse.Namespace) -> RepoInfo:
    return ctx.client.pfs.inspect_repo(args.repo)


def _build_delete(p: MagicParser) -> None:
    p.add_argument("repo", metavar="REPO", nargs="?", help="[project/]name")
    p.add_argument("-f", "--force", action="store_true",
                   help="delete even if other branches depend on it (cuts their provenance)")
    p.add_argument("--all", action="store_true", help="delete every user repo that is not a pipeline's")
    p.add_argument("-A", "--all-projects", action="store_true", help="with --all: in every project")


def delete_repo(ctx: Context, args: argparse.Namespace) -> Text | None:
    from IPython.core.error import UsageError

    client = ctx.client
    if args.all == (args.repo is not None):
        raise UsageError("%pach delete repo: give either REPO or --all")
    ctx.session.forget()
    if args.repo is not None:
        client.pfs.delete_repo(args.repo, force=args.force)
        return None
    pipelines = {(p.project, p.name) for p in client.pps.list_pipeline(all_projects=args.all_projects)}
    repos = [r for r in client.pfs.list_repo(all_projects=args.all_projects) if (r.project, r.name) not in pipelines]
    for info in repos:
        client.pfs.delete_repo(info.repo, force=True)
    return Text(f"deleted {len(repos)} repo{'s' if len(repos) != 1 else ''}", deleted=[str(r.repo) for r in repos])


# --- projects ------------------------------------------------------------------


def list_project(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    client = ctx.client
    frame = to_frame(client.pfs.list_project(), kind=ProjectInfo)
    frame.insert(0, "active", pd.Series(frame["project"] == client.project, dtype="bool"))
    return ctx.frame(frame)


def _build_project(p: MagicParser) -> None:
    p.add_argument("project_name", metavar="PROJECT", help="the project's name")


def _build_create_project(p: MagicParser) -> None:
    _build_project(p)
    p.add_argument("-d", "--description", default="", help="the project's description")


def create_project(ctx: Context, args: argparse.Namespace) -> None:
    ctx.client.pfs.create_project(args.project_name, description=args.description)


def update_project(ctx: Context, args: argparse.Namespace) -> None:
    ctx.client.pfs.create_project(args.project_name, description=args.description, update=True)


def inspect_project(ctx: Context, args: argparse.Namespace) -> Any:
    return ctx.client.pfs.inspect_project(args.project_name)


def _build_delete_project(p: MagicParser) -> None:
    _build_project(p)
    p.add_argument("-f", "--force", action="store_true", help="delete it even if it has repos")


def delete_project(ctx: Context, args: argparse.Namespace) -> None:
    ctx.client.pfs.delete_project(args.project_name, force=args.force)


def _build_update_project(p: MagicParser) -> None:
    _build_project(p)
    p.add_argument("-d", "--description", required=True, help="the new description")


COMMANDS = (
    Command(("list", "repo"), "list repos as a DataFrame", list_repo, _build_list),
    Command(("create", "repo"), "create a repo", create_repo, _build_create,
            examples=("%pach create repo photos -d 'raw photos'",)),
    Command(("update", "repo"), "change a repo's description", update_repo, _build_update),
    Command(("inspect", "repo"), "a repo's details", inspect_repo, _build_inspect),
    Command(("delete", "repo"), "delete a repo (or --all repos)", delete_repo, _build_delete),
    Command(("list", "project"), "list projects as a DataFrame ('active' marks the session's)",
            list_project, project=False),
    Command(("create", "project"), "create a project", create_project, _build_create_project, project=False),
    Command(("update", "project"), "change a project's description", update_project, _build_update_project,
            project=False),
    Command(("inspect", "project"), "a project's details", inspect_project, _build_project, project=False),
    Command(("delete", "project"), "delete a project", delete_project, _build_delete_project, project=False),
)
