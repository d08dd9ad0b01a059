"""What the repo browser shows: preview kinds, previews as HTML, paging, file history.

Pure: file records, bytes and frames in; values and HTML text out. The
browser reads at most a head of a file for text and CSV previews (``HEAD_BYTES``),
reads images whole up to ``MAX_IMAGE_BYTES``, and shows anything else as size
and hash. No widgets, no RPCs.
"""

from __future__ import annotations

import base64
import io
import posixpath
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from pachmagic.client import CommitInfo, FileInfo, human_size
from pachmagic.widgets.logic.style import ERROR, MUTED, esc, short_id

__all__ = [
    "HEAD_BYTES", "MAX_IMAGE_BYTES", "PREVIEW_ROWS", "IMAGE_FORMATS",
    "preview_kind", "looks_like_text", "summary_html", "text_html", "csv_frame", "table_html",
    "Page", "page", "entry_options", "parent_dir", "is_dir",
    "HistoryRow", "file_history", "history_html", "ref_options", "ago", "frame_note", "count",
    "file_name", "zip_name", "zip_files", "download_link_html", "download_refused_html",
]

HEAD_BYTES = 64 * 1024
CSV_HEAD_BYTES = 1024 * 1024
MAX_IMAGE_BYTES = 8 * 1024 * 1024
PREVIEW_ROWS = 20

IMAGE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".gif": "gif", ".webp": "webp", ".bmp": "bmp", ".svg": "svg+xml"}
TABLES = {".csv": ",", ".tsv": "\t"}
PARQUET = {".parquet", ".pq"}
TEXT = {
    ".txt", ".md", ".rst", ".py", ".json", ".jsonl", ".yaml", ".yml", ".log", ".sh", ".ini", ".toml", ".cfg",
    ".xml", ".html", ".htm", ".r", ".sql", ".js", ".ts", ".c", ".h", ".cpp", ".go", ".rs", ".java", ".ipynb", ".csv.txt",
}


def _ext(path: str) -> str:
    return posixpath.splitext(path.lower())[1]


def is_dir(info: FileInfo) -> bool:
    """True for a directory entry."""
    return info.type == "dir" or info.path.endswith("/")


def looks_like_text(head: bytes) -> bool:
    """True when ``head`` has no NUL byte and decodes as UTF-8 (a cut last character is fine)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def preview_kind(path: str, size: int, head: bytes | None = None) -> str:
    """How to preview a file: ``image``, ``csv``, ``parquet``, ``text``, ``large`` or ``binary``.

    Parameters
    ----------
    path:
        The file's path (its extension decides first).
    size:
        Its size in bytes (images above ``MAX_IMAGE_BYTES`` are ``large``).
    head:
        Its first bytes, to tell text from binary when the extension does not.
    """
    ext = _ext(path)
    if ext in IMAGE_FORMATS:
        return "image" if size <= MAX_IMAGE_BYTES else "large"
    if ext in TABLES:
        return "csv"
    if ext in PARQUET:
        return "parquet"
    if ext in TEXT:
        return "text"
    if head is not None and looks_like_text(head):
        return "text"
    return "binary"


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``, ``2d ago`` (``-`` for None)."""
    if when is None:
        return "-"
    now = now or datetime.now(timezone.utc)
    seconds = max(int((now - when).total_seconds()), 0)
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds // span}{unit} ago"
    return f"{seconds}s ago"


def count(n: int, one: str, many: str) -> str:
    """``1 entry``, ``2 entries``."""
    return f"{n:,} {one if n == 1 else many}"


def summary_html(info: FileInfo, note: str = "") -> str:
    """Name, size, hash, commit and time of a file (the header of every preview).

    Long values are shortened to fit (the hash to 16 characters; hover shows it whole).
    """
    digest = info.hash or "-"
    rows = [
        ("path", f"<code style='word-break:break-all'>{esc(info.path)}</code>"),
        ("size", f"{esc(human_size(info.size_bytes))} ({info.size_bytes:,} bytes)"),
        ("hash", f"<code title='{esc(digest)}'>{esc(digest[:16] + ('…' if len(digest) > 16 else ''))}</code>"),
        ("commit", f"<code title='{esc(info.commit_id)}'>{esc(short_id(info.commit_id, 12))}</code> {esc(ago(info.committed))}"),
    ]
    cells = "".join(
        f"<tr><th style='text-align:left;padding:0 8px 0 0;font-weight:600'>{k}</th><td style='text-align:left'>{v}</td></tr>"
        for k, v in rows
    )
    extra = f"<div style='color:{MUTED};font-size:12px'>{esc(note)}</div>" if note else ""
    return f"<table class='pachmagic-summary' style='font-size:12px;max-width:100%'>{cells}</table>{extra}"


