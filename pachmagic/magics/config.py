"""``config``: list, get, set, use, update and delete contexts of pachctl's config file.

The file is pachctl's (``PACH_CONFIG``, default ``~/.pachyderm/config.json``):
``{"user_id", "v2": {"active_context", "contexts": {NAME: {"pachd_address",
"session_token", "project", ...}}}}``. Writes keep every field this module
does not touch, replace the file atomically and keep it private (mode 0600:
it holds tokens). ``config use context NAME`` also reconnects the session to
that context. (Options of the magic itself are ``%config PachMagic.<option>``.)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from IPython.core.error import UsageError

from pachmagic.errors import InvalidArgument, NotFound
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import CELL_OPTIONAL, Command, MagicParser

__all__ = ["COMMANDS", "config_path", "read_config", "write_config", "save_context"]


def config_path() -> Path:
    """pachctl's config file: ``PACH_CONFIG`` or ``~/.pachyderm/config.json``."""
    env = os.environ.get("PACH_CONFIG")
    return Path(env).expanduser() if env else Path.home() / ".pachyderm" / "config.json"


def read_config() -> dict[str, Any]:
    """The config file's content (a fresh skeleton when there is none)."""
    path = config_path()
    if not path.exists():
        return {"user_id": uuid.uuid4().hex, "v2": {"active_context": "", "contexts": {}, "metrics": True}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"cannot read pachctl config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"pachctl config {path} is not a JSON object")
    v2 = data.setdefault("v2", {})
    v2.setdefault("contexts", {})
    v2.setdefault("active_context", "")
    return data


def write_config(data: dict[str, Any]) -> Path:
    """Replace the config file atomically, readable only by its owner."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
