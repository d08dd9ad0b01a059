"""Row-level diff of two tables (CSV, TSV, Parquet, JSON lines, DataFrames), whatever their size.

``diff_rows(old, new, key=...)`` says what changed row by row: rows added,
removed and — with a key — changed (and in which columns), with a one-line
summary. Sources are DataFrames, local files, seekable file objects, or files
in PFS (``repo@commit:/path``, ``pfs://...``), read through a client so that a
data lock records them like any other read (``sources.py``).

Neither side is ever loaded whole. Pass 1 streams each side in chunks keeping
32 bytes a row: 128-bit hashes (two independent 64-bit pandas hashes of the
canonical cell texts) of each row's key and values, in numpy arrays. With a key,
the old side's key hashes are sorted and each new chunk is looked up in them
(added, changed, unchanged; what was never found is removed); without a key, the
two multisets of row hashes are compared. Pass 2 streams both sides again and
keeps only the rows that differ. Memory: one chunk, the hashes, and the result.

This package reads; it writes nothing, and imports only the client of pachmagic.
"""

from __future__ import annotations

from pachmagic.rowdiff.compare import RowDiff, diff_rows
from pachmagic.rowdiff.sources import FORMATS, RowDiffError, format_of

__all__ = ["diff_rows", "RowDiff", "RowDiffError", "FORMATS", "format_of"]
