"""Server behaviours found while running the official Python clients' scripts.

Each test pins one pachd behaviour that an official client observes, checked
with pachyderm-sdk (the official 2.12 client) against an in-process server.
The scripts themselves run in ``tests/official_clients``.
"""

from __future__ import annotations

from typing import Any

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
