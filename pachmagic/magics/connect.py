"""``connect``, ``version`` and ``delete all``: the session's server as a whole.

``connect local`` starts the embedded server in a child process for this
kernel (data directory from ``--data-dir`` or ``PachMagic.data_dir``, default a
temporary one; relative transform commands run in ``--workdir`` or
``PachMagic.workdir``, default the notebook's directory). ``connect ADDRESS``
talks to pachd there; ``connect`` alone uses the usual resolution
(``PACHD_ADDRESS``, pachctl's active context, ``localhost:30650``): in
JupyterLab, ``PACHD_ADDRESS`` is JupyterLab's shared server (pachmagic's server
extension also sets ``PACHMAGIC_SHARED_SERVER`` and ``PACHMAGIC_SHARED_DATA_DIR``,
which the message names). Every connect checks the server answers
(``GetVersion``) before returning.
"""

from __future__ import annotations

import argparse
import os

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from IPython.core.error import UsageError

import pachmagic
from pachmagic.magics.config import save_context
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import Command, MagicParser

__all__ = ["COMMANDS"]


def _build_connect(p: MagicParser) -> None:
    p.add_argument(
        "target",
        nargs="?",
        metavar="local|ADDRESS",
        help="'local' for the embedded server, or a pachd address (grpc://host:port); "
        "default: PACHD_ADDRESS (in JupyterLab: its shared server), pachctl's active context, localhost:30650",
    )
    p.add_argument("--data-dir", metavar="DIR", help="with 'local': where the server keeps its state "
                   "(default: PachMagic.data_dir, else a temporary directory removed with the kernel)")
    p.add_argument("--workdir", metavar="DIR", help="with 'local': where relative transform commands run "
                   "(default: PachMagic.workdir, else the notebook's directory)")
    p.add_argument("--port", type=int, default=0, help="with 'local': TCP port on 127.0.0.1 (default: a free one)")
    p.add_argument("--alias", metavar="CONTEXT", help="with ADDRESS: also save it as this pachctl context and make "
                   "that context active")


def connect(ctx: Context, args: argparse.Namespace) -> Text:
    """Connect the session (see the module docstring)."""
    session = ctx.session
    local_only = args.data_dir is not None or args.workdir is not None or args.port
    if args.target == "local":
        if args.alias:
            raise UsageError("%pach connect: --alias needs an ADDRESS, not 'local'")
        data_dir = args.data_dir or ctx.settings.data_dir or None
        workdir = os.path.abspath(os.path.expanduser(args.workdir or ctx.settings.workdir or os.getcwd()))
        client = session.connect_local(data_dir=data_dir, workdir=workdir, port=args.port)
        version = client.version()
        where = f"data dir {data_dir}" if data_dir else "temporary data dir"
        if session.restarted:
            where += "; the previous embedded server and its temporary data are gone"
        return Text(
            f"connected to the embedded pachmagic server at {client.address} "
            f"(Pachyderm {version} API, {where})",
            address=client.address,
            version=str(version),
            server=session.server,
            client=client,
        )
    if local_only:
        raise UsageError("%pach connect: --data-dir, --workdir and --port only apply to 'connect local'")
    if args.alias and not args.target:
        raise UsageError("%pach connect: --alias needs an ADDRESS")
    client = session.connect(args.target)
    version = client.version()
    if args.alias:
        save_context(args.alias, args.target)
    shared = os.environ.get("PACHMAGIC_SHARED_SERVER")
    if not args.target and shared and client.address_source == "PACHD_ADDRESS" and os.environ.get("PACHD_ADDRESS") == shared:
        return Text(
            f"connected to JupyterLab's shared pachmagic server at {client.address} (Pachyderm {version} API, "
            f"data dir {os.environ.get('PACHMAGIC_SHARED_DATA_DIR', 'unknown')}; PACHD_ADDRESS)",
            address=client.address,
            version=str(version),
            client=client,
        )
    return Text(
        f"connected to pachd {version} at {client.address} ({client.address_source})",
        address=client.address,
        version=str(version),
        client=client,
    )


def _build_version(p: MagicParser) -> None:
    p.add_argument("--client-only", action="store_true", help="do not ask the server")


def version(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    """``COMPONENT``/``VERSION`` rows, as pachctl prints (pachmagic plays pachctl)."""
    rows = [("pachmagic", pachmagic.__version__)]
    if not args.client_only:
        rows.append(("pachd", str(ctx.client.version())))
    return pd.DataFrame(rows, columns=["component", "version"]).astype("str")


def delete_all(ctx: Context, args: argparse.Namespace) -> Text:
    """Delete every pipeline, repo and project (``default`` is recreated)."""
    client = ctx.client
    client.pps.delete_all()
    client.pfs.delete_all()
    ctx.session.forget()
    return Text("deleted all pipelines, repos and projects")


COMMANDS = (
    Command(("connect",), "connect to pachd, or start the embedded server with 'connect local'",
            connect, _build_connect, project=False,
            examples=("%pach connect local", "%pach connect local --data-dir ~/pach-data",
                      "%pach connect grpc://localhost:30650")),
    Command(("version",), "pachmagic's and the server's versions", version, _build_version, project=False),
    Command(("delete", "all"), "delete every pipeline, repo and project", delete_all, project=False),
)
