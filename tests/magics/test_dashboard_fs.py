"""``%pach dashboard`` and ``pfs://`` URLs that follow the session's connection."""

from __future__ import annotations

import pandas as pd

from pachmagic import fs
from pachmagic.magics._testing import TestingShell
from pachmagic.widgets import Dashboard


def test_dashboard_shows_the_three_panels(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo photos")
    board = ip.value("%pach dashboard --refresh 0 --jobs 5")
    try:
        assert isinstance(board, Dashboard) and board.wait()
        assert not board.auto_refreshing
        assert all(panel.error == "" for panel in board.panels)
        assert "photos" in str(board.repo_browser.children)
    finally:
        board.close()
    bad = ip.fail("%pach dashboard --jobs")
    assert bad.lines[0].startswith("UsageError")


def test_pfs_urls_use_the_magic_connection(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo tables")
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_csv("pfs://tables@master/t.csv", index=False)
    assert list(ip.value("%pach list file tables@master")["name"]) == ["/t.csv"]
    frame = pd.read_csv("pfs://tables@master/t.csv")
    assert frame.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    assert fs.get_default_client() is not None
    ip.run_cell("%unload_ext pachmagic")
    assert fs.get_default_client() is None
