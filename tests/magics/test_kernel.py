"""The magics in a real ipykernel, driven as JupyterLab drives it (jupyter_client messages).

The kernel is this interpreter's ipykernel (Jedi completion on, its default),
started by jupyter_client with an isolated pachctl config; it connects to an
embedded server of this module. Executions carry the cell id in their
metadata, as JupyterLab and nbclient send it.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from jupyter_client.manager import KernelManager

from pachmagic.server import LocalServer

TUTORIAL = Path(__file__).resolve().parents[2] / "pachmagic" / "tutorial"


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(data_dir=tmp_path_factory.mktemp("data"), workdir=TUTORIAL, in_process=True).start()
    client = server.client()
    try:
        client.pfs.create_repo("photos")
        client.pfs.put_files("photos@master", {"/hand.png": b"x", "/landscape.png": b"y"})
        client.pfs.create_branch("photos@staging", head="photos@master")
    finally:
        client.close()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def kernel_manager(tmp_path_factory: pytest.TempPathFactory, module_server: LocalServer) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("kernel")
    manager = KernelManager(kernel_name="python3")
    manager.kernel_spec.argv[0] = sys.executable  # this very environment
    env = {k: v for k, v in os.environ.items() if k != "PACHD_ADDRESS"}
    env.update(PACH_CONFIG=str(home / "pachctl-config.json"), PYTHONUNBUFFERED="1")
    manager.start_kernel(env=env, cwd=str(home))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        run(client, "%load_ext pachmagic")
        run(client, f"%pach connect {module_server.address}")
        run(client, "%config PachMagic.wait_poll_seconds = 0.1")
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(kernel_manager: tuple[Any, Any]) -> Any:
    return kernel_manager[1]


def run(client: Any, code: str, *, cell_id: str | None = None, deleted: list[str] = (),  # type: ignore[assignment]
        ok: bool = True, on_output: Any = None) -> list[dict[str, Any]]:
    """Execute ``code`` as JupyterLab does (cell id in the metadata); the iopub outputs.

    Display updates (``update_display_data``) are outputs too; ``on_output(output)``
    sees each as it comes.
    """
    metadata: dict[str, Any] = {"cellId": cell_id or uuid.uuid4().hex}
    if deleted:
        metadata["deletedCells"] = list(deleted)
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
               "stop_on_error": True}
    msg = client.session.msg("execute_request", content, metadata=metadata)
    client.shell_channel.send(msg)
    outputs = []
    while True:
        reply = client.get_iopub_msg(timeout=120)
        if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        kind = reply["msg_type"]
        if kind == "status" and reply["content"]["execution_state"] == "idle":
            break
        if kind in ("stream", "display_data", "update_display_data", "execute_result", "error"):
            outputs.append({"type": kind, **reply["content"]})
            if on_output is not None:
                on_output(outputs[-1])
    shell = client.get_shell_msg(timeout=120)
    assert (shell["content"]["status"] == "ok") == ok, outputs
    return outputs


def value(client: Any, expression: str) -> str:
    """The text/plain repr of ``expression`` in the kernel."""
    [result] = [o for o in run(client, expression) if o["type"] == "execute_result"]
    return str(result["data"]["text/plain"])


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


POLLERS = ("sorted(t.name for t in __import__('threading').enumerate() "
           "if t.name.startswith('pachmagic-') and t.name.endswith('-refresh'))")


def test_rerunning_a_dashboard_cell_leaves_one_dashboard_polling(kernel: Any) -> None:
    cell = uuid.uuid4().hex
    for _ in range(3):
        outputs = run(kernel, "board = %pach dashboard\nboard", cell_id=cell)
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert value(kernel, POLLERS) == "['pachmagic-Dashboard-refresh']"
    other = uuid.uuid4().hex
    run(kernel, "%pach dashboard", cell_id=other)  # another cell's dashboard is its own
    assert value(kernel, POLLERS) == "['pachmagic-Dashboard-refresh', 'pachmagic-Dashboard-refresh']"
    # deleting the cells (JupyterLab says so with the next execution) closes their dashboards
    run(kernel, "1", deleted=[cell, other])
    assert value(kernel, "board.closed") == "True"
    assert value(kernel, POLLERS) == "[]"


SLOW = {
    "pipeline": {"name": "slow"},
    "transform": {"image": "busybox", "cmd": ["sh", "-c", "sleep $(cat /pfs/nums/*); cp /pfs/nums/* /pfs/out/"]},
    "input": {"pfs": {"repo": "nums", "glob": "/"}},
}


def test_a_wait_shows_its_jobs_then_leaves_a_summary_and_no_bar(kernel: Any, module_server: LocalServer) -> None:
    client = module_server.client()
    try:
        client.pfs.create_repo("nums")
        client.pfs.put_file("nums@master", "/n", "2")  # the job takes two seconds
        client.pps.create_pipeline(SLOW)
        outputs = run(kernel, "%pach wait commit slow@master")
    finally:
        client.close()
    displays = [o for o in outputs if o["type"] in ("display_data", "update_display_data")]
    first, last = displays[0], displays[-1]
    assert first["type"] == "display_data" and first["data"] == {}  # what a test runner records ...
    assert last["type"] == "update_display_data" and last["data"] == {}  # ... and what a saved notebook keeps
    assert first["transient"]["display_id"] == last["transient"]["display_id"]
    shown = [o["data"].get("text/plain", "") for o in displays if o["data"]]
    assert any(t.startswith("waiting for slow@master: jobs 0/1 · datums 0/1 — slow running") for t in shown), shown
    assert any("pachmagic-progress-line" in o["data"].get("text/html", "") for o in displays if o["data"])
    [summary] = [o["text"] for o in outputs if o["type"] == "stream"]
    assert summary == "slow@master: slow success (1 processed)\n"


def test_interrupting_a_wait_says_one_line_and_the_session_goes_on(kernel_manager: tuple[Any, Any],
                                                                   module_server: LocalServer) -> None:
    manager, kernel = kernel_manager
    client = module_server.client()
    try:
        # Each time at another moment of the wait's loop (a gRPC call, a display update, a sleep):
        # in CI one interrupt once left a lock of gRPC's taken and the kernel never answered again.
        for delay in (0.0, 0.04, 0.09, 0.17):
            client.pfs.put_file("nums@master", "/n", "60")  # a job of a minute
            interrupted: list[bool] = []

            def interrupt_once_waiting(output: dict[str, Any]) -> None:
                text = output.get("data", {}).get("text/plain", "")
                if text.startswith("waiting for slow@master") and not interrupted:
                    interrupted.append(True)
                    time.sleep(delay)
                    manager.interrupt_kernel()  # Kernel > Interrupt

            outputs = run(kernel, "%pach wait commit slow@master", ok=False, on_output=interrupt_once_waiting)
            [error] = [o for o in outputs if o["type"] == "error"]
            assert error["traceback"] == ["interrupted: slow@master still has 1 running job"]
            assert [o for o in outputs if o["type"] == "update_display_data"][-1]["data"] == {}  # no bar left
            # the session and the server are fine
            run(kernel, "repos = %pach list repo")
            assert "nums" in value(kernel, "list(repos['name'])")
            client.pps.stop_job(client.pps.list_job(pipeline="slow", number=1)[0].job)
    finally:
        client.close()
