"""Completion as JupyterLab asks for it: ``complete_request`` to a real ipykernel (Jedi on, its default).

The kernel is this interpreter's ipykernel, started by jupyter_client with an
isolated pachctl config; it connects to the test's embedded server. The reply
carries the matches and, in ``_jupyter_types_experimental``, each one's kind,
which JupyterLab shows beside it in the popup.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from jupyter_client.manager import KernelManager

from pachmagic.server import LocalServer


@pytest.fixture
def kernel(tmp_path: Path, server: LocalServer) -> Iterator[Any]:
    manager = KernelManager(kernel_name="python3")
    manager.kernel_spec.argv[0] = sys.executable  # this very environment
    env = {"PACH_CONFIG": str(tmp_path / "pachctl-config.json"), "PYTHONUNBUFFERED": "1"}
    manager.start_kernel(env={**_base_env(), **env}, cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        _run(client, "%load_ext pachmagic")
        _run(client, f"%pach connect {server.address}")
        seeded = server.client()
        try:
            seeded.pfs.create_repo("photos")
            seeded.pfs.put_files("photos@master", {"/hand.png": b"x", "/landscape.png": b"y"})
            seeded.pfs.create_branch("photos@staging", head="photos@master")
        finally:
            seeded.close()
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _base_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("PACHD_ADDRESS", None)
    return env


def _run(client: Any, code: str) -> None:
    reply = client.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]


def _complete(client: Any, code: str) -> tuple[list[str], list[str], str]:
    reply = client.complete(code, len(code), reply=True, timeout=60)["content"]
    assert reply["status"] == "ok"
    kinds = [m["type"] for m in reply["metadata"]["_jupyter_types_experimental"]]
    replaced = code[reply["cursor_start"]:reply["cursor_end"]]
    return reply["matches"], kinds, replaced


def test_complete_request_offers_only_our_candidates_with_kinds(kernel: Any) -> None:
    matches, kinds, replaced = _complete(kernel, "%pach list file photos@")
    assert (matches, kinds, replaced) == (["master", "staging"], ["branch", "branch"], "")
    matches, kinds, replaced = _complete(kernel, "%pach list file photos@m")
    assert (matches, kinds, replaced) == (["master"], ["branch"], "m")
    matches, kinds, _ = _complete(kernel, "%pach get file photos@master:/h")
    assert (matches, kinds) == (["/hand.png"], ["path"])
    matches, kinds, _ = _complete(kernel, "%pach list file -")
    assert matches and set(kinds) == {"flag"} and all(m.startswith("-") for m in matches)
    matches, kinds, _ = _complete(kernel, "%pach ")
    assert "list" in matches and set(kinds) == {"command"}
    matches, kinds, _ = _complete(kernel, "files = %pach list file pho")
    assert (matches, kinds) == (["photos@"], ["repo"])
    # outside %pach, the kernel completes Python as before
    matches, _, _ = _complete(kernel, "ab")
    assert "abs" in matches
