"""Crash safety: SIGKILL the server at 50 random (seeded) moments of uploads and commits.

Each cycle starts a child-process server on the same data directory, runs a
random mix of one-off puts, multi-file commits and multi-chunk uploads from a
client thread, and kills the server with SIGKILL after a random delay. Then:

* ``fsck`` of the data directory reports no damage (an unreferenced pack tail
  from the interrupted write is allowed: it is a note, trimmed at the next start);
* after restart every acknowledged write reads back byte for byte;
* no half-written change is visible: every operation writes its own directory
  of files in one ModifyFile stream, and any commit that holds part of such a
  directory holds all of it, with the right bytes.

Set ``PACHMAGIC_DURABILITY_SEED`` to replay a run.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import tarfile
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest

from pachmagic._proto import pfs_pb2, pfs_pb2_grpc
from pachmagic.errors import PachError
from pachmagic.server import LocalServer
from pachmagic.server.storage.fsck import fsck_data_dir

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("PACHMAGIC_DURABILITY_SEED", "20261128"))
KILL_POINTS = int(os.environ.get("PACHMAGIC_DURABILITY_KILLS", "50"))
CHUNK = 4 * 1024 * 1024


def content(op: int, index: int, size: int) -> bytes:
    """Deterministic bytes for file ``index`` of operation ``op`` (cheap to regenerate)."""
    block = hashlib.sha256(f"{op}/{index}".encode()).digest() * 128  # 4 KiB
    return (block * (size // len(block) + 1))[:size]


class Workload:
    """Random operations on ``data@master``; remembers what the server acknowledged."""

    def __init__(self, rng: random.Random, first_op: int) -> None:
        self.rng = rng
        self.next_op = first_op
        self.expected: dict[int, dict[str, int]] = {}  # op -> its files' sizes
        self.acked: list[int] = []
        self.cycle_start = first_op

    def plan(self) -> tuple[int, str, dict[str, bytes]]:
        op = self.next_op
        self.next_op += 1
        kind = self.rng.choice(["oneoff", "oneoff", "commit", "big"])
        if kind == "big":
            sizes = [self.rng.randrange(CHUNK + 1, CHUNK + CHUNK // 2)]  # two chunks
        else:
            # Ops big enough that a kill often lands inside one, few enough to verify quickly.
            sizes = [self.rng.randrange(0, 60_000) for _ in range(self.rng.randrange(1, 30))]
        self.expected[op] = {f"/op{op:05d}/f{i:03d}": size for i, size in enumerate(sizes)}
        return op, kind, self.files(op)

    def files(self, op: int) -> dict[str, bytes]:
        """The files of ``op`` (regenerated, so the run need not hold them all in memory)."""
        return {path: content(op, i, size) for i, (path, size) in enumerate(self.expected[op].items())}

    def run(self, client: Any, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                op, kind, files = self.plan()
                if kind == "commit":
                    with client.pfs.commit("data@master", description=f"op {op}") as commit:
                        commit.put_files(files)
                else:
                    client.pfs.put_files("data@master", files)
                self.acked.append(op)
        except (PachError, Exception):  # noqa: BLE001 - the kill interrupts whatever runs
            return


def check_atomic(client: Any, ref: str, workload: Workload, ops: set[int] | None = None) -> set[int]:
    """Op directories in ``ref`` are complete (all ops, or those in ``ops`` file by file).

    Returns the ops present. A directory's size is the sum of its files', so
    comparing it catches a partial one; ``ops`` are also checked per file.
    """
    present = set()
    for info in client.pfs.list_file(f"{ref}:/"):
        op = int(info.path.strip("/")[2:])
        present.add(op)
        expected = workload.expected[op]
        assert info.size_bytes == sum(expected.values()), f"op {op} is half-written in {ref}"
        if ops is not None and op in ops:
            files = {i.path: i.size_bytes for i in client.pfs.list_file(f"{ref}:{info.path}")}
            assert files == expected, f"op {op} is half-written in {ref}"
    return present


def test_sigkill_at_random_points_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    workload = Workload(rng, first_op=0)
    seen_commits: set[str] = set()
    for cycle in range(KILL_POINTS):
        server = LocalServer(data_dir, in_process=False).start()
        client = server.client()
        try:
            if cycle == 0:
                client.pfs.create_repo("data")
            else:
                verify(client, workload, seen_commits)
            acked_before = len(workload.acked)
            workload.cycle_start = workload.next_op
            stop = threading.Event()
            worker = threading.Thread(target=workload.run, args=(client, stop))
            worker.start()
            threading.Event().wait(rng.uniform(0.05, 0.6))
            server.kill()  # SIGKILL, mid-whatever
            stop.set()
            worker.join(timeout=60)
            assert not worker.is_alive()
        finally:
            client.close()
            server.stop()
        # References every time; every chunk's bytes every 25th time (and at the end).
        report = fsck_data_dir(data_dir, verify_data=cycle % 25 == 24)
        assert report.ok, (cycle, report.problems)
        assert len(workload.acked) >= acked_before
    server = LocalServer(data_dir, in_process=False).start()
    try:
        with server.client() as client:
            verify(client, workload, seen_commits)
            # Byte for byte, every acknowledged file of the whole run (one GetFileTAR stream).
            stored = read_all(server.address)
            for op in workload.acked:
                for path, data in workload.files(op).items():
                    assert stored[path] == data, path
    finally:
        server.stop()
    report = fsck_data_dir(data_dir)
    assert report.ok and not report.notes, (report.problems, report.notes)
    assert len(workload.acked) >= KILL_POINTS  # the kills really hit work in progress


def read_all(address: str) -> dict[str, bytes]:
    """Every file of data@master, read through GetFileTAR."""
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        stub = pfs_pb2_grpc.APIStub(channel)
        commit = pfs_pb2.Commit(branch=pfs_pb2.Branch(repo=pfs_pb2.Repo(name="data", type="user"), name="master"))
        tar = b"".join(m.value for m in stub.GetFileTAR(pfs_pb2.GetFileRequest(file=pfs_pb2.File(commit=commit, path="/"))))
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return {"/" + m.name.lstrip("/"): archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


def verify(client: Any, workload: Workload, seen_commits: set[str]) -> None:
    """After a restart: acknowledged ops are in the head, no commit is half-written."""
    head = client.pfs.inspect_commit("data@master")
    if head.finished is None:
        client.pfs.finish_commit("data@master")  # a commit the kill left open stays usable
    recent = set(range(workload.cycle_start, workload.next_op))  # the last cycle's ops, file by file
    present = check_atomic(client, "data@master", workload, recent)
    missing = [op for op in workload.acked if op not in present]
    assert not missing, f"acknowledged ops lost: {missing}"
    # Only the operation running at the kill can be partial, and only in the newest
    # commits; every commit of the cycle is checked by directory sizes up to that bound.
    new = [info.id for info in client.pfs.list_commit("data") if info.id not in seen_commits]
    for commit_id in new[:4]:
        check_atomic(client, f"data@{commit_id}", workload)
    seen_commits.update(new)
    # Spot-check bytes of the newest acknowledged op (all of them are read at the end).
    if workload.acked:
        for path, data in workload.files(workload.acked[-1]).items():
            assert client.pfs.get_file(f"data@master:{path}") == data
