"""A testing IPython shell whose failing cells fail tests (jupysql's ``_testing`` idea).

``TestingShell.run_cell`` raises the cell's error instead of printing it, so a
test that runs a broken cell fails. ``TestingShell.fail`` runs a cell that is
*expected* to fail and returns the error and exactly what the shell showed for
it (stdout and stderr), so tests can assert that a bad command shows one line
and no traceback, as a user would see it.

Shells are real ``InteractiveShell`` objects with Jedi completion on, as in a
kernel. Each registers ``atexit`` callbacks and holds its namespace until the
interpreter ends, so a test suite that makes one per test must ``close()``
each: otherwise hundreds of callbacks and dozens of shells pile up and the
process takes half a minute to exit.
"""

from __future__ import annotations

import atexit
import contextlib
import io
from dataclasses import dataclass
from typing import Any

# Imported before any shell exists: this module keeps the ``__main__`` it sees at import
# time, and a shell swaps its own namespace module in there (which would pin that shell).
import IPython.core.completer  # noqa: F401
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from traitlets.config import Config

__all__ = ["TestingShell", "Failure", "new_shell"]


@dataclass
class Failure:
    """A cell that failed: its error and what the shell displayed."""

    error: BaseException
    shown: str

    @property
    def lines(self) -> list[str]:
        """The non-empty displayed lines."""
        return [line for line in self.shown.splitlines() if line.strip()]


class TestingShell(InteractiveShell):
    """An ``InteractiveShell`` for tests: errors in cells raise."""

    __test__ = False  # not a pytest test class

    def run_cell(self, raw_cell: str, *args: Any, **kwargs: Any) -> ExecutionResult:
        result: ExecutionResult = super().run_cell(raw_cell, *args, **kwargs)  # type: ignore[no-untyped-call,unused-ignore]
        # IPython 8 (Python 3.10) types these attributes loosely; 9 as BaseException.
        if result.error_before_exec is not None:
            raise result.error_before_exec  # type: ignore[misc,unused-ignore]
        if result.error_in_exec is not None:
            raise result.error_in_exec  # type: ignore[misc,unused-ignore]
        return result

    def value(self, cell: str) -> Any:
        """Run a cell and return its result (the value of its last expression)."""
        return self.run_cell(cell).result

    def fail(self, cell: str) -> Failure:
        """Run a cell that must fail; return its error and what the shell showed.

        Raises
        ------
        AssertionError
            If the cell succeeds.
        """
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result = InteractiveShell.run_cell(self, cell)  # type: ignore[no-untyped-call,unused-ignore]
        error = result.error_in_exec or result.error_before_exec
        if error is None:
            raise AssertionError(f"the cell did not fail: {cell!r}")
        return Failure(error, err.getvalue() + out.getvalue())

    def close(self) -> None:
        """Unload pachmagic, end the history session and drop this shell's ``atexit`` callbacks.

        Safe to call twice. What IPython would do at interpreter exit happens
        now, and the callbacks that would have done it are unregistered, so a
        closed shell leaves nothing behind for ``atexit``.
        """
        if getattr(self, "_pachmagic_closed", False):
            return
        self._pachmagic_closed = True
        from pachmagic.magics import unload_ipython_extension

        unload_ipython_extension(self)
        history = self.history_manager
        save_thread = getattr(history, "save_thread", None) if history is not None else None
        self.atexit_operations()  # type: ignore[no-untyped-call,unused-ignore]  # clears the namespace and ends the history session
        # The shell put its namespace module in sys.modules["__main__"]; put back the one it
        # replaced, or the next shell keeps this one (and every earlier one) alive.
        self.cleanup()  # type: ignore[no-untyped-call,unused-ignore]
        atexit.unregister(self.atexit_operations)
        if save_thread is not None:
            atexit.unregister(save_thread.stop)
        for magics in self.magics_manager.registry.values():
            stop = getattr(magics, "kill_bg_processes", None)  # ScriptMagics registers one per shell
            if stop is not None:
                atexit.unregister(stop)
        if type(self)._instance is self:  # type: ignore[attr-defined,unused-ignore]
            type(self).clear_instance()


def new_shell(extra: Config | None = None) -> TestingShell:
    """A fresh testing shell with an in-memory history and no colours (``close()`` it when done).

    Completion is configured as in a kernel: Jedi on (IPython's default). ``extra`` is more
    configuration, as a kernel's command line or config file would give (``PachMagic.lock_file``...).
    """
    config = Config()
    if extra is not None:
        config.merge(extra)
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.autocall = 0
    shell = TestingShell(config=config)  # type: ignore[no-untyped-call,unused-ignore]
    return shell
