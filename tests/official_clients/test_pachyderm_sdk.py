"""pachyderm-sdk 2.12, unchanged, against ``pachmagic serve`` (issue #2, item 8).

The book's Chapter 10 scripts rewritten for the SDK (``pachyderm_sdk/*.py``) run
as subprocesses, in order, against a child server; their output is checked line
by line and the server's state is checked in between with the SDK from this
process. The pipelines really run: ``read_outputs.py`` waits for their commits
and reads their PNGs back, ``more_photos.py`` waits for the whole commit set a
new photo starts, and ``subscribe_commit.py`` streams the photo commits.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from typing import Any, Callable

import grpc
import pytest

from tests.official_clients.book import (
    BOOK_PHOTOS, ID, PHOTOS, SHA, check_more_photos_and_subscribe, log_patterns, sha256_of,
)

SCRIPTS = Path(__file__).resolve().parent / "pachyderm_sdk"


@pytest.mark.slow
def test_book_scripts_run_unchanged(
    run_script: Callable[[Path | str, Path], list[str]],
    check_lines: Callable[..., None],
    inproc_sdk: Any,
) -> None:
    from pachyderm_sdk.api import pfs

    py = sys.executable
    sdk = inproc_sdk

    # access.py: GetVersion, then InspectCluster{client_version}.
    version = sdk.get_version()
    cluster = sdk.admin.inspect_cluster()
    out = run_script(py, SCRIPTS / "access.py")
    check_lines(
        out,
        [
            f"version: {version.major}.{version.minor}.{version.micro}",
            f"cluster id: {cluster.id}",
            f"cluster deployment id: {cluster.deployment_id}",
            "cluster warnings ok: True",
        ],
        "access.py",
    )

    # create_repo.py: CreateRepo{project{name:"default"}}, ListRepo{} (type "": all types),
    # and the *_exists helpers, which need NOT_FOUND for absent things.
    out = run_script(py, SCRIPTS / "create_repo.py")
    check_lines(
        out,
        [
            "created repo photos",
            "repo: default/photos type=user",
            "repo_exists photos: True",
            "repo_exists nothing-here: False",
            # pachd creates no branch with a repo: master appears with the first commit.
            "branch_exists photos@master: False",
            "project_exists default: True",
            "project_exists nowhere: False",
        ],
        "create_repo.py",
    )

    # put_files.py: one commit, three ModifyFile streams, ListFile with commit.repo set.
    out = run_script(py, SCRIPTS / "put_files.py")
    sizes = {name: (PHOTOS / name).stat().st_size for name in BOOK_PHOTOS}
    check_lines(
        out,
        [*(f"put file photos@master:/{n}" for n in BOOK_PHOTOS), re.compile(f"finished commit {ID}")]
        + [f"file: /{n} type=FILE size={sizes[n]}" for n in sorted(BOOK_PHOTOS)]
        + [
            re.compile(f"commit_exists photos@{ID}: True"),
            "path_exists photos@master:/hand.png: True",
            "path_exists photos@master:/nope.png: False",
        ],
        "put_files.py",
    )
    commit_id = out[3].split()[-1]
    assert out[7] == f"commit_exists photos@{commit_id}: True"
    head = sdk.pfs.inspect_commit(commit=pfs.Commit.from_uri("photos@master"))
    assert head.commit.id == commit_id and head.finished is not None
    assert sdk.pfs.branch_exists(pfs.Branch.from_uri("photos@master"))
    for name in BOOK_PHOTOS:
        want = hashlib.sha256((PHOTOS / name).read_bytes()).hexdigest()
        assert sha256_of(sdk, f"photos@master:/{name}") == want

    # create_pipeline.py: CreatePipeline ×2 (no project, no datum_tries: the server's
    # default 3 shows), ListPipeline, pipeline_exists.
    out = run_script(py, SCRIPTS / "create_pipeline.py")
    image = "svekars/contour-histogram:1.0"
    check_lines(
        out,
        [
            "created pipeline contour",
            "created pipeline histogram",
            f"pipeline: default/contour version=1 input=photos glob=/ cmd=python3 contour.py image={image} datum_tries=3",
            f"pipeline: default/histogram version=1 input=contour glob=/ cmd=python3 histogram.py image={image} datum_tries=3",
            "pipeline_exists contour: True",
            "pipeline_exists nothing-here: False",
        ],
        "create_pipeline.py",
    )

    # read_outputs.py: InspectCommit{wait:FINISHED}, ListJob, job_exists, GetLogs, GetFile.
    out = run_script(py, SCRIPTS / "read_outputs.py")
    names = sorted(BOOK_PHOTOS)
    expected: list[Any] = []
    for pipeline in ("contour", "histogram"):
        expected += [
            f"commit {pipeline}@master: finished=True error=''",
            f"job {pipeline}: state=JOB_SUCCESS processed=1 total=1",
            f"job_exists {pipeline}@<id>: True",
            *log_patterns(pipeline, names),
            f"files {pipeline}@master: " + " ".join(f"/{n}" for n in names),
            re.compile(rf"{pipeline}@master:/landscape\.png: PNG 640x480 sha256={SHA}"),
        ]
    check_lines(out, expected, "read_outputs.py")
    for line in out:
        if "sha256=" in line:
            pipeline = line.split("@", 1)[0]
            assert line.rsplit("=", 1)[1] == sha256_of(sdk, f"{pipeline}@master:/landscape.png")

    check_more_photos_and_subscribe(run_script, check_lines, py, SCRIPTS, sdk)

    # cleanup.py: DeleteRepo(photos, force), DeletePipeline(force, keep_repo=False) ×2, list again.
    out = run_script(py, SCRIPTS / "cleanup.py")
    check_lines(
        out,
        [
            "deleted repo photos",
            "deleted pipeline contour",
            "deleted pipeline histogram",
            "repos: (none)",
            "pipelines: (none)",
            "repo_exists photos: False",
            "repo_exists contour: False",
            "repo_exists histogram: False",
            "pipeline_exists contour: False",
            "pipeline_exists histogram: False",
        ],
        "cleanup.py",
    )
    assert list(sdk.pfs.list_repo()) == []
    assert list(sdk.pps.list_pipeline()) == []
    assert list(sdk.pps.list_job()) == []
    assert list(sdk.pfs.list_commit_set()) == []


def test_connect_from_pachctl_config(
    run_script: Callable[[Path | str, Path], list[str]],
    check_lines: Callable[..., None],
    write_pach_config: Callable[..., Path],
    inproc_sdk: Any,
    child_server: Any,
) -> None:
    """``Client.from_config()`` reads ``$PACH_CONFIG`` (at import time) and connects to its address."""
    deployment_id = inproc_sdk.admin.inspect_cluster().deployment_id
    version = inproc_sdk.get_version()
    write_pach_config(pachd_address=f"grpc://{child_server.address}", cluster_deployment_id=deployment_id)
    out = run_script(sys.executable, SCRIPTS / "from_config.py")
    check_lines(
        out,
        [
            f"from_config(): version {version.major}.{version.minor}.{version.micro}",
            f"cluster deployment id: {deployment_id}",
        ],
        "from_config.py",
    )


def test_cluster_and_version(inproc_sdk: Any) -> None:
    """``get_version()`` and ``admin.inspect_cluster()`` (which sends ``client_version``)."""
    sdk = inproc_sdk
    version = sdk.get_version()
    assert (version.major, version.minor) == (2, 12)
    cluster = sdk.admin.inspect_cluster()
    assert re.fullmatch(r"[0-9a-f]{32}", cluster.id)
    assert cluster.deployment_id == cluster.id
    assert sdk.admin.inspect_cluster().id == cluster.id  # stable


def test_exists_helpers_present_and_absent(inproc_sdk: Any) -> None:
    """The SDK's ``*_exists`` return False only on NOT_FOUND and re-raise anything else."""
    from pachyderm_sdk.api import pfs, pps

    sdk = inproc_sdk
    assert sdk.pfs.project_exists(pfs.Project(name="default"))
    assert not sdk.pfs.project_exists(pfs.Project(name="elsewhere"))
    assert not sdk.pfs.repo_exists(pfs.Repo(name="photos"))
    sdk.pfs.create_repo(repo=pfs.Repo(name="photos"))
    assert sdk.pfs.repo_exists(pfs.Repo(name="photos"))
    assert not sdk.pfs.repo_exists(pfs.Repo.from_uri("elsewhere/photos"))
    assert not sdk.pfs.branch_exists(pfs.Branch.from_uri("photos@master"))
    with sdk.pfs.commit(branch=pfs.Branch.from_uri("photos@master")) as c:
        c.put_file_from_bytes(path="a.txt", data=b"a")
    assert sdk.pfs.branch_exists(pfs.Branch.from_uri("photos@master"))
    assert not sdk.pfs.branch_exists(pfs.Branch.from_uri("photos@dev"))
    assert sdk.pfs.commit_exists(pfs.Commit.from_uri(f"photos@{c.id}"))
    # An id in the SDK's uuid4 shape, so that from_uri makes it a commit id, not a branch.
    absent_id = "0123456789ab4def0123456789abcdef"
    assert not sdk.pfs.commit_exists(pfs.Commit.from_uri(f"photos@{absent_id}"))
    assert sdk.pfs.path_exists(pfs.File.from_uri("photos@master:/a.txt"))
    assert sdk.pfs.path_exists(pfs.File.from_uri("photos@master:/"))
    assert not sdk.pfs.path_exists(pfs.File.from_uri("photos@master:/b.txt"))
    with pytest.raises(ValueError):  # path_exists on an absent commit: the SDK raises ValueError
        sdk.pfs.path_exists(pfs.File.from_uri("photos@dev:/a.txt"))
    assert not sdk.pps.pipeline_exists(pps.Pipeline(name="contour"))
    assert not sdk.pps.job_exists(pps.Job(pipeline=pps.Pipeline(name="contour"), id=absent_id))
    # Anything but NOT_FOUND is re-raised, not read as "absent".
    with pytest.raises(grpc.RpcError) as err:
        sdk.pfs.repo_exists(pfs.Repo(name=""))
    assert err.value.code() == grpc.StatusCode.UNKNOWN  # pachd: UNKNOWN "repo cannot be nil"
