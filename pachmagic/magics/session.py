"""The state of one ``%pach`` session: its client, its embedded server, its caches.

A ``Session`` belongs to one ``PachMagic`` instance (one kernel); nothing here
is global or class-level. The client is created lazily: a command before any
``%pach connect`` connects with the usual address resolution
(``PACHD_ADDRESS``, pachctl's active context, ``localhost:30650``), as pachctl
does. ``connect local`` starts a ``LocalServer`` in a child process that lives
as long as the session (and dies with the kernel).

This module imports ``pachmagic.client`` and, from the server, only
``LocalServer``.

The session owns a ``ReadRecorder``: every client it makes records its file
reads there and resolves them through the lock in use (``%pach lock``), and
``pfs://`` reads through that client. Completion and live panels use
``quiet_client()``, whose reads are neither recorded nor locked.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from pachmagic import fs
from pachmagic.client import Client, ReadRecorder, connect
from pachmagic.server import LocalServer

__all__ = ["Session"]

T = TypeVar("T")


class Session:
    """A connection to pachd plus, optionally, the embedded server it talks to.

    Parameters
    ----------
    default_project:
        Returns the project configured for the session ("" = the client's own default).
    """

    def __init__(self, default_project: Callable[[], str]) -> None:
        self._default_project = default_project
        self._client: Client | None = None
        self._quiet: Client | None = None
        self.recorder = ReadRecorder(notify=print)  # notes go to the cell's output
        self._server: LocalServer | None = None
        self._server_options: tuple[str | None, str, int] | None = None
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self.how: str = ""
        self.restarted = False  # whether the last connect_local replaced a server with temporary data
        self._shown: dict[str, Any] = {}  # cell id -> the live panel that cell shows

    # --- connection ---------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a client exists (no RPC is made to check)."""
        return self._client is not None

    @property
    def server(self) -> LocalServer | None:
        """The embedded server this session started, if any."""
        return self._server

    def client(self) -> Client:
        """The session's client; connects with the usual address resolution on first use."""
        if self._client is None:
            self._set_client(connect(recorder=self.recorder), "resolved")
        assert self._client is not None
        return self._client

    def quiet_client(self) -> Client:
        """The session's client without read recording or lock (for completion and panels)."""
        client = self.client()
        if self._quiet is None:
            self._quiet = client.unrecorded()
        return self._quiet

    def _set_client(self, client: Client, how: str) -> None:
        if self._client is not None:
            self._client.close()
        self._quiet = None
        self._client = client
        fs.set_default_client(client)  # pfs:// URLs follow the session's connection
        self.how = how
        self._cache.clear()
        self.apply_project()

    def apply_project(self) -> None:
        """Make the configured default project the client's project (if one is set)."""
        project = self._default_project()
        if self._client is not None and project:
            self._client.project = project

    def connect(self, address: str | None) -> Client:
        """Connect to pachd at ``address`` (None: the usual resolution), once it answers.

        If the new server does not answer, the error is raised and the session
        keeps its working connection (a typo does not leave it on a dead address).
        """
        candidate = connect(address, recorder=self.recorder)
        try:
            candidate.version()
        except BaseException:
            candidate.close()
            raise
        self._set_client(candidate, "address" if address else "resolved")
        return self.client()

    def connect_local(self, *, data_dir: str | None, workdir: str, port: int = 0) -> Client:
        """Start (or reuse) the embedded server and connect to it.

        Parameters
        ----------
        data_dir:
            Where the server keeps its state; None for a temporary directory
            removed when the session ends.
        workdir:
            Where relative transform commands run.
        port:
            TCP port on 127.0.0.1 (0 picks a free one).
        """
        options = (str(Path(data_dir).expanduser().resolve()) if data_dir else None, workdir, port)
        self.restarted = False
        if self._server is not None and (not self._server.running or options != self._server_options):
            self.restarted = self._server_options is not None and self._server_options[0] is None
            self.stop_server()
        if self._server is None:
            self._server = LocalServer(options[0], port=port, workdir=workdir).start()
            self._server_options = options
        self._set_client(self._server.client(recorder=self.recorder), "local")
        return self.client()

    def stop_server(self) -> None:
        """Stop the embedded server (its temporary data directory is removed)."""
        if self._server is not None:
            if self._client is not None and self.how == "local":
                self._client.close()
                self._client = self._quiet = None
                fs.set_default_client(None)
            self._server.stop()
            self._server = None
            self._server_options = None

    # --- live panels ---------------------------------------------------------

    def show_in_cell(self, cell_id: str | None, panel: T) -> T:
        """Record ``panel`` as what cell ``cell_id`` shows, closing the panel it replaces.

        Re-running a ``%pach dashboard`` cell replaces its output: the old
        dashboard would go on polling the server unseen, so it is closed.
        Without a cell id (no notebook front end) nothing is replaced.
        """
        if cell_id is not None:
            previous = self._shown.pop(cell_id, None)
            if previous is not None and previous is not panel:
                previous.close()
            self._shown[cell_id] = panel
        return panel

    def forget_cells(self, cell_ids: list[str]) -> None:
        """Close the panels of cells the user deleted."""
        for cell_id in cell_ids:
            panel = self._shown.pop(cell_id, None)
            if panel is not None:
                panel.close()

    def close(self) -> None:
        """Close the live panels and the client, and stop the embedded server."""
        for panel in list(self._shown.values()):
            panel.close()
        self._shown.clear()
        if self._client is not None:
            self._client.close()
            self._client = self._quiet = None
            fs.set_default_client(None)
        self.stop_server()

    # --- project -------------------------------------------------------------

    @contextmanager
    def project(self, name: str | None) -> Iterator[None]:
        """Use ``name`` as the client's project inside the block (None: unchanged)."""
        if not name:
            yield
            return
        client = self.client()
        before = client.project
        client.project = name
        try:
            yield
        finally:
            client.project = before

    # --- cache (for completion) ------------------------------------------------

    def cached(self, key: tuple[Any, ...], ttl: float, fetch: Callable[[], T]) -> T:
        """Return ``fetch()``, reusing a value younger than ``ttl`` seconds for ``key``."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < ttl:
            value: T = hit[1]
            return value
        value = fetch()
        self._cache[key] = (now, value)
        return value

    def forget(self) -> None:
        """Drop cached listings (after a command that changed the server)."""
        self._cache.clear()
