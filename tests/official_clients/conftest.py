"""Fixtures for running the official Python clients' scripts against ``pachmagic serve``.

* ``python_pachyderm_python``: the interpreter of a separate virtualenv with
  ``python-pachyderm==7.6.0`` (it needs ``protobuf<4``, which cannot live next
  to pachmagic's generated code): ``pp_env.py`` builds it once and reuses it;
  a failed install fails the test with pip's output.
* ``child_server``: a fresh ``pachmagic serve`` child process (its own data
  directory, ``--workdir`` = the tutorial, so ``python3 contour.py`` resolves).
* ``run_script``: runs one script as a subprocess with a scrubbed environment
  (``HOME`` and ``PACH_CONFIG`` point into the test's tmp dir, so no developer
  config leaks in; ``PACHD_ADDRESS`` is the server) and returns its stdout lines.
* ``inproc_sdk``: pachyderm-sdk in this process, for checking server state.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn

import pytest

from pachmagic.server import LocalServer
from tests.official_clients import pp_env

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
TUTORIAL = REPO_ROOT / "pachmagic" / "tutorial"
PHOTOS = TUTORIAL / "photos"
SCRIPT_TIMEOUT = 300

# Variables that would change what the clients or their interpreter do.
_SCRUBBED = (
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV",
    "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION",
    "PACH_CONFIG", "PACHD_ADDRESS", "PACH_PYTHON_AUTH_TOKEN", "PACH_PYTHON_OIDC_TOKEN",
    "PACHD_PEER_SERVICE_HOST", "PACHD_PEER_SERVICE_PORT", "PACHD_SERVICE_HOST", "PACHD_SERVICE_PORT",
    "PPS_WORKER_GRPC_PORT",
)


@pytest.fixture(scope="session")
def python_pachyderm_python() -> Path:
    """The interpreter of a virtualenv holding python-pachyderm 7.6.0 (and protobuf 3.x)."""
    try:
        python, pp_version, protobuf_version = pp_env.python_pachyderm_python()
    except pp_env.EnvError as err:
        pytest.fail(str(err), pytrace=False)
    assert pp_version == "7.6.0"
    assert protobuf_version.startswith("3."), f"python-pachyderm's env resolved protobuf {protobuf_version}"
    return python


@pytest.fixture
def child_server(tmp_path: Path) -> Iterator[LocalServer]:
    """``pachmagic serve`` as a child process with a fresh data directory."""
    with LocalServer(data_dir=tmp_path / "data", workdir=TUTORIAL, in_process=False) as srv:
        yield srv


def clean_env(tmp: Path, address: str) -> dict[str, str]:
    """A script's environment: nothing of the developer's, ``HOME`` under ``tmp``, the server at ``address``."""
    home = tmp / "home"
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(
        HOME=str(home),
        PACH_CONFIG=str(home / "no-such-pachyderm-config.json"),
        PACHD_ADDRESS=address,
        PHOTOS_DIR=str(PHOTOS),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def script_env(tmp_path: Path, child_server: LocalServer) -> dict[str, str]:
    return clean_env(tmp_path, child_server.address)


@pytest.fixture
def write_pach_config(script_env: dict[str, str]) -> Callable[..., Path]:
    """``write_pach_config(**context)``: write a pachctl config at ``$PACH_CONFIG`` with one active context."""

    def write(**context: Any) -> Path:
        path = Path(script_env["PACH_CONFIG"])
        config = {"v2": {"active_context": "pachmagic-test", "contexts": {"pachmagic-test": context}}}
        path.write_text(json.dumps(config))
        return path

    return write


@pytest.fixture
def run_script(script_env: dict[str, str], child_server: LocalServer) -> Callable[..., list[str]]:
    """``run_script(python, path)``: run a client script, fail with its output if it fails."""

    def fail(script: Path, what: str, stdout: str | bytes | None, stderr: str | bytes | None) -> NoReturn:
        def text(out: str | bytes | None) -> str:
            return out.decode(errors="replace") if isinstance(out, bytes) else (out or "")

        server_log = "\n".join(child_server.log_lines[-40:])
        pytest.fail(
            f"{script.parent.name}/{script.name} {what}\n"
            f"--- stdout ---\n{text(stdout)}\n--- stderr ---\n{text(stderr)}\n"
            f"--- server log (tail) ---\n{server_log}",
            pytrace=False,
        )

    def run(python: Path | str, script: Path) -> list[str]:
        try:
            result = subprocess.run(
                [str(python), str(script)],
                cwd=script.parent,
                env=script_env,
                capture_output=True,
                text=True,
                timeout=SCRIPT_TIMEOUT,
            )
        except subprocess.TimeoutExpired as err:
            fail(script, f"did not finish in {SCRIPT_TIMEOUT} s", err.stdout, err.stderr)
        # Exit status and tracebacks only: grpc may log harmless lines on stderr.
        if result.returncode != 0 or "Traceback" in result.stderr:
            fail(script, f"exited {result.returncode}", result.stdout, result.stderr)
        return result.stdout.splitlines()

    return run


@pytest.fixture
def inproc_sdk(child_server: LocalServer) -> Iterator[Any]:
    """pachyderm-sdk in this process, connected to ``child_server``."""
    from pachyderm_sdk import Client

    host, port = child_server.address.rsplit(":", 1)
    client = Client(host=host, port=int(port))
    yield client
    client._channel.close()  # noqa: SLF001 - the SDK has no public close


def _check_lines(lines: list[str], expected: list[Any], what: str) -> None:
    """Every line equals its expected string or fully matches its pattern, in order."""
    shown = "\n".join(lines)
    assert len(lines) == len(expected), f"{what}: expected {len(expected)} lines, got {len(lines)}:\n{shown}"
    for i, (line, want) in enumerate(zip(lines, expected)):
        if isinstance(want, re.Pattern):
            assert want.fullmatch(line), f"{what}, line {i + 1}: {line!r} does not match {want.pattern!r}\n{shown}"
        else:
            assert line == want, f"{what}, line {i + 1}: {line!r} != {want!r}\n{shown}"


@pytest.fixture
def check_lines() -> Callable[[list[str], list[Any], str], None]:
    return _check_lines
