"""Eight clients writing to different repos and branches at once lose nothing.

Each client (its own channel, its own thread) runs a seeded mix of one-off
puts, multi-file commits, appends, deletes and a multi-chunk upload on its own
branch; two clients share each repo. Afterwards every branch holds exactly
what its client wrote, every commit it made exists, and fsck is clean.
"""

from __future__ import annotations

import hashlib
import random
import threading
from typing import Any, Callable

import pytest

from pachmagic.server import LocalServer
from pachmagic.server.storage.fsck import fsck_data_dir

CLIENTS = 8
OPS = 30


def blob(seed: str, size: int) -> bytes:
    block = hashlib.sha256(seed.encode()).digest() * 128
    return (block * (size // len(block) + 1))[:size]


def work(client: Any, repo: str, branch: str, seed: int, state: dict[str, bytes], commits: list[str]) -> None:
    rng = random.Random(seed)
    target = f"{repo}@{branch}"
    for op in range(OPS):
        kind = rng.choice(["put", "put", "commit", "append", "delete", "big"])
        if kind == "put":
            files = {f"/{branch}/p{op}-{i}": blob(f"{seed}/{op}/{i}", rng.randrange(0, 9000)) for i in range(rng.randrange(1, 12))}
            client.pfs.put_files(target, files)
            state.update(files)
        elif kind == "commit":
            with client.pfs.commit(target) as commit:
                for part in range(3):
                    files = {f"/{branch}/c{op}-{part}-{i}": blob(f"{seed}/{op}/{part}/{i}", 100 * i) for i in range(4)}
                    commit.put_files(files)
                    state.update(files)
        elif kind == "append" and state:
            path = rng.choice(sorted(state))
            extra = blob(f"{seed}/{op}/append", rng.randrange(1, 5000))
            client.pfs.put_file(target, path, extra, append=True)
            state[path] += extra
        elif kind == "delete" and state:
            path = rng.choice(sorted(state))
            client.pfs.delete_file(target, path)
            del state[path]
        elif kind == "big":
            path = f"/{branch}/big{op}"
            state[path] = blob(f"{seed}/{op}/big", 4 * 1024 * 1024 + rng.randrange(1, 100_000))
            client.pfs.put_file(target, path, state[path])
        else:
            continue
        commits.append(client.pfs.inspect_commit(target).id)


@pytest.mark.slow
def test_eight_clients_on_different_branches_and_repos(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory()
    with server.client() as admin:
        for r in range(CLIENTS // 2):
            admin.pfs.create_repo(f"repo{r}")
    states: list[dict[str, bytes]] = [{} for _ in range(CLIENTS)]
    commits: list[list[str]] = [[] for _ in range(CLIENTS)]
    errors: list[BaseException] = []
    clients = [server.client() for _ in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS)

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(clients[i], f"repo{i // 2}", f"branch{i}", 1000 + i, states[i], commits[i])
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    with server.client() as check:
        for i in range(CLIENTS):
            repo, branch = f"repo{i // 2}", f"branch{i}"
            listed = {f.path: f.size_bytes for f in check.pfs.walk_file(f"{repo}@{branch}:/") if f.type == "file"}
            assert listed == {p: len(d) for p, d in states[i].items()}, (repo, branch)
            for path, data in states[i].items():
                assert check.pfs.get_file(f"{repo}@{branch}:{path}") == data
            ids = {c.id for c in check.pfs.list_commit(f"{repo}@{branch}")}
            assert set(commits[i]) <= ids
    for c in clients:
        c.close()
    data_dir = server.data_dir
    server.stop()
    report = fsck_data_dir(data_dir)
    assert report.ok and not report.notes, (report.problems, report.notes)
