"""Failures: a failing datum, datum_tries, err_cmd, downstream UNRUNNABLE, two datums writing one path."""

from __future__ import annotations

from ..build import commit, pfs, pps
from ..harness import Run
from . import run_scenario
from ._jobs import create, make_repo, outputs, pfs_in, put_commit, read_jobs, settle, shell

# Fails on the datum holding "bad"; logs each attempt so retries show in the logs.
FAILS_ON_BAD = 'echo "try $(cat /pfs/in/*)"; if grep -q bad /pfs/in/*; then echo "bad datum" >&2; exit 7; fi; cp /pfs/in/* /pfs/out/'


@run_scenario("runs: a failing datum fails the job; downstream is unrunnable")
def failing(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/good": b"good", "/bad": b"bad"})
    create(r, quiet=True, spec=shell("fails", FAILS_ON_BAD, pfs_in("in", "/*"), datum_tries=2))
    create(r, quiet=True, spec=shell("after", "cp -r /pfs/fails/* /pfs/out/", pfs_in("fails", "/*")))
    settle(r, 2)
    read_jobs(r, "fails")
    read_jobs(r, "after")
    outputs(r, "fails")
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pps.Pipeline(name="fails")))
    # The next commit retries the failed datum (fixed now) and skips the good one.
    put_commit(r, "in", {"/bad": b"fixed"})
    settle(r, 4)
    read_jobs(r, "fails")
    read_jobs(r, "after")
    outputs(r, "after")


@run_scenario("runs: err_cmd recovers a datum")
def recovered(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/good": b"good", "/bad": b"bad"})
    spec = shell("recovers", FAILS_ON_BAD, pfs_in("in", "/*"),
                 transform={"err_cmd": ["sh"], "err_stdin": ["echo recovering"]})
    create(r, quiet=True, spec=spec)
    settle(r, 1)
    read_jobs(r, "recovers")
    outputs(r, "recovers")
    put_commit(r, "in", {"/other": b"other"})  # recovered datums are not skipped: they run again
    settle(r, 2)
    read_jobs(r, "recovers")


@run_scenario("runs: err_cmd that fails too")
def err_cmd_fails(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/bad": b"bad"})
    spec = shell("still", FAILS_ON_BAD, pfs_in("in", "/*"), transform={"err_cmd": ["sh"], "err_stdin": ["exit 1"]},
                 datum_tries=1)
    create(r, quiet=True, spec=spec)
    settle(r, 1)
    read_jobs(r, "still")


@run_scenario("runs: two datums write one path")
def two_writers(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1", "/b": b"2"})
    clash = "cat /pfs/in/* > /pfs/out/same; mkdir -p /pfs/out/own; cp /pfs/in/* /pfs/out/own/"
    create(r, quiet=True, spec=shell("clash", clash, pfs_in("in", "/*")))
    create(r, quiet=True, spec=shell("apart", "mkdir -p /pfs/out/d && cat /pfs/in/* > /pfs/out/d/$(ls /pfs/in)", pfs_in("in", "/*")))
    collide = "if [ -e /pfs/in/a ]; then echo f > /pfs/out/x; else mkdir /pfs/out/x; echo g > /pfs/out/x/y; fi"
    create(r, quiet=True, spec=shell("collide", collide, pfs_in("in", "/*")))
    settle(r, 3)
    jobs = read_jobs(r, "clash")  # its output commit is read here once (ListFile): how it fails is the point
    # Which reads of the failed output commit pachd refuses: those whose scan meets /same twice.
    out = commit("clash", "", id=jobs[0].job.id if jobs else "")
    for path in ("/same", "/s", "/own", "/own/a"):
        r.pfs.InspectFile(pfs.InspectFileRequest(file=pfs.File(commit=out, path=path)))
    for path in ("/", "/own"):
        r.pfs.WalkFile(pfs.WalkFileRequest(file=pfs.File(commit=out, path=path)))
    r.pfs.ListFile(pfs.ListFileRequest(file=pfs.File(commit=out, path="/own")))
    for path in ("/same", "/own/b"):
        r.pfs.GetFile(pfs.GetFileRequest(file=pfs.File(commit=out, path=path)), join=True)
    for pattern in ("/*", "/own/*", "/s*"):
        r.pfs.GlobFile(pfs.GlobFileRequest(commit=out, pattern=pattern))
    read_jobs(r, "apart")
    outputs(r, "apart")
    read_jobs(r, "collide")


@run_scenario("runs: user code that writes nothing, or only directories")
def writes_nothing(r: Run) -> None:
    make_repo(r, "in")
    put_commit(r, "in", {"/a": b"1"})
    create(r, quiet=True, spec=shell("silent", "true", pfs_in("in", "/*")))
    create(r, quiet=True, spec=shell("dirs", "mkdir -p /pfs/out/x/y", pfs_in("in", "/*")))
    settle(r, 2)
    for name in ("silent", "dirs"):
        read_jobs(r, name)
        outputs(r, name)
