"""Files: ModifyFile in all its forms, then Get/GetTAR/Inspect/List/Walk/Glob/Diff, with their errors."""

from __future__ import annotations

from pachyderm_sdk.api import pfs as spfs

from ..build import branch, commit, file, file_at, of, pfs, put, put_many, repo, set_commit
from ..harness import Run
from . import scenario

TREE = {
    "/a.txt": b"hello",
    "/dir/b.txt": b"world",
    "/dir/sub/c.csv": b"1,2\n3,4\n",
    "/empty.txt": b"",
    "/x/y/z.bin": bytes(range(256)),
    "/dir/d.txt": b"d" * 3000,
}


def _tree(r: Run, name: str = "r") -> pfs.Commit:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo(name)))
    c = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=branch(name)))
    r.quiet.pfs.ModifyFile(iter(put_many(c, TREE)))
    r.quiet.pfs.FinishCommit(pfs.FinishCommitRequest(commit=c))
    r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=c, wait=pfs.FINISHED))
    return c


@scenario("files: modify")
def modify(r: Run) -> None:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("r")))
    c = r.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r")))
    add = lambda path, data, **kw: pfs.ModifyFileRequest(add_file=pfs.AddFile(path=path, raw={"value": data}, **kw))  # noqa: E731
    r.pfs.ModifyFile(iter([set_commit(c), add("/a.txt", b"one"), add("/a.txt", b"+two")]))
    r.pfs.ModifyFile(iter([set_commit(c), add("no-slash.txt", b"x"), add("/dir//double.txt", b"y")]))
    r.pfs.ModifyFile(iter([set_commit(c), add("/dir/./dot.txt", b"z"), add("/trail/", b"t")]))
    r.pfs.ModifyFile(iter([set_commit(c), add("/../escape.txt", b"e")]))
    r.pfs.ModifyFile(iter([set_commit(c), add("/ünï cödé.txt", b"u"), add("/tab\tname", b"t")]))
    r.pfs.ModifyFile(iter([set_commit(c), pfs.ModifyFileRequest(delete_file=pfs.DeleteFile(path="/no-slash.txt"))]))
    r.pfs.ModifyFile(iter([set_commit(c), pfs.ModifyFileRequest(delete_file=pfs.DeleteFile(path="/never"))]))
    r.pfs.ModifyFile(iter([set_commit(c), pfs.ModifyFileRequest(copy_file=pfs.CopyFile(dst="/copy.txt", src=file_at(of(c), "/a.txt")))]))
    r.pfs.ModifyFile(iter([add("/first.txt", b"no commit")]))
    r.pfs.ModifyFile(iter([set_commit(c), add("/twice1", b"1"), set_commit(c), add("/twice2", b"2")]))
    r.pfs.ModifyFile(iter([set_commit(c), pfs.ModifyFileRequest()]))
    r.pfs.ModifyFile(iter([set_commit(commit("nope", "master")), add("/a", b"x")]))
    r.pfs.FinishCommit(pfs.FinishCommitRequest(commit=of(c)))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=of(c), wait=pfs.FINISHED))
    r.pfs.WalkFile(pfs.WalkFileRequest(file=file_at(of(c), "/")))
    r.pfs.ModifyFile(iter([set_commit(of(c)), add("/late", b"x")]))
    r.pfs.ModifyFile(iter([set_commit(commit("r", "master")), add("/oneoff.txt", b"new commit")]))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "master"), wait=pfs.FINISHED))
    r.pfs.ModifyFile(iter([set_commit(commit("r", "fresh")), add("/f.txt", b"new branch")]))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "fresh"), wait=pfs.FINISHED))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("r"), all=True))
    r.pfs.ModifyFile(iter([set_commit(commit("r", "master")),
                            pfs.ModifyFileRequest(copy_file=pfs.CopyFile(dst="/c2", src=file("r", "master", "/missing")))]))
    r.pfs.ModifyFile(iter([set_commit(commit("r", "master")),
                            pfs.ModifyFileRequest(copy_file=pfs.CopyFile(dst="/tree/", src=file("r", "master", "/dir/")))]))
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("r", "master"), wait=pfs.FINISHED))
    r.pfs.WalkFile(pfs.WalkFileRequest(file=file("r", "master", "/")))


