"""The tutorial on the reference pachd with workers and on ours: outputs compared byte for byte.

The contour/histogram workflow runs twice on each server (pachd 2.12.2 in its
``-workers`` mode, tests/realpachd, whose worker pods run the tutorial's
scripts with this interpreter's ``python3`` in the tutorial directory; our
in-process server with the same working directory):

* the book's Chapter 10 scripts through python-pachyderm 7.6 (create repo, put
  files, create pipelines, read the outputs, one more photo): the lines they
  print must be the same on both, ids aside;
* notebook 2's cells, its ``%pach connect local`` pointed at the server: what
  each cell shows must be the same on both, ids and times aside.

After each, every file of ``contour@master`` and ``histogram@master`` is read
back from both servers and compared byte for byte (the tutorial's scripts are
deterministic: a difference is the engine's).
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pachmagic.client import connect
from pachmagic.magics._testing import new_shell

from tests.official_clients.conftest import REPO_ROOT, SCRIPT_TIMEOUT, clean_env

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).resolve().parent / "python_pachyderm"
BOOK = ("create_repo.py", "put_files.py", "create_pipeline.py", "read_outputs.py", "more_photos.py")
NOTEBOOK = REPO_ROOT / "notebooks" / "02_contour_histogram_magics.ipynb"
ID = re.compile(r"\b[0-9a-f]{32}\b")  # commit and job ids (not the 64-digit SHA-256s)
TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?|\b\d+(\.\d+)?\s?(ms|s|µs)\b")


def _outputs(address: str) -> dict[str, bytes]:
    """Every file of the two output repos' heads, by ``repo:path``."""
    with connect(address) as client:
        return {
            f"{repo}:{info.path}": client.pfs.get_file(f"{repo}@master:{info.path}")
            for repo in ("contour", "histogram")
            for info in client.pfs.walk_file(f"{repo}@master:/")
            if info.type == "file"
        }


def _same_outputs(ours: str, pachd: str) -> None:
    a, b = _outputs(ours), _outputs(pachd)
    assert sorted(a) == sorted(b)
    assert len(a) == 8  # four photos, each through both pipelines
    differing = [name for name in a if a[name] != b[name]]
    assert not differing, f"outputs differ byte for byte: {differing}"


def _book(python: Path, address: str, tmp: Path) -> list[str]:
    env = clean_env(tmp, address)
    lines: list[str] = []
    for script in BOOK:
        done = subprocess.run([str(python), str(SCRIPTS / script)], cwd=SCRIPTS, env=env, capture_output=True,
                              text=True, timeout=SCRIPT_TIMEOUT)
        assert done.returncode == 0 and "Traceback" not in done.stderr, f"{script} on {address}:\n{done.stderr}"
        lines += [f"{script}: {ID.sub('<id>', line)}" for line in done.stdout.splitlines()]
    return lines


def test_the_book_scripts_give_the_same_outputs(
    python_pachyderm_python: Path, server: Any, real_pachd_workers: Any, tmp_path: Path,
) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        ours, pachd = pool.map(lambda side: _book(python_pachyderm_python, side[0], tmp_path / side[1]),
                               ((server.address, "ours"), (real_pachd_workers.address, "pachd")))
    assert len(ours) > 20
    # InspectCommitSet's members, the commits of earlier sets (the spec commits) included, are the same lines
    assert ours == pachd, "\n".join(difflib.unified_diff(ours, pachd, "ours", "pachd", lineterm=""))
    # both hold the spec commits of earlier sets too (conf's InspectCommitSet, as pachd's)
    members = [[line for line in side if "commit set member:" in line] for side in (ours, pachd)]
    for side in members:
        assert sorted("same_id=True" in line for line in side) == [False] * 2 + [True] * 5, side
    assert all("finished=True" in line for line in members[0] if "same_id=True" in line)
    _same_outputs(server.address, real_pachd_workers.address)


def _shown(value: Any) -> str:
    """What a cell shows, ids and times aside."""
    if isinstance(value, pd.DataFrame):
        with pd.option_context("display.max_colwidth", None, "display.width", 10_000, "display.max_columns", None):
            text = value.to_string()
    else:
        text = repr(value)
    return TIME.sub("<time>", ID.sub("<id>", text))


def _notebook(address: str) -> list[tuple[str, str]]:
    """Notebook 2's cells, connected to ``address``, up to (not including) its final ``delete all``."""
    code = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    cells = ["".join(c["source"]) for c in code]
    # Cells the notebook shows failing on purpose (nbval's tag): their error is what they show.
    raising = {"".join(c["source"]) for c in code if "raises-exception" in c.get("metadata", {}).get("tags", [])}
    assert cells[1].startswith("%pach connect local") and cells[-1].startswith("%pach delete all")
    shell = new_shell()
    shown: list[tuple[str, str]] = []
    try:
        shell.run_cell(cells[0])
        shell.run_cell(f"%pach connect {address}")
        shell.run_cell("%config PachMagic.progress = False")
        for cell in cells[2:-1]:
            try:
                value = _shown(shell.value(cell))
            except Exception as err:  # noqa: BLE001 - only where the notebook expects it
                if cell not in raising:
                    raise
                value = re.sub(r"@[0-9a-f]{8}\b", "@<id>", _shown(f"{type(err).__name__}: {err}"))  # short job ids
            shown.append((cell.splitlines()[0], value))
    finally:
        shell.close()
    return shown


# Cells whose rows pachd gives in no fixed order, compared as sets of rows: pachd reads both from its
# database with a SELECT DISTINCT without ORDER BY, so their order varies run to run. A commit set's
# commits of earlier sets (the pipelines' spec commits) come first, ours oldest first; a commit's
# direct provenance.
UNORDERED = {"commit_set = %pach list commit {histogram_file.commit_id}",
             "output_commit = %pach inspect commit histogram@{histogram_file.commit_id}"}


def _rows(text: str) -> list[str]:
    """A table's rows without their index, or a tuple's items, sorted."""
    if text.startswith("("):
        return sorted(str(item) for item in ast.literal_eval(text))
    return sorted(re.sub(r"^\d+\s+", "", line) for line in text.splitlines())


def test_notebook_2_gives_the_same_tables_and_outputs(server: Any, real_pachd_workers: Any) -> None:
    # One after the other: the magics' shell is the process's IPython instance.
    ours, pachd = _notebook(server.address), _notebook(real_pachd_workers.address)
    assert len(ours) == len(pachd) >= 30
    assert UNORDERED <= {cell for cell, _ in ours}
    ours = [(cell, "\n".join(_rows(a)) if cell in UNORDERED else a) for cell, a in ours]
    pachd = [(cell, "\n".join(_rows(b)) if cell in UNORDERED else b) for cell, b in pachd]
    differing = [(cell, a, b) for (cell, a), (_, b) in zip(ours, pachd) if a != b]
    assert not differing, "\n\n".join(f"{cell}\n--- ours ---\n{a}\n--- pachd ---\n{b}" for cell, a, b in differing)
    _same_outputs(server.address, real_pachd_workers.address)

