"""The Jupyter server extension: one embedded server per JupyterLab, shared by all of it.

Installing pachmagic enables it (the package ships
``etc/jupyter/jupyter_server_config.d/pachmagic.json``); so does
``jupyter server extension enable pachmagic``. When the Jupyter server links its
extensions — before any extension is loaded, so before jupyterlab-pachyderm reads
pachctl's config — ``PachMagicServer``:

1. starts ``pachmagic serve`` in a child process (``LocalServer``) on 127.0.0.1,
   with a persistent data directory (``c.PachMagicServer.data_dir``, default the
   one ``pachmagic serve`` uses) and relative transform commands running in the
   Jupyter root directory (``c.PachMagicServer.workdir``);
2. sets ``PACHD_ADDRESS`` in the Jupyter server's environment, which every kernel
   and terminal it starts inherits (``%pach connect``, ``pachmagic.connect()``,
   pachctl and the official clients all read it), with ``PACHMAGIC_SHARED_SERVER``
   (the same address) and ``PACHMAGIC_SHARED_DATA_DIR`` for ``%pach connect``'s message;
3. writes a pachctl context ``pachmagic-jupyterlab`` and makes it active, so
   extensions that read pachctl's config (the official side panel) find it; the
   context that was active before is remembered in the Jupyter runtime directory
   and made active again when JupyterLab stops (or, after a crash, at the next start).

It starts nothing when ``PACHD_ADDRESS`` is already set (a server is configured
elsewhere: a cluster, ``pachmagic serve``, an outer JupyterLab) or when
``c.PachMagicServer.enabled = False``. A server that cannot start (its data
directory is in use, its port is taken) is logged; JupyterLab runs on without it.

This module is imported by every Jupyter server start: it stays light (traitlets,
jupyter_server, ``LocalServer`` and the pachctl config helpers; never the client,
the magics or the widgets) and must never stop the Jupyter server from starting.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Int, Unicode

from pachmagic.errors import PachError
from pachmagic.pachctl_config import config_path, read_config, write_config
from pachmagic.server import LocalServer, default_data_dir

__all__ = ["PachMagicServer", "CONTEXT"]

CONTEXT = "pachmagic-jupyterlab"
_STATE_FILE = "pachmagic-jupyterlab-context.json"  # in the Jupyter runtime dir


class PachMagicServer(ExtensionApp):
    """Starts, publishes and stops the JupyterLab's shared embedded Pachyderm server."""

    name = "pachmagic"
    load_other_extensions = True

    enabled = Bool(True, help="Start a shared embedded server with the Jupyter server "
                   "(nothing is started while PACHD_ADDRESS is set).").tag(config=True)
    data_dir = Unicode("", help="Where the shared server keeps its state (default: $PACHMAGIC_DATA_DIR, "
                       "else the user data dir, as `pachmagic serve`).").tag(config=True)
    port = Int(0, help="TCP port on 127.0.0.1 (0 picks a free one).").tag(config=True)
    workdir = Unicode("", help="Where relative transform commands run (default: the Jupyter root dir).").tag(config=True)

    server: LocalServer | None = None
    address: str | None = None  # grpc://127.0.0.1:PORT once started
    _previous_context: str | None = None  # set while our context is in pachctl's config
    _created_config = False  # the config file did not exist before

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        super()._link_jupyter_server_extension(serverapp)
        try:
            self.start_shared_server()
        except Exception:  # noqa: BLE001 - a failure here must never take JupyterLab down
            self.log.exception("pachmagic: could not start the shared Pachyderm server")
            self.stop_shared_server()

    def initialize_settings(self) -> None:
        # For other server extensions: the shared server's address (None when not started).
        self.settings["pachmagic_pachd_address"] = self.address

    async def stop_extension(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop_shared_server)

    # --- the shared server ------------------------------------------------------

    def start_shared_server(self) -> None:
        """Start the server and publish its address, unless one is configured elsewhere."""
        if not self.enabled:
            self.log.info("pachmagic: PachMagicServer.enabled is False: no shared Pachyderm server")
            return
        if os.environ.get("PACHD_ADDRESS"):
            self.log.info("pachmagic: PACHD_ADDRESS is set (%s): kernels and terminals use that pachd; "
                          "no shared server started", os.environ["PACHD_ADDRESS"])
            return
        data_dir = Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()
        root = getattr(self.serverapp, "root_dir", None) or os.getcwd()
        workdir = Path(self.workdir or root).expanduser().resolve()
        server = LocalServer(data_dir, port=self.port, workdir=workdir)
        try:
            server.start()
        except OSError as err:  # ServerStartError: data directory in use, port taken...
            self.log.error("pachmagic: the shared Pachyderm server did not start: %s", err)
            return
        self.server = server
        self.address = f"grpc://{server.address}"
        atexit.register(self.stop_shared_server)  # when the extension's stop hook is never called
        os.environ["PACHD_ADDRESS"] = self.address
        # For `%pach connect`'s message: this PACHD_ADDRESS is the shared server, and where it keeps its data.
        os.environ["PACHMAGIC_SHARED_SERVER"] = self.address
        os.environ["PACHMAGIC_SHARED_DATA_DIR"] = str(data_dir)
        self._activate_context()
        self.log.info("pachmagic: shared Pachyderm server at %s (data dir %s, workdir %s); "
                      "PACHD_ADDRESS and pachctl context %r point to it", self.address, data_dir, workdir, CONTEXT)

    def stop_shared_server(self) -> None:
        """Stop the server, withdraw the address and restore pachctl's active context."""
        server, self.server = self.server, None
        if server is None:
            return
        for name in ("PACHD_ADDRESS", "PACHMAGIC_SHARED_SERVER"):
            if os.environ.get(name) == self.address:
                del os.environ[name]
        os.environ.pop("PACHMAGIC_SHARED_DATA_DIR", None)
        try:
            self._restore_context()
        except (OSError, PachError) as err:
            self.log.warning("pachmagic: could not restore pachctl's active context: %s", err)
        server.stop()
        self.log.info("pachmagic: shared Pachyderm server at %s stopped", self.address)

    # --- pachctl's config -------------------------------------------------------

    def _state_path(self) -> Path:
        runtime = getattr(self.serverapp, "runtime_dir", None)
        return Path(runtime) / _STATE_FILE if runtime else config_path().with_name(_STATE_FILE)

    def _activate_context(self) -> None:
        try:
            data = read_config()
        except PachError as err:
            self.log.warning("pachmagic: pachctl's config is left alone (%s); kernels and terminals still get "
                             "PACHD_ADDRESS", err)
            return
        v2 = data["v2"]
        previous = v2.get("active_context") or ""
        created = not config_path().exists()
        state = self._state_path()
        if previous == CONTEXT:  # left active by a JupyterLab that did not stop cleanly
            previous, created = _read_state(state)
        v2["contexts"][CONTEXT] = {"pachd_address": self.address}
        v2["active_context"] = CONTEXT
        try:
            write_config(data)
        except OSError as err:  # e.g. a read-only home: the server is still shared through PACHD_ADDRESS
            self.log.warning("pachmagic: cannot write pachctl's config %s (%s); kernels and terminals still get "
                             "PACHD_ADDRESS", config_path(), err)
            return
        self._previous_context, self._created_config = previous, created
        try:
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps({"previous_active_context": previous, "created_config": created}))
        except OSError as err:
            self.log.warning("pachmagic: cannot record pachctl's previous context in %s: %s", state, err)

    def _restore_context(self) -> None:
        if self._previous_context is None:  # the config was never touched
            return
        data = read_config()
        v2 = data["v2"]
        v2["contexts"].pop(CONTEXT, None)
        if v2.get("active_context") == CONTEXT:
            previous = self._previous_context
            v2["active_context"] = previous if previous in v2["contexts"] else ""
        if not v2["contexts"] and self._created_config:
            config_path().unlink(missing_ok=True)  # as it was: no file (pachyderm-sdk fails on an empty one)
        else:
            write_config(data)
        self._state_path().unlink(missing_ok=True)
        self._previous_context = None


def _read_state(path: Path) -> tuple[str, bool]:
    """What an earlier run recorded: the active context before ours ("" when unknown), and
    whether it created the config file."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        previous, created = state.get("previous_active_context"), state.get("created_config")
    except (OSError, ValueError, AttributeError):
        return "", False
    return (previous if isinstance(previous, str) and previous != CONTEXT else ""), created is True
