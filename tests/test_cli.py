"""The ``pachmagic`` command line, run for real as a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from pachyderm_sdk import Client

from pachmagic import __version__
from pachmagic.cli import main
from pachmagic.server.local import READY_PREFIX
from tests.cli_runs import pachmagic, serve_on_a_busy_port


def test_version() -> None:
    result = CliRunner().invoke(main, ["version"])
    assert result.exit_code == 0
    assert result.output.startswith(f"pachmagic {__version__}")
    assert "2.12" in result.output


def test_serve_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)], env={"PACHMAGIC_AUTH_TOKEN": ""})
    assert result.exit_code != 0
    assert "needs an auth token" in result.output


def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pachmagic", "serve", "--port", "0", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(READY_PREFIX), line
        port = int(line[len(READY_PREFIX) :].split()[0].rsplit(":", 1)[1])
        client = Client(host="127.0.0.1", port=port)
        assert client.get_version().major == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_demo_runs_the_workflow_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = pachmagic("demo", "--output", str(out), timeout=600, cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    for repo in ("contour", "histogram"):
        for name in ("landscape.png", "hand.png", "brown_vase.png", "red_vase.png"):
            image = out / repo / name
            assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), image
            assert str(image) in result.stdout
    assert "Jobs:" in result.stdout and "success" in result.stdout
    assert "failure" not in result.stdout
    # notebook 2's story, step by step: glob / redoes every photo, glob /* only the new one
    steps = result.stdout.split("\n2. ")[1].split("\n3. ")
    assert "contour: success, 1 datum processed, 0 skipped; the code wrote 4 images" in steps[0]
    update, readd = steps[1].split("\n4. ")
    assert "contour: success, 4 datums processed, 0 skipped" in update
    assert "histogram: success, 0 datums processed, 4 skipped" in update
    assert readd.count("success, 1 datum processed, 3 skipped; the code wrote 1 image") == 2
    assert "photos:/*" in result.stdout and "contour:/*" in result.stdout  # the pipelines' final globs


def test_sandbox_run_gives_the_command_real_pfs_paths(tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    (inputs / "a.txt").write_text("hello")
    result = pachmagic("sandbox-run", "--mount", f"in={inputs}", "--mount", f"out={out}", "--",
                       "sh", "-c", "cat /pfs/in/a.txt; cp /pfs/in/a.txt /pfs/out/b.txt; exit 3")
    assert result.returncode == 3
    assert result.stdout == "hello\n"  # output is relayed line by line
    assert (out / "b.txt").read_text() == "hello"
    bad = CliRunner().invoke(main, ["sandbox-run", "--mount", "nodir", "--", "true"])
    assert bad.exit_code != 0 and "NAME=DIR" in bad.output


# --- the command line as a new user meets it ---------------------------------------------------


def test_help_with_h_and_version_with_the_api() -> None:
    short = CliRunner().invoke(main, ["-h"], prog_name="pachmagic")
    assert short.exit_code == 0 and short.output.startswith("Usage: pachmagic")
    commands = short.output.partition("Commands:")[2]
    assert commands and "..." not in commands  # every command's summary whole
    for command in ("serve", "demo", "fsck", "gc", "version", "sandbox-run"):
        assert command in short.output
    version = CliRunner().invoke(main, ["--version"])
    assert version.exit_code == 0
    assert version.output.splitlines()[0] == CliRunner().invoke(main, ["version"]).output.splitlines()[0]  # the API version too
    assert "serves the Pachyderm 2.12" in version.output
    sandbox = CliRunner().invoke(main, ["sandbox-run", "--help"])
    assert sandbox.exit_code == 0 and "``" not in sandbox.output  # no RST markup
    assert CliRunner().invoke(main, ["serve", "-h"]).exit_code == 0


def test_serve_on_a_busy_port_says_one_line_and_creates_nothing(tmp_path: Path) -> None:
    port, result = serve_on_a_busy_port(tmp_path / "data")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"Error: cannot listen on 127.0.0.1:{port}: the port is in use "
                                          "(another server? try --port 0)"]
    assert "add_port" not in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()  # nothing created or filled


def test_fsck_counts_in_words(tmp_path: Path) -> None:
    from pachmagic.server import LocalServer

    with LocalServer(data_dir=tmp_path / "data", in_process=True) as server:
        client = server.client()
        client.pfs.create_repo("one")
        client.close()
    result = CliRunner().invoke(main, ["fsck", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    last = result.output.splitlines()[-1]
    assert "1 project," in last and "1 projects" not in last and "1 repo," in last


def test_demo_images_get_the_usual_mode_and_its_folder_is_ignored(tmp_path: Path) -> None:
    ignored = (Path(__file__).resolve().parents[1] / ".gitignore").read_text().splitlines()
    assert "/pachmagic-demo-output/" in ignored
    from pachmagic.server import LocalServer

    old = os.umask(0o022)
    try:
        with LocalServer(data_dir=tmp_path / "data", in_process=True) as server:
            client = server.client()
            client.pfs.create_repo("r")
            client.pfs.put_file("r@master", "/a.png", b"x")
            target = client.pfs.get_file_to_path("r@master:/a.png", tmp_path / "out" / "a.png")
            client.close()
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644  # not the temporary file's 0600


def test_version_says_how_transforms_are_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the OS refuses a namespace, ``pachmagic version`` says so (#15)."""
    monkeypatch.setenv("PACHMAGIC_SANDBOX", "substitute")
    result = CliRunner().invoke(main, ["version"])
    assert result.exit_code == 0
    assert "pipeline sandbox: PACHMAGIC_SANDBOX=substitute is set; falling back to path substitution" in result.output
    monkeypatch.delenv("PACHMAGIC_SANDBOX")
    line = CliRunner().invoke(main, ["version"]).output.splitlines()[1]
    assert line.startswith("pipeline sandbox: ")