@scenario("files: get")
def get(r: Run) -> None:
    c = _tree(r)
    gf = r.pfs.GetFile
    for path in ("/a.txt", "a.txt", "/dir/sub/c.csv", "/empty.txt", "/x/y/z.bin", "/dir", "/", "/missing", "/a.txt/", "/d*/b.txt", "/dir/*.txt", "/[a"):
        gf(pfs.GetFileRequest(file=file("r", "master", path)), join=True)
    gf(pfs.GetFileRequest(file=file("r", "master", "/a.txt"), offset=2), join=True)
    gf(pfs.GetFileRequest(file=file("r", "master", "/a.txt"), offset=99), join=True)
    gf(pfs.GetFileRequest(file=file_at(of(c), "/dir/b.txt")), join=True)
    gf(pfs.GetFileRequest(file=file("r", "nope", "/a.txt")), join=True)
    gf(pfs.GetFileRequest(file=file("nope", "master", "/a.txt")), join=True)
    tar = r.pfs.GetFileTAR
    for path in ("/a.txt", "/dir", "/dir/", "/", "/missing", "/dir/*.txt", "/empty.txt"):
        tar(pfs.GetFileRequest(file=file("r", "master", path)), tar=True)


@scenario("files: inspect, list, walk")
def listing(r: Run) -> None:
    c = _tree(r)
    for path in ("/a.txt", "/dir", "/dir/", "/", "", "/missing", "/dir/sub/c.csv", "/empty.txt", "/d*"):
        r.pfs.InspectFile(pfs.InspectFileRequest(file=file("r", "master", path)))
    r.pfs.InspectFile(pfs.InspectFileRequest(file=file_at(of(c), "/a.txt")))
    lf = r.pfs.ListFile
    for path in ("/", "/dir", "/dir/", "/a.txt", "/missing", "/x", "/x/y/"):
        lf(pfs.ListFileRequest(file=file("r", "master", path)))
    lf(pfs.ListFileRequest(file=file("r", "master", "/"), number=2))
    lf(pfs.ListFileRequest(file=file("r", "master", "/"), reverse=True))
    lf(pfs.ListFileRequest(file=file("r", "master", "/"), number=2, reverse=True))
    lf(pfs.ListFileRequest(file=file("r", "master", "/"), paginationMarker=file("r", "master", "/dir/")))
    lf(pfs.ListFileRequest(file=file("r", "master", "/"), paginationMarker=file("r", "master", "/dir/"), reverse=True))
    lf(pfs.ListFileRequest(file=file("r", "master", "/"), number=-1))
    lf(pfs.ListFileRequest(file=file("r", "nope", "/")))
    lf(pfs.ListFileRequest(file=file("nope", "master", "/")))
    wf = r.pfs.WalkFile
    for path in ("/", "/dir", "/dir/", "/a.txt", "/missing"):
        wf(pfs.WalkFileRequest(file=file("r", "master", path)))
    wf(pfs.WalkFileRequest(file=file("r", "master", "/"), number=3))
    wf(pfs.WalkFileRequest(file=file("r", "master", "/"), reverse=True))
    wf(pfs.WalkFileRequest(file=file("r", "master", "/"), paginationMarker=file("r", "master", "/dir/sub/c.csv")))


@scenario("files: an empty commit")
def empty_commit(r: Run) -> None:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("r")))
    c = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r")))
    r.quiet.pfs.FinishCommit(pfs.FinishCommitRequest(commit=c))
    r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=c, wait=pfs.FINISHED))
    for path in ("/", "", "/a"):
        r.pfs.InspectFile(pfs.InspectFileRequest(file=file("r", "master", path)))
        r.pfs.ListFile(pfs.ListFileRequest(file=file("r", "master", path)))
        r.pfs.WalkFile(pfs.WalkFileRequest(file=file("r", "master", path)))
    for pattern in ("/", "/*", "/**"):
        r.pfs.GlobFile(pfs.GlobFileRequest(commit=commit("r", "master"), pattern=pattern))
    r.pfs.DiffFile(pfs.DiffFileRequest(new_file=file("r", "master", "/")))
    r.pfs.GetFile(pfs.GetFileRequest(file=file("r", "master", "/")), join=True)
    r.pfs.GetFileTAR(pfs.GetFileRequest(file=file("r", "master", "/")), tar=True)
    # emptied again: every file deleted
    d = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r")))
    r.quiet.pfs.ModifyFile(iter(put(d, "/a", b"a")))
    r.quiet.pfs.FinishCommit(pfs.FinishCommitRequest(commit=d))
    e = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r")))
    r.quiet.pfs.ModifyFile(iter([set_commit(e), pfs.ModifyFileRequest(delete_file=pfs.DeleteFile(path="/a"))]))
    r.quiet.pfs.FinishCommit(pfs.FinishCommitRequest(commit=e))
    r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=e, wait=pfs.FINISHED))
    r.pfs.InspectFile(pfs.InspectFileRequest(file=file("r", "master", "/")))
    r.pfs.WalkFile(pfs.WalkFileRequest(file=file("r", "master", "/")))
    r.pfs.GlobFile(pfs.GlobFileRequest(commit=commit("r", "master"), pattern="/"))
    r.pfs.DiffFile(pfs.DiffFileRequest(new_file=file("r", "master", "/")))


