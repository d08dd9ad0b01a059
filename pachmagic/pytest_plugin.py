"""pytest fixtures for testing code that uses Pachyderm, against a real embedded server.

Installed with pachmagic and loaded by pytest through the ``pytest11`` entry
point, so a project that depends on pachmagic gets these fixtures with no
configuration::

    def test_counts_rows(pach_client, pach_repo):
        repo = pach_repo("sales", files={"/2026.csv": b"region,amount\\neu,3\\n"})
        assert my_code.count_rows(pach_client, f"{repo}@master:/2026.csv") == 1

Fixtures
--------
``pach_server``
    An embedded server with a fresh data directory (under the test's
    ``tmp_path``), started for one test and stopped after it.
``pach_server_session``
    One embedded server for the whole test session (faster when many tests
    each create their own repos).
``pach_client``
    A ``pachmagic.client.Client`` connected to ``pach_server``.
``pach_session_client``
    A client of ``pach_server_session`` (a new client per test, one server).
``pach_repo``
    A factory: ``pach_repo(name, files=None, *, branch="master", client=None)``
    creates a repo (optionally with a first commit of ``files``) and returns its
    ``Repo`` ref. ``client`` defaults to ``pach_client`` (whose server stops
    after the test); repos made with another client, such as
    ``pach_session_client``, are deleted after the test, so tests that share the
    session server stay independent.

Settings (``[tool.pytest.ini_options]`` or ``pytest.ini``):
``pachmagic_workdir`` is where the server runs relative transform commands
(default: pytest's rootdir); ``pachmagic_in_process`` runs servers on a thread of
the test process instead of a child process (default true: quicker to start).

This module imports only pytest at import time (it is loaded by every pytest
run in an environment where pachmagic is installed); the server and client are
imported when a fixture is first used. It must not hold state outside fixtures.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import pytest

if TYPE_CHECKING:
    from pachmagic.client import Client, Repo
    from pachmagic.server import LocalServer

__all__ = [
    "pach_server",
    "pach_server_session",
    "pach_client",
    "pach_session_client",
    "pach_repo",
    "RepoFactory",
]

RepoFactory = Callable[..., "Repo"]
"""The type of the ``pach_repo`` fixture: ``pach_repo(name, files=None, *, branch="master", client=None)``."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "pachmagic_workdir",
        "where pachmagic's embedded test servers run relative transform commands (default: the rootdir)",
        default="",
    )
    parser.addini(
        "pachmagic_in_process",
        "run pachmagic's embedded test servers on a thread of the test process (default: true)",
        type="bool",
        default=True,
    )


def _start(config: pytest.Config, data_dir: Path) -> LocalServer:
    from pachmagic.server import LocalServer

    workdir = str(config.getini("pachmagic_workdir") or "")
    where = Path(workdir) if workdir else Path(config.rootpath)
    if not where.is_absolute():
        where = Path(config.rootpath) / where
    in_process = bool(config.getini("pachmagic_in_process"))
    return LocalServer(data_dir, workdir=where, in_process=in_process).start()


@pytest.fixture
def pach_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalServer]:
    """An embedded Pachyderm-compatible server with a fresh data directory, for one test."""
    server = _start(request.config, tmp_path / "pachmagic-data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pach_server_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    """One embedded server shared by every test of the session."""
    server = _start(request.config, tmp_path_factory.mktemp("pachmagic-session") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pach_client(pach_server: LocalServer) -> Iterator[Client]:
    """A client connected to ``pach_server``."""
    client: Client = pach_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def pach_session_client(pach_server_session: LocalServer) -> Iterator[Client]:
    """A client (one per test) of the session's shared server."""
    client: Client = pach_server_session.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def pach_repo(request: pytest.FixtureRequest) -> Iterator[RepoFactory]:
    """A factory of repos, deleted after the test (see the module docstring)."""
    cleanup: list[tuple[Client, Repo]] = []

    def make(
        name: str,
        files: Mapping[str, Any] | None = None,
        *,
        branch: str = "master",
        client: Client | None = None,
        description: str = "",
    ) -> Repo:
        from pachmagic.client import Client

        use: Client = client if client is not None else request.getfixturevalue("pach_client")
        repo = use.pfs.create_repo(name, description=description)
        if client is not None:
            # A server that outlives the test: delete the repo afterwards, with a client of
            # our own (the caller's may be closed by then; fixtures tear down in any order).
            own = Client(use.address, token=use._endpoint.token, project=use.project)
            cleanup.append((own, repo))
        if files:
            use.pfs.put_files(repo.branch(branch), files)
        else:
            use.pfs.create_branch(repo.branch(branch))
        return repo

    yield make
    # Repos of ``pach_client``'s server need no cleanup: that server stops with the test.
    for own, repo in reversed(cleanup):
        with own:
            own.pfs.delete_repo(repo, force=True)
