"""python-pachyderm 7.6, unchanged, against ``pachmagic serve`` (issue #2, item 8).

The book's Chapter 10 scripts (``python_pachyderm/*.py``) run in python-pachyderm's
own virtualenv (protobuf 3.20), one subprocess each, in order, against a child
server; their output is checked line by line and the server's state is checked
in between with pachyderm-sdk from this process. The pipelines really run:
``read_outputs.py`` waits for their commits and reads their PNGs back,
``more_photos.py`` waits for the whole commit set a new photo starts, and
``subscribe_commit.py`` streams the photo commits.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.official_clients.book import (
    BOOK_PHOTOS, ID, PHOTOS, SHA, check_more_photos_and_subscribe, log_patterns, sha256_of,
)

SCRIPTS = Path(__file__).resolve().parent / "python_pachyderm"

pytestmark = pytest.mark.slow


def test_book_scripts_run_unchanged(
    python_pachyderm_python: Path,
    run_script: Callable[[Path, Path], list[str]],
    check_lines: Callable[..., None],
    inproc_sdk: Any,
) -> None:
    from pachyderm_sdk.api import pfs, pps

    py = python_pachyderm_python
    sdk = inproc_sdk

    # access.py: GetVersion, Health/Check, InspectCluster (sent as an Empty).
    version = sdk.get_version()
    cluster = sdk.admin.inspect_cluster()
    out = run_script(py, SCRIPTS / "access.py")
    check_lines(
        out,
        [f"version: {version.major}.{version.minor}.{version.micro}", "health: SERVING", f"cluster id: {cluster.id}"],
        "access.py",
    )
    assert (version.major, version.minor) == (2, 12)

    # create_repo.py: CreateRepo{project{}} then ListRepo{type:"user"}.
    out = run_script(py, SCRIPTS / "create_repo.py")
    check_lines(out, ["created repo photos", "repo: default/photos type=user"], "create_repo.py")
    assert sdk.pfs.repo_exists(pfs.Repo(name="photos"))

    # put_files.py: one commit, three ModifyFile streams, then ListFile on a branch-only commit.
    out = run_script(py, SCRIPTS / "put_files.py")
    sizes = {name: (PHOTOS / name).stat().st_size for name in BOOK_PHOTOS}
    check_lines(
        out,
        [*(f"put file photos@master:/{n}" for n in BOOK_PHOTOS), re.compile(f"finished commit {ID}")]
        + [f"file: /{n} type=FILE size={sizes[n]}" for n in sorted(BOOK_PHOTOS)],
        "put_files.py",
    )
    commit_id = out[3].split()[-1]
    head = sdk.pfs.inspect_commit(commit=pfs.Commit.from_uri("photos@master"))
    assert head.commit.id == commit_id and head.finished is not None
    for name in BOOK_PHOTOS:
        want = hashlib.sha256((PHOTOS / name).read_bytes()).hexdigest()
        assert sha256_of(sdk, f"photos@master:/{name}") == want

    # create_pipeline.py: CreatePipeline ×2 (datum_tries 3, relative script paths), ListPipeline.
    out = run_script(py, SCRIPTS / "create_pipeline.py")
    image = "svekars/contour-histogram:1.0"
    check_lines(
        out,
        [
            "created pipeline contour",
            "created pipeline histogram",
            f"pipeline: default/contour version=1 input=photos glob=/ cmd=python3 contour.py image={image} datum_tries=3",
            f"pipeline: default/histogram version=1 input=contour glob=/ cmd=python3 histogram.py image={image} datum_tries=3",
        ],
        "create_pipeline.py",
    )
    all_repos = sorted((r.repo.name, r.repo.type) for r in sdk.pfs.list_repo())
    assert all_repos == [
        ("contour", "meta"), ("contour", "spec"), ("contour", "user"),
        ("histogram", "meta"), ("histogram", "spec"), ("histogram", "user"),
        ("photos", "user"),
    ]

    # read_outputs.py: InspectCommit{wait:FINISHED} on each output branch, ListJob, GetLogs, GetFile.
    out = run_script(py, SCRIPTS / "read_outputs.py")
    names = sorted(BOOK_PHOTOS)
    expected: list[Any] = []
    for pipeline in ("contour", "histogram"):
        expected += [
            f"commit {pipeline}@master: finished=True error=''",
            f"job {pipeline}: state=JOB_SUCCESS processed=1 total=1",
            *log_patterns(pipeline, names),
            f"files {pipeline}@master: " + " ".join(f"/{n}" for n in names),
            re.compile(rf"{pipeline}@master:/landscape\.png: PNG 640x480 sha256={SHA}"),
        ]
    check_lines(out, expected, "read_outputs.py")
    for line in out:
        if "sha256=" in line:
            pipeline = line.split("@", 1)[0]
            assert line.rsplit("=", 1)[1] == sha256_of(sdk, f"{pipeline}@master:/landscape.png")
    for pipeline in ("contour", "histogram"):
        (job,) = list(sdk.pps.list_job(pipeline=pps.Pipeline(name=pipeline)))
        assert job.state == pps.JobState.JOB_SUCCESS

    check_more_photos_and_subscribe(run_script, check_lines, py, SCRIPTS, sdk)

    # cleanup.py: DeleteRepo(photos, force) first, then DeletePipeline(force) ×2, then list again.
    out = run_script(py, SCRIPTS / "cleanup.py")
    check_lines(
        out,
        [
            "deleted repo photos",
            "deleted pipeline contour",
            "deleted pipeline histogram",
            "repos: (none)",
            "pipelines: (none)",
        ],
        "cleanup.py",
    )
    # Nothing is left: no repo of any type, no pipeline, no job, no commit set.
    assert list(sdk.pfs.list_repo()) == []
    assert list(sdk.pps.list_pipeline()) == []
    assert list(sdk.pps.list_job()) == []
    assert list(sdk.pfs.list_commit_set()) == []
    for name in ("photos", "contour", "histogram"):
        assert not sdk.pfs.repo_exists(pfs.Repo(name=name))
    for name in ("contour", "histogram"):
        assert not sdk.pps.pipeline_exists(pps.Pipeline(name=name))


def test_delete_all_resets_a_populated_server(
    python_pachyderm_python: Path,
    run_script: Callable[[Path, Path], list[str]],
    check_lines: Callable[..., None],
    inproc_sdk: Any,
) -> None:
    """``delete_all()`` = identity/auth/license (tolerated "not activated") + pps, pfs, transaction DeleteAll."""
    from pachyderm_sdk.api import pfs, pps

    sdk = inproc_sdk
    sdk.pfs.create_project(project=pfs.Project(name="extra"))
    sdk.pfs.create_repo(repo=pfs.Repo.from_uri("extra/notes"))
    sdk.pfs.create_repo(repo=pfs.Repo(name="photos"))
    with sdk.pfs.commit(branch=pfs.Branch.from_uri("photos@master")) as c:
        c.put_file_from_bytes(path="hand.png", data=(PHOTOS / "hand.png").read_bytes())
    for name, repo in (("contour", "photos"), ("histogram", "contour")):
        sdk.pps.create_pipeline(
            pipeline=pps.Pipeline(name=name),
            transform=pps.Transform(cmd=["python3", f"{name}.py"], image="svekars/contour-histogram:1.0"),
            input=pps.Input(pfs=pps.PfsInput(glob="/", repo=repo)),
        )
    sdk.pfs.wait_commit(pfs.Commit.from_uri("histogram@master"))

    expected = ["delete_all: done", "repos: (none)", "pipelines: (none)"]
    check_lines(run_script(python_pachyderm_python, SCRIPTS / "delete_all.py"), expected, "delete_all.py")
    assert list(sdk.pfs.list_repo()) == []
    assert list(sdk.pps.list_pipeline()) == []
    assert list(sdk.pps.list_job()) == []
    assert [p.project.name for p in sdk.pfs.list_project()] == ["default"]
    # Again, on an empty server.
    check_lines(run_script(python_pachyderm_python, SCRIPTS / "delete_all.py"), expected, "delete_all.py (again)")


def test_connect_from_pachctl_config(
    python_pachyderm_python: Path,
    run_script: Callable[[Path, Path], list[str]],
    check_lines: Callable[..., None],
    write_pach_config: Callable[..., Path],
    inproc_sdk: Any,
    child_server: Any,
) -> None:
    """``Client()`` reads ``$PACH_CONFIG``; ``new_from_config`` checks the deployment id via InspectCluster."""
    deployment_id = inproc_sdk.admin.inspect_cluster().deployment_id
    version = inproc_sdk.get_version()
    connected = f"Client(): version {version.major}.{version.minor}.{version.micro}"
    write_pach_config(pachd_address=f"grpc://{child_server.address}", cluster_deployment_id=deployment_id)
    out = run_script(python_pachyderm_python, SCRIPTS / "from_config.py")
    check_lines(out, [connected, f"new_from_config: deployment id matches {deployment_id}"], "from_config.py")
    write_pach_config(pachd_address=f"grpc://{child_server.address}", cluster_deployment_id="f" * 32)
    out = run_script(python_pachyderm_python, SCRIPTS / "from_config.py")
    check_lines(out, [connected, "new_from_config: BadClusterDeploymentID"], "from_config.py (other cluster)")
