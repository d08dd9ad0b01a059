"""``%pach lock``: the session records what it reads, saves it, and reads it again later."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell

from pachmagic.magics._testing import TestingShell, new_shell


@pytest.fixture
def data(ip: TestingShell, workdir: Path) -> TestingShell:
    ip.run_cell("%pach create repo data")
    ip.run_cell("%%pach put file data@master:/a.csv\nx\n1\n2\n")
    return ip


def _put(ip: TestingShell, text: str) -> str:
    return str(ip.value(f"%%pach put file data@master:/a.csv\n{text}").commit_id)


def _first_commit(ip: TestingShell) -> str:
    return str(ip.value("%pach list commit data@master").iloc[-1]["commit"])


def test_reads_of_magics_pfs_and_the_session_client_are_recorded(data: TestingShell, any_server: Any) -> None:
    ip = data
    commit = _first_commit(ip)
    ip.run_cell("%pach get file data@master:/a.csv")
    ip.run_cell("%pach list file data@master")
    ip.run_cell("import pandas as pd\ndf = pd.read_csv('pfs://data@master/a.csv')")
    ip.run_cell(f"conn = %pach connect {any_server.address}")  # a new client, the same recorder
    ip.run_cell("conn.client.pfs.glob_file('data@master', '/*.csv')")
    frame = ip.value("%pach lock")
    assert frame[["ref", "repo", "commit", "locked"]].values.tolist() == [["data@master", "data", commit, False]]
    assert frame.loc[0, "paths"] == ("/", "/*.csv", "/a.csv")
    assert frame.loc[0, "ops"] == "get,glob,inspect,list"


def test_save_use_survives_a_moved_branch(data: TestingShell, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ip = data
    commit = _first_commit(ip)
    ip.run_cell("import pandas as pd\nbefore = len(pd.read_csv('pfs://data@master/a.csv'))")
    saved = ip.value("%pach lock save analysis.pachlock.json")
    assert str(saved) == "saved 1 ref to analysis.pachlock.json"
    doc = json.loads((workdir / "analysis.pachlock.json").read_text())
    assert doc["refs"] == {"default/data@master": {"commit": commit, "paths": ["/a.csv"]}}
    _put(ip, "x\n1\n2\n3\n4")
    _put(ip, "x\n9")
    assert str(ip.value("%pach lock use analysis.pachlock.json")) == (
        "reading through lock analysis.pachlock.json: 1 ref pinned"
    )
    capsys.readouterr()
    ip.run_cell("after = len(pd.read_csv('pfs://data@master/a.csv'))")
    ip.run_cell("_ = %pach get file data@master:/a.csv")
    out = capsys.readouterr().out
    assert out.splitlines() == [f"data@master is 2 commits ahead of the lock; reading {commit}"]
    assert ip.user_ns["before"] == ip.user_ns["after"] == 2
    assert ip.value("%pach get file data@master:/a.csv").data == b"x\n1\n2\n"
    ip.run_cell("%pach lock off")
    assert ip.value("%pach get file data@master:/a.csv").data == b"x\n9\n"


def test_check_says_one_line_per_moved_ref(data: TestingShell) -> None:
    ip = data
    ip.run_cell("%pach get file data@master:/a.csv")
    ip.run_cell("%pach create branch data@dev --head master")
    ip.run_cell("%pach get file data@dev:/a.csv")
    ip.run_cell("%pach lock save l.pachlock.json")
    same = ip.value("%pach lock check l.pachlock.json")
    assert str(same) == "all 2 refs of l.pachlock.json are at their locked commits"
    old = _first_commit(ip)
    new = _put(ip, "x\n5")
    moved = ip.value("%pach lock check l.pachlock.json")
    assert str(moved) == f"default/data@master is 1 commit ahead of the lock ({old} → {new})"
    assert moved.frame["status"].tolist() == ["same", "ahead"]
    assert moved.moved == 1


def test_config_lock_file_and_strict(data: TestingShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip = data
    ip.run_cell("%pach get file data@master:/a.csv")
    ip.run_cell("%pach lock save l.pachlock.json")
    _put(ip, "x\n5")
    ip.run_cell("%config PachMagic.lock_file = 'l.pachlock.json'")
    assert ip.value("%pach get file data@master:/a.csv").data == b"x\n1\n2\n"
    ip.run_cell("%pach lock use l.pachlock.json --strict")
    failure = ip.fail("%pach list file data@master^")
    assert failure.lines == [
        "PachError: data@master^ is not in the lock l.pachlock.json: a strict lock reads only the refs it pins "
        "(FAILED_PRECONDITION)"
    ]
    ip.run_cell("%config PachMagic.lock_file = ''")
    assert ip.value("%pach get file data@master:/a.csv").data == b"x\n5\n"


def test_the_default_file_is_beside_the_notebook(data: TestingShell, workdir: Path) -> None:
    ip = data
    ip.run_cell("%pach get file data@master:/a.csv")
    failure = ip.fail("%pach lock save")
    assert failure.lines == [
        "UsageError: %pach lock save: cannot tell this notebook's file name here; give the lock file: "
        "%pach lock save NAME.pachlock.json"
    ]
    ip.user_ns["__session__"] = str(workdir / "analysis" / "report.ipynb")
    (workdir / "analysis").mkdir()
    saved = ip.value("%pach lock save")
    assert saved.path == workdir / "analysis" / "report.pachlock.json"
    assert "all 1 ref" in str(ip.value("%pach lock check"))


@pytest.mark.parametrize(
    "setup, cell, line",
    [
        ("", "%pach lock use missing.json", "UsageError: %pach lock use: no lock file missing.json (write one with %pach lock save)"),
        ("open('bad.json', 'w').write('{')", "%pach lock use bad.json",
         "UsageError: %pach lock use: bad.json is not a pachmagic lock file: Expecting property name enclosed in "
         "double quotes: line 1 column 2 (char 1)"),
        ("open('v9.json', 'w').write('{\"format\": \"pachmagic-lock\", \"version\": 9, \"refs\": {}}')",
         "%pach lock check v9.json",
         "UsageError: %pach lock check: v9.json is lock format version 9, written by a newer pachmagic; this one "
         "reads version 1"),
        ("import os; os.mkdir('adir')", "%pach lock save adir",
         "UsageError: %pach lock save: adir is a directory; give a file name ending in .pachlock.json"),
    ],
)
def test_bad_input_is_one_line(data: TestingShell, setup: str, cell: str, line: str) -> None:
    if setup:
        data.run_cell(setup)
    assert data.fail(cell).lines == [line]


def test_config_refuses_a_bad_lock_file_and_keeps_the_old_value(data: TestingShell, caplog: pytest.LogCaptureFixture) -> None:
    data.run_cell("open('bad.json', 'w').write('[]')")
    InteractiveShell.run_cell(data, "%config PachMagic.lock_file = 'bad.json'")
    assert any('PachMagic.lock_file: bad.json is not a pachmagic lock file (no "format"' in r.getMessage()
               for r in caplog.records)
    assert data.value("%config PachMagic.lock_file") == ""


def test_completion_and_clear_record_nothing(data: TestingShell) -> None:
    ip = data
    with provisionalcompleter():
        list(ip.Completer.completions("%pach get file data@master:/", len("%pach get file data@master:/")))
    assert ip.value("%pach lock").empty
    ip.run_cell("%pach glob file data@master:/*.csv")
    assert str(ip.value("%pach lock clear")) == "forgot 1 recorded read"
    assert ip.value("%pach lock").empty


def test_a_notebook_pins_its_data_with_lock_file_and_save(data: TestingShell, workdir: Path, any_server: Any,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """First run: no lock file yet, reads follow the branch, save writes it. Later runs read the pinned commit."""
    ip = data
    ip.run_cell("%config PachMagic.lock_file = 'report.pachlock.json'")
    assert capsys.readouterr().out.splitlines()[-1] == (
        "no lock file report.pachlock.json yet: reads follow the branches, and %pach lock save writes it there")
    ip.run_cell("import pandas as pd\nfirst = pd.read_csv('pfs://data@master/a.csv')['x'].sum()")
    assert str(ip.value("%pach lock save")) == "saved 1 ref to report.pachlock.json"
    saved = (workdir / "report.pachlock.json").read_bytes()
    _put(ip, "x\n100")
    # A fresh kernel whose configuration names the lock file (as `--PachMagic.lock_file=...` would).
    from traitlets.config import Config

    config = Config()
    config.PachMagic.lock_file = "report.pachlock.json"
    again = new_shell(config)
    try:
        again.run_cell("%load_ext pachmagic")
        again.run_cell(f"%pach connect {any_server.address}")
        again.run_cell("import pandas as pd\nsecond = pd.read_csv('pfs://data@master/a.csv')['x'].sum()")
        assert again.user_ns["second"] == ip.user_ns["first"] == 3
        again.run_cell("%pach lock save")
        assert (workdir / "report.pachlock.json").read_bytes() == saved
    finally:
        again.close()


def test_a_row_diff_reads_through_the_lock(data: TestingShell, capsys: pytest.CaptureFixture[str]) -> None:
    """``diff file --rows`` is a read like the others: recorded, and pinned by a lock in use."""
    ip = data
    locked = _put(ip, "x\n1\n2\n3\n4")
    first = ip.value("%pach diff file data@master:/a.csv --rows")
    assert (first.added, first.removed) == (2, 0)
    frame = ip.value("%pach lock")
    assert frame.loc[frame.ref == "data@master", "commit"].tolist() == [locked]
    ip.run_cell("%pach lock save rows.pachlock.json")
    _put(ip, "x\n9")
    ip.run_cell("%pach lock use rows.pachlock.json")
    capsys.readouterr()
    again = ip.value("%pach diff file data@master:/a.csv --rows")
    assert (again.added, again.removed, again.unchanged) == (2, 0, 2)
    assert f"data@master is 1 commit ahead of the lock; reading {locked}" in capsys.readouterr().out
    ip.run_cell("%pach lock off")
    now = ip.value("%pach diff file data@master:/a.csv --rows")
    assert (now.added, now.removed, now.unchanged) == (1, 4, 0)
