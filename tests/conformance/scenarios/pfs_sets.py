"""Commit sets across a DAG of branches: inspect, list, squash, drop, walk, subscribe."""

from __future__ import annotations

from pachyderm_sdk.api import pfs as spfs

from ..build import branch, commit, of, pfs, put, repo
from ..harness import Run
from . import scenario
from .pfs_commits import MISSING_ID


def _dag(r: Run) -> list[pfs.Commit]:
    """in → mid → out (branch provenance), then two input commits."""
    for name in ("in", "mid", "out"):
        r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo(name)))
    r.quiet.pfs.CreateBranch(pfs.CreateBranchRequest(branch=branch("mid"), provenance=[branch("in")]))
    r.quiet.pfs.CreateBranch(pfs.CreateBranchRequest(branch=branch("out"), provenance=[branch("mid")]))
    out = []
    for i in range(2):
        c = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("in")))
        r.quiet.pfs.ModifyFile(iter(put(c, f"/f{i}", b"data")))
        r.quiet.pfs.FinishCommit(pfs.FinishCommitRequest(commit=c))
        r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=c, wait=pfs.FINISHED))
        out.append(c)
    return out


@scenario("commit sets")
def commit_sets(r: Run) -> None:
    cs = _dag(r)
    ics = r.pfs.InspectCommitSet
    ics(pfs.InspectCommitSetRequest(commit_set=pfs.CommitSet(id=cs[0].id)), unordered=True)
    ics(pfs.InspectCommitSetRequest(commit_set=pfs.CommitSet(id=cs[1].id)), unordered=True)
    ics(pfs.InspectCommitSetRequest(commit_set=pfs.CommitSet(id=MISSING_ID)))
    ics(pfs.InspectCommitSetRequest(commit_set=pfs.CommitSet(id="")))
    r.pfs.ListCommitSet(pfs.ListCommitSetRequest())
    r.pfs.ListCommitSet(pfs.ListCommitSetRequest(project=pfs.Project(name="default")))
    r.pfs.ListCommitSet(pfs.ListCommitSetRequest(project=pfs.Project(name="nope")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("out", "", id=cs[1].id)))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("mid", "master")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("out")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("out")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("in")))
    r.sdk.pfs.inspect_commit_set(commit_set=spfs.CommitSet(id=cs[0].id), unordered=True)
    r.sdk.pfs.list_commit_set()


@scenario("commit sets: squash and drop")
def squash_drop(r: Run) -> None:
    cs = _dag(r)
    r.pfs.SquashCommitSet(pfs.SquashCommitSetRequest(commit_set=pfs.CommitSet(id=MISSING_ID)))
    r.pfs.DropCommitSet(pfs.DropCommitSetRequest(commit_set=pfs.CommitSet(id=MISSING_ID)))
    r.pfs.SquashCommitSet(pfs.SquashCommitSetRequest(commit_set=pfs.CommitSet()))
    r.pfs.DropCommitSet(pfs.DropCommitSetRequest(commit_set=pfs.CommitSet(id=cs[0].id)))
    r.pfs.SquashCommitSet(pfs.SquashCommitSetRequest(commit_set=pfs.CommitSet(id=cs[0].id)))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("in")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("out")))
    r.pfs.DropCommitSet(pfs.DropCommitSetRequest(commit_set=pfs.CommitSet(id=cs[1].id)))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("in")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("in")))
    r.pfs.ListCommitSet(pfs.ListCommitSetRequest())
    c = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("in")))
    r.pfs.SquashCommitSet(pfs.SquashCommitSetRequest(commit_set=pfs.CommitSet(id=c.id)))
    r.pfs.DropCommitSet(pfs.DropCommitSetRequest(commit_set=pfs.CommitSet(id=c.id)))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("in"), all=True))


@scenario("commit provenance walks")
def walks(r: Run) -> None:
    cs = _dag(r)
    picker = lambda name, id_: pfs.CommitPicker(id=pfs.CommitPicker.CommitByGlobalId(  # noqa: E731
        repo=pfs.RepoPicker(name=pfs.RepoPicker.RepoName(name=name, project=pfs.ProjectPicker(name="default"))), id=id_))
    head = lambda name: pfs.CommitPicker(branch_head=pfs.BranchPicker(name=pfs.BranchPicker.BranchName(  # noqa: E731
        repo=pfs.RepoPicker(name=pfs.RepoPicker.RepoName(name=name, project=pfs.ProjectPicker(name="default"))), name="master")))
    r.pfs.WalkCommitProvenance(pfs.WalkCommitProvenanceRequest(start=[picker("out", cs[1].id)]), unordered=True)
    r.pfs.WalkCommitSubvenance(pfs.WalkCommitSubvenanceRequest(start=[picker("in", cs[1].id)]), unordered=True)
    r.pfs.WalkCommitProvenance(pfs.WalkCommitProvenanceRequest(start=[head("out")], max_depth=1), unordered=True)
    r.pfs.WalkCommitSubvenance(pfs.WalkCommitSubvenanceRequest(start=[head("in")], max_commits=2), unordered=True)
    r.pfs.WalkCommitProvenance(pfs.WalkCommitProvenanceRequest(start=[picker("out", MISSING_ID)]))
    r.pfs.WalkCommitProvenance(pfs.WalkCommitProvenanceRequest())


@scenario("subscribe commits")
def subscribe(r: Run) -> None:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("r")))
    for i in range(3):
        r.quiet.pfs.ModifyFile(iter(put(commit("r", "master" if i != 1 else "dev"), f"/f{i}", b"x")))
        r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "master" if i != 1 else "dev"), wait=pfs.FINISHED))
    sub = r.pfs.SubscribeCommit
    sub(pfs.SubscribeCommitRequest(repo=repo("r"), state=pfs.FINISHED), take=3)
    sub(pfs.SubscribeCommitRequest(repo=repo("r"), branch="master", state=pfs.FINISHED), take=2)
    sub(pfs.SubscribeCommitRequest(repo=repo("nope")), take=1)
    r.pfs.Fsck(pfs.FsckRequest())
