"""A job's commit set as PFS shows it: members, provenance, diffs, listings, squash and drop.

Two pipelines in a chain, one of them updated, then a new input commit: its
commit set holds the input commit and both pipelines' output and meta commits,
and depends on the commits of earlier sets (the pipelines' spec commits), which
pachd's InspectCommitSet shows too. pachd orders those earlier commits as its
database happens to return them (a SELECT DISTINCT without ORDER BY), so the
set's listings are compared as sets. ListCommitSet, whose sets hold such
commits too, is left to ``../scenarios/pfs_sets.py``: there the earlier
commits of a set form one chain, which the topological order fixes.
"""

from __future__ import annotations

from google.protobuf import json_format
from pachyderm_sdk.api import pfs as spfs

from ..build import commit, pfs, pps, repo
from ..harness import Run
from . import run_scenario
from ._jobs import create, make_repo, pfs_in, put_commit, settle, shell

COPY = "cp -r /pfs/photos/* /pfs/out/"
SIZES = 'for f in /pfs/edges/*; do wc -c < "$f" > "/pfs/out/$(basename "$f").n"; done'


def _set(id_: str) -> pfs.CommitSet:
    return pfs.CommitSet(id=id_)


def _file(repo_name: str, id_: str, path: str) -> pfs.File:
    return pfs.File(commit=commit(repo_name, "", id=id_), path=path)


@run_scenario("runs: a job's commit set")
def job_commit_set(r: Run) -> None:
    make_repo(r, "photos")
    first = put_commit(r, "photos", {"/a.png": b"A", "/dir/b.png": b"BB"})
    create(r, quiet=True, spec=shell("edges", COPY, pfs_in("photos", "/*")))
    create(r, quiet=True, spec=shell("sizes", SIZES, pfs_in("edges", "/*")))
    settle(r, 2)
    # An update: the set after it depends on sizes' newer spec commit.
    create(r, quiet=True, spec=shell("sizes", SIZES + " # v2", pfs_in("edges", "/*")), update=True)
    settle(r, 3)
    latest = put_commit(r, "photos", {"/c.png": b"CCC"})
    settle(r, 5)

    ics = r.pfs.InspectCommitSet
    ics(pfs.InspectCommitSetRequest(commit_set=_set(latest)), unordered=True)
    ics(pfs.InspectCommitSetRequest(commit_set=_set(latest), wait=True), unordered=True)
    ics(pfs.InspectCommitSetRequest(commit_set=_set(first)), unordered=True)
    r.sdk.pfs.inspect_commit_set(commit_set=spfs.CommitSet(id=latest), unordered=True)
    # The update's own set: sizes' spec commit, its output and meta commits.
    spec_set = r.quiet.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("sizes", type="spec"), number=1))[0].commit.id
    ics(pfs.InspectCommitSetRequest(commit_set=_set(spec_set)), unordered=True)

    # Each commit of the set: its provenance names branches; its diff holds the changed root.
    for name in ("photos", "edges", "sizes"):
        r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit(name, "", id=latest), wait=pfs.FINISHED))
        r.pfs.DiffFile(pfs.DiffFileRequest(new_file=_file(name, latest, "/")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("sizes")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("sizes", type="spec")))

    # Paths that are not there: an empty listing, and InspectFile's NOT_FOUND.
    r.pfs.ListFile(pfs.ListFileRequest(file=_file("edges", latest, "/missing")))
    r.pfs.ListFile(pfs.ListFileRequest(file=_file("edges", latest, "/missing/child")))
    r.pfs.ListFile(pfs.ListFileRequest(file=_file("edges", latest, "/a.png/child")))
    r.pfs.GlobFile(pfs.GlobFileRequest(commit=commit("edges", "", id=latest), pattern="/zz*"))
    r.pfs.InspectFile(pfs.InspectFileRequest(file=_file("edges", latest, "/missing")))

    # ListDatum of an input spec that names a commit (the first one): pachd reads the branch head.
    for pinned in ({"commit": first}, {"commit": first, "branch": "master"}, {"commit": latest}):
        node = pps.Input()
        json_format.ParseDict(pfs_in("photos", "/*", **pinned), node)
        r.pps.ListDatum(pps.ListDatumRequest(input=node), unordered=True)


    # Squash and drop of sets that jobs made: refused while later sets build on them.
    r.pfs.SquashCommitSet(pfs.SquashCommitSetRequest(commit_set=_set(first)))
    r.pfs.DropCommitSet(pfs.DropCommitSetRequest(commit_set=_set(first)))
    r.pfs.SquashCommitSet(pfs.SquashCommitSetRequest(commit_set=_set(spec_set)))
    r.pfs.DropCommitSet(pfs.DropCommitSetRequest(commit_set=_set(spec_set)))
    r.pfs.DropCommitSet(pfs.DropCommitSetRequest(commit_set=_set(latest)))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("photos")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("sizes")))
    ics(pfs.InspectCommitSetRequest(commit_set=_set(latest)), unordered=True)
