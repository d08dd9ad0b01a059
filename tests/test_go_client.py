"""Pachyderm's Go client (2.12.2) runs the tutorial against ``pachmagic serve``.

``tests/go/tutorial/main.go`` is our program written against
``github.com/pachyderm/pachyderm/v2/src/client``, doing what the book's Go
scripts do, each step checked inside the program (it prints ``ok ...`` per
step, ``FAIL ...`` and exits 1 on the first failure). It connects the way
those scripts do, ``client.NewOnUserMachine``, so through the active pachctl
context of ``PACH_CONFIG``. Afterwards pachyderm-sdk confirms the server state.

Skipped only where there is no Go toolchain; a failed build fails.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest

from pachmagic.server import LocalServer

GO_DIR = Path(__file__).resolve().parent / "go"
TUTORIAL = Path(__file__).resolve().parents[1] / "pachmagic" / "tutorial"


def _load(name: str) -> ModuleType:
    key = f"pachmagic_go_helpers.{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, GO_DIR / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


gobuild = _load("gobuild")
runner = _load("pachctl_runner")

pytestmark = pytest.mark.timeout(gobuild.BUILD_TIMEOUT + 600)


@pytest.fixture(scope="session")
def go_binaries() -> Any:
    return gobuild.build_or_skip()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[LocalServer]:
    with LocalServer(data_dir=tmp_path / "data", workdir=TUTORIAL, in_process=False) as srv:
        yield srv
        print("--- server log (tail) ---\n" + "\n".join(srv.log_lines[-60:]))


def test_go_client_runs_the_tutorial(go_binaries: Any, serve: LocalServer, tmp_path: Path) -> None:
    # The same context pachctl would use (writes $PACH_CONFIG; the program reads it).
    context = runner.Pachctl(go_binaries.pachctl, serve.address, tmp_path / "home")
    result = subprocess.run(
        [str(go_binaries.tutorial), str(TUTORIAL / "photos")],
        env=context.env, capture_output=True, text=True, timeout=600,
    )
    shown = f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    assert result.returncode == 0, shown
    lines = result.stdout.splitlines()
    assert lines == [
        "ok version 2.12.2; cluster without warnings",
        "ok create repo photos; repos: photos",
        "ok put file x3; files: /brown_vase.png /hand.png /landscape.png",
        "ok create pipelines; pipelines: contour histogram",
        lines[4] if lines[4:5] and lines[4].startswith("ok outputs ready; histogram@master:/brown_vase.png is a ") else "<outputs>",
        "ok cleanup; no repos, no pipelines",
        "PASS",
    ], shown
    # The client logs the version-skew warning on stderr when warnings_ok is missing.
    assert not runner.WARNING.search(result.stderr), shown
    # The client saved the cluster's deployment id into its context, as pachctl does.
    assert context.context().get("cluster_deployment_id")

    # Nothing left behind, seen by another official client.
    from pachyderm_sdk import Client

    host, port = serve.address.rsplit(":", 1)
    sdk = Client(host=host, port=int(port))
    try:
        assert list(sdk.pfs.list_repo()) == []
        assert list(sdk.pps.list_pipeline()) == []
    finally:
        sdk._channel.close()  # noqa: SLF001 - the SDK has no public close
