"""Calls racing ``delete repo --force`` get NOT_FOUND or succeed first, never INTERNAL.

Several clients upload (one-off puts on a branch, puts into an open commit)
and read (inspect commit, list and get file, list commits) while another
client force-deletes the repo. Every call either succeeds (it ran before the
delete) or fails with NOT_FOUND (the repo or its commit is gone), and the
server stays consistent: fsck finds nothing wrong afterwards and garbage
collection finds nothing of the deleted repos still referenced.

The delete always lands among the calls, whatever the machine's load: each
client makes one call that must succeed, then the delete is sent while every
client keeps calling until it is told NOT_FOUND. So every round has calls that
succeeded and calls that were refused, whatever the timing. Half the clients
read, mostly ``list commit`` of a repo with many commits: describing each
commit after resolving them was the window of the old INTERNAL ``TypeError``,
and a long read is often inside it when the delete takes the store's lock
(without the fix, the first INTERNAL came within about ten rounds of 40).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from pachmagic.errors import PachError
from pachmagic.server import LocalServer
from pachmagic.server.storage.fsck import fsck_data_dir
from pachmagic.server.storage.gc import gc_data_dir

ROUNDS = 40
SEED_COMMITS = 20  # commits each list_commit describes (the race window's length)
# A bound on each client's calls after the delete was sent, so a delete that
# never lands fails the test instead of hanging it.
MAX_CALLS = 20_000


def test_calls_racing_a_forced_repo_delete_get_not_found(server_factory: Callable[..., LocalServer],
                                                        tmp_path: Path) -> None:
    server = server_factory(data_dir=tmp_path / "data", in_process=False)
    errors: list[str] = []
    calls = {"OK": 0, "NOT_FOUND": 0}
    lock = threading.Lock()
    with server.client() as admin:
        clients = [server.client() for _ in range(6)]
        try:
            for round_ in range(ROUNDS):
                repo = f"r{round_}"
                admin.pfs.create_repo(repo)
                for i in range(SEED_COMMITS):
                    admin.pfs.put_file(f"{repo}@master", "/seed", b"seed%d" % i)
                commit = admin.pfs.start_commit(f"{repo}@staging").id

                def upload_branch(client: Any, i: int) -> None:
                    client.pfs.put_files(f"{repo}@master", {f"/b{i % 6}": b"x" * (i % 6 * 700), f"/d/{i % 6}": b"y"})

                def upload_commit(client: Any, i: int) -> None:
                    client.pfs.put_file(f"{repo}@{commit}", f"/c{i % 6}", b"z" * (i % 6 * 900))

                def read(client: Any, i: int) -> None:
                    step = i % 6
                    if step == 0:
                        client.pfs.inspect_commit(f"{repo}@master")
                    elif step == 2:
                        client.pfs.list_file(f"{repo}@master:/")
                    elif step == 4:
                        client.pfs.get_file(f"{repo}@master:/seed")
                    elif step == 5:
                        client.pfs.inspect_commit(f"{repo}@{commit}")
                    else:  # describes every commit: the longest read, so the delete often lands in one
                        client.pfs.list_commit(repo)

                # Each client's first call runs before the delete is sent: it must succeed.
                ready = threading.Barrier(len(clients) + 1)

                def run(fn: Callable[[Any, int], None], client: Any) -> None:
                    outcome = {"OK": 0, "NOT_FOUND": 0}
                    try:
                        try:
                            fn(client, 0)
                            outcome["OK"] += 1
                        finally:
                            ready.wait()
                        for i in range(1, MAX_CALLS):
                            try:
                                fn(client, i)
                            except PachError as err:
                                if err.code != "NOT_FOUND":
                                    raise
                                outcome["NOT_FOUND"] += 1
                                break
                            outcome["OK"] += 1
                        else:
                            errors.append(f"{fn.__name__}: still succeeding after {MAX_CALLS} calls")
                            return
                        # Gone stays gone: the repo does not come back for a later call.
                        for step in range(6):
                            try:
                                fn(client, i + 1 + step)
                                errors.append(f"{fn.__name__}: succeeded after NOT_FOUND")
                            except PachError as err:
                                if err.code != "NOT_FOUND":
                                    raise
                                outcome["NOT_FOUND"] += 1
                    except PachError as err:
                        errors.append(f"{fn.__name__}: {err.code}: {err}")
                    except Exception as err:  # noqa: BLE001 - reported with the round, checked below
                        errors.append(f"{fn.__name__}: {type(err).__name__}: {err}")
                    finally:
                        with lock:
                            for key, n in outcome.items():
                                calls[key] += n

                jobs = [upload_branch, read, upload_commit, read, upload_branch, read]
                threads = [threading.Thread(target=run, args=(fn, c)) for fn, c in zip(jobs, clients)]
                for t in threads:
                    t.start()
                ready.wait()  # every client has made its first call and keeps calling
                admin.pfs.delete_repo(repo, force=True)
                for t in threads:
                    t.join(120)
                assert not any(t.is_alive() for t in threads)
                assert errors == [], (round_, errors)
                assert repo not in [r.name for r in admin.pfs.list_repo()]
        finally:
            for c in clients:
                c.close()
    # Every client of every round succeeded first and was refused at the end.
    assert calls["OK"] >= ROUNDS * len(clients) and calls["NOT_FOUND"] >= ROUNDS * len(clients) * 7, calls
    server.stop()
    report = fsck_data_dir(tmp_path / "data")
    assert report.ok, list(report.lines())
    # Nothing of the deleted repos is still referenced: the uploads that lost the
    # race left no commit, branch or tree behind (all of it is garbage now).
    gc = gc_data_dir(tmp_path / "data")
    assert (gc.live_nodes, gc.live_chunks) == (0, 0), gc
    assert gc.dead_chunks > 0, gc
    assert fsck_data_dir(tmp_path / "data").ok