def text_html(head: bytes, size: int) -> str:
    """A ``<pre>`` of the head of a text file, saying when it is cut."""
    text = head.decode("utf-8", errors="replace")
    cut = f"<div style='color:{MUTED};font-size:12px'>first {human_size(len(head))} of {human_size(size)}</div>" if size > len(head) else ""
    return f"<pre class='pachmagic-text' style='max-height:320px;overflow:auto;font-size:12px;margin:0'>{esc(text)}</pre>{cut}"


def csv_frame(head: bytes, path: str, *, truncated: bool, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first ``rows`` rows of a CSV/TSV head (an incomplete last line is dropped)."""
    if truncated and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    sep = TABLES.get(_ext(path), ",")
    return pd.read_csv(io.BytesIO(head), sep=sep, nrows=rows)


def table_html(frame: pd.DataFrame, note: str = "") -> str:
    """A compact HTML table of a frame's first rows."""
    table = frame.head(PREVIEW_ROWS).to_html(classes="pachmagic-table", border=0, max_cols=30)
    extra = f"<div style='color:{MUTED};font-size:12px'>{esc(note)}</div>" if note else ""
    return f"<div style='max-height:300px;overflow:auto;font-size:12px'>{table}</div>{extra}"


@dataclass(frozen=True)
class Page:
    """One page of a directory listing."""

    number: int
    pages: int
    start: int
    stop: int
    total: int

    @property
    def label(self) -> str:
        """``page 2 of 7 · 650 entries``."""
        return f"page {self.number + 1} of {self.pages} · {count(self.total, 'entry', 'entries')}"


def page(total: int, number: int, size: int) -> Page:
    """The bounds of page ``number`` (clamped) of ``total`` entries, ``size`` per page."""
    pages = max((total + size - 1) // size, 1)
    number = min(max(number, 0), pages - 1)
    start = number * size
    return Page(number, pages, start, min(start + size, total), total)


def parent_dir(path: str) -> str:
    """The parent directory of a PFS path (``/`` stays ``/``), with a trailing slash."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/"
    parent = posixpath.dirname(stripped)
    return parent if parent.endswith("/") else parent + "/"


def entry_options(entries: Sequence[FileInfo], directory: str) -> list[tuple[str, str]]:
    """``(label, path)`` options for a listing: ``..`` first below the root, directories with ``/``."""
    options: list[tuple[str, str]] = []
    if directory.rstrip("/"):
        options.append(("⬑ ..", parent_dir(directory)))
    for info in entries:
        name = posixpath.basename(info.path.rstrip("/"))
        if is_dir(info):
            options.append((f"▸ {name}/", info.path if info.path.endswith("/") else info.path + "/"))
        else:
            options.append((f"  {name}  ({human_size(info.size_bytes)})", info.path))
    return options


@dataclass(frozen=True)
class HistoryRow:
    """One change of a file in a branch's history (newest first)."""

    commit: str
    when: datetime | None
    change: str
    size: int | None
    description: str = ""


def file_history(versions: Sequence[tuple[CommitInfo, FileInfo | None]]) -> list[HistoryRow]:
    """The commits where a file changed, from its versions in commits newest first.

    Parameters
    ----------
    versions:
        ``(commit, file info or None when absent)`` for consecutive commits of
        a branch, newest first.

    Returns
    -------
    list[HistoryRow]
        ``added``, ``modified`` or ``deleted`` rows; commits that left the file
        alone are skipped. The oldest commit where the file exists is ``added``
        unless the listing ends there (then ``present``: older history unknown).
    """
    rows: list[HistoryRow] = []
    for i, (commit, info) in enumerate(versions):
        older = versions[i + 1][1] if i + 1 < len(versions) else None
        last = i + 1 == len(versions)
        if info is None and older is None:
            continue
        if info is None:
            change = "deleted"
        elif older is None:
            change = "present" if last and commit.parent else "added"
        elif older.hash != info.hash:
            change = "modified"
        else:
            continue
        when = commit.finished or commit.started
        rows.append(HistoryRow(commit.id, when, change, info.size_bytes if info else None, commit.description))
    return rows


def history_html(path: str, rows: Sequence[HistoryRow]) -> str:
    """A table of a file's history, compact enough for half a screen (descriptions cut, whole on hover)."""
    if not rows:
        return f"<div style='font-size:12px;color:{MUTED}'>No changes of {esc(path)} in the listed commits.</div>"
    cell = "padding:1px 8px 1px 0;white-space:nowrap;text-align:left"
    body = "".join(
        f"<tr><td style='{cell}'><code title='{esc(r.commit)}'>{esc(short_id(r.commit, 10))}</code></td>"
        f"<td style='{cell}'>{esc(ago(r.when))}</td><td style='{cell}'>{esc(r.change)}</td>"
        f"<td style='{cell}'>{esc(human_size(r.size) if r.size is not None else '-')}</td>"
        f"<td style='padding:1px 0;max-width:14em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap' "
        f"title='{esc(r.description)}'>{esc(r.description)}</td></tr>"
        for r in rows
    )
    head = "".join(f"<th style='{cell};font-weight:600'>{h}</th>" for h in ("commit", "when", "change", "size", "description"))
    return (f"<div style='font-size:12px;max-width:100%;overflow-x:auto'><b>History of {esc(path)}</b>"
            f"<table class='pachmagic-history' style='border-collapse:collapse'><tr>{head}</tr>{body}</table></div>")


def ref_options(branches: Sequence[str], commits: Sequence[CommitInfo], now: datetime | None = None) -> list[tuple[str, str]]:
    """``(label, ref)`` options: branches first, then recent commits by id."""
    options = [(f"{b} (branch)", b) for b in branches]
    for c in commits:
        where = f" on {c.branch}" if c.branch else ""
        options.append((f"{short_id(c.id, 10)}{where} · {ago(c.finished or c.started, now)}", c.id))
    return options


def file_name(path: str) -> str:
    """The name a browser saves a file under."""
    return posixpath.basename(path.rstrip("/")) or "file"


def zip_name(path: str) -> str:
    """The name of a directory's zip (``/images/`` → ``images.zip``, ``/`` → ``root.zip``)."""
    return f"{posixpath.basename(path.rstrip('/')) or 'root'}.zip"


def zip_files(files: Sequence[tuple[str, bytes]], *, root: str) -> bytes:
    """A zip of ``(pfs path, bytes)`` with paths relative to the directory ``root`` (never outside it)."""
    base = posixpath.normpath(root.rstrip("/") or "/")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files:
            rel = posixpath.relpath(posixpath.normpath(path), base) if base != "/" else path.lstrip("/")
            parts = [p for p in rel.split("/") if p not in ("", ".", "..")]
            if parts:
                archive.writestr("/".join(parts), data)
    return out.getvalue()


def download_link_html(name: str, data: bytes) -> str:
    """A link that makes the browser save ``data`` as ``name``, and a line saying what is ready (it stays)."""
    href = "data:application/octet-stream;base64," + base64.b64encode(data).decode("ascii")
    return (
        f"<span class='pachmagic-download' style='font-size:12px'>&#10003; {esc(name)} ({esc(human_size(len(data)))}) is ready: "
        f"<a download='{esc(name)}' href='{href}' style='font-weight:600'>save it</a> with your browser</span>"
    )


def download_refused_html(name: str, size: int, limit: int, commit: Any, path: str) -> str:
    """Why a download is not prepared, and the magic that fetches it instead."""
    return (
        f"<span class='pachmagic-download' style='font-size:12px;color:{ERROR}'>{esc(name)} is {esc(human_size(size))}, "
        f"more than a browser download takes here ({esc(human_size(limit))}): use "
        f"<code>%pach get file {esc(commit)}:{esc(path)} -o {esc(file_name(path))}</code></span>"
    )


def frame_note(frame: pd.DataFrame, shown: int, extra: str = "") -> str:
    """``first 20 rows · 5 columns`` plus an optional remark."""
    base = f"first {min(shown, len(frame))} rows · {frame.shape[1]} columns"
    return f"{base} · {extra}" if extra else base

