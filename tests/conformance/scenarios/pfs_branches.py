"""Branches: create (head, provenance, triggers), inspect, list, delete, with their errors."""

from __future__ import annotations

from pachyderm_sdk.api import pfs as spfs

from ..build import branch, commit, of, pfs, put, repo
from ..harness import Run
from . import scenario
from .pfs_commits import MISSING_ID, _three_commits


@scenario("branches: heads")
def heads(r: Run) -> None:
    cs = _three_commits(r)
    cb = r.pfs.CreateBranch
    cb(pfs.CreateBranchRequest(branch=branch("r", "dev"), head=of(cs[0])))
    cb(pfs.CreateBranchRequest(branch=branch("r", "staging"), head=commit("r", "master")))
    cb(pfs.CreateBranchRequest(branch=branch("r", "up"), head=commit("r", "master^")))
    cb(pfs.CreateBranchRequest(branch=branch("r", "empty")))
    cb(pfs.CreateBranchRequest(branch=branch("r", "dev"), head=of(cs[1])))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("r", "dev")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("r", "up")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("r", "empty")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "empty"), wait=pfs.FINISHED))
    r.pfs.ListBranch(pfs.ListBranchRequest(repo=repo("r")))
    r.pfs.ListBranch(pfs.ListBranchRequest(repo=repo("r"), reverse=True))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("r"), all=True))
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("r")))
    r.pfs.DeleteBranch(pfs.DeleteBranchRequest(branch=branch("r", "dev")))
    r.pfs.DeleteBranch(pfs.DeleteBranchRequest(branch=branch("r", "dev")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("r", "dev")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=of(cs[1])))
    r.pfs.ListBranch(pfs.ListBranchRequest(repo=repo("r")))


@scenario("branches: refused")
def refused(r: Run) -> None:
    cs = _three_commits(r)
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("other")))
    cb = r.pfs.CreateBranch
    cb(pfs.CreateBranchRequest(branch=branch("r", "bad.name"), head=of(cs[0])))
    cb(pfs.CreateBranchRequest(branch=branch("r", "has space")))
    cb(pfs.CreateBranchRequest(branch=branch("r", MISSING_ID)))
    cb(pfs.CreateBranchRequest(branch=branch("r", "")))
    cb(pfs.CreateBranchRequest(branch=branch("nope", "dev")))
    cb(pfs.CreateBranchRequest(branch=branch("r", "x"), head=commit("r", "", id=MISSING_ID)))
    cb(pfs.CreateBranchRequest(branch=branch("r", "x"), head=commit("r", "nope")))
    cb(pfs.CreateBranchRequest(branch=branch("other", "x"), head=of(cs[0])))
    cb(pfs.CreateBranchRequest(branch=branch("r", "x"), provenance=[branch("r", "master")]))
    cb(pfs.CreateBranchRequest(branch=branch("r", "master"), provenance=[branch("r", "master")]))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("r", "nope")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("nope", "master")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest())
    r.pfs.ListBranch(pfs.ListBranchRequest(repo=repo("nope")))
    r.pfs.DeleteBranch(pfs.DeleteBranchRequest(branch=branch("nope", "master")))
    r.pfs.DeleteBranch(pfs.DeleteBranchRequest(branch=branch("r", "nope")))
    r.pfs.ListBranch(pfs.ListBranchRequest(repo=repo("r")))
    r.pfs.ListBranch(pfs.ListBranchRequest(repo=repo("other")))


@scenario("branches: provenance")
def provenance(r: Run) -> None:
    for name in ("in1", "in2", "out"):
        r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo(name)))
    r.quiet.pfs.ModifyFile(iter(put(commit("in1", "master"), "/a", b"1")))
    r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("in1", "master"), wait=pfs.FINISHED))
    cb = r.pfs.CreateBranch
    cb(pfs.CreateBranchRequest(branch=branch("out"), provenance=[branch("in1"), branch("in2")]))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("out")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("in1")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("in2")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("out", "master")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("out")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("in2")))
    r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("out")))
    r.pfs.ModifyFile(iter(put(commit("out", "master"), "/x", b"x")))
    c = r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("in2")))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=of(c)))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=of(c), wait=pfs.FINISHED))
    r.pfs.InspectCommitSet(pfs.InspectCommitSetRequest(commit_set=pfs.CommitSet(id=c.id)), unordered=True)
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("out", "", id=c.id)))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("out")))
    r.pfs.DeleteBranch(pfs.DeleteBranchRequest(branch=branch("in1")))
    r.pfs.DeleteRepo(pfs.DeleteRepoRequest(repo=repo("in1")))
    r.pfs.ListBranch(pfs.ListBranchRequest(repo=repo("in1")))
    cb(pfs.CreateBranchRequest(branch=branch("in1"), provenance=[branch("out")]))
    cb(pfs.CreateBranchRequest(branch=branch("out", "dev"), provenance=[branch("in1")]))
    cb(pfs.CreateBranchRequest(branch=branch("out"), provenance=[branch("in2")]))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("out")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("in1")))
    r.pfs.DeleteBranch(pfs.DeleteBranchRequest(branch=branch("in2")))
    r.pfs.DeleteBranch(pfs.DeleteBranchRequest(branch=branch("in2"), force=True))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("out")))
    r.pfs.DeleteRepo(pfs.DeleteRepoRequest(repo=repo("out")))
    r.pfs.ListRepo(pfs.ListRepoRequest())


@scenario("branches: triggers")
def triggers(r: Run) -> None:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("r")))
    cb = r.pfs.CreateBranch
    cb(pfs.CreateBranchRequest(branch=branch("r", "staged"), trigger=pfs.Trigger(branch="master", commits=2)))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("r", "staged")))
    for i in range(3):
        r.pfs.ModifyFile(iter(put(commit("r", "master"), f"/f{i}", b"x")))
        r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "master"), wait=pfs.FINISHED))
        r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("r", "staged")))
    cb(pfs.CreateBranchRequest(branch=branch("r", "bad"), trigger=pfs.Trigger(branch="bad")))
    cb(pfs.CreateBranchRequest(branch=branch("r", "sized"), trigger=pfs.Trigger(branch="master", size="1KB")))
    cb(pfs.CreateBranchRequest(branch=branch("r", "badsize"), trigger=pfs.Trigger(branch="master", size="lots")))
    cb(pfs.CreateBranchRequest(branch=branch("r", "badcron"), trigger=pfs.Trigger(branch="master", cron_spec="every day")))
    r.pfs.ListBranch(pfs.ListBranchRequest(repo=repo("r")))


@scenario("branches through the sdk")
def branches_sdk(r: Run) -> None:
    cs = _three_commits(r)
    repo_ = spfs.Repo(name="r")
    r.sdk.pfs.create_branch(branch=spfs.Branch(repo=repo_, name="dev"), head=spfs.Commit.from_uri("r@master^"))
    r.sdk.pfs.inspect_branch(branch=spfs.Branch.from_uri("r@dev"))
    r.sdk.pfs.branch_exists(spfs.Branch.from_uri("r@dev"))
    r.sdk.pfs.branch_exists(spfs.Branch.from_uri("r@nope"))
    r.sdk.pfs.list_branch(repo=repo_)
    r.sdk.pfs.create_branch(branch=spfs.Branch.from_uri("r@dev2"), head=spfs.Commit.from_uri(f"r@{cs[0].id}"))
    r.sdk.pfs.inspect_branch(branch=spfs.Branch.from_uri("r@nope"))
    r.sdk.pfs.delete_branch(branch=spfs.Branch.from_uri("r@dev"))
    r.sdk.pfs.list_branch(repo=repo_)
