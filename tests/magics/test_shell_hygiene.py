"""Test shells are closed: no ``InteractiveShell`` and no ``atexit`` callback outlives a test.

Before shells were closed, ``tests/magics`` left 61 shells and 186 ``atexit``
callbacks behind, and pytest took 18-34 s to exit after its summary.
"""

from __future__ import annotations

import atexit
import gc
import weakref
from typing import Any, Callable

import pytest

from pachmagic.magics import PachMagic
from pachmagic.magics._testing import TestingShell, new_shell


def _one_shell() -> TestingShell:
    shell = new_shell()
    shell.run_cell("%load_ext pachmagic")
    shell.run_cell("x = 1")
    return shell


def test_a_closed_shell_leaves_no_callback_and_is_freed(monkeypatch: pytest.MonkeyPatch) -> None:
    _one_shell().close()  # the first shell of a process imports modules that register once
    pending: list[Callable[..., Any]] = []
    register, unregister = atexit.register, atexit.unregister

    def track(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        pending.append(func)
        return register(func, *args, **kwargs)

    def untrack(func: Callable[..., Any]) -> None:
        pending[:] = [f for f in pending if f != func]
        unregister(func)

    monkeypatch.setattr(atexit, "register", track)
    monkeypatch.setattr(atexit, "unregister", untrack)
    shell = _one_shell()
    assert pending  # IPython and pachmagic did register callbacks for this shell
    ref = weakref.ref(shell)
    shell.close()
    shell.close()  # twice is fine
    del shell
    gc.collect()
    assert pending == []
    assert ref() is None


def test_a_test_with_the_shell_fixture(shell: TestingShell) -> None:
    assert shell.value("%pach help").text.startswith("usage:")


def test_the_shell_fixture_is_closed_after_each_test(shell: TestingShell) -> None:
    # the fixture's shell is the only one alive: the previous test's shell was closed and freed
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, TestingShell)]
    assert alive == [shell]
    assert any(isinstance(c, PachMagic) for c in shell.configurables)


def test_completion_is_configured_as_in_a_kernel() -> None:
    shell = new_shell()
    try:
        assert shell.Completer.use_jedi  # IPython's default, what a user's kernel has
    finally:
        shell.close()
