"""``pachmagic.diff_rows``: row-level diffs of tables, checked against a plain pandas oracle.

The property tests build random tables and random edits, write them in every
format, and compare what ``diff_rows`` finds (with tiny chunks, so every row
crosses chunk boundaries) with what a whole-table comparison in pandas says.
PFS sources are tested in ``tests/magics/test_rows.py`` (embedded server and
reference pachd).
"""

from __future__ import annotations

import gzip
import io
import tracemalloc
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pachmagic
from pachmagic.rowdiff import RowDiffError, diff_rows, format_of

VALUES = st.sampled_from(["a", "b", "c", "1", "2.5", ""])


@st.composite
def edited_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    keys = draw(st.lists(st.integers(0, 30), unique=True, max_size=12))
    old = pd.DataFrame({"id": [str(k) for k in keys],
                        "x": [draw(VALUES) for _ in keys], "y": [draw(VALUES) for _ in keys]})
    kept = [k for k in keys if draw(st.booleans()) or draw(st.booleans())]
    new_rows = []
    for k in kept:
        row = old[old.id == str(k)].iloc[0].to_dict()
        if draw(st.booleans()):
            row[draw(st.sampled_from(["x", "y"]))] = draw(VALUES)
        new_rows.append(row)
    for k in draw(st.lists(st.integers(31, 60), unique=True, max_size=5)):
        new_rows.append({"id": str(k), "x": draw(VALUES), "y": draw(VALUES)})
    order = draw(st.permutations(range(len(new_rows))))
    new = pd.DataFrame([new_rows[i] for i in order], columns=["id", "x", "y"])
    return old, new


def _oracle(old: pd.DataFrame, new: pd.DataFrame) -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    a, b = old.set_index("id"), new.set_index("id")
    out: dict[str, set[tuple[str, tuple[str, ...]]]] = {"added": set(), "removed": set(), "changed": set()}
    for k in b.index.difference(a.index):
        out["added"].add((k, ()))
    for k in a.index.difference(b.index):
        out["removed"].add((k, ()))
    for k in a.index.intersection(b.index):
        cols = tuple(c for c in ("x", "y") if a.loc[k, c] != b.loc[k, c])
        if cols:
            out["changed"].add((k, cols))
    return out


def _write(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    return path


def _found(result: pachmagic.rowdiff.RowDiff) -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    out: dict[str, set[tuple[str, tuple[str, ...]]]] = {"added": set(), "removed": set(), "changed": set()}
    for _, row in result.frame.iterrows():
        out[row["change"]].add((str(row["id"]), tuple(row["changed_columns"])))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables=edited_tables(), chunk=st.integers(1, 4), fmt=st.sampled_from(["frame", "csv", "tsv", "jsonl", "parquet"]))
def test_keyed_diff_matches_the_oracle(tmp_path: Path, tables: tuple[pd.DataFrame, pd.DataFrame], chunk: int, fmt: str) -> None:
    old, new = tables
    if fmt == "frame":
        result = diff_rows(old, new, key="id", chunk_rows=chunk)
    else:
        result = diff_rows(_write(old, tmp_path / f"old.{fmt}", fmt), _write(new, tmp_path / f"new.{fmt}", fmt),
                           key="id", chunk_rows=chunk)
    expected = _oracle(old, new)
    found = _found(result)
    if fmt in ("csv", "tsv", "parquet", "jsonl"):
        # Keys read back from text come back as numbers in the frame; compare as text.
        found = {k: {(str(int(float(i))) if i not in ("", "nan") else i, c) for i, c in v} for k, v in found.items()}
    assert found == expected
    assert (result.added, result.removed, result.changed) == tuple(len(expected[k]) for k in ("added", "removed", "changed"))
    assert result.unchanged == len(new) - result.added - result.changed


@settings(max_examples=40, deadline=None)
@given(tables=edited_tables(), chunk=st.integers(1, 4))
def test_whole_row_diff_is_the_multiset_difference(tables: tuple[pd.DataFrame, pd.DataFrame], chunk: int) -> None:
    old, new = tables
    old = pd.concat([old, old.head(2)], ignore_index=True)  # duplicate rows count as many times as they occur
    result = diff_rows(old[["x", "y"]], new[["x", "y"]], chunk_rows=chunk)
    a = Counter(map(tuple, old[["x", "y"]].values.tolist()))
    b = Counter(map(tuple, new[["x", "y"]].values.tolist()))
    rows = result.frame
    assert Counter(map(tuple, rows[rows.change == "added"][["x", "y"]].values.tolist())) == b - a
    assert Counter(map(tuple, rows[rows.change == "removed"][["x", "y"]].values.tolist())) == a - b
    assert result.unchanged == sum((a & b).values())


