"""Datums of each input kind and glob, as the pipeline engine plans and runs them."""

from __future__ import annotations

from ..build import commit, pfs, pps
from ..harness import Run
from . import run_scenario
from ._jobs import create, make_repo, outputs, pfs_in, put_commit, read_jobs, settle, shell

# Each datum writes one file, named by its datum id, listing every input file it sees.
SEE_ALL = 'cd /pfs && find -L $(ls | grep -vx out) -type f | sort > "/pfs/out/$PACH_DATUM_ID"'


def _photos(r: Run, name: str = "photos") -> str:
    make_repo(r, name)
    return put_commit(r, name, {"/a.png": b"A", "/b.png": b"BB", "/dir/c.png": b"CCC", "/dir/d.txt": b"DDDD"})


@run_scenario("runs: pfs input, glob /*")
def pfs_star(r: Run) -> None:
    _photos(r)
    create(r, quiet=True, spec=shell("copy", "cp -r /pfs/photos/* /pfs/out/", pfs_in("photos", "/*")))
    settle(r, 1)
    read_jobs(r, "copy")
    outputs(r, "copy")
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("copy")))
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pps.Pipeline(name="copy"), details=True))


@run_scenario("runs: pfs input, glob /")
def pfs_root(r: Run) -> None:
    _photos(r)
    create(r, quiet=True, spec=shell("whole", SEE_ALL, pfs_in("photos", "/")))
    settle(r, 1)
    read_jobs(r, "whole")
    outputs(r, "whole")


@run_scenario("runs: pfs input, nested glob and empty datums")
def pfs_nested(r: Run) -> None:
    _photos(r)
    create(r, quiet=True, spec=shell("nested", SEE_ALL, pfs_in("photos", "/dir/*")))
    create(r, quiet=True, spec=shell("pngs", SEE_ALL, pfs_in("photos", "/*.png")))
    create(r, quiet=True, spec=shell("none", SEE_ALL, pfs_in("photos", "/nothing*")))
    settle(r, 3)
    for name in ("nested", "pngs", "none"):
        read_jobs(r, name)
        outputs(r, name)


@run_scenario("runs: cross input")
def cross(r: Run) -> None:
    _photos(r)
    make_repo(r, "params")
    put_commit(r, "params", {"/x": b"1", "/y": b"2"})
    create(r, quiet=True, spec=shell("crossed", SEE_ALL, {"cross": [pfs_in("photos", "/*"), pfs_in("params", "/*")]}))
    settle(r, 1)
    read_jobs(r, "crossed")
    outputs(r, "crossed")


@run_scenario("runs: union input")
def union(r: Run) -> None:
    _photos(r)
    make_repo(r, "params")
    put_commit(r, "params", {"/x": b"1"})
    create(r, quiet=True, spec=shell("unioned", SEE_ALL, {"union": [pfs_in("photos", "/*"), pfs_in("params", "/*")]}))
    settle(r, 1)
    read_jobs(r, "unioned")
    outputs(r, "unioned")


@run_scenario("runs: join input, inner and outer")
def join(r: Run) -> None:
    make_repo(r, "left")
    put_commit(r, "left", {"/1.txt": b"l1", "/2.txt": b"l2", "/3.txt": b"l3"})
    make_repo(r, "right")
    put_commit(r, "right", {"/1.csv": b"r1", "/2.csv": b"r2", "/4.csv": b"r4"})
    left = pfs_in("left", "/(*).txt", join_on="$1")
    right = pfs_in("right", "/(*).csv", join_on="$1")
    create(r, quiet=True, spec=shell("inner", SEE_ALL, {"join": [left, right]}))
    create(r, quiet=True, spec=shell("outer", SEE_ALL, {"join": [{"pfs": {**left["pfs"], "outer_join": True}}, right]}))
    settle(r, 2)
    for name in ("inner", "outer"):
        read_jobs(r, name)
        outputs(r, name)


@run_scenario("runs: group input")
def group(r: Run) -> None:
    make_repo(r, "logs")
    put_commit(r, "logs", {"/a-1.log": b"1", "/a-2.log": b"2", "/b-1.log": b"3", "/c-9.log": b"4"})
    create(r, quiet=True, spec=shell("grouped", SEE_ALL, {"group": [pfs_in("logs", "/(*)-*.log", group_by="$1")]}))
    settle(r, 1)
    read_jobs(r, "grouped")
    outputs(r, "grouped")


@run_scenario("runs: datums of an input spec, before and after a run")
def dry_run(r: Run) -> None:
    _photos(r)
    make_repo(r, "params")
    put_commit(r, "params", {"/x": b"1", "/y": b"2"})
    specs = [
        pfs_in("photos", "/*"),
        pfs_in("photos", "/"),
        {"cross": [pfs_in("photos", "/*.png"), pfs_in("params", "/*")]},
        {"union": [pfs_in("photos", "/dir/*"), pfs_in("params", "/x")]},
    ]
    for spec in specs:
        node = pps.Input()
        from google.protobuf import json_format

        json_format.ParseDict(spec, node)
        r.pps.ListDatum(pps.ListDatumRequest(input=node), unordered=True)
    create(r, quiet=True, spec=shell("dry", "cp -r /pfs/photos/* /pfs/out/", pfs_in("photos", "/*")))
    settle(r, 1)
    node = pps.Input()
    node.pfs.repo, node.pfs.glob = "photos", "/*"
    r.pps.ListDatum(pps.ListDatumRequest(input=node), unordered=True)
