"""Refs: pachctl URI grammar, id-vs-branch rule, errors, and str()/from_uri round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pachmagic.client import Branch, Commit, File, Job, Pipeline, Repo
from pachmagic.client._convert import commit_from_pb, commit_pb, file_pb, repo_pb
from pachmagic.client._coerce import to_commit, to_job
from pachmagic.client.refs import InvalidRef, is_commit_id
from pachmagic.errors import InvalidArgument

UUID = "0123456789ab4def0123456789abcdef"


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("photos", Repo("photos")),
        ("photos.spec", Repo("photos", "spec")),
        ("images/photos", Repo("photos", project="images")),
        ("images/photos.meta", Repo("photos", "meta", "images")),
    ],
)
def test_repo_from_uri(uri: str, expected: Repo) -> None:
    assert Repo.from_uri(uri) == expected
    assert str(expected) == uri


@pytest.mark.parametrize(
    "uri, branch, commit_id",
    [
        ("photos@master", "master", None),
        (f"photos@{UUID}", None, UUID),
        (f"photos@master={UUID}", "master", UUID),
        ("photos@master^2", None, "master^2"),
        ("photos@master^", None, "master^"),
        ("photos@master~3", None, "master~3"),
        ("photos@master.1", None, "master.1"),
        (f"photos@{UUID}^", None, f"{UUID}^"),
        # 32 hex chars that are not a UUIDv4 are a (valid) branch name
        ("photos@0123456789ab0def0123456789abcdef", "0123456789ab0def0123456789abcdef", None),
    ],
)
def test_commit_from_uri_applies_pachctls_rule(uri: str, branch: str | None, commit_id: str | None) -> None:
    commit = Commit.from_uri(uri)
    assert (commit.repo, commit.branch, commit.id) == (Repo("photos"), branch, commit_id)
    assert str(commit) == uri


def test_file_from_uri() -> None:
    assert File.from_uri("photos@master:/a/b.png") == File(Commit(Repo("photos"), "master"), "/a/b.png")
    assert File.from_uri("photos@master^2:/dir") == File(Commit(Repo("photos"), id="master^2"), "/dir")
    assert File.from_uri("photos@master").path == "/"
    assert File.from_uri("photos@master:").path == "/"
    assert File.from_uri("p/photos.spec@master:a:b").path == "a:b"  # only the first ':' splits


def test_branch_pipeline_job() -> None:
    assert Branch.from_uri("images/photos@dev") == Branch(Repo("photos", project="images"), "dev")
    assert Pipeline.from_uri("images/contour") == Pipeline("contour", "images")
    assert Job.from_uri(f"contour@{UUID}") == Job(Pipeline("contour"), UUID)
    assert str(Job(Pipeline("contour", "p"), UUID)) == f"p/contour@{UUID}"
    assert to_job(("contour", UUID)) == Job(Pipeline("contour"), UUID)
    assert Branch(Repo("r"), "b").head == Commit(Repo("r"), "b")


@pytest.mark.parametrize(
    "parser, uri, message",
    [
        (Repo.from_uri, "", "missing repo name"),
        (Repo.from_uri, "pho tos", "invalid repo name 'pho tos'"),
        (Repo.from_uri, "photos@master", "unexpected '@'"),
        (Repo.from_uri, "/photos", "missing project name"),
        (Repo.from_uri, "-bad/photos", "invalid project name '-bad'"),
        (Repo.from_uri, "photos.", "missing repo type name"),
        (Commit.from_uri, "photos", "missing '@'"),
        (Commit.from_uri, "photos@", "missing branch or commit after '@'"),
        (Commit.from_uri, "@master", "missing repo name"),
        (Commit.from_uri, "photos@master:/x", "unexpected path"),
        (Commit.from_uri, "photos@ma ster", "invalid branch or commit 'ma ster'"),
        (Commit.from_uri, "photos@master=", "missing commit id"),
        (Commit.from_uri, f"photos@{UUID}={UUID}", "is a commit id, not a branch"),
        (Branch.from_uri, "photos@master^2", "names a commit, not a branch"),
        (Branch.from_uri, f"photos@{UUID}", "names a commit, not a branch"),
        (File.from_uri, "photos:/a", "missing '@'"),
        (Job.from_uri, "contour", "missing '@<job id>'"),
        (Job.from_uri, "contour@", "missing job id"),
        (Pipeline.from_uri, "a@b", "unexpected '@'"),
    ],
)
def test_malformed_uris_name_the_problem(parser: object, uri: str, message: str) -> None:
    with pytest.raises(InvalidRef, match=message.replace("^", r"\^")) as info:
        parser(uri)  # type: ignore[operator]
    assert isinstance(info.value, InvalidArgument) and isinstance(info.value, ValueError)
    assert info.value.code == "INVALID_ARGUMENT"


def test_constructors_validate() -> None:
    with pytest.raises(InvalidRef):
        Repo("a.b")
    with pytest.raises(InvalidRef, match="needs a branch or an id"):
        Commit(Repo("r"))
    with pytest.raises(InvalidRef):
        Branch(Repo("r"), UUID)
    with pytest.raises(TypeError):
        to_commit(42)


def test_is_commit_id() -> None:
    assert is_commit_id(UUID) and is_commit_id("master^") and is_commit_id("a.1")
    assert not is_commit_id("master") and not is_commit_id("feature-1")


def test_wire_form_sets_both_repos_and_the_default_project() -> None:
    pb = commit_pb(Commit.from_uri("photos@master"), "images")
    assert pb.repo.name == pb.branch.repo.name == "photos"
    assert pb.repo.project.name == pb.branch.repo.project.name == "images"
    assert (pb.branch.name, pb.id, pb.repo.type) == ("master", "", "user")
    by_id = commit_pb(Commit.from_uri(f"other/photos.spec@{UUID}"), "images")
    assert (by_id.id, by_id.branch.name, by_id.branch.repo.type, by_id.repo.project.name) == (UUID, "", "spec", "other")
    assert commit_from_pb(by_id) == Commit(Repo("photos", "spec", "other"), None, UUID)
    assert file_pb(File.from_uri("r@m:/x"), "default").path == "/x"
    assert repo_pb(Repo("r"), "default").project.name == "default"


# --- property-based round trips --------------------------------------------

names = st.from_regex(r"[a-zA-Z0-9_-]{1,12}", fullmatch=True)
projects = st.none() | st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,8}", fullmatch=True)
repo_types = st.sampled_from(["user", "spec", "meta"]) | names
branches = names.filter(lambda n: not is_commit_id(n))
uuids = st.from_regex(r"[0-9a-f]{12}4[0-9a-f]{19}", fullmatch=True)
ancestry = st.builds(
    lambda base, suffix: base + suffix,
    branches | uuids,
    st.sampled_from(["^", "^^", "~", "^2", "~3", ".1", ".2^1"]),
)
repos = st.builds(Repo, names, repo_types, projects)
commits = st.one_of(
    st.builds(lambda r, b: Commit(r, b, None), repos, branches),
    st.builds(lambda r, i: Commit(r, None, i), repos, uuids | ancestry),
    st.builds(lambda r, b, i: Commit(r, b, i), repos, branches, uuids),
)
paths = st.from_regex(r"/?[ -~]{0,20}", fullmatch=True)


@given(repos)
def test_repo_round_trip(repo: Repo) -> None:
    assert Repo.from_uri(str(repo)) == repo


@given(commits)
def test_commit_round_trip(commit: Commit) -> None:
    assert Commit.from_uri(str(commit)) == commit


@given(repos, branches)
def test_branch_round_trip(repo: Repo, name: str) -> None:
    branch = Branch(repo, name)
    assert Branch.from_uri(str(branch)) == branch


@given(commits, paths)
def test_file_round_trip(commit: Commit, path: str) -> None:
    file = File(commit, path)
    assert File.from_uri(str(file)) == file


@given(commits)
def test_commit_proto_round_trip(commit: Commit) -> None:
    back = commit_from_pb(commit_pb(commit, "default"))
    expected_project = commit.repo.project or "default"
    assert back == Commit(Repo(commit.repo.name, commit.repo.type, expected_project), commit.branch, commit.id)
