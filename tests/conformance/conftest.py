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
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Side, Side]]:
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
            ref_address, ref_name = _real_pachd(started)
        TALLY.reference = ref_name
        ours, ref = Side("ours", ours_server.address), Side("pachd", ref_address)
        yield ours, ref
        ours.close()
        ref.close()
    finally:
        for server in reversed(started):
            server.stop()


def _real_pachd(started: list[Any]) -> tuple[str, str]:
    try:
        from tests.realpachd import fixture  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pytest.skip(f"the reference pachd (tests/realpachd) is not in this tree yet; set {ENV}=embedded to check the runner")
    raise AssertionError("unreachable")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY.scenarios:
        terminalreporter.write_sep("-", "conformance corpus")
        for line in TALLY.summary():
            terminalreporter.write_line(line)
