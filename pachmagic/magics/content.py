"""``FileContent``: what ``%pach get file`` returns without ``-o``.

It keeps the file's bytes (``.data``) and displays them by kind: images
(PNG, JPEG, GIF, WebP, SVG) as images, CSV and TSV as a table of their first
rows (as the repo browser previews them), other text as text (the first
``PachMagic.file_preview_bytes`` bytes), anything else as a one-line summary.
``.text`` decodes UTF-8, ``.to_frame()`` reads CSV/TSV/JSON lines with pandas.
"""

from __future__ import annotations

import html
import io
import mimetypes
import posixpath
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from pachmagic.client import human_size

__all__ = ["FileContent", "sniff_mimetype", "TABLE_ROWS"]

TABLE_ROWS = 20  # rows of a CSV/TSV shown (the whole file is in .data and .to_frame())

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}
_TEXT_TYPES = {"application/json", "application/xml", "application/x-yaml", "application/yaml",
               "application/javascript", "application/x-sh", "application/sql"}


def _is_text(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the sample's end is fine
        return exc.start >= len(sample) - 4
    return True


def sniff_mimetype(path: str, data: bytes) -> str:
    """The MIME type of a file: from its first bytes, else its name, else text or binary."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed, _ = mimetypes.guess_type(posixpath.basename(path))
    if guessed == "image/svg+xml" or (guessed and (guessed.startswith("text/") or guessed in _TEXT_TYPES)):
        return guessed
    if posixpath.splitext(path)[1].lower() in (".csv", ".tsv"):
        return "text/csv"
    return "text/plain" if _is_text(data) else (guessed or "application/octet-stream")


class FileContent:
    """The content of one PFS file, displayed as an image or text.

    Parameters
    ----------
    path:
        The file's URI (``repo@ref:/path``), for display.
    data:
        The bytes.
    preview_bytes:
        How many bytes of text to display (0 = all).

    Attributes
    ----------
    data:
        The file's bytes.
    mimetype:
        The sniffed MIME type (``image/png``, ``text/csv``, ``text/plain``...).
    """

    def __init__(self, path: str, data: bytes, *, preview_bytes: int = 65536) -> None:
        self.path = path
        self.data = data
        self.preview_bytes = preview_bytes
        self.mimetype = sniff_mimetype(path.rpartition(":")[2] or path, data)

    @property
    def is_image(self) -> bool:
        """Whether the file is shown as an image."""
        return self.mimetype in _IMAGES

    @property
    def is_text(self) -> bool:
        """Whether the file is shown as text (text, CSV, JSON, YAML, SVG source...)."""
        return not self.is_image and (self.mimetype.startswith("text/") or self.mimetype in _TEXT_TYPES)

    @property
    def text(self) -> str:
        """The content decoded as UTF-8 (undecodable bytes replaced)."""
        return self.data.decode("utf-8", errors="replace")

    def to_frame(self, **kwargs: Any) -> pd.DataFrame:
        """Read the content with pandas: CSV (default), TSV (``.tsv``) or JSON lines (``.jsonl``)."""
        name = self.path.lower()
        if name.endswith(".jsonl"):
            return pd.read_json(io.BytesIO(self.data), lines=True, **kwargs)
        if name.endswith(".tsv"):
            kwargs.setdefault("sep", "\t")
        return pd.read_csv(io.BytesIO(self.data), **kwargs)

    @property
    def is_table(self) -> bool:
        """Whether the file is shown as a table (CSV or TSV)."""
        return self.mimetype in ("text/csv", "text/tab-separated-values") or self.path.lower().endswith((".csv", ".tsv"))

    def _table(self) -> tuple[pd.DataFrame, str] | None:
        """The first rows as a frame and a note saying what is shown; None if it does not parse."""
        limit = self.preview_bytes or len(self.data)
        head = self.data[:limit]
        cut = len(head) < len(self.data)
        if cut and b"\n" in head:
            head = head[: head.rindex(b"\n") + 1]  # no half line
        sep = "\t" if self.path.lower().endswith(".tsv") else ","
        try:
            frame = pd.read_csv(io.BytesIO(head), sep=sep, nrows=TABLE_ROWS)
        except (ValueError, UnicodeDecodeError):  # pandas' ParserError is a ValueError
            return None
        lines = self.data.count(b"\n") - (0 if self.data.endswith(b"\n") else -1) - 1
        shown = min(len(frame), TABLE_ROWS)
        note = f"first {shown} of {lines:,} rows" if lines > shown else f"{shown} row{'' if shown == 1 else 's'}"
        return frame, f"{self.path}: {note} · {frame.shape[1]} columns ({human_size(len(self.data))}; .to_frame() reads it all, .data has the bytes)"

    def _summary(self) -> str:
        return f"{self.path} ({self.mimetype}, {human_size(len(self.data))})"

    def _preview(self) -> str:
        limit = self.preview_bytes
        if not limit or len(self.data) <= limit:
            return self.text
        head = self.data[:limit].decode("utf-8", errors="ignore")
        return f"{head}\n[... {human_size(len(self.data) - limit)} more; the whole file is in .data]"

    def __repr__(self) -> str:
        table = self._table() if self.is_table else None
        if table is not None:
            frame, note = table
            return f"{frame.to_string(max_cols=30)}\n[{note}]"
        return self._preview() if self.is_text else f"<{self._summary()}>"

    def __len__(self) -> int:
        return len(self.data)

    def __bytes__(self) -> bytes:
        return self.data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        if self.mimetype == "image/svg+xml":
            bundle["image/svg+xml"] = self.text
        elif self.is_image:
            bundle[self.mimetype] = self.data
        elif self.is_table and (table := self._table()) is not None:
            frame, note = table
            bundle["text/html"] = (f"{frame.to_html(max_cols=30, border=0, classes='pachmagic-table')}"
                                   f"<div style='color:var(--jp-ui-font-color2,#6b7280);font-size:12px'>{html.escape(note)}</div>")
        elif self.is_text:
            bundle["text/html"] = f"<pre>{html.escape(self._preview())}</pre>"
        return bundle
