"""pachmagic: Pachyderm inside Jupyter.

``%load_ext pachmagic`` adds the ``%pach`` magics; ``pachmagic.connect()``
returns a client for a Pachyderm cluster or the embedded server;
``pachmagic.diff_rows(old, new, key=...)`` compares two tables row by row;
``pachmagic.server.LocalServer`` runs that server on this machine; as a Jupyter
server extension (``pachmagic.serverext``), pachmagic shares one such server
with everything in a JupyterLab.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "connect", "diff_rows", "load_ipython_extension", "unload_ipython_extension"]


def connect(address: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """Connect to pachd (see ``pachmagic.client.connect``).

    With no address (and no other argument) in a notebook where ``%pach connect``
    connected, the client follows that connection, as ``pfs://`` URLs do; it is a
    client of its own (closing it leaves the notebook's). Elsewhere the usual
    resolution applies: ``PACHD_ADDRESS``, pachctl's active context, ``localhost:30650``.
    """
    from .client import connect as _connect

    if address is None and not kwargs:
        from .fs import get_default_client

        active = get_default_client()
        if active is not None:
            return active.fork(source="the notebook's %pach connection")
    return _connect(address, **kwargs)


def diff_rows(old, new, key=None, **kwargs):  # type: ignore[no-untyped-def]
    """Compare two tables row by row (see ``pachmagic.rowdiff.diff_rows``)."""
    from .rowdiff import diff_rows as _diff_rows

    return _diff_rows(old, new, key, **kwargs)


def load_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    """Register the ``%pach`` magics (``%load_ext pachmagic``)."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    """Remove the magics and stop a server ``%pach connect local`` started."""
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_server_extension_points():  # type: ignore[no-untyped-def]
    """The Jupyter server extension (imported only by a Jupyter server: it needs jupyter_server)."""
    from .serverext import PachMagicServer

    return [{"module": "pachmagic.serverext", "app": PachMagicServer}]
