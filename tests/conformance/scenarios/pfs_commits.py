"""Commits: start, finish, inspect (ids, branches, ancestry), list (every filter), and their errors."""

from __future__ import annotations

from pachyderm_sdk.api import pfs as spfs

from ..build import branch, commit, of, pfs, put, repo
from ..harness import Run
from . import scenario

FINISHED = pfs.FINISHED
MISSING_ID = "0123456789ab4def8123456789abcdef"  # UUIDv4-shaped, never handed out


def _inspect(r: Run, c: pfs.Commit, wait: int = FINISHED) -> None:
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=c, wait=wait))


def _three_commits(r: Run, name: str = "r") -> list[pfs.Commit]:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo(name)))
    out = []
    for i in range(3):
        c = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=branch(name), description=f"c{i}"))
        r.quiet.pfs.ModifyFile(iter(put(c, f"/f{i}", b"x" * (i + 1))))
        r.quiet.pfs.FinishCommit(pfs.FinishCommitRequest(commit=c))
        r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=c, wait=FINISHED))
        out.append(c)
    return out


@scenario("commits: start, finish, inspect")
def start_finish(r: Run) -> None:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("r")))
    c = r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r"), description="first"))
    _inspect(r, of(c), wait=pfs.STARTED)
    _inspect(r, commit("r", "master"), wait=pfs.STARTED)
    r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r")))
    r.pfs.ModifyFile(iter(put(c, "/a.txt", b"hello")))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=c, description="finished"))
    _inspect(r, of(c))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("r")))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=c))
    r.pfs.ModifyFile(iter(put(of(c), "/b.txt", b"late")))
    c2 = r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r")))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=commit("r", "master", with_repo=False)))
    _inspect(r, of(c2))
    c3 = r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r")))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=of(c3), error="failed on purpose"))
    _inspect(r, of(c3))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("r")))


@scenario("commits: refused starts and finishes")
def start_errors(r: Run) -> None:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("r")))
    r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("nope")))
    r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r", "bad.branch")))
    r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r", "0123456789ab4def8123456789abcdef")))
    r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r", "")))
    r.pfs.StartCommit(pfs.StartCommitRequest())
    r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r"), parent=commit("r", id=MISSING_ID)))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=commit("r", id=MISSING_ID)))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=commit("r", "master")))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=commit("nope", "master")))
    r.pfs.FinishCommit(pfs.FinishCommitRequest())
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "master")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "", id=MISSING_ID)))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("nope", "master")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "", id="notanid")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest())
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("nope")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("r")))


@scenario("commits: parents and branches")
def parents(r: Run) -> None:
    cs = _three_commits(r)
    c = r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r", "dev"), parent=of(cs[0])))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=of(c)))
    _inspect(r, of(c))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("r", "dev")))
    r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r", "dev"), parent=commit("r", "master")))
    _inspect(r, commit("r", "dev"), wait=pfs.STARTED)
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("r")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("r"), all=True))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=of(cs[0])))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=of(cs[2])))


@scenario("commits: ancestry")
def ancestry(r: Run) -> None:
    cs = _three_commits(r)
    for ref in ("master^", "master~2", "master^^", "master^^^", "master^^^^", "master~9",
                "master.1", "master.3", "master.4", "master.9", "master.0", "master^0", "nope^"):
        r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", ref)))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "", id=cs[2].id + "^")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "", id=cs[2].id + "^^^")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "", id="master^")))
    r.sdk.pfs.inspect_commit(commit=spfs.Commit.from_uri("r@master^"))
    r.sdk.pfs.inspect_commit(commit=spfs.Commit.from_uri("r@master~1"))
    r.sdk.pfs.inspect_commit(commit=spfs.Commit.from_uri(f"r@{cs[1].id}"))


