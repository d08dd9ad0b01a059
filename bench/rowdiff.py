"""Row diff of two large CSV files: ``pachmagic.diff_rows`` against the naive pandas way.

    python bench/rowdiff.py [--rows N] [--columns C]

Writes two CSV tables of N rows (the second with 0.1% of rows changed, a few
added and removed), then measures, each in a fresh process so peaks do not mix:
the naive diff (both tables read whole, an outer merge on the key) and
``diff_rows`` with its default chunks. Prints peak RSS and wall time of each, and
their ratios from this one run. Nothing is asserted: tests never time things.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

NAIVE = """
import pandas as pd, sys
a = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
b = pd.read_csv(sys.argv[2], dtype=str, keep_default_na=False)
m = a.merge(b, on="id", how="outer", suffixes=("_old", ""), indicator=True)
cols = [c for c in a.columns if c != "id"]
changed = m[(m["_merge"] == "both") & ~(m[[c + "_old" for c in cols]].values == m[cols].values).all(axis=1)]
print(len(m[m["_merge"] == "right_only"]), len(m[m["_merge"] == "left_only"]), len(changed))
"""

OURS = """
import sys
from pachmagic.rowdiff import diff_rows
d = diff_rows(sys.argv[1], sys.argv[2], key="id")
print(d.added, d.removed, d.changed)
"""


def _write(path: Path, rows: int, columns: int, edit: bool) -> None:
    with path.open("w") as out:
        out.write("id," + ",".join(f"c{c}" for c in range(columns)) + "\n")
        for i in range(rows):
            if edit and i % 997 == 0:
                continue  # removed
            tag = "X" if edit and i % 1000 == 1 else ""
            out.write(f"{i}," + ",".join(f"value-{i:08d}-{c}{tag}" for c in range(columns)) + "\n")
        if edit:
            for i in range(rows, rows + 50):
                out.write(f"{i}," + ",".join("new" for _ in range(columns)) + "\n")


def _run(code: str, a: Path, b: Path) -> tuple[float, float, str]:
    wrapper = (
        "import resource, runpy, sys, time\n"
        f"t = time.perf_counter()\nexec({code!r})\n"
        "print('RESULT', time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, str(a), str(b)], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    seconds, rss_kib = lines[-1].split()[1:]
    return float(seconds), int(rss_kib) / 1024, lines[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pachmagic-bench-rowdiff-") as tmp:
        a, b = Path(tmp) / "old.csv", Path(tmp) / "new.csv"
        _write(a, args.rows, args.columns, edit=False)
        _write(b, args.rows, args.columns, edit=True)
        size = (a.stat().st_size + b.stat().st_size) / 2**20
        naive = _run(NAIVE, a, b)
        ours = _run(OURS, a, b)
    print(json.dumps({"rows": args.rows, "columns": args.columns, "csv_mib_both": round(size, 1)}))
    print(f"naive pandas merge: {naive[0]:6.1f} s  peak RSS {naive[1]:7.0f} MiB  (added removed changed: {naive[2]})")
    print(f"diff_rows         : {ours[0]:6.1f} s  peak RSS {ours[1]:7.0f} MiB  (added removed changed: {ours[2]})")
    print(f"peak RSS naive/ours = {naive[1] / ours[1]:.2f}x; time naive/ours = {naive[0] / ours[0]:.2f}x")


if __name__ == "__main__":
    main()
