"""The two servers of the conformance suite, and the session's tally.

``sides`` holds our embedded server and the reference, both fresh for the
session, each seen through raw gRPC and pachyderm-sdk (``harness.Side``). The
reference is chosen by ``PACHMAGIC_CONFORMANCE_REFERENCE``:

* unset: a genuine pachd 2.12.2 (``tests/realpachd``), skipped with the reason
  where Go or PostgreSQL cannot be had;
* ``embedded``: a second embedded server (a check of the runner itself: two
  servers of ours must not differ);
* ``HOST:PORT``: a server already running there (a pachd started by hand with
  ``python -m tests.realpachd``); it is reset between scenarios, so never point
  this at a cluster that holds data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from pachmagic.server import LocalServer

from tests.realpachd import fixtures as realpachd_fixtures
from tests.realpachd.launcher import RealPachd, RealPachdError

from .harness import Side
from .tally import Tally

ENV = "PACHMAGIC_CONFORMANCE_REFERENCE"
TUTORIAL = Path(__file__).resolve().parents[2] / "pachmagic" / "tutorial"


def _embedded(tmp: Path, name: str) -> LocalServer:
    # Jobs are held, as on the reference pachd, which has no workers to run them.
    return LocalServer(data_dir=tmp / name, in_process=True, workdir=TUTORIAL, run_jobs=False).start()


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


TALLY = Tally()


@pytest.fixture(scope="session")
def sides(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Side, Side]]:
    tmp = tmp_path_factory.mktemp("conformance")
    started: list[Any] = []
    choice = os.environ.get(ENV, "")
    try:
        ours_server = _embedded(tmp, "ours")
        started.append(ours_server)
        if choice == "embedded":
            ref_server = _embedded(tmp, "reference")
            started.append(ref_server)
            ref_address, ref_name = ref_server.address, "embedded"
        elif choice:
            ref_address, ref_name = choice.removeprefix("grpc://"), choice
        else:
            pachd = RealPachd(request.getfixturevalue("realpachd_binary"), request.getfixturevalue("postgres_server"))
            try:
                pachd.start()
            except RealPachdError as err:
                pytest.fail(str(err), pytrace=False)
            started.append(pachd)
            ref_address, ref_name = pachd.address, "pachd 2.12.2 (tests/realpachd)"
        TALLY.reference = ref_name
        ours, ref = Side("ours", ours_server.address), Side("pachd", ref_address)
        yield ours, ref
        ours.close()
        ref.close()
    finally:
        for server in reversed(started):
            server.stop()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the reference pachd before the first test, as tests/realpachd's own hook does for its fixtures."""
    if not os.environ.get(ENV) and any("conformance" in str(item.path) for item in session.items):
        realpachd_fixtures.pytest_collection_finish(_Needing(session))


class _Needing:
    """``session`` as seen by the realpachd build hook: one item that needs the binary."""

    def __init__(self, session: pytest.Session) -> None:
        self.config = session.config
        self.items = [type("Item", (), {"fixturenames": ("realpachd_binary",)})()]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY.scenarios:
        terminalreporter.write_sep("-", "conformance corpus")
        for line in TALLY.summary():
            terminalreporter.write_line(line)