@scenario("commits: list filters")
def list_filters(r: Run) -> None:
    cs = _three_commits(r)
    lc = r.pfs.ListCommit
    lc(pfs.ListCommitRequest(repo=repo("r")))
    lc(pfs.ListCommitRequest(repo=repo("r"), number=2))
    lc(pfs.ListCommitRequest(repo=repo("r"), number=2, reverse=True))
    lc(pfs.ListCommitRequest(repo=repo("r"), reverse=True))
    lc(pfs.ListCommitRequest(repo=repo("r"), to=commit("r", "master")))
    lc(pfs.ListCommitRequest(repo=repo("r"), to=of(cs[1])))
    lc(pfs.ListCommitRequest(repo=repo("r"), to=commit("r", "master"), number=1))
    lc(pfs.ListCommitRequest(repo=repo("r"), **{"from": of(cs[0])}, to=of(cs[2])))
    lc(pfs.ListCommitRequest(repo=repo("r"), **{"from": of(cs[0])}))
    lc(pfs.ListCommitRequest(repo=repo("r"), **{"from": of(cs[2])}, to=of(cs[0])))
    lc(pfs.ListCommitRequest(repo=repo("r"), origin_kind=pfs.USER))
    lc(pfs.ListCommitRequest(repo=repo("r"), origin_kind=pfs.AUTO))
    lc(pfs.ListCommitRequest(repo=repo("r"), all=True))
    lc(pfs.ListCommitRequest(repo=repo("r"), to=commit("r", "nope")))
    lc(pfs.ListCommitRequest(repo=repo("r"), to=commit("r", "", id=MISSING_ID)))
    lc(pfs.ListCommitRequest(repo=repo("r"), number=-1))
    r.sdk.pfs.list_commit(repo=spfs.Repo(name="r"))
    r.sdk.pfs.list_commit(repo=spfs.Repo(name="r"), number=1)
    r.sdk.pfs.list_commit(repo=spfs.Repo(name="r"), reverse=True, number=1)


@scenario("commits: the sdk's commit helpers")
def sdk_commits(r: Run) -> None:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("r")))
    master = spfs.Branch.from_uri("r@master")

    def with_block() -> spfs.Commit:
        with r.side.sdk.pfs.commit(branch=master, description="block") as c:
            c.put_file_from_bytes(path="/a.txt", data=b"hello")
            c.put_file_from_bytes(path="/dir/b.txt", data=b"world")
            c.delete_file(path="/a.txt")
        return c.commit if hasattr(c, "commit") else c

    r.do("sdk commit block", with_block)
    r.sdk.pfs.wait_commit(spfs.Commit.from_uri("r@master"))
    c = r.sdk.pfs.start_commit(branch=master)
    r.sdk.pfs.put_file_from_bytes(commit=c, path="/c.txt", data=b"c")
    r.sdk.pfs.start_commit(branch=master)
    r.sdk.pfs.finish_commit(commit=c)
    r.sdk.pfs.wait_commit(c)
    r.sdk.pfs.inspect_commit(commit=c, wait=spfs.CommitState.FINISHED)
    r.sdk.pfs.put_file_from_bytes(commit=c, path="/late.txt", data=b"")
    r.sdk.pfs.commit_exists(c)
    r.sdk.pfs.commit_exists(spfs.Commit.from_uri(f"r@{MISSING_ID}"))
    r.sdk.pfs.list_commit(repo=spfs.Repo(name="r"))
    r.sdk.pfs.inspect_commit(commit=spfs.Commit.from_uri("r@master"), wait=spfs.CommitState.FINISHED)


@scenario("commits: clear, squash and drop one commit")
def clear_squash_drop(r: Run) -> None:
    cs = _three_commits(r)
    open_ = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r")))
    r.quiet.pfs.ModifyFile(iter(put(open_, "/tmp", b"tmp")))
    r.pfs.ClearCommit(pfs.ClearCommitRequest(commit=of(open_)))
    r.pfs.ClearCommit(pfs.ClearCommitRequest(commit=of(cs[0])))
    r.pfs.ListFile(pfs.ListFileRequest(file=pfs.File(commit=of(open_), path="/")))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=of(open_)))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=of(open_), wait=FINISHED))
    r.pfs.SquashCommit(pfs.SquashCommitRequest(commit=of(cs[1])))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("r")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=of(cs[2])))
    r.pfs.DropCommit(pfs.DropCommitRequest(commit=of(cs[0])))
    r.pfs.DropCommit(pfs.DropCommitRequest(commit=of(open_)))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("r")))
    r.pfs.SquashCommit(pfs.SquashCommitRequest(commit=commit("r", "", id=MISSING_ID)))
    r.pfs.DropCommit(pfs.DropCommitRequest(commit=commit("r", "", id=MISSING_ID)))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("r")))
