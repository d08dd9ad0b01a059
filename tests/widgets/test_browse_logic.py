"""The repo browser's pure logic: preview kinds, previews, paging, entries, history, downloads."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from pachmagic.client import CommitInfo, FileInfo
from pachmagic.widgets.logic import browse

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def info(path: str, size: int = 10, hash: str = "h", type: str = "file") -> FileInfo:
    return FileInfo(project="default", repo="r", path=path, size_bytes=size, hash=hash, type=type)


@pytest.mark.parametrize(
    "path, size, head, kind",
    [
        ("/a.png", 100, None, "image"),
        ("/a.JPG", 100, None, "image"),
        ("/huge.png", browse.MAX_IMAGE_BYTES + 1, None, "large"),
        ("/t.csv", 10**12, None, "csv"),
        ("/t.tsv", 10, None, "csv"),
        ("/t.parquet", 10, None, "parquet"),
        ("/code.py", 10, None, "text"),
        ("/noext", 10, b"plain words\n", "text"),
        ("/noext", 10, b"\x00\x01\x02", "binary"),
        ("/blob.bin", 10, b"\xff\xfe\xfa", "binary"),
        ("/cut", 10, "héllo".encode()[:2], "text"),  # a multibyte character cut by the head
    ],
)
def test_preview_kind(path: str, size: int, head: bytes | None, kind: str) -> None:
    assert browse.preview_kind(path, size, head) == kind


def test_text_and_summary_html_escape_and_say_when_cut() -> None:
    html = browse.text_html(b"<b>hi</b>", 100_000)
    assert "&lt;b&gt;hi&lt;/b&gt;" in html and "first 9B of 97.66KiB" in html
    assert "first" not in browse.text_html(b"all", 3)
    summary = browse.summary_html(FileInfo(project="p", repo="r", path="/x<y>", size_bytes=2048, hash="abc", commit_id="c" * 32, committed=T0))
    assert "/x&lt;y&gt;" in summary and "2KiB" in summary and "2,048 bytes" in summary and "abc" in summary


def test_csv_frame_drops_a_cut_last_line_and_renders_a_table() -> None:
    head = b"a,b\n1,x\n2,y\n3,z"  # the last line may be incomplete
    frame = browse.csv_frame(head, "/t.csv", truncated=True)
    assert frame.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    assert len(browse.csv_frame(head, "/t.csv", truncated=False)) == 3
    assert browse.csv_frame(b"a\tb\n1\t2\n", "/t.tsv", truncated=False).columns.tolist() == ["a", "b"]
    html = browse.table_html(pd.DataFrame({"col": range(50)}), browse.frame_note(pd.DataFrame({"col": range(50)}), 20))
    assert "<table" in html and "<th>col</th>" in html and ">19<" in html and ">20<" not in html
    assert "first 20 rows · 1 columns" in html


def test_paging_clamps_and_labels() -> None:
    p = browse.page(450, 1, 200)
    assert (p.number, p.pages, p.start, p.stop) == (1, 3, 200, 400) and p.label == "page 2 of 3 · 450 entries"
    assert browse.page(450, 99, 200).start == 400 and browse.page(450, -1, 200).number == 0
    assert browse.page(0, 0, 200) == browse.Page(0, 1, 0, 0, 0)


def test_entries_and_parent_dir() -> None:
    options = browse.entry_options([info("/d/sub/", type="dir"), info("/d/f.txt", size=2048)], "/d/")
    assert options == [("⬑ ..", "/"), ("▸ sub/", "/d/sub/"), ("  f.txt  (2KiB)", "/d/f.txt")]
    assert browse.entry_options([info("/f")], "/")[0] == ("  f  (10B)", "/f")
    assert [browse.parent_dir(p) for p in ("/", "/a", "/a/", "/a/b/", "/a/b/c.txt")] == ["/", "/", "/", "/a/", "/a/b/"]


def commit(ident: str, minutes: int, parent: str | None = "p") -> CommitInfo:
    return CommitInfo(project="default", repo="r", id=ident, branch="master", parent=parent, started=T0 + timedelta(minutes=minutes))


def test_file_history_reports_only_changes() -> None:
    versions = [
        (commit("c5", 5), None),                       # deleted
        (commit("c4", 4), info("/a", hash="h3")),      # modified
        (commit("c3", 3), info("/a", hash="h2")),      # unchanged (another file changed)
        (commit("c2", 2), info("/a", hash="h2")),      # modified
        (commit("c1", 1, parent=None), info("/a", hash="h1")),  # added (first commit)
    ]
    rows = browse.file_history(versions)
    assert [(r.commit, r.change) for r in rows] == [("c5", "deleted"), ("c4", "modified"), ("c2", "modified"), ("c1", "added")]
    cut = browse.file_history(versions[:2])
    assert [(r.commit, r.change) for r in cut] == [("c5", "deleted"), ("c4", "present")]  # older history not listed
    html = browse.history_html("/a", rows)
    assert "deleted" in html and "c4" in html
    assert "No changes" in browse.history_html("/a", [])


def test_ref_options_and_ago() -> None:
    now = T0 + timedelta(minutes=10)
    options = browse.ref_options(["master", "dev"], [commit("0123456789abcdef", 5)], now=now)
    assert options == [("master (branch)", "master"), ("dev (branch)", "dev"), ("0123456789 on master · 5m ago", "0123456789abcdef")]
    assert browse.ago(None) == "-" and browse.ago(T0, T0 + timedelta(days=2, hours=1)) == "2d ago"


def test_zip_of_a_directory_stays_inside_it() -> None:
    import io
    import zipfile

    data = browse.zip_files([("/a/b/c.png", b"1"), ("/a/d.txt", b"2"), ("/a/../../etc/passwd", b"3")], root="/a/")
    names = sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert names == ["b/c.png", "d.txt", "etc/passwd"]
    assert browse.zip_name("/images/") == "images.zip" and browse.zip_name("/") == "root.zip"
    assert browse.file_name("/a/b.png") == "b.png"
    link = browse.download_link_html("b.png", b"hello")
    assert "download='b.png'" in link and "data:application/octet-stream;base64,aGVsbG8=" in link and "5B" in link


def test_counts_and_short_hashes() -> None:
    assert browse.count(1, "entry", "entries") == "1 entry" and browse.count(2, "entry", "entries") == "2 entries"
    assert browse.page(1, 0, 200).label == "page 1 of 1 · 1 entry"

