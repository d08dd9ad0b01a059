"""``PachMagic``: the ``%pach`` / ``%%pach`` magics, their configuration and router.

The router is small on purpose: split the line, take the global ``--verbose``,
find the command (``registry.resolve``), parse its arguments (argparse that
raises ``UsageError``), run it with a ``Context``, and turn failures into one
line (``display.MagicError``) unless verbose errors are on. Everything a
command does lives in its noun module.

The magic owns its ``Session`` (client, embedded server, caches): there is no
global or class-level state, so two shells never share a connection. Options
are traitlets, so ``%config PachMagic.display_limit = 20`` works.
"""

from __future__ import annotations

import atexit
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate

from pachmagic.errors import PachError
from pachmagic.magics import registry
from pachmagic.magics.context import Context
from pachmagic.magics.display import MagicError, Text
from pachmagic.magics.hints import hint_for
from pachmagic.magics.parser import CELL_NONE, CELL_REQUIRED, HelpRequested, split_line
from pachmagic.magics.session import Session

__all__ = ["PachMagic"]

_VERBOSE_FLAGS = ("--verbose",)


def _ref_argument(args: Any) -> str | None:
    """The command's first ``repo@ref[:path]`` argument, without its path (to name it in an error)."""
    for value in vars(args).values():
        if isinstance(value, str) and "@" in value and "://" not in value:
            return value.partition(":")[0]
    return None


def _cells(shell: Any) -> tuple[str | None, list[str]]:
    """The running cell's id and the ids of cells deleted since, from the front end's request.

    JupyterLab (and nbclient) send them in the ``execute_request``'s metadata
    (``cellId``, ``deletedCells``); ipykernel keeps that message as the shell's parent.
    """
    get_parent = getattr(shell, "get_parent", None)
    try:
        metadata = (get_parent() if callable(get_parent) else {}).get("metadata") or {}
    except Exception:  # no kernel, or an unusual one: cells are simply unknown
        return None, []
    cell_id = metadata.get("cellId")
    deleted = metadata.get("deletedCells") or []
    return (str(cell_id) if cell_id else None), [str(d) for d in deleted if isinstance(d, str)]


