"""Server behaviours found while running the official Python clients' scripts.

Each test pins one pachd behaviour that an official client observes, checked
with pachyderm-sdk (the official 2.12 client) against an in-process server.
The scripts themselves run in ``tests/official_clients``.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Iterator

import grpc
import pytest
from pachyderm_sdk.api import pfs, pps


def _pipeline(sdk: Any, name: str = "copy") -> pps.Pipeline:
    sdk.pfs.create_repo(repo=pfs.Repo(name="photos"))
    pipeline = pps.Pipeline(name=name)
    sdk.pps.create_pipeline(
        pipeline=pipeline,
        transform=pps.Transform(cmd=["true"], image="busybox"),
        input=pps.Input(pfs=pps.PfsInput(glob="/", repo="photos")),
    )
    return pipeline


def test_inspect_pipeline_without_details_leaves_them_unset(sdk: Any) -> None:
    """pachd's InspectPipeline sets ``Details = nil`` unless asked ("preserve old behavior").

    Both official clients default to ``details=False`` (python-pachyderm's
    ``inspect_pipeline(name)``, the SDK's ``inspect_pipeline(pipeline=)``); a
    server that always sent details would let notebooks read
    ``info.details.transform`` here and then fail on a cluster.
    """
    pipeline = _pipeline(sdk)
    bare = sdk.pps.inspect_pipeline(pipeline=pipeline)
    assert bare.pipeline.name == "copy" and bare.version == 1
    assert not bare.is_set("details")
    full = sdk.pps.inspect_pipeline(pipeline=pipeline, details=True)
    assert full.is_set("details")
    assert full.details.transform.cmd == ["true"]
    assert full.details.input.pfs.repo == "photos"
    # ListPipeline ignores ``details`` in pachd: always with details.
    (listed,) = list(sdk.pps.list_pipeline())
    assert listed.details.transform.cmd == ["true"]
    # The exists helper only needs the call to succeed.
    assert sdk.pps.pipeline_exists(pipeline)


class _Stream:
    """Reads an endless gRPC stream on a thread, so that a test waits with a deadline."""

    def __init__(self, stream: Iterator[Any]) -> None:
        self._items: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Iterator[Any]) -> None:
        try:
            for item in stream:
                self._items.put(item)
        except Exception as err:  # noqa: BLE001 - handed to the test
            self._items.put(err)

    def take(self, count: int, timeout: float = 30.0) -> list[Any]:
        items = []
        for _ in range(count):
            item = self._items.get(timeout=timeout)
            if isinstance(item, Exception):
                raise item
            items.append(item)
        return items

    def nothing_for(self, seconds: float) -> bool:
        try:
            item = self._items.get(timeout=seconds)
        except queue.Empty:
            return True
        self._items.put(item)
        return False


def _commit(sdk: Any, branch: str, path: str) -> str:
    with sdk.pfs.commit(branch=pfs.Branch.from_uri(branch)) as c:
        c.put_file_from_bytes(path=path, data=path.encode())
    return str(c.id)


def test_subscribe_commit_streams_existing_then_new_commits(sdk: Any) -> None:
    """SubscribeCommit was unimplemented ("Method not implemented!").

    Both clients expose it (python-pachyderm ``subscribe_commit(repo, branch,
    from_commit, state, all, origin_kind)``, the SDK ``pfs.subscribe_commit``).
    As pachd: oldest first, then new commits as they come; only commits made
    on the branch given; never the ``from`` commit itself; each commit once it
    has reached ``state``; the stream does not end.
    """
    sdk.pfs.create_repo(repo=pfs.Repo(name="photos"))
    first = _commit(sdk, "photos@master", "a")
    stream = _Stream(
        sdk.pfs.subscribe_commit(
            repo=pfs.Repo(name="photos"), branch="master", state=pfs.CommitState.FINISHED,
            origin_kind=pfs.OriginKind.USER,
        )
    )
    (existing,) = stream.take(1)
    assert existing.commit.id == first and existing.finished is not None

    _commit(sdk, "photos@dev", "elsewhere")  # another branch: not sent
    opened = sdk.pfs.start_commit(branch=pfs.Branch.from_uri("photos@master"))
    assert stream.nothing_for(1.0)  # state FINISHED: the open commit is held back
    sdk.pfs.finish_commit(commit=opened)
    (new,) = stream.take(1)
    assert new.commit.id == opened.id
    assert new.commit.branch.name == "" and new.finished is not None  # pachd names no branch in CommitInfo.commit

    # ``from``: everything after it (the commit itself is left out), STARTED by default.
    later = _commit(sdk, "photos@master", "b")
    since = _Stream(
        sdk.pfs.subscribe_commit(
            repo=pfs.Repo(name="photos"), branch="master", from_=pfs.Commit.from_uri(f"photos@{first}")
        )
    )
    assert [i.commit.id for i in since.take(2)] == [opened.id, later]
    assert since.nothing_for(0.5)


def test_subscribe_commit_on_a_missing_repo_is_not_found(sdk: Any) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _Stream(sdk.pfs.subscribe_commit(repo=pfs.Repo(name="nowhere"), branch="master")).take(1)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # pachd's words (tests/conformance)
    assert err.value.details() == "get repo ID: repo (id=0, project=default, name=nowhere, type=user) not found"
