"""pytest fixtures for the reference server: a genuine pachd 2.12.2 with fresh state.

Registered for the whole suite by ``tests/conftest.py``:

- ``postgres_server`` (session): one throwaway PostgreSQL for every reference
  pachd of the run (each pachd makes and drops its own database on it);
- ``realpachd_binary`` (session): the built program (``build.py``);
- ``real_pachd_factory`` (per test): ``make()`` starts one more pachd with
  fresh state and returns a started ``RealPachd`` (``.address``,
  ``.url``); all are stopped when the test ends;
- ``real_pachd`` (per test): one such pachd.
- ``real_pachd_workers`` (per test): one that runs its pipelines (``-workers``:
  worker pods as local processes, user code starting in the tutorial directory
  with this interpreter's ``python3``, as the embedded ``server`` fixture).

A fresh pachd per test (about 1 s to ready on an idle machine, 1.5-3 s while
other tests run) is affordable for the few hundred dual-server tests and keeps
every test independent of the others, as our own ``server`` fixture is.

Skips, with the reason, only where there is no Go toolchain or no PostgreSQL;
a failed build or a server that does not start fails the test.

The build runs once, before the first test (``pytest_collection_finish``),
when any collected test uses these fixtures: a cold build takes minutes and
must not count against a test's timeout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.realpachd import build, postgres
from tests.realpachd.launcher import RealPachd, RealPachdError

_NEEDS_BUILD = ("realpachd_binary",)
_outcome: dict[str, object] = {}


def _build_once(log: Callable[[str], None] | None = None) -> None:
    if _outcome:
        return
    try:
        _outcome["binary"] = build.build(log=log).path
    except build.GoUnavailable as err:
        _outcome["skip"] = str(err)
    except build.GoBuildError as err:
        _outcome["fail"] = str(err)


def _needs_build(item: pytest.Item) -> bool:
    if any(name in _NEEDS_BUILD for name in getattr(item, "fixturenames", ())):
        return True
    # Dual-server fixtures (any_server, the widgets' seeded) ask for the reference pachd lazily,
    # in their "real_pachd" parameter.
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "real_pachd" in callspec.params.values()


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(_needs_build(item) for item in session.items):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        _build_once(log=(lambda msg: reporter.write_line(msg)) if reporter is not None else None)


@pytest.fixture(scope="session")
def realpachd_binary() -> Path:
    _build_once()
    if "skip" in _outcome:
        pytest.skip(f"reference pachd unavailable: {_outcome['skip']}")
    if "fail" in _outcome:
        pytest.fail(f"building the reference pachd failed:\n{_outcome['fail']}", pytrace=False)
    binary = _outcome["binary"]
    assert isinstance(binary, Path)
    return binary


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    try:
        server = postgres.start()
    except postgres.PostgresUnavailable as err:
        pytest.skip(f"reference pachd unavailable: {err}")
    except postgres.PostgresError as err:
        pytest.fail(f"PostgreSQL for the reference pachd did not start: {err}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def real_pachd_factory(realpachd_binary: Path, postgres_server: postgres.PostgresServer) -> Iterator[Callable[..., RealPachd]]:
    started: list[RealPachd] = []

    def make(**options: Any) -> RealPachd:
        pachd = RealPachd(realpachd_binary, postgres_server, **options)
        try:
            pachd.start()
        except RealPachdError as err:
            pytest.fail(str(err), pytrace=False)
        started.append(pachd)
        return pachd

    yield make
    for pachd in reversed(started):
        if not pachd.alive():
            # Shown by pytest with the test's report.
            print(f"--- reference pachd died; its log ends ---\n{pachd.log_tail()}")
        pachd.stop()


@pytest.fixture
def real_pachd(real_pachd_factory: Callable[..., RealPachd]) -> RealPachd:
    return real_pachd_factory()


TUTORIAL = Path(__file__).resolve().parents[2] / "pachmagic" / "tutorial"


@pytest.fixture
def real_pachd_workers(real_pachd_factory: Callable[..., RealPachd]) -> RealPachd:
    """A reference pachd whose pipelines run (worker pods as local processes)."""
    return real_pachd_factory(workers=True, worker_dir=TUTORIAL)
