"""The two servers of the run corpus: both run their jobs.

``running_sides``: our embedded server (jobs run, user code starting in the
tutorial directory) and the reference chosen as for the rest of the corpus by
``PACHMAGIC_CONFORMANCE_REFERENCE``: unset, a genuine pachd 2.12.2 in its
``-workers`` mode (tests/realpachd), skipped with the reason where Go or
PostgreSQL cannot be had; ``embedded``, a second server of ours (a check of
the runner); ``HOST:PORT``, a server already running there, which must run
pipelines (``python -m tests.realpachd --workers``) and is reset between
scenarios.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from pachmagic.server import LocalServer
from tests.realpachd.launcher import RealPachd, RealPachdError

from ..conftest import ENV
from ..harness import Side
from ..tally import Tally

TUTORIAL = Path(__file__).resolve().parents[3] / "pachmagic" / "tutorial"
RUN_TALLY = Tally()


def _embedded(tmp: Path, name: str) -> LocalServer:
    return LocalServer(data_dir=tmp / name, in_process=True, workdir=TUTORIAL).start()


@pytest.fixture(scope="session")
def run_tally() -> Tally:
    return RUN_TALLY


@pytest.fixture(scope="session")
def running_sides(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Side, Side]]:
    tmp = tmp_path_factory.mktemp("conformance-runs")
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
            pachd = RealPachd(
                request.getfixturevalue("realpachd_binary"), request.getfixturevalue("postgres_server"),
                workers=True, worker_dir=TUTORIAL,
            )
            try:
                pachd.start()
            except RealPachdError as err:
                pytest.fail(str(err), pytrace=False)
            started.append(pachd)
            ref_address, ref_name = pachd.address, "pachd 2.12.2 with workers (tests/realpachd -workers)"
        RUN_TALLY.reference = ref_name
        ours, ref = Side("ours", ours_server.address), Side("pachd", ref_address)
        yield ours, ref
        ours.close()
        ref.close()
    finally:
        for server in reversed(started):
            server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RUN_TALLY.scenarios:
        terminalreporter.write_sep("-", "conformance corpus: jobs that run")
        for line in RUN_TALLY.summary():
            terminalreporter.write_line(line)
