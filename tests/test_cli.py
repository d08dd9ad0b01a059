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
    result = subprocess.run(
        [sys.executable, "-m", "pachmagic", "demo", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path)},
    )
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
    result = subprocess.run(
        [sys.executable, "-m", "pachmagic", "sandbox-run", "--mount", f"in={inputs}", "--mount", f"out={out}", "--",
         "sh", "-c", "cat /pfs/in/a.txt; cp /pfs/in/a.txt /pfs/out/b.txt; exit 3"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 3
    assert result.stdout == "hello\n"  # output is relayed line by line
    assert (out / "b.txt").read_text() == "hello"
    bad = CliRunner().invoke(main, ["sandbox-run", "--mount", "nodir", "--", "true"])
    assert bad.exit_code != 0 and "NAME=DIR" in bad.output


def test_version_says_how_transforms_are_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the OS refuses a namespace, ``pachmagic version`` says so (#15)."""
    monkeypatch.setenv("PACHMAGIC_SANDBOX", "substitute")
    result = CliRunner().invoke(main, ["version"])
    assert result.exit_code == 0
    assert "pipeline sandbox: PACHMAGIC_SANDBOX=substitute is set; falling back to path substitution" in result.output
    monkeypatch.delenv("PACHMAGIC_SANDBOX")
    line = CliRunner().invoke(main, ["version"]).output.splitlines()[1]
    assert line.startswith("pipeline sandbox: ")
