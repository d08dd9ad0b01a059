"""The preview of one selected file in the repo browser, as a widget.

Images whole and scaled to fit, text and code as text, CSV/TSV and Parquet as
a table of the first rows, anything else (or too large) as a hint that size
and hash are shown above. Which kind a file is, and how each is written out,
is decided by the pure functions of ``logic/browse.py``; this module only
reads the bytes through the client and builds the widget. It keeps no state
and never imports the server.
"""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as w

from pachmagic.client import File, FileInfo, human_size
from pachmagic.widgets.logic import browse
from pachmagic.widgets.logic.style import MUTED, esc

__all__ = ["hint", "preview_widget"]


def hint(text: str) -> w.HTML:
    """A short muted line (what to do, or why nothing is previewed)."""
    return w.HTML(f"<span style='color:{MUTED};font-size:12px'>{esc(text)}</span>")


def preview_widget(client: Any, ref: File, info: FileInfo) -> w.Widget:
    """The widget previewing ``info`` (the file at ``ref``), reading only its head where that suffices."""
    pfs = client.pfs
    head_size = browse.CSV_HEAD_BYTES if browse.preview_kind(info.path, info.size_bytes) == "csv" else browse.HEAD_BYTES
    with pfs.open_file(ref) as reader:
        head = reader.read(head_size)
    kind = browse.preview_kind(info.path, info.size_bytes, head)
    if kind == "image":
        data = head if len(head) >= info.size_bytes else pfs.get_file(ref)
        fmt = browse.IMAGE_FORMATS[os.path.splitext(info.path.lower())[1]]
        # whole and scaled to fit: no crop, no scroll bar
        return w.Image(value=data, format=fmt, layout=w.Layout(width="auto", height="auto", max_width="100%",
                                                                max_height="300px", object_fit="contain"))
    if kind == "text":
        return w.HTML(browse.text_html(head[: browse.HEAD_BYTES], info.size_bytes))
    if kind == "csv":
        frame = browse.csv_frame(head, info.path, truncated=len(head) < info.size_bytes)
        return w.HTML(browse.table_html(frame, browse.frame_note(frame, browse.PREVIEW_ROWS)))
    if kind == "parquet":
        return w.HTML(_parquet_html(client, ref))
    note = "binary file" if kind == "binary" else f"too large to preview ({human_size(info.size_bytes)})"
    return hint(f"{note}: size and hash above")


def _parquet_html(client: Any, ref: File) -> str:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return f"<div style='color:{MUTED}'>Install pyarrow to preview Parquet files.</div>"
    from pachmagic.fs import PfsFileSystem

    fs = PfsFileSystem(client, skip_instance_cache=True)
    with fs.open(f"{ref.commit}{ref.path}", "rb") as handle:
        parquet = pq.ParquetFile(handle)
        batch = next(parquet.iter_batches(batch_size=browse.PREVIEW_ROWS), None)
        frame = batch.to_pandas() if batch is not None else parquet.schema_arrow.empty_table().to_pandas()
        rows = parquet.metadata.num_rows
    return browse.table_html(frame, browse.frame_note(frame, browse.PREVIEW_ROWS, f"{rows:,} rows in all"))
