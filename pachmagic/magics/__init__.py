"""pachmagic.magics: ``%pach`` / ``%%pach``, pachctl's grammar inside IPython.

``%load_ext pachmagic`` calls ``load_ipython_extension``, which registers one
``PachMagic`` instance (it owns the session: client and embedded server),
makes it configurable with ``%config PachMagic.<option> = ...`` and installs
the tab completer. ``%unload_ext pachmagic`` closes the session.

Layout: ``magic.py`` (the magic class, options and router), ``parser.py``
(argparse that raises ``UsageError``), ``registry.py`` (the command table,
help), one module per noun (``repo``, ``branch``, ``commit``, ``put``,
``file``, ``pipeline``, ``pycell``, ``job``, ``datum``, ``logs``,
``connect``, ``config``, ``lock``, ``provenance``; ``rows`` and ``skips``
extend ``diff file`` and ``preview datums``), ``display.py``/``content.py``
(results and one-line errors), ``complete.py``, ``progress.py`` and
``reference.py`` (the README's generated reference). From the rest of
pachmagic only the client's public API, ``pachmagic.errors``, the rules of
``pachmagic.pachyderm``, the data tools ``pachmagic.rowdiff`` and
``pachmagic.provenance``, and ``pachmagic.server.LocalServer`` are imported.
"""

from __future__ import annotations

from typing import Any

from pachmagic.magics.magic import PachMagic

__all__ = ["PachMagic", "load_ipython_extension", "unload_ipython_extension"]

def load_ipython_extension(ipython: Any) -> None:
    """Register ``%pach`` (``%load_ext pachmagic``); loading twice keeps the first session."""
    from pachmagic.magics.complete import install

    for existing in ipython.configurables:
        if isinstance(existing, PachMagic):
            return
    magic = PachMagic(shell=ipython)
    ipython.register_magics(magic)
    ipython.configurables.append(magic)
    install(ipython, magic)
    ipython.events.register("pre_run_cell", magic.pre_run_cell)


def unload_ipython_extension(ipython: Any) -> None:
    """Close the session (client and embedded server) of ``%pach`` and remove its completer."""
    from pachmagic.magics.complete import uninstall

    uninstall(ipython)
    for existing in list(ipython.configurables):
        if isinstance(existing, PachMagic):
            if existing.pre_run_cell in ipython.events.callbacks["pre_run_cell"]:
                ipython.events.unregister("pre_run_cell", existing.pre_run_cell)
            existing.close()
            ipython.configurables.remove(existing)
