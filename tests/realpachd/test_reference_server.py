"""The reference-server fixture itself: a genuine pachd 2.12.2 that our client and pachyderm-sdk use.

What it must give, each checked here: Pachyderm's own server (cluster id
``mockPachd``, version 2.12.2), PFS through both clients, pipelines that reach
RUNNING (the pod trick), 20 MiB messages like a deployed pachd, fresh state
per server, and a clean stop (its database dropped, its files removed). Also
the hand-run command, ``python -m tests.realpachd``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from pachmagic.client import Client, connect
from tests.realpachd.launcher import RealPachd
from tests.realpachd.postgres import PostgresServer, find_bindir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(real_pachd: RealPachd) -> Any:
    with connect(real_pachd.address) as c:
        yield c


@pytest.fixture
def sdk(real_pachd: RealPachd) -> Any:
    from pachyderm_sdk import Client as SdkClient

    c = SdkClient(host="127.0.0.1", port=real_pachd.port)
    yield c
    c._channel.close()  # noqa: SLF001 - the SDK has no public close


def databases(pg: PostgresServer) -> set[str]:
    out = subprocess.run(
        [str(find_bindir() / "psql"), "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", pg.admin_db,
         "-Atc", "SELECT datname FROM pg_database"],
        capture_output=True, text=True, check=True,
    ).stdout
    return set(out.split())


def test_it_is_pachyderms_own_server(client: Client, sdk: Any) -> None:
    assert client.admin.inspect_cluster().id == "mockPachd"
    version = client.version()
    assert (version.major, version.minor, version.micro) == (2, 12, 2)
    assert sdk.get_version().minor == 12


def test_pfs_through_both_clients(client: Client, sdk: Any) -> None:
    from pachyderm_sdk.api import pfs

    client.pfs.create_repo("photos")
    client.pfs.put_files("photos@master", {"/a.txt": b"alpha"})
    # pachd finishes commits in the background: wait before reading sizes.
    info = client.pfs.wait_commit("photos@master")
    assert info.finished is not None
    assert client.pfs.get_file("photos@master:/a.txt") == b"alpha"
    assert sdk.pfs.pfs_file(file=pfs.File.from_uri("photos@master:/a.txt")).read() == b"alpha"
    with sdk.pfs.commit(branch=pfs.Branch.from_uri("photos@master")) as commit:
        commit.put_file_from_bytes(path="/b.txt", data=b"beta")
    commit.wait()
    assert sorted(f.path for f in client.pfs.list_file("photos@master:/")) == ["/a.txt", "/b.txt"]


def test_pipelines_reach_running(client: Client) -> None:
    client.pfs.create_repo("photos")
    client.pps.create_pipeline(
        {"pipeline": {"name": "edges"}, "transform": {"image": "python:3.11", "cmd": ["python3", "edges.py"]},
         "input": {"pfs": {"repo": "photos", "glob": "/*"}}}
    )
    deadline = time.monotonic() + 60
    while (state := client.pps.inspect_pipeline("edges").state) != "running" and time.monotonic() < deadline:
        assert state not in ("failure", "crashing"), client.pps.inspect_pipeline("edges").reason
        time.sleep(0.1)
    assert state == "running"


def test_accepts_20_mib_messages(sdk: Any, tmp_path: Path) -> None:
    """pachyderm-sdk's put_file_from_file sends ~19 MB messages; bare NewFull refuses over 4 MiB."""
    from pachyderm_sdk.api import pfs

    big = tmp_path / "big.bin"
    data = os.urandom(24 * 1024 * 1024)
    big.write_bytes(data)
    sdk.pfs.create_repo(repo=pfs.Repo(name="big"))
    with sdk.pfs.commit(branch=pfs.Branch.from_uri("big@master")) as commit, big.open("rb") as f:
        commit.put_file_from_file(path="/big.bin", file=f)
    commit.wait()
    assert sdk.pfs.pfs_file(file=pfs.File.from_uri("big@master:/big.bin")).read() == data


def test_fresh_state_and_clean_stop(real_pachd_factory: Callable[[], RealPachd], postgres_server: PostgresServer) -> None:
    first = real_pachd_factory()
    with connect(first.address) as c:
        c.pfs.create_repo("left_over")
    second = real_pachd_factory()
    with connect(second.address) as c:
        assert [r.name for r in c.pfs.list_repo()] == []
    own = {pachd: _own_databases(pachd, postgres_server) for pachd in (first, second)}
    assert all(len(names) == 1 for names in own.values()), own  # one database each, their own
    state_dirs = _state_dirs(first)
    assert state_dirs, "the server keeps its objects and etcd in a temporary directory"
    for pachd in (first, second):
        pachd.stop()
    assert not (own[first] | own[second]) & databases(postgres_server)
    assert not any(d.exists() for d in state_dirs)


def _own_databases(pachd: RealPachd, pg: PostgresServer) -> set[str]:
    """The program names its database after its pid."""
    assert pachd.process is not None
    return {name for name in databases(pg) if name.startswith(f"pachd_{pachd.process.pid}_")}


def _state_dirs(pachd: RealPachd) -> list[Path]:
    """The temporary directories the program has open (its objects and etcd)."""
    assert pachd.process is not None
    fd_dir = Path(f"/proc/{pachd.process.pid}/fd")
    targets = {os.path.realpath(p) for p in fd_dir.iterdir()}
    return sorted({Path(m.group(0)) for t in targets if (m := re.match(r".*/realpachd-[^/]+", t))})


def test_hand_run_command_serves_and_cleans_up(realpachd_binary: Path) -> None:
    """``python -m tests.realpachd --port P``: READY line, serves, and SIGTERM cleans everything."""
    from tests.realpachd.postgres import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.realpachd", "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == f"READY grpc://127.0.0.1:{port}", proc.stderr.read() if proc.poll() is not None else line
        children = _descendants(proc.pid)
        with connect(f"127.0.0.1:{port}") as c:
            assert c.admin.inspect_cluster().id == "mockPachd"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        stderr = proc.stderr.read() if proc.stderr else ""
        dirs = re.findall(r"(/\S*pachmagic-pg-[^\s)]+)", stderr)
        assert dirs and not any(Path(d).exists() for d in dirs), stderr
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists() and _is_live(pid)], stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    parents: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        parents.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _is_live(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
