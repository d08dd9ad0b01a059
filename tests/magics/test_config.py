"""``%config PachMagic.<option>``, progress bars, pachctl's config contexts, and the README reference."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pachmagic.magics import PachMagic
from pachmagic.magics import reference
from pachmagic.magics._testing import TestingShell
from pachmagic.magics.registry import COMMANDS

README = Path(__file__).resolve().parents[2] / "README.md"


def _magic(shell: TestingShell) -> PachMagic:
    return next(c for c in shell.configurables if isinstance(c, PachMagic))


def test_options_are_traitlets_set_with_config(shell: TestingShell) -> None:
    shell.run_cell("%config PachMagic.display_limit = 7")
    shell.run_cell("%config PachMagic.progress = False")
    magic = _magic(shell)
    assert magic.display_limit == 7 and magic.progress is False
    listing = shell.value("%config PachMagic")
    assert listing is None or "display_limit" in str(listing)


def test_default_project(ip: TestingShell) -> None:
    ip.run_cell("%pach create project lab")
    ip.run_cell("%config PachMagic.default_project = 'lab'")
    ip.run_cell("%pach create repo here")
    assert list(ip.value("%pach list repo")["project"]) == ["lab"]
    assert ip.value("%pach list project").set_index("project").loc["lab", "active"]
    ip.run_cell("%config PachMagic.default_project = 'default'")
    assert len(ip.value("%pach list repo")) == 0
    assert list(ip.value("%pach list repo --project lab")["name"]) == ["here"]


def test_progress_bars_on_and_off(ip: TestingShell, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "a.bin").write_bytes(b"x" * 5000)
    (workdir / "b.bin").write_bytes(b"y" * 3000)
    ip.run_cell("%pach create repo r")
    capsys.readouterr()
    ip.run_cell("%pach put file r@master -f a.bin -f b.bin")
    ip.run_cell("%pach get file r@master:/a.bin -o got.bin")
    assert capsys.readouterr().err == ""  # the ip fixture turns them off
    ip.run_cell("%config PachMagic.progress = True")
    # In a terminal, a bar on stderr while the work runs; its line is cleared at the end
    # (what stays is the result: nothing of a bar is left to read).
    put = ip.value("%pach put file r@master -f a.bin -f b.bin")
    upload = capsys.readouterr().err
    assert "2 files → r@master" in upload and _cleared(upload)
    assert str(put) == "put 2 files (7.812KiB) into r@master"
    ip.run_cell("%pach get file r@master:/a.bin -o got.bin")
    download = capsys.readouterr().err
    assert "got.bin" in download and _cleared(download)
    ip.run_cell("%pach get file r@master:/b.bin")
    assert "b.bin" in capsys.readouterr().err


@pytest.mark.workers
def test_progress_bar_of_a_job_wait(ip: TestingShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell("%pach create repo r")
    ip.run_cell("%config PachMagic.progress = True")
    ip.run_cell("%%pach put file r@master:/a.bin\nx")
    ip.run_cell("%%pach create pipeline\npipeline: {name: c}\ntransform: {image: x, cmd: [sh, -c, 'cp -r /pfs/r/* /pfs/out/']}\n"
                "input: {pfs: {repo: r, glob: /*}}")
    jobs = ip.value("%pach list job")
    capsys.readouterr()
    ip.run_cell(f"%pach wait job {jobs['id'][0]}")
    wait = capsys.readouterr()
    assert "waiting for job set" in wait.err and "datums" in wait.err and _cleared(wait.err)
    assert wait.out.startswith(f"job set {jobs['id'][0][:8]}: c success (1 processed)\n")  # the summary stays


def _cleared(stderr: str) -> bool:
    """True when the last thing written to a terminal line blanked it (tqdm's leave=False)."""
    last = stderr.rstrip("\r").rpartition("\r")[2]
    return stderr.endswith("\r") and last.strip() == ""


def test_connect_local_uses_data_dir_and_workdir_options(shell: TestingShell, tmp_path: Path) -> None:
    data, work = tmp_path / "data", tmp_path / "scripts"
    work.mkdir()
    (work / "hello.sh").write_text("echo hi > /pfs/out/hi.txt\n")
    shell.run_cell("%config PachMagic.progress = False")
    shell.run_cell(f"%config PachMagic.data_dir = '{data}'")
    shell.run_cell(f"%config PachMagic.workdir = '{work}'")
    message = shell.value("%pach connect local")
    assert f"data dir {data}" in str(message)
    server = _magic(shell).session.server
    assert server is not None and server.workdir == work
    shell.run_cell("%pach create repo in")
    shell.run_cell("%%pach put file in@master:/x\nx")
    shell.run_cell("%%pach create pipeline\npipeline: {name: rel}\ntransform: {image: x, cmd: [sh, hello.sh]}\n"
                   "input: {pfs: {repo: in, glob: /}}")
    shell.run_cell("%pach wait commit rel@master")
    assert shell.value("%pach get file rel@master:/hi.txt").data == b"hi\n"
    assert (data).is_dir()
    failure = shell.fail("%pach connect 127.0.0.1:1 --data-dir x")
    assert failure.lines[0].startswith("UsageError: %pach connect: --data-dir, --workdir and --port only apply")


def test_pachctl_contexts(shell: TestingShell, server, _isolated_pach_config: Path) -> None:  # type: ignore[no-untyped-def]
    config = _isolated_pach_config
    shell.run_cell("%config PachMagic.progress = False")
    assert len(shell.value("%pach config list context")) == 0
    shell.run_cell(f"%pach config set context here --pachd-address grpc://{server.address} --project default")
    shell.run_cell('%%pach config set context other\n{"pachd_address": "grpc://localhost:1", "project": "x"}')
    contexts = shell.value("%pach config list context")
    assert list(contexts.columns) == ["active", "name", "pachd_address", "project"]
    assert list(contexts["name"]) == ["here", "other"] and not contexts["active"].any()
    assert shell.fail("%pach config set context here").lines[0].startswith("UsageError: %pach config set context: "
                                                                           "context 'here' exists")
    assert str(shell.value("%pach config use context here")).startswith("using context here: pachd")
    assert str(shell.value("%pach config get active-context")) == "here"
    assert shell.value("%pach config list context").set_index("name").loc["here", "active"]
    shell.run_cell("%pach create repo via_context")
    assert shell.value("%pach config get context other").context == {"pachd_address": "grpc://localhost:1",
                                                                    "project": "x"}
    shell.run_cell("%pach config update context other --project y")
    assert json.loads(config.read_text())["v2"]["contexts"]["other"]["project"] == "y"
    assert config.stat().st_mode & 0o077 == 0  # it holds tokens: private
    shell.run_cell("%pach config set active-context other")
    shell.run_cell("%pach config delete context other")
    assert str(shell.value("%pach config get active-context")) == ""
    missing = shell.fail("%pach config get context nope")
    assert missing.lines[0].startswith("PachError: context 'nope' not found")
    shell.run_cell(f"%pach connect {server.address} --alias aliased")
    assert json.loads(config.read_text())["v2"]["active_context"] == "aliased"


def test_readme_reference_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert reference.update_readme(text) == text, (
        "README.md's generated sections are stale: run python -m pachmagic.magics.reference --write README.md"
    )


def test_readme_documents_every_command_option_and_argument() -> None:
    text = README.read_text(encoding="utf-8")
    magic_section = text.split("<!-- magic-reference:start", 1)[1].split("<!-- magic-reference:end -->", 1)[0]
    config_section = text.split("<!-- config-reference:start", 1)[1].split("<!-- config-reference:end -->", 1)[0]
    blocks = {b.split("`", 1)[0]: b for b in magic_section.split("- **`%pach ")[1:]}
    for command in COMMANDS:
        assert command.name in blocks, f"%pach {command.name} is not in the README"
        block = blocks[command.name]
        for action in command.parser()._actions:
            names = [f for f in action.option_strings if f not in ("-h", "--help")] or [str(action.metavar)]
            for name in names:
                if name != "None":
                    assert f"`{name}" in block or f" {name}" in block, f"%pach {command.name} {name} is undocumented"
    for name in PachMagic.class_traits(config=True):
        assert f"`{name}`" in config_section, f"PachMagic.{name} is not in the README"


def test_reference_cli_check_and_write(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- magic-reference:start (gen) -->\nSTALE TEXT\n<!-- magic-reference:end -->\nmiddle\n"
                      "<!-- config-reference:start (gen) -->\n<!-- config-reference:end -->\ntail\n")
    run = [sys.executable, "-m", "pachmagic.magics.reference"]
    assert subprocess.run([*run, "--check", str(readme)], capture_output=True).returncode == 1
    assert subprocess.run([*run, "--write", str(readme)], capture_output=True).returncode == 0
    written = readme.read_text()
    assert "STALE TEXT" not in written and "middle" in written and written.endswith("tail\n")
    assert "`%pach put file`" in written and "`display_limit`" in written
    assert subprocess.run([*run, "--check", str(readme)], capture_output=True).returncode == 0
