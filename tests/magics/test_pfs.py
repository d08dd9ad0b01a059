"""Projects, repos, branches, commits and files through ``%pach``, in a real shell."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd

from pachmagic.client import BranchInfo, CommitInfo, FileInfo, RepoInfo
from pachmagic.magics._testing import TestingShell
from pachmagic.magics.content import FileContent

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_projects(ip: TestingShell) -> None:
    ip.run_cell("%pach create project lab -d 'the lab'")
    projects = ip.value("%pach list project")
    assert list(projects.columns) == ["active", "project", "created", "description"]
    assert projects["active"].dtype == bool
    assert projects.set_index("project").loc["default", "active"]
    assert ip.value("%pach inspect project lab").description == "the lab"
    ip.run_cell("%pach update project lab -d 'renamed'")
    assert ip.value("%pach inspect project lab").description == "renamed"
    ip.run_cell("%pach create repo inlab --project lab")
    assert list(ip.value("%pach list repo --project lab")["name"]) == ["inlab"]
    assert len(ip.value("%pach list repo")) == 0
    assert set(ip.value("%pach list repo -A")["project"]) == {"lab"}
    # pachd cannot delete a project that still has repos, even with -f (its database refuses).
    ip.run_cell("%pach delete repo inlab --project lab")
    ip.run_cell("%pach delete project lab")
    assert list(ip.value("%pach list project")["project"]) == ["default"]


def test_repo_inspect_update_and_system_repos(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo photos")
    ip.run_cell("%pach update repo photos -d 'new text'")
    info = ip.value("%pach inspect repo photos")
    assert isinstance(info, RepoInfo) and info.description == "new text"
    assert "<table>" in info._repr_html_()
    ip.run_cell("%%pach create pipeline\npipeline: {name: p}\ntransform: {image: x, cmd: ['true']}\n"
                "input: {pfs: {repo: photos, glob: /}}")
    assert sorted(ip.value("%pach list repo --all")["name"]) == ["p", "p.meta", "p.spec", "photos"]
    assert list(ip.value("%pach list repo --type spec")["name"]) == ["p.spec"]
    message = ip.value("%pach delete repo --all")
    assert str(message) == "deleted 1 repo"
    assert list(ip.value("%pach list repo")["name"]) == ["p"]


def test_branches(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo photos")
    ip.run_cell("%%pach put file photos@master:/a.txt\nhello")
    ip.run_cell("%pach create branch photos@staging --head master")
    branches = ip.value("%pach list branch photos")
    assert list(branches.columns) == ["branch", "head", "trigger", "created"]
    assert sorted(branches["branch"]) == ["master", "staging"]
    heads = branches.set_index("branch")["head"]
    assert heads["master"] == heads["staging"]
    assert isinstance(ip.value("%pach inspect branch photos@staging"), BranchInfo)
    ip.run_cell("%pach delete branch photos@staging")
    assert list(ip.value("%pach list branch photos")["branch"]) == ["master"]


def test_commits(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo photos")
    started = ip.value("%pach start commit photos@master -m 'by hand'")
    assert str(started).startswith("started commit default/photos@master=")
    ip.run_cell("%%pach put file photos@master:/x.txt\nx")
    ip.run_cell("%pach finish commit photos@master")
    info = ip.value("%pach inspect commit photos@master")
    assert isinstance(info, CommitInfo) and info.id == started.id and info.description == "by hand"
    assert ip.value("%pach wait commit photos@master").finished is not None
    ip.run_cell("%%pach put file photos@master:/y.txt\ny")
    commits = ip.value("%pach list commit photos@master")
    assert len(commits) == 2 and commits["commit"][1] == started.id  # newest first
    assert str(commits["finished"].dtype) == "datetime64[ns, UTC]" and commits["size"].dtype == "int64"
    assert len(ip.value("%pach list commit photos -n 1")) == 1
    assert list(ip.value("%pach list commit photos --reverse")["commit"])[0] == started.id
    sets = ip.value("%pach list commit")
    assert list(sets.columns) == ["id", "subcommits", "progress", "created", "modified"]
    assert started.id in set(sets["id"])
    members = ip.value(f"%pach list commit {started.id}")
    assert list(members["repo"]) == ["photos"]
    assert len(ip.value(f"%pach wait commit {started.id}")) == 1


def test_put_file_placement_rules(ip: TestingShell, workdir: Path) -> None:
    (workdir / "a.txt").write_text("a")
    (workdir / "b.txt").write_text("b")
    tree = workdir / "tree" / "sub"
    tree.mkdir(parents=True)
    (tree / "c.txt").write_text("c")
    (workdir / "tree" / "d.txt").write_text("d")
    ip.run_cell("%pach create repo r")
    ip.run_cell("%pach put file r@master:/renamed.txt -f a.txt")
    ip.run_cell("%pach put file r@master:/dir/ -f a.txt")
    ip.run_cell("%pach put file r@master:/many -f a.txt -f b.txt")
    ip.run_cell("%pach put file r@master -f tree -r")
    ip.run_cell("%pach put file r@master:/copy -f tree -r")
    names = set(ip.value("%pach glob file r@master:/**")["name"])
    expected = {"/renamed.txt", "/dir/a.txt", "/many/a.txt", "/many/b.txt", "/tree/d.txt", "/tree/sub/c.txt",
                "/copy/d.txt", "/copy/sub/c.txt"}
    assert expected <= names


def test_put_file_append_list_file_url_and_cell(ip: TestingShell, workdir: Path) -> None:
    (workdir / "a.txt").write_text("one\n")
    (workdir / "list.txt").write_text(f"# sources\n{workdir / 'a.txt'}\n")
    ip.run_cell("%pach create repo r")
    ip.run_cell("%pach put file r@master -f a.txt")
    ip.run_cell("%pach put file r@master -f a.txt -a")
    assert ip.value("%pach get file r@master:/a.txt").data == b"one\none\n"
    ip.run_cell("%pach put file r@master:/listed/ -i list.txt")
    ip.run_cell(f"%pach put file r@master:/from-url.txt -f {(workdir / 'a.txt').as_uri()}")
    ip.run_cell("%%pach put file r@master:/notes/readme.md\n# Title\nbody")
    assert ip.value("%pach get file r@master:/listed/a.txt").data == b"one\n"
    assert ip.value("%pach get file r@master:/from-url.txt").data == b"one\n"
    assert ip.value("%pach get file r@master:/notes/readme.md").text == "# Title\nbody\n"  # IPython ends cell bodies with a newline


def test_put_cell_needs_a_path(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo r")
    failure = ip.fail("%%pach put file r@master\ncontent")
    assert failure.lines[0].startswith("UsageError: %%pach put file: the cell body needs a file path")


def test_get_file_displays_images_and_text(ip: TestingShell, workdir: Path) -> None:
    (workdir / "dot.png").write_bytes(PNG)
    (workdir / "table.csv").write_text("x,y\n1,2\n3,4\n")
    (workdir / "notes.txt").write_text("x,y\n1,2\n3,4\n")
    ip.run_cell("%pach create repo r")
    ip.run_cell("%pach put file r@master -f dot.png -f table.csv -f notes.txt")
    image = ip.value("%pach get file r@master:/dot.png")
    assert isinstance(image, FileContent) and image.is_image and image.data == PNG
    bundle = image._repr_mimebundle_()
    assert bundle["image/png"] == PNG
    formatted, _ = ip.display_formatter.format(image)
    assert "image/png" in formatted
    table = ip.value("%pach get file r@master:/table.csv")
    assert table.mimetype == "text/csv" and repr(table).startswith("   x  y\n0  1  2\n1  3  4\n[")
    assert table.to_frame()["y"].tolist() == [2, 4]
    assert "<table" in table._repr_mimebundle_()["text/html"]
    text = ip.value("%pach get file r@master:/notes.txt")
    assert text.mimetype == "text/plain" and repr(text) == "x,y\n1,2\n3,4\n"
    assert "<pre>" in text._repr_mimebundle_()["text/html"]
    ip.run_cell("%config PachMagic.file_preview_bytes = 4")
    assert repr(ip.value("%pach get file r@master:/notes.txt")).startswith("x,y\n\n[... 8B more")


def test_get_file_to_disk_and_recursively(ip: TestingShell, workdir: Path) -> None:
    ip.run_cell("%pach create repo r")
    ip.run_cell("%%pach put file r@master:/d/one.txt\n1")
    ip.run_cell("%%pach put file r@master:/d/sub/two.txt\n22")
    out = workdir / "out"
    out.mkdir()
    ip.run_cell("%pach get file r@master:/d/one.txt -o out")
    assert (out / "one.txt").read_text() == "1\n"
    message = ip.value("%pach get file r@master:/d -r -o tree")
    assert message.files == 2
    assert (workdir / "tree" / "sub" / "two.txt").read_text() == "22\n"
    assert ip.fail("%pach get file r@master:/d").lines[0].startswith("UsageError: %pach get file: r@master:/d is a")


def test_inspect_glob_diff_delete_copy(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo r")
    ip.run_cell("%%pach put file r@master:/a.txt\naaa")
    ip.run_cell("%%pach put file r@master:/b.csv\nbbbb")
    info = ip.value("%pach inspect file r@master:/a.txt")
    assert isinstance(info, FileInfo) and info.size_bytes == 4
    assert list(ip.value("%pach glob file 'r@master:/*.csv'")["name"]) == ["/b.csv"]
    diff = ip.value("%pach diff file r@master")
    assert list(diff.columns) == ["op", "name", "type", "new_size", "old_size"]
    assert ("+", "/b.csv") in set(zip(diff["op"], diff["name"]))
    assert list(ip.value("%pach diff file r@master --name-only").columns) == ["op", "name"]
    ip.run_cell("%pach copy file r@master:/a.txt r@master:/c.txt")
    assert ip.value("%pach get file r@master:/c.txt").data == b"aaa\n"
    ip.run_cell("%pach delete file r@master:/a.txt")
    assert sorted(ip.value("%pach list file r@master")["name"]) == ["/b.csv", "/c.txt"]


def test_display_limit_limits_the_view_not_the_data(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo r")
    for n in range(5):
        ip.run_cell(f"%%pach put file r@master:/f{n}.txt\n{n}")
    ip.run_cell("%config PachMagic.display_limit = 2")
    files = ip.value("%pach list file r@master")
    assert isinstance(files, pd.DataFrame) and len(files) == 5
    html = files._repr_html_()
    assert "/f1.txt" in html and "/f2.txt" not in html and "5 rows, showing the first 2" in html
    assert "showing the first 2" in repr(files)
    assert len(files.head(3)) == 3 and "showing" not in repr(files.head(3))
    ip.run_cell("%config PachMagic.display_limit = 0")
    assert "/f4.txt" in ip.value("%pach list file r@master")._repr_html_()


def test_get_file_shows_a_csv_as_a_table_and_listings_short_times(ip: TestingShell) -> None:
    import re

    rows = "".join(f"{i},item {i},{i * 1.5}\n" for i in range(30))
    ip.run_cell("%pach create repo sales")
    ip.run_cell(f"%%pach put file sales@master:/sales.csv\nid,name,price\n{rows}")
    content = ip.value("%pach get file sales@master:/sales.csv")
    bundle = content._repr_mimebundle_()
    assert "<table" in bundle["text/html"] and "<td>item 19</td>" in bundle["text/html"]
    assert "item 20" not in bundle["text/html"]  # the first rows only
    assert "first 20 of 30 rows · 3 columns" in bundle["text/plain"]
    assert bundle["text/plain"].splitlines()[0].split() == ["id", "name", "price"]
    assert len(content.to_frame()) == 30 and content.data.startswith(b"id,name,price\n")
    repos = ip.value("%pach list repo")
    assert str(repos["created"].dtype) == "datetime64[ns, UTC]"  # the data keeps full times ...
    shown = repr(repos) + repos._repr_html_()
    assert re.search(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\b", shown)  # ... the views show them to the second
    assert not re.search(r"\d\d:\d\d:\d\d\.\d|\+00:00", shown)
