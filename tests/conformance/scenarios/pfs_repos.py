"""Projects and repos: create, inspect, list, delete, in every request shape, with their errors."""

from __future__ import annotations

from pachyderm_sdk.api import pfs as spfs

from ..build import pfs, repo
from ..harness import Run
from . import scenario


@scenario("projects")
def projects(r: Run) -> None:
    r.pfs.ListProject(pfs.ListProjectRequest())
    r.pfs.InspectProject(pfs.InspectProjectRequest(project=pfs.Project(name="default")))
    r.pfs.CreateProject(pfs.CreateProjectRequest(project=pfs.Project(name="lab"), description="a lab"))
    r.pfs.CreateProject(pfs.CreateProjectRequest(project=pfs.Project(name="lab")))
    r.pfs.CreateProject(pfs.CreateProjectRequest(project=pfs.Project(name="lab"), description="new", update=True))
    r.pfs.InspectProject(pfs.InspectProjectRequest(project=pfs.Project(name="lab")))
    r.pfs.InspectProjectV2(pfs.InspectProjectV2Request(project=pfs.Project(name="lab")))
    r.pfs.InspectProject(pfs.InspectProjectRequest(project=pfs.Project(name="nope")))
    r.pfs.InspectProject(pfs.InspectProjectRequest())
    r.pfs.CreateProject(pfs.CreateProjectRequest(project=pfs.Project(name="bad.name")))
    r.pfs.CreateProject(pfs.CreateProjectRequest(project=pfs.Project(name="_under")))
    r.pfs.CreateProject(pfs.CreateProjectRequest(project=pfs.Project(name="p" * 60)))
    r.pfs.CreateProject(pfs.CreateProjectRequest(project=pfs.Project(name="")))
    r.pfs.ListProject(pfs.ListProjectRequest())
    r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("inlab", "lab")))
    r.pfs.DeleteProject(pfs.DeleteProjectRequest(project=pfs.Project(name="lab")))
    r.pfs.DeleteProject(pfs.DeleteProjectRequest(project=pfs.Project(name="nope")))
    r.pfs.DeleteProject(pfs.DeleteProjectRequest(project=pfs.Project(name="lab"), force=True))
    r.pfs.ListProject(pfs.ListProjectRequest())
    r.pfs.ListRepo(pfs.ListRepoRequest())


@scenario("projects through the sdk")
def projects_sdk(r: Run) -> None:
    r.sdk.pfs.create_project(project=spfs.Project(name="sdklab"), description="d")
    r.sdk.pfs.project_exists(spfs.Project(name="sdklab"))
    r.sdk.pfs.project_exists(spfs.Project(name="nope"))
    r.sdk.pfs.inspect_project(project=spfs.Project(name="sdklab"))
    r.sdk.pfs.list_project()
    r.sdk.pfs.create_project(project=spfs.Project(name="sdklab"))
    r.sdk.pfs.delete_project(project=spfs.Project(name="sdklab"))
    r.sdk.pfs.inspect_project(project=spfs.Project(name="sdklab"))


@scenario("repos")
def repos(r: Run) -> None:
    r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("photos"), description="raw"))
    r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("photos")))
    r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("photos"), description="cooked", update=True))
    r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("plain", project=None, type="")))
    r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("emptyproj", project="")))
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("photos")))
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("plain", project=None, type="")))
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("nope")))
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("photos", type="spec")))
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("photos", project="nope")))
    r.pfs.InspectRepo(pfs.InspectRepoRequest())
    r.pfs.ListRepo(pfs.ListRepoRequest())
    r.pfs.ListRepo(pfs.ListRepoRequest(type="user"))
    r.pfs.ListRepo(pfs.ListRepoRequest(type="spec"))
    r.pfs.ListRepo(pfs.ListRepoRequest(projects=[pfs.Project(name="default")]))
    r.pfs.ListRepo(pfs.ListRepoRequest(projects=[pfs.Project(name="nope")]))
    r.pfs.DeleteRepo(pfs.DeleteRepoRequest(repo=repo("plain")))
    r.pfs.DeleteRepo(pfs.DeleteRepoRequest(repo=repo("plain")))
    r.pfs.DeleteRepo(pfs.DeleteRepoRequest())
    r.pfs.ListRepo(pfs.ListRepoRequest())


@scenario("repo names and projects that are refused")
def repo_errors(r: Run) -> None:
    for name in ("a.b", "a b", "a/b", "ümlaut", "x" * 300, "-dash", "_under", "9digits"):
        r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo(name)))
    r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("")))
    r.pfs.CreateRepo(pfs.CreateRepoRequest())
    r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("inmissing", project="nope")))
    r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("specless", type="spec")))
    r.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("weird", type="banana")))
    r.pfs.ListRepo(pfs.ListRepoRequest())


@scenario("delete repos")
def delete_repos(r: Run) -> None:
    r.quiet.pfs.CreateProject(pfs.CreateProjectRequest(project=pfs.Project(name="other")))
    for name, project in (("a", "default"), ("b", "default"), ("c", "other")):
        r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo(name, project)))
    r.pfs.DeleteRepos(pfs.DeleteReposRequest())
    r.pfs.DeleteRepos(pfs.DeleteReposRequest(projects=[pfs.Project(name="other")]))
    r.pfs.ListRepo(pfs.ListRepoRequest())
    r.pfs.DeleteRepos(pfs.DeleteReposRequest(all=True))
    r.pfs.ListRepo(pfs.ListRepoRequest())
    r.pfs.DeleteRepos(pfs.DeleteReposRequest(projects=[pfs.Project(name="nope")]))


@scenario("repos through the sdk")
def repos_sdk(r: Run) -> None:
    photos = spfs.Repo(name="photos")
    r.sdk.pfs.create_repo(repo=photos, description="raw")
    r.sdk.pfs.create_repo(repo=photos)
    r.sdk.pfs.repo_exists(photos)
    r.sdk.pfs.repo_exists(spfs.Repo(name="nope"))
    r.sdk.pfs.inspect_repo(repo=photos)
    r.sdk.pfs.inspect_repo(repo=spfs.Repo(name="nope"))
    r.sdk.pfs.create_repo(repo=spfs.Repo(name="a.b"))
    r.sdk.pfs.list_repo()
    r.sdk.pfs.list_repo(type="user")
    r.sdk.pfs.delete_repo(repo=photos, force=True)
    r.sdk.pfs.delete_repo(repo=photos)
    r.sdk.pfs.list_repo()


@scenario("repo sizes follow master")
def repo_sizes(r: Run) -> None:
    from ..build import commit, put

    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("sized")))
    r.pfs.ModifyFile(iter(put(commit("sized", "master"), "/a.txt", b"hello")))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("sized", "master"), wait=pfs.FINISHED))
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("sized")))
    r.pfs.ModifyFile(iter(put(commit("sized", "dev"), "/big.txt", b"x" * 1000)))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("sized", "dev"), wait=pfs.FINISHED))
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("sized")))
    r.pfs.ListRepo(pfs.ListRepoRequest())