@magics_class
class PachMagic(Magics):
    """Pachyderm from a notebook: ``%pach COMMAND ...`` (see ``%pach help``)."""

    display_limit = Int(
        100, help="Rows shown when a listing DataFrame is displayed (0 = all). The DataFrame always has every row."
    ).tag(config=True)
    progress = Bool(
        True, help="Show progress bars (tqdm) for uploads, downloads and waits on commits and jobs."
    ).tag(config=True)
    default_project = Unicode(
        "", help="Project for names without one ('' = the pachctl context's project, else 'default')."
    ).tag(config=True)
    auto_wait = Bool(
        False,
        help="After 'put file' and 'create pipeline', wait for the jobs they trigger "
        "(per command: --wait / --no-wait).",
    ).tag(config=True)
    raise_on_failure = Bool(
        False,
        help="Make a cell fail when a job it waits for fails (its red line becomes the cell's error, so "
        "'Run All' stops there). Tests and CI notebooks turn it on.",
    ).tag(config=True)
    verbose_errors = Bool(
        False, help="Show failures with their full traceback instead of one line (per command: %pach --verbose ...)."
    ).tag(config=True)
    data_dir = Unicode(
        "", help="Data directory of the server 'connect local' starts ('' = a temporary one, removed with the kernel)."
    ).tag(config=True)
    workdir = Unicode(
        "", help="Where the server of 'connect local' runs relative transform commands ('' = the notebook's directory)."
    ).tag(config=True)
    default_image = Unicode(
        "python:3.11-slim", help="Image recorded for '%%pach pipeline' transforms (a cluster pulls it)."
    ).tag(config=True)
    completion_cache_seconds = Float(
        5.0, help="How long tab completion reuses repo, branch, file and pipeline names fetched from the server."
    ).tag(config=True)
    file_preview_bytes = Int(
        65536, help="Bytes of a text file that 'get file' displays (0 = all); .data always holds the whole file."
    ).tag(config=True)
    wait_poll_seconds = Float(
        0.2, help="How often waits with a progress bar poll the server for job progress."
    ).tag(config=True)
    lock_file = Unicode(
        "", help="The notebook's lock file: reads use the commits it pins, as '%pach lock use FILE'; while it does "
        "not exist yet, reads follow the branches and '%pach lock save' writes it there ('' = none)."
    ).tag(config=True)

    def __init__(self, shell: InteractiveShell | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)  # type: ignore[no-untyped-call,unused-ignore]  # IPython 8 is untyped
        self.session = Session(lambda: self.default_project)
        self._lock_to_use: Any = getattr(self, "_lock_to_use", None)  # what lock_file's validation read
        if self.lock_file:  # set from the command line or a config file, before the session existed
            self._on_lock_file({"new": self.lock_file})
        atexit.register(self.session.close)

    @observe("default_project")
    def _on_default_project(self, change: dict[str, Any]) -> None:
        self.session.apply_project()

    @validate("lock_file")
    def _valid_lock_file(self, proposal: dict[str, Any]) -> str:
        # A malformed file is refused here, so the option never names a lock that is not in use.
        from pachmagic.magics.lock import load_lock

        path = str(proposal["value"] or "")
        exists = bool(path) and Path(path).expanduser().exists()
        self._lock_to_use = load_lock(path, "PachMagic.lock_file", TraitError) if exists else None
        return path

    @observe("lock_file")
    def _on_lock_file(self, change: dict[str, Any]) -> None:
        if not hasattr(self, "session"):
            return  # during construction: __init__ applies it once the session exists
        self.session.recorder.use(self._lock_to_use)
        path = str(change["new"] or "")
        if path and self._lock_to_use is None:
            self.session.recorder.notify(
                f"no lock file {path} yet: reads follow the branches, and %pach lock save writes it there"
            )

    def pre_run_cell(self, info: Any = None) -> None:
        """Before every cell (an IPython event): close the panels of cells the user deleted."""
        _, deleted = _cells(self.shell)
        if deleted:
            self.session.forget_cells(deleted)

    def close(self) -> None:
        """Close the client and stop the embedded server (``%unload_ext pachmagic``)."""
        self.session.close()
        atexit.unregister(self.session.close)

    @line_cell_magic  # type: ignore[untyped-decorator,unused-ignore]  # untyped in IPython 8
    def pach(self, line: str, cell: str | None = None) -> Any:
        """Run a Pachyderm command; ``%pach help`` lists them."""
        tokens = split_line(line)
        verbose = bool(self.verbose_errors)
        while tokens and tokens[0] in _VERBOSE_FLAGS:
            verbose = True
            tokens.pop(0)
        if not tokens or tokens[0] in ("-h", "--help"):
            return Text(registry.help_text())
        command, rest = registry.resolve(tokens)
        if cell is not None and command.cell == CELL_NONE:
            raise UsageError(f"%%pach {command.name} takes no cell body (use %pach {command.name})")
        if command.cell == CELL_REQUIRED and not (cell or "").strip():
            raise UsageError(f"%pach {command.name} needs a cell body: {command.cell_help}")
        try:
            args = command.parse(rest)
        except HelpRequested as request:
            return Text(request.text)
        user_ns = self.shell.user_ns if self.shell is not None else None
        cell_id, _ = _cells(self.shell)
        ctx = Context(settings=self, session=self.session, cell=cell, user_ns=user_ns, cell_id=cell_id)
        try:
            with self.session.project(getattr(args, "project", None)):
                return command.run(ctx, args)
        except (PachError, OSError) as error:
            if verbose:
                raise
            client = self.session.client() if self.session.connected else None
            raise MagicError(error, hint_for(error, client), _ref_argument(args)) from None