def test_a_changed_row_shows_its_old_values_and_columns() -> None:
    old = pd.DataFrame({"id": [1, 2, 3], "price": [1.0, 2.0, 3.0], "name": ["a", "b", "c"]})
    new = pd.DataFrame({"id": [1, 2, 4], "price": [1.0, 2.5, 4.0], "name": ["a", "B", "d"], "note": ["", "", ""]})
    result = pachmagic.diff_rows(old, new, key="id", labels=("v1", "v2"))
    assert result.summary == (
        "1 added, 1 removed, 1 changed, 1 unchanged rows (key: id); columns added: note; v1 → v2"
    )
    frame = result.frame
    assert list(frame.columns) == ["change", "id", "price", "name", "note", "changed_columns", "price_old", "name_old"]
    assert frame["change"].tolist() == ["removed", "changed", "added"]
    changed = frame.iloc[1]
    assert (changed["id"], changed["price"], changed["price_old"], changed["name_old"]) == (2, 2.5, 2.0, "b")
    assert changed["changed_columns"] == ("price", "name")
    assert "<p>1 added, 1 removed" in result._repr_html_()


def test_csv_cells_compare_as_written_and_show_as_numbers(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,v\n1,2.0\n2,3\n")
    (tmp_path / "b.csv").write_text("id,v\n1,2.00\n2,3\n")
    result = diff_rows(tmp_path / "a.csv", tmp_path / "b.csv", key=["id"])
    assert result.changed == 1 and result.frame.loc[0, "changed_columns"] == ("v",)
    assert result.frame["id"].dtype.kind == "i"


def test_gzip_tsv_jsonl_and_file_objects(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "a.tsv.gz", "wt") as f:
        f.write("k\tv\nx\t1\ny\t2\n")
    (tmp_path / "b.tsv").write_text("k\tv\nx\t1\ny\t3\n")
    assert diff_rows(tmp_path / "a.tsv.gz", tmp_path / "b.tsv", key="k").changed == 1
    old = io.BytesIO(b'{"k": "x", "v": [1]}\n{"k": "y", "v": null}\n')
    old.read(1)  # a file object is read from where it stands... and rewound there for the second pass
    old.seek(0)
    new = io.BytesIO(b'{"k": "x", "v": [1]}\n{"k": "y"}\n')
    result = diff_rows(old, new, key="k", format="jsonl")
    assert (result.changed, result.unchanged) == (1, 1)  # an explicit null is not a missing key
    assert not old.closed and not new.closed


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p: diff_rows(p / "a.xlsx", p / "b.csv"), "cannot tell the format of"),
        (lambda p: diff_rows(p / "a.csv", p / "b.csv", format="xml"), "unsupported format 'xml'"),
        (lambda p: diff_rows(p / "a.csv", p / "b.csv", key="nope"), "key column 'nope' is not in"),
        (lambda p: diff_rows(p / "dup.csv", p / "b.csv", key="id"), "key id=1 is not unique in"),
        (lambda p: diff_rows(p / "a.csv", p / "bad.jsonl", format="jsonl"), "line 1 is not JSON"),
        (lambda p: diff_rows(p / "a.csv", p / "a.csv", format="parquet"), "not a Parquet file"),
        (lambda p: diff_rows(io.BytesIO(b""), p / "a.csv"), "give one of csv, tsv, parquet, jsonl"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, call: object, message: str) -> None:
    (tmp_path / "a.csv").write_text("id,v\n1,a\n")
    (tmp_path / "b.csv").write_text("id,v\n1,b\n")
    (tmp_path / "dup.csv").write_text("id,v\n1,a\n1,b\n")
    (tmp_path / "bad.jsonl").write_text("{nope\n")
    with pytest.raises(RowDiffError, match=message.replace("(", r"\(")):
        call(tmp_path)  # type: ignore[operator]


def test_formats_from_names() -> None:
    assert [format_of(n) for n in ("a.csv", "b.TSV", "c.parquet", "d.jsonl", "e.json.gz", "f.txt", "g")] == [
        "csv", "tsv", "parquet", "jsonl", "jsonl", None, None]


def test_large_files_are_not_loaded_whole(tmp_path: Path) -> None:
    """Peak memory is a chunk plus 32 bytes a row of the old side: far below both tables as DataFrames."""
    n = 20_000
    header = "id," + ",".join(f"col{c}" for c in range(8)) + "\n"
    text = "".join(f"{i}," + ",".join(f"value-{i:06d}-{c}" for c in range(8)) + "\n" for i in range(n))
    (tmp_path / "old.csv").write_text(header + text)
    changed = text.replace("value-010000-3,", "value-CHANGED-3,")
    (tmp_path / "new.csv").write_text(header + changed + f"{n}," + ",".join("new" for _ in range(8)) + "\n")
    tracemalloc.start()
    try:
        result = diff_rows(tmp_path / "old.csv", tmp_path / "new.csv", key="id", chunk_rows=2_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.added, result.removed, result.changed) == (1, 0, 1)
    assert result.frame.loc[result.frame.change == "changed", "changed_columns"].tolist() == [("col3",)]
    both = sum(pd.read_csv(tmp_path / f, dtype=str).memory_usage(deep=True).sum() for f in ("old.csv", "new.csv"))
    assert peak < both / 2, (peak, both)  # a naive diff holds both tables
