"""A testing IPython shell whose failing cells fail tests (jupysql's ``_testing`` idea).

``TestingShell.run_cell`` raises the cell's error instead of printing it, so a
test that runs a broken cell fails. ``TestingShell.fail`` runs a cell that is
*expected* to fail and returns the error and exactly what the shell showed for
it (stdout and stderr), so tests can assert that a bad command shows one line
and no traceback, as a user would see it.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

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


def new_shell() -> TestingShell:
    """A fresh testing shell with an in-memory history and no colours."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.autocall = 0
    config.IPCompleter.use_jedi = False  # faster; %pach completion does not use Jedi
    shell = TestingShell(config=config)  # type: ignore[no-untyped-call,unused-ignore]
    return shell