@scenario("files: glob")
def glob(r: Run) -> None:
    _tree(r)
    patterns = ("/", "*", "/*", "/**", "/dir/*", "/dir/**", "/*/*", "/**.txt", "/*.txt", "/dir/sub/*", "/nothing*",
                "/[ad]*", "/[!a]*", "/{a,empty}.txt", "/?.txt", "/dir/?.txt", "a.txt", "/x/y/z.bin", "/x/",
                "/[a", "/{a", "/a\\", "/**/c.csv", "/dir/**/*.csv", "")
    for pattern in patterns:
        r.pfs.GlobFile(pfs.GlobFileRequest(commit=commit("r", "master"), pattern=pattern))
    r.pfs.GlobFile(pfs.GlobFileRequest(commit=commit("nope", "master"), pattern="/*"))
    r.pfs.GlobFile(pfs.GlobFileRequest(commit=commit("r", "nope"), pattern="/*"))


@scenario("files: diff")
def diff(r: Run) -> None:
    first = _tree(r)
    c = r.quiet.pfs.StartCommit(pfs.StartCommitRequest(branch=branch("r")))
    r.quiet.pfs.ModifyFile(iter(put_many(c, {"/a.txt": b"changed", "/dir/new.txt": b"new", "/top.txt": b"t"})))
    r.quiet.pfs.ModifyFile(iter([set_commit(c), pfs.ModifyFileRequest(delete_file=pfs.DeleteFile(path="/dir/b.txt"))]))
    r.quiet.pfs.FinishCommit(pfs.FinishCommitRequest(commit=c))
    r.quiet.pfs.InspectCommit(pfs.InspectCommitRequest(commit=c, wait=pfs.FINISHED))
    df = r.pfs.DiffFile
    df(pfs.DiffFileRequest(new_file=file("r", "master", "/")))
    df(pfs.DiffFileRequest(new_file=file("r", "master", "/dir")))
    df(pfs.DiffFileRequest(new_file=file("r", "master", "/dir/")))
    df(pfs.DiffFileRequest(new_file=file("r", "master", "/a.txt")))
    df(pfs.DiffFileRequest(new_file=file("r", "master", "/"), old_file=file_at(of(first), "/")))
    df(pfs.DiffFileRequest(new_file=file_at(of(first), "/"), old_file=file("r", "master", "/")))
    df(pfs.DiffFileRequest(new_file=file_at(of(first), "/")))
    df(pfs.DiffFileRequest(new_file=file("r", "master", "/"), shallow=True))
    df(pfs.DiffFileRequest(new_file=file("r", "master", "/missing")))
    df(pfs.DiffFileRequest(new_file=file("r", "nope", "/")))


@scenario("files through the sdk")
def files_sdk(r: Run) -> None:
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("r")))
    master = spfs.Branch.from_uri("r@master")
    c = r.sdk.pfs.start_commit(branch=master)
    r.sdk.pfs.put_file_from_bytes(commit=c, path="/a.txt", data=b"hello")
    r.sdk.pfs.put_file_from_bytes(commit=c, path="/a.txt", data=b" again", append=True)
    r.sdk.pfs.put_file_from_bytes(commit=c, path="/dir/b.txt", data=b"b")
    r.sdk.pfs.copy_file(commit=c, src=spfs.File.from_uri(f"r@{c.id}:/a.txt"), dst="/copied.txt")
    r.sdk.pfs.delete_file(commit=c, path="/dir/b.txt")
    r.sdk.pfs.finish_commit(commit=c)
    r.sdk.pfs.wait_commit(c)
    r.sdk.pfs.list_file(file=spfs.File.from_uri("r@master:/"))
    r.sdk.pfs.walk_file(file=spfs.File.from_uri("r@master:/"))
    r.sdk.pfs.glob_file(commit=spfs.Commit.from_uri("r@master"), pattern="/*.txt")
    r.sdk.pfs.inspect_file(file=spfs.File.from_uri("r@master:/a.txt"))
    r.sdk.pfs.inspect_file(file=spfs.File.from_uri("r@master:/nope"))
    r.sdk.pfs.path_exists(spfs.File.from_uri("r@master:/a.txt"))
    r.sdk.pfs.path_exists(spfs.File.from_uri("r@master:/nope"))
    r.sdk.pfs.path_exists(spfs.File.from_uri("r@master:/dir"))
    r.do("sdk pfs_file read", lambda: r.side.sdk.pfs.pfs_file(spfs.File.from_uri("r@master:/a.txt")).read())
    r.do("sdk pfs_file missing", lambda: r.side.sdk.pfs.pfs_file(spfs.File.from_uri("r@master:/nope")).read())
    r.sdk.pfs.diff_file(new_file=spfs.File.from_uri("r@master:/"))
    r.sdk.pfs.put_file_from_bytes(commit=spfs.Commit.from_uri("r@master"), path="/oneoff.txt", data=b"x")
