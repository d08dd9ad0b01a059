"""A ``# comment`` after a ``%pach`` line is a comment, as in a shell (README and DESIGN examples use them)."""

from __future__ import annotations

import pytest

from pachmagic.magics._testing import TestingShell
from pachmagic.magics.parser import split_line


@pytest.mark.parametrize(
    ("line", "tokens"),
    [
        ("connect local --workdir /x   # an embedded server", ["connect", "local", "--workdir", "/x"]),
        ("# only a comment", []),
        ("glob file a@master:/x#y", ["glob", "file", "a@master:/x#y"]),  # '#' inside a word stays
        ('start commit a@master -m "#1 fix"  # why', ["start", "commit", "a@master", "-m", "#1 fix"]),
        ("start commit a@master -m '# x'", ["start", "commit", "a@master", "-m", "# x"]),
        (r'-m "a \" # b" # c', ["-m", 'a " # b']),
        (r"put file a@master:/\#x", ["put", "file", "a@master:/#x"]),
    ],
)
def test_split_line_drops_trailing_comments(line: str, tokens: list[str]) -> None:
    assert split_line(line) == tokens


def test_a_commented_magic_line_runs(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo commented   # a repo for this test")
    assert list(ip.value("%pach list repo  # every repo")["name"]) == ["commented"]
