"""Shared fixtures: real embedded servers over real gRPC, and clients for them.

``server`` starts a fresh in-process ``LocalServer`` (its own data directory
under the test's tmp_path) for each test; ``server_factory`` makes more, with
options (child process, auth token, a given data dir). Nothing here is mocked:
every test talks gRPC to a real server on 127.0.0.1.

The reference server (a genuine pachd 2.12.2: ``real_pachd``,
``real_pachd_workers`` (one that runs pipelines), ``real_pachd_factory``,
``postgres_server``, ``realpachd_binary``) comes from
``tests/realpachd/fixtures.py``, imported here so every test can use it.

``any_server`` runs a test once against each: a fresh embedded server
(``[embedded]``) and a fresh reference pachd (``[real_pachd]``). Client,
magics, ``pfs://`` and widget tests use it, so what they check holds on a
cluster too. A test that needs pipeline workers (datums that run, outputs,
logs) is marked ``@pytest.mark.workers``: on the reference it gets a pachd
that runs them (``real_pachd_workers``: Pachyderm's own worker and sidecar as
local processes, user code starting in the tutorial directory, as ``server``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

from pachmagic.server import LocalServer
from tests.dual_server import SERVER_KINDS, ServerUnderTest
from tests.realpachd.fixtures import (  # noqa: F401 - fixtures and a hook, registered by import
    _realpachd_spares,
    postgres_server,
    pytest_collection_finish,
    real_pachd,
    real_pachd_factory,
    real_pachd_workers,
    realpachd_binary,
)

# Property tests check what is generated, never how fast: Hypothesis's per-example
# deadline and its "too slow" health check are wall-clock assertions, which fail
# on a loaded machine (seen on 2 shared cores) and say nothing about the code.
settings.register_profile("pachmagic", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pachmagic")

TUTORIAL = Path(__file__).resolve().parents[1] / "pachmagic" / "tutorial"


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    started: list[LocalServer] = []

    def make(**kwargs: Any) -> LocalServer:
        kwargs.setdefault("data_dir", tmp_path / f"data{len(started)}")
        kwargs.setdefault("in_process", True)
        kwargs.setdefault("workdir", TUTORIAL)
        srv = LocalServer(**kwargs).start()
        started.append(srv)
        return srv

    yield make
    for srv in reversed(started):
        srv.stop()


@pytest.fixture
def server(server_factory: Callable[..., LocalServer]) -> LocalServer:
    return server_factory()


@pytest.fixture
def sdk(server: LocalServer) -> Any:
    """The official pachyderm-sdk client, connected to ``server``."""
    from pachyderm_sdk import Client

    host, port = server.address.rsplit(":", 1)
    client = Client(host=host, port=int(port))
    yield client
    client._channel.close()  # noqa: SLF001 - the SDK has no public close


# --- the same test against both servers ------------------------------------------


@pytest.fixture(params=SERVER_KINDS)
def any_server(request: pytest.FixtureRequest) -> ServerUnderTest:
    """A fresh server of each kind in turn (fixtures are only started for their own kind)."""
    if request.param == "real_pachd":
        # Only tests that run jobs pay for worker pods (each pipeline's pod starts its processes).
        runs_jobs = request.node.get_closest_marker("workers") is not None
        pachd = request.getfixturevalue("real_pachd_workers" if runs_jobs else "real_pachd")
        return ServerUnderTest("real_pachd", pachd.address)
    return ServerUnderTest("embedded", request.getfixturevalue("server").address)


@pytest.fixture
def any_sdk(any_server: ServerUnderTest) -> Any:
    """pachyderm-sdk connected to ``any_server``."""
    from pachyderm_sdk import Client as SdkClient

    host, port = any_server.address.rsplit(":", 1)
    client = SdkClient(host=host, port=int(port))
    yield client
    client._channel.close()  # noqa: SLF001 - the SDK has no public close
