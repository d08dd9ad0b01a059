"""Issue 2's path through the magics, in a real IPython shell against real servers.

``%pach connect local`` starts a child-process server here; the other tests
connect to the in-process ``server`` fixture to save time.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pachmagic.magics._testing import TestingShell
from pachmagic.magics.content import FileContent

TUTORIAL = Path(__file__).resolve().parents[2] / "pachmagic" / "tutorial"

COPY_SPEC = """
pipeline:
  name: copy
transform:
  image: python:3.11-slim
  cmd: ["sh", "-c", "cp -r /pfs/photos/* /pfs/out/"]
input:
  pfs:
    repo: photos
    glob: /*
"""


def _magic(shell: TestingShell):  # type: ignore[no-untyped-def]
    from pachmagic.magics import PachMagic

    return next(c for c in shell.configurables if isinstance(c, PachMagic))


def test_connect_local_starts_a_child_process_server(shell: TestingShell, workdir: Path) -> None:
    shell.run_cell("%config PachMagic.progress = False")
    message = shell.value(f"%pach connect local --workdir {TUTORIAL}")
    assert "embedded pachmagic server" in str(message)
    server = _magic(shell).session.server
    assert server is not None and server.running and not server.in_process
    assert server._proc is not None and server._proc.pid > 0  # a child process, not a thread
    versions = shell.value("%pach version")
    assert list(versions["component"]) == ["pachmagic", "pachd"]
    shell.run_cell("%pach create repo photos")
    (workdir / "a.txt").write_text("hello")
    shell.run_cell("%pach put file photos@master -f a.txt")
    files = shell.value("%pach list file photos@master")
    assert list(files["name"]) == ["/a.txt"]
    data_dir = server.data_dir
    from pachmagic.magics import unload_ipython_extension

    unload_ipython_extension(shell)
    assert not server.running
    assert not data_dir.exists()  # the per-kernel temporary data dir is removed


def test_connect_local_keeps_state_in_data_dir(shell: TestingShell, tmp_path: Path) -> None:
    data = tmp_path / "state"
    shell.run_cell(f"%pach connect local --data-dir {data}")
    shell.run_cell("%pach create repo kept")
    _magic(shell).session.stop_server()
    shell.run_cell(f"%pach connect local --data-dir {data}")
    assert list(shell.value("%pach list repo")["name"]) == ["kept"]


def test_connect_with_no_argument_uses_pachd_address(
    shell: TestingShell, server, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("PACHD_ADDRESS", server.address)
    assert "(PACHD_ADDRESS)" in str(shell.value("%pach connect"))
    # a command before any connect resolves the address the same way
    assert len(shell.value("%pach list repo")) == 0


def test_repos(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo photos -d 'raw photos'")
    ip.run_cell("%pach create repo other")
    repos = ip.value("%pach list repo")
    assert isinstance(repos, pd.DataFrame)
    assert list(repos.columns) == ["project", "name", "created", "size", "description"]
    assert str(repos["created"].dtype) == "datetime64[ns, UTC]"
    assert repos["size"].dtype == "int64"
    assert sorted(repos["name"]) == ["other", "photos"]
    assert repos.set_index("name").loc["photos", "description"] == "raw photos"
    assert ip.value("%pach delete repo other") is None
    assert list(ip.value("%pach list repo")["name"]) == ["photos"]


def test_put_list_get_file(ip: TestingShell, workdir: Path) -> None:
    (workdir / "one.txt").write_text("one\n")
    (workdir / "two.csv").write_text("a,b\n1,2\n")
    ip.run_cell("%pach create repo data")
    put = ip.value("%pach put file data@master -f one.txt -f two.csv")
    assert str(put) == "put 2 files (12B) into data@master"
    assert len(put.commit_id) == 32
    files = ip.value("%pach list file data@master")
    assert list(files.columns) == ["name", "type", "size"]
    assert list(files["name"]) == ["/one.txt", "/two.csv"]
    assert list(files["size"]) == [4, 8]
    assert files["size"].dtype == "int64"
    content = ip.value("%pach get file data@master:/two.csv")
    assert isinstance(content, FileContent)
    assert content.data == b"a,b\n1,2\n"
    assert content.to_frame().to_dict("list") == {"a": [1], "b": [2]}
    ip.run_cell("%pach get file data@master:/one.txt -o copy.txt")
    assert (workdir / "copy.txt").read_text() == "one\n"


@pytest.mark.workers
def test_pipeline_end_to_end(ip: TestingShell, workdir: Path) -> None:
    (workdir / "a.txt").write_text("A")
    (workdir / "b.txt").write_text("B")
    ip.run_cell("%pach create repo photos")
    ip.run_cell("%pach put file photos@master -f a.txt -f b.txt")
    assert ip.run_cell("%%pach create pipeline\n" + COPY_SPEC).result is None
    pipelines = ip.value("%pach list pipeline")
    assert list(pipelines["name"]) == ["copy"]
    assert list(pipelines.columns) == ["project", "name", "version", "input", "created", "state", "last_job",
                                       "description"]
    ip.run_cell("%pach wait commit copy@master")
    jobs = ip.value("%pach list job")
    assert set(jobs["state"]) == {"success"}
    assert jobs["total"].dtype == "int64" and str(jobs["started"].dtype) == "datetime64[ns, UTC]"
    assert ip.value("%pach get file copy@master:/b.txt").data == b"B"
    ip.run_cell("%pach delete pipeline copy")
    assert len(ip.value("%pach list pipeline")) == 0
    ip.run_cell("%pach delete all")
    assert len(ip.value("%pach list repo")) == 0


def test_create_pipeline_from_json_cell(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo photos")
    spec = ('{"pipeline": {"name": "j"}, "transform": {"image": "x", "cmd": ["true"]},'
            ' "input": {"pfs": {"repo": "photos", "glob": "/"}}}')
    ip.run_cell("%%pach create pipeline\n" + spec)
    assert list(ip.value("%pach list pipeline")["name"]) == ["j"]


def test_connect_local_again_reuses_the_server(shell: TestingShell, tmp_path: Path) -> None:
    shell.run_cell("%config PachMagic.progress = False")
    first = shell.value(f"%pach connect local --workdir {tmp_path}")
    shell.run_cell("%pach create repo stays")
    again = shell.value(f"%pach connect local --workdir {tmp_path}")
    assert again.address == first.address
    assert list(shell.value("%pach list repo")["name"]) == ["stays"]
    moved = shell.value(f"%pach connect local --workdir {TUTORIAL}")
    assert "temporary data are gone" in str(moved)
    assert len(shell.value("%pach list repo")) == 0
