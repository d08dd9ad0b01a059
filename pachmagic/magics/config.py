"""``config``: list, get, set, use, update and delete contexts of pachctl's config file.

The file is pachctl's (``PACH_CONFIG``, default ``~/.pachyderm/config.json``):
``{"user_id", "v2": {"active_context", "contexts": {NAME: {"pachd_address",
"session_token", "project", ...}}}}``; reading and writing it is
``pachmagic.pachctl_config`` (shared with the Jupyter server extension).
``config use context NAME`` also reconnects the session to
that context. (Options of the magic itself are ``%config PachMagic.<option>``.)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from IPython.core.error import UsageError

from pachmagic.errors import InvalidArgument, NotFound
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import CELL_OPTIONAL, Command, MagicParser
from pachmagic.pachctl_config import config_path, read_config, write_config

__all__ = ["COMMANDS", "config_path", "read_config", "write_config", "save_context"]


def _contexts(data: dict[str, Any]) -> dict[str, Any]:
    contexts: dict[str, Any] = data["v2"]["contexts"]
    return contexts


def _context(data: dict[str, Any], name: str) -> dict[str, Any]:
    contexts = _contexts(data)
    if name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise NotFound(f"context {name!r} not found in {config_path()} (contexts: {known})")
    context: dict[str, Any] = contexts[name]
    return context


def save_context(name: str, address: str, *, activate: bool = True) -> Path:
    """Create or update context ``name`` with ``pachd_address`` (``connect ADDRESS --alias NAME``)."""
    data = read_config()
    context = _contexts(data).setdefault(name, {})
    context["pachd_address"] = address if "://" in address else f"grpc://{address}"
    if activate:
        data["v2"]["active_context"] = name
    return write_config(data)


def list_context(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    data = read_config()
    active = os.environ.get("PACH_CONTEXT") or data["v2"].get("active_context", "")
    rows = [(name == active, name, c.get("pachd_address", ""), c.get("project", ""))
            for name, c in sorted(_contexts(data).items())]
    frame = pd.DataFrame(rows, columns=["active", "name", "pachd_address", "project"])
    return frame.astype({"active": "bool", "name": "str", "pachd_address": "str", "project": "str"})


def get_active_context(ctx: Context, args: argparse.Namespace) -> Text:
    data = read_config()
    return Text(os.environ.get("PACH_CONTEXT") or data["v2"].get("active_context", ""))


def _build_name(p: MagicParser) -> None:
    p.add_argument("context", metavar="CONTEXT", help="the context's name")


def set_active_context(ctx: Context, args: argparse.Namespace) -> None:
    data = read_config()
    _context(data, args.context)
    data["v2"]["active_context"] = args.context
    write_config(data)


def use_context(ctx: Context, args: argparse.Namespace) -> Text:
    set_active_context(ctx, args)
    client = ctx.session.connect(None)
    version = client.version()
    return Text(f"using context {args.context}: pachd {version} at {client.address}", address=client.address)


def get_context(ctx: Context, args: argparse.Namespace) -> Text:
    context = _context(read_config(), args.context)
    return Text(json.dumps(context, indent=2, sort_keys=True), context=context)


def _build_set(p: MagicParser) -> None:
    _build_name(p)
    p.add_argument("--pachd-address", metavar="ADDRESS", help="e.g. grpc://localhost:30650")
    p.add_argument("--project", dest="context_project", metavar="PROJECT", help="the context's project")
    p.add_argument("--overwrite", action="store_true", help="replace an existing context")


def set_context(ctx: Context, args: argparse.Namespace) -> None:
    data = read_config()
    contexts = _contexts(data)
    if args.context in contexts and not args.overwrite:
        raise UsageError(f"%pach config set context: context {args.context!r} exists (add --overwrite)")
    context: dict[str, Any] = {}
    if ctx.cell is not None and ctx.cell.strip():
        try:
            context = json.loads(ctx.cell)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"invalid JSON context at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        if not isinstance(context, dict):
            raise InvalidArgument("a context must be a JSON object")
    if args.pachd_address:
        context["pachd_address"] = args.pachd_address
    if args.context_project:
        context["project"] = args.context_project
    contexts[args.context] = context
    write_config(data)


def _build_update(p: MagicParser) -> None:
    p.add_argument("context", metavar="CONTEXT", nargs="?", help="the context (default: the active one)")
    p.add_argument("--pachd-address", metavar="ADDRESS", help="set the pachd address")
    p.add_argument("--project", dest="context_project", metavar="PROJECT", help="set the project")
    p.add_argument("--remove-cluster-deployment-id", action="store_true", help="forget the cluster deployment id")


def update_context(ctx: Context, args: argparse.Namespace) -> None:
    data = read_config()
    name = args.context or data["v2"].get("active_context", "")
    if not name:
        raise UsageError("%pach config update context: no active context: name one")
    context = _context(data, name)
    if args.pachd_address:
        context["pachd_address"] = args.pachd_address
    if args.context_project:
        context["project"] = args.context_project
    if args.remove_cluster_deployment_id:
        context.pop("cluster_deployment_id", None)
    write_config(data)


def delete_context(ctx: Context, args: argparse.Namespace) -> None:
    data = read_config()
    _context(data, args.context)
    del _contexts(data)[args.context]
    if data["v2"].get("active_context") == args.context:
        data["v2"]["active_context"] = ""
    write_config(data)


COMMANDS = (
    Command(("config", "list", "context"), "pachctl's contexts as a DataFrame ('active' marks the active one)",
            list_context, project=False),
    Command(("config", "get", "active-context"), "the active context's name", get_active_context, project=False),
    Command(("config", "set", "active-context"), "make a context the active one", set_active_context, _build_name,
            project=False),
    Command(("config", "use", "context"), "make a context active and connect to it", use_context, _build_name,
            project=False),
    Command(("config", "get", "context"), "a context's settings (JSON)", get_context, _build_name, project=False),
    Command(("config", "set", "context"), "create a context (from flags or a JSON cell body)", set_context,
            _build_set, cell=CELL_OPTIONAL, cell_help="the context as JSON, as pachctl reads it from stdin",
            project=False),
    Command(("config", "update", "context"), "change a context's address or project", update_context,
            _build_update, project=False),
    Command(("config", "delete", "context"), "delete a context", delete_context, _build_name, project=False),
)
