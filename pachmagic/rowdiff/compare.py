"""The two passes of a row diff, over hashes in numpy arrays, and its result (see ``__init__``).

A row's identity is the 128-bit hash of its canonical cell texts (``sources``)
over the columns both sides share; a key's identity the same over the key
columns. Hashes are a numpy structured array of two uint64 fields, so sorting,
``searchsorted`` and ``unique`` run vectorised and hold 16 bytes a hash.
Must not keep whole tables: only chunks in flight, hashes, and differing rows.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from pachmagic.rowdiff.sources import Chunk, RowDiffError, Side, side_of

if TYPE_CHECKING:
    from pachmagic.client import Client

__all__ = ["RowDiff", "diff_rows", "CHUNK_ROWS"]

CHUNK_ROWS = 100_000
_HASH = np.dtype([("h", "<u8"), ("l", "<u8")])
_RECORD = np.dtype([("h", "<u8"), ("l", "<u8"), ("rh", "<u8"), ("rl", "<u8")])  # key hash, row hash
_KEYS = ("pachmagic-row-k1", "pachmagic-row-k2")  # hash_pandas_object takes 16-character keys


def _hashes(canonical: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    out = np.zeros(len(canonical), dtype=_HASH)
    if len(canonical) and len(columns):
        # A column a chunk lacks (JSON lines: no row of it has the key) is "" there, as a missing key is.
        part = canonical.reindex(columns=list(columns), fill_value="")
        out["h"] = pd.util.hash_pandas_object(part, index=False, hash_key=_KEYS[0]).to_numpy()
        out["l"] = pd.util.hash_pandas_object(part, index=False, hash_key=_KEYS[1]).to_numpy()
    return out


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """For each value, whether it is in ``sorted_set`` (a sorted hash array)."""
    if not len(sorted_set) or not len(values):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return np.asarray(sorted_set[at] == values)


@dataclass
class RowDiff:
    """The rows that differ between two tables, and how many did.

    Attributes
    ----------
    frame:
        One row per removed, changed or added row (in that order, then by key):
        ``change``, the columns (new values; old ones for removed rows),
        ``changed_columns`` (a tuple, for changed rows) and ``<column>_old``
        for each column that changed in some row (the old values of changed rows).
    summary:
        One line: the counts, the key, columns added or removed, the two sides.
    """

    frame: pd.DataFrame
    summary: str
    added: int
    removed: int
    changed: int
    unchanged: int
    key: tuple[str, ...]
    columns_added: tuple[str, ...]
    columns_removed: tuple[str, ...]

    def __repr__(self) -> str:
        return f"{self.summary}\n{self.frame!r}" if len(self.frame) else self.summary

    def _repr_html_(self) -> str:
        body = self.frame._repr_html_() if len(self.frame) else ""
        return f"<p>{html.escape(self.summary)}</p>{body}"


def _columns(side: Side, keys: Sequence[str]) -> list[str] | None:
    """The side's columns (None for a table with neither rows nor a header: an empty JSON lines file)."""
    if side.fmt == "jsonl":  # each object has its own keys: the table's columns are all of them
        columns = list(dict.fromkeys(str(c) for _, canonical in side.chunks() for c in canonical.columns))
        rows = 1 if columns else 0
    else:
        _, canonical = next(side.chunks())
        columns, rows = [str(c) for c in canonical.columns], len(canonical)
    if not columns and not rows:
        return None
    missing = [k for k in keys if k not in columns]
    if missing:
        raise RowDiffError(
            f"key column {missing[0]!r} is not in {side.label} (its columns: {', '.join(columns) or 'none'})"
        )
    return columns


def _first_duplicate(side: Side, keys: Sequence[str], dup: np.ndarray) -> str:
    for _, canonical in side.chunks():
        hit = np.flatnonzero(_hashes(canonical, keys) == dup)
        if len(hit):
            row = canonical.iloc[int(hit[0])]
            return ", ".join(f"{k}={row[k]}" for k in keys)
    return "?"


def _fail_if_repeated(side: Side, keys: Sequence[str], ordered: np.ndarray) -> None:
    """``ordered``: sorted key hashes (``_HASH``) of one side."""
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(same):
        _repeated(side, keys, ordered[same[0]])


