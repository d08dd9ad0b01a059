"""Calls racing ``delete repo --force`` get NOT_FOUND or succeed first, never INTERNAL.

Several clients upload (one-off puts on a branch, puts into an open commit)
and read (inspect commit, list and get file, list commits) while another
client force-deletes the repo. Every call either succeeds (it ran before the
delete) or fails with NOT_FOUND (the repo or its commit is gone), and the
server stays consistent: fsck finds nothing wrong afterwards.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any, Callable

from pachmagic.errors import PachError
from pachmagic.server import LocalServer
from pachmagic.server.storage.fsck import fsck_data_dir

ROUNDS = 40
ALLOWED = {"NOT_FOUND"}


def test_calls_racing_a_forced_repo_delete_get_not_found(server_factory: Callable[..., LocalServer],
                                                        tmp_path: Path) -> None:
    server = server_factory(data_dir=tmp_path / "data", in_process=False)
    errors: list[str] = []
    outcomes: dict[str, int] = {}
    rng = random.Random(15)
    with server.client() as admin:
        clients = [server.client() for _ in range(6)]
        try:
            for round_ in range(ROUNDS):
                repo = f"r{round_}"
                admin.pfs.create_repo(repo)
                admin.pfs.put_file(f"{repo}@master", "/seed", b"seed")
                commit = admin.pfs.start_commit(f"{repo}@staging").id
                go = threading.Barrier(len(clients) + 1)

                def upload_branch(client: Any) -> None:
                    go.wait()
                    for i in range(6):
                        client.pfs.put_files(f"{repo}@master", {f"/b{i}": b"x" * (i * 700), f"/d/{i}": b"y"})

                def upload_commit(client: Any) -> None:
                    go.wait()
                    for i in range(6):
                        client.pfs.put_file(f"{repo}@{commit}", f"/c{i}", b"z" * (i * 900))

                def read(client: Any) -> None:
                    go.wait()
                    for _ in range(6):
                        client.pfs.inspect_commit(f"{repo}@master")
                        client.pfs.list_file(f"{repo}@master:/")
                        client.pfs.get_file(f"{repo}@master:/seed")
                        client.pfs.list_commit(repo)
                        client.pfs.inspect_commit(f"{repo}@{commit}")

                def run(fn: Callable[[Any], None], client: Any) -> None:
                    try:
                        fn(client)
                        outcomes["OK"] = outcomes.get("OK", 0) + 1
                    except PachError as err:
                        outcomes[err.code] = outcomes.get(err.code, 0) + 1
                        if err.code not in ALLOWED:
                            errors.append(f"{fn.__name__}: {err.code}: {err}")

                jobs = [upload_branch, upload_commit, read, upload_branch, read, upload_commit]
                threads = [threading.Thread(target=run, args=(fn, c)) for fn, c in zip(jobs, clients)]
                for t in threads:
                    t.start()
                go.wait()
                time.sleep(rng.uniform(0, 0.06))  # land the delete among the calls
                admin.pfs.delete_repo(repo, force=True)
                for t in threads:
                    t.join(60)
                assert not any(t.is_alive() for t in threads)
                assert repo not in [r.name for r in admin.pfs.list_repo()]
        finally:
            for c in clients:
                c.close()
    assert errors == []
    assert outcomes.get("OK", 0) > 0 and outcomes.get("NOT_FOUND", 0) > 0, outcomes  # the race was run
    server.stop()
    report = fsck_data_dir(tmp_path / "data")
    assert report.ok, list(report.lines())
