"""Path rules: cleaning, the /pfs layout of a datum, and /pfs substitution (server sandbox and ``run datum``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pachmagic.pachyderm.paths import clean_path, input_path, pfs_substitution


@pytest.mark.parametrize(("path", "cleaned"), [("", "/"), ("a/b/", "/a/b"), ("//a//b", "/a/b"), ("/a/../b", "/b")])
def test_clean_path(path: str, cleaned: str) -> None:
    assert clean_path(path) == cleaned


@pytest.mark.parametrize(("name", "path", "seen"), [("in", "/", "/pfs/in"), ("in", "/a.txt", "/pfs/in/a.txt"),
                                                     ("in", "/dir/", "/pfs/in/dir")])
def test_input_path(name: str, path: str, seen: str) -> None:
    assert input_path(name, path) == seen


def test_substitution_with_one_root_maps_pfs_itself() -> None:
    root = Path("/tmp/x/pfs")
    sub = pfs_substitution({"in": root / "in", "out": root / "out"})
    assert sub("cat /pfs/in/a > /pfs/out/b") == "cat /tmp/x/pfs/in/a > /tmp/x/pfs/out/b"
    assert sub("'/pfs'") == "'/tmp/x/pfs'"
    # Only whole path components: not /pfsx, a/pfs, x.pfs or /pfs.txt.
    assert sub("/pfsx /a/pfs/b x.pfs /pfs.txt") == "/pfsx /a/pfs/b x.pfs /pfs.txt"


def test_substitution_per_name_when_directories_are_scattered() -> None:
    sub = pfs_substitution({"in": "/data/one", "out": "/scratch/two"})
    assert sub("/pfs/in/a /pfs/out /pfs/other /pfs") == "/data/one/a /scratch/two /pfs/other /pfs"
    # The longest name wins where one is a prefix of another.
    sub = pfs_substitution({"a": "/x", "ab": "/y"})
    assert sub("/pfs/ab/f /pfs/a/f /pfs/abc") == "/y/f /x/f /pfs/abc"
    assert pfs_substitution({})("/pfs/in") == "/pfs/in"