def _repeated(side: Side, keys: Sequence[str], key_hash: np.ndarray) -> None:
    raise RowDiffError(f"key {_first_duplicate(side, keys, key_hash)} is not unique in {side.label}")


def _keyed(a: Side, b: Side, keys: Sequence[str], common: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Pass 1 with a key: the key hashes of added, removed and changed rows, and the unchanged count.

    The old side is one array of 32-byte records (key hash, row hash) sorted in place: keys are
    unique, so a query (key, 0) sorts right before its record. The new side is never kept whole.
    """
    parts = []
    for _, canonical in a.chunks():
        k, r = _hashes(canonical, keys), _hashes(canonical, common)
        part = np.zeros(len(canonical), dtype=_RECORD)
        part["h"], part["l"], part["rh"], part["rl"] = k["h"], k["l"], r["h"], r["l"]
        parts.append(part)
    old = np.concatenate(parts)
    del parts
    old.sort()
    same = np.flatnonzero((old["h"][1:] == old["h"][:-1]) & (old["l"][1:] == old["l"][:-1]))
    if len(same):
        _repeated(a, keys, old[["h", "l"]][same[0]].astype(_HASH))
    seen = np.zeros(len(old), dtype=bool)
    added, changed = [], []
    unchanged = 0
    for _, canonical in b.chunks():
        k, r = _hashes(canonical, keys), _hashes(canonical, common)
        query = np.zeros(len(k), dtype=_RECORD)
        query["h"], query["l"] = k["h"], k["l"]
        at = np.minimum(np.searchsorted(old, query), max(len(old) - 1, 0))
        found = (old["h"][at] == k["h"]) & (old["l"][at] == k["l"]) if len(old) else np.zeros(len(k), dtype=bool)
        at = at[found]
        again = seen[at] | _repeats(at)
        if again.any():
            _repeated(b, keys, k[found][again][0])
        seen[at] = True
        differs = (old["rh"][at] != r["h"][found]) | (old["rl"][at] != r["l"][found])
        added.append(k[~found])
        changed.append(k[found][differs])
        unchanged += int((~differs).sum())
    added_keys = np.sort(np.concatenate(added))
    _fail_if_repeated(b, keys, added_keys)
    removed = np.zeros(int((~seen).sum()), dtype=_HASH)
    removed["h"], removed["l"] = old["h"][~seen], old["l"][~seen]
    return added_keys, removed, np.sort(np.concatenate(changed)), unchanged


def _repeats(positions: np.ndarray) -> np.ndarray:
    """For each position, whether an earlier one in the same array is equal."""
    out = np.zeros(len(positions), dtype=bool)
    if len(positions) > 1:
        order = np.argsort(positions, kind="stable")
        ordered = positions[order]
        out[order[1:]] = ordered[1:] == ordered[:-1]
    return out


def _whole(a: Side, b: Side, common: list[str]) -> tuple[dict[bytes, int], dict[bytes, int], int]:
    """Pass 1 without a key: the copies of each row hash that only one side has, and the shared count."""
    def counted(side: Side) -> tuple[np.ndarray, np.ndarray]:
        values, counts = np.unique(np.concatenate([_hashes(c, common) for _, c in side.chunks()]), return_counts=True)
        return values, counts

    va, ca = counted(a)
    vb, cb = counted(b)
    in_b, in_a = _member(va, vb), _member(vb, va)
    shared_a, shared_b = ca[in_b], cb[np.searchsorted(vb, va[in_b])] if in_b.any() else cb[:0]
    unchanged = int(np.minimum(shared_a, shared_b).sum())

    def extras(values: np.ndarray, counts: np.ndarray) -> dict[bytes, int]:
        return {v.tobytes(): int(n) for v, n in zip(values, counts) if n > 0}

    extra_a = extras(va[~in_b], ca[~in_b]) | extras(va[in_b], shared_a - np.minimum(shared_a, shared_b))
    extra_b = extras(vb[~in_a], cb[~in_a]) | extras(va[in_b], shared_b - np.minimum(shared_a, shared_b))
    return extra_a, extra_b, unchanged


def _typed(frame: pd.DataFrame, side: Side) -> pd.DataFrame:
    if side.fmt not in ("csv", "tsv"):
        return frame
    out = frame.copy()
    for column in out.columns:  # read as text: give numeric columns their type back for display
        try:
            out[column] = pd.to_numeric(out[column])
        except (ValueError, TypeError):
            pass
    return out


def _pick(side: Side, columns: Sequence[str], wanted: Callable[[pd.DataFrame], np.ndarray]) -> Chunk:
    """Pass 2: the rows ``wanted`` keeps, as shown (typed) and as compared (canonical)."""
    shown, canonical = [], []
    for display, canon in side.chunks():
        mask = wanted(canon)
        if mask.any():
            shown.append(display[mask])
            canonical.append(canon[mask])
    if not shown:
        empty = pd.DataFrame(columns=list(columns))
        return empty, empty
    return _typed(pd.concat(shown, ignore_index=True), side), pd.concat(canonical, ignore_index=True)


def _keyed_rows(
    a: Side, b: Side, keys: Sequence[str], common: list[str],
    added: np.ndarray, removed: np.ndarray, changed: np.ndarray,
) -> pd.DataFrame:
    """Pass 2 with a key: the removed, changed and added rows, old values beside changed ones."""
    want_old = np.sort(np.concatenate([removed, changed]))
    want_new = np.sort(np.concatenate([added, changed]))
    olds, olds_c = _pick(a, common, lambda c: _member(_hashes(c, keys), want_old))
    news, news_c = _pick(b, common, lambda c: _member(_hashes(c, keys), want_new))
    old_keys, new_keys = _hashes(olds_c, keys), _hashes(news_c, keys)
    old_at = {h.tobytes(): j for j, h in enumerate(old_keys)}
    is_changed = _member(new_keys, changed)
    pairs = [(int(i), old_at[new_keys[i].tobytes()]) for i in np.flatnonzero(is_changed)]
    values = [c for c in common if c not in keys]
    # Compare what pass 1 hashed (the canonical text), not the shown values.
    diffs = [tuple(c for c in values if olds_c[c].iat[j] != news_c[c].iat[i]) for i, j in pairs]
    changed_any = list(dict.fromkeys(c for d in diffs for c in d))
    changed_part = news[is_changed].assign(change="changed", changed_columns=diffs)
    for c in changed_any:
        changed_part[f"{c}_old"] = [olds[c].iat[j] if c in d else None for (_, j), d in zip(pairs, diffs)]
    parts = [
        olds[_member(old_keys, removed)].assign(change="removed", changed_columns=[()] * int(_member(old_keys, removed).sum())),
        changed_part,
        news[~is_changed].assign(change="added", changed_columns=[()] * int((~is_changed).sum())),
    ]
    columns = list(dict.fromkeys([*(str(c) for c in news.columns), *(str(c) for c in olds.columns)]))
    order = ["change", *columns, "changed_columns", *(f"{c}_old" for c in changed_any)]
    present = [p for p in parts if len(p)]
    frame = pd.concat(present, ignore_index=True) if present else pd.DataFrame()
    return _ordered(frame.reindex(columns=order), keys)


def _ordered(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    if not len(frame):
        return frame
    rank = {"removed": 0, "changed": 1, "added": 2}
    frame = frame.assign(_rank=frame["change"].map(rank))
    by = ["_rank", *(k for k in keys if k in frame.columns)]
    try:
        frame = frame.sort_values(by, kind="stable")
    except TypeError:  # keys of mixed types across sides: keep the order found
        frame = frame.sort_values("_rank", kind="stable")
    return frame.drop(columns="_rank").reset_index(drop=True)


def _whole_rows(a: Side, b: Side, common: list[str], extra_a: dict[bytes, int], extra_b: dict[bytes, int]) -> pd.DataFrame:
    def take(budget: dict[bytes, int]) -> Callable[[pd.DataFrame], np.ndarray]:
        left = dict(budget)
        wanted = np.sort(np.array([np.frombuffer(k, dtype=_HASH)[0] for k in left], dtype=_HASH))

        def keep(canonical: pd.DataFrame) -> np.ndarray:
            hashes = _hashes(canonical, common)
            mask = _member(hashes, wanted)
            for i in np.flatnonzero(mask):  # only candidate rows: spend each hash's count once
                key = hashes[i].tobytes()
                if left.get(key, 0) > 0:
                    left[key] -= 1
                else:
                    mask[i] = False
            return mask

        return keep

    olds, _ = _pick(a, common, take(extra_a))
    news, _ = _pick(b, common, take(extra_b))
    parts = [olds.assign(change="removed"), news.assign(change="added")]
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if len(olds) or len(news) else \
        pd.DataFrame(columns=[*common, "change"])
    frame["changed_columns"] = [()] * len(frame)
    return frame[["change", *(c for c in frame.columns if c not in ("change", "changed_columns")), "changed_columns"]]


def diff_rows(
    old: Any,
    new: Any,
    key: str | Sequence[str] | None = None,
    *,
    format: str | None = None,
    client: Client | None = None,
    chunk_rows: int = CHUNK_ROWS,
    labels: tuple[str, str] | None = None,
) -> RowDiff:
    """Compare two tables row by row.

    Parameters
    ----------
    old, new:
        Each a DataFrame, a local path, a seekable binary file object, or a file
        in PFS (``repo@commit:/path``, ``pfs://repo@branch/path``).
    key:
        Column(s) identifying a row. With a key, a row whose key is on both
        sides but whose values differ is ``changed``; without one, whole rows
        are compared (a changed row is one removed and one added).
    format:
        ``csv``, ``tsv``, ``parquet`` or ``jsonl`` (default: from each file's
        name; gzip-compressed files are read through).
    client:
        For PFS files (default: the ``%pach`` session's client, as ``pfs://``).
    chunk_rows:
        Rows read at a time.
    labels:
        How the summary names the two sides (default: as given).

    Returns
    -------
    RowDiff
        ``.frame`` (the rows that differ), ``.summary`` (one line) and the counts.

    Raises
    ------
    RowDiffError
        An unknown format, a key column missing on a side, a key that is not
        unique, a file that is not of its format.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    keys = (key,) if isinstance(key, str) else tuple(key or ())
    a = side_of(old, labels[0] if labels else None, format, client, chunk_rows)
    b = side_of(new, labels[1] if labels else None, format, client, chunk_rows)
    a_found, b_found = _columns(a, keys), _columns(b, keys)
    a_columns = a_found if a_found is not None else (b_found or list(keys))
    b_columns = b_found if b_found is not None else a_columns
    common = [c for c in a_columns if c in b_columns]
    if keys:
        added, removed, changed, unchanged = _keyed(a, b, keys, common)
        frame = _keyed_rows(a, b, keys, common, added, removed, changed)
        counts = (len(added), len(removed), len(changed))
    else:
        extra_a, extra_b, unchanged = _whole(a, b, common)
        frame = _whole_rows(a, b, common, extra_a, extra_b)
        counts = (sum(extra_b.values()), sum(extra_a.values()), 0)
    columns_added = tuple(c for c in b_columns if c not in a_columns)
    columns_removed = tuple(c for c in a_columns if c not in b_columns)
    summary = _summary(*counts, unchanged, keys, columns_added, columns_removed, a.label, b.label)
    return RowDiff(frame, summary, *counts, unchanged, keys, columns_added, columns_removed)


def _summary(
    added: int, removed: int, changed: int, unchanged: int, keys: Sequence[str],
    columns_added: Sequence[str], columns_removed: Sequence[str], old: str, new: str,
) -> str:
    parts = [f"{added} added", f"{removed} removed", *([f"{changed} changed"] if keys else []),
             f"{unchanged} unchanged rows"]
    text = ", ".join(parts) + (f" (key: {', '.join(keys)})" if keys else " (no key: whole rows compared)")
    if columns_added:
        text += f"; columns added: {', '.join(columns_added)}"
    if columns_removed:
        text += f"; columns removed: {', '.join(columns_removed)}"
    return f"{text}; {old} → {new}"
