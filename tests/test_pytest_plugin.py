"""The pytest plugin (``pachmagic.pytest_plugin``), as a user's project meets it.

The project tests run pytest in a child process on a scratch project that only
installs nothing and configures nothing: the fixtures must arrive through the
``pytest11`` entry point of the installed package. The last tests use the
fixtures here directly, as our own tests do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pachmagic.client import Client, Repo
from pachmagic.pytest_plugin import RepoFactory
from pachmagic.server import LocalServer


def _run_project(root: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_ADDOPTS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error::pytest.PytestUnraisableExceptionWarning"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )


def test_a_users_project_gets_the_fixtures_from_the_entry_point(tmp_path: Path) -> None:
    result = _run_project(tmp_path, {
        "pytest.ini": """
            [pytest]
            pachmagic_workdir = scripts
        """,
        "scripts/upper.py": """
            import pathlib
            for path in pathlib.Path("/pfs/words").iterdir():
                (pathlib.Path("/pfs/out") / path.name).write_text(path.read_text().upper())
        """,
        "test_user.py": '''
            def test_first_sees_an_empty_server(pach_client, pach_repo):
                assert list(pach_client.pfs.list_repo()) == []
                repo = pach_repo("words", files={"/a.txt": b"hello"})
                assert pach_client.pfs.get_file(f"{repo}@master:/a.txt") == b"hello"

            def test_second_gets_a_fresh_server(pach_client, pach_repo):
                assert list(pach_client.pfs.list_repo()) == []
                repo = pach_repo("empty")
                assert [b.name for b in pach_client.pfs.list_branch(repo)] == ["master"]

            def test_a_pipeline_runs_a_script_of_the_project(pach_client, pach_repo):
                pach_repo("words", files={"/a.txt": b"hello"})
                pach_client.pps.create_pipeline({
                    "pipeline": {"name": "upper"},
                    "transform": {"cmd": ["python3", "upper.py"], "image": "python:3.11-slim"},
                    "input": {"pfs": {"repo": "words", "glob": "/*"}},
                })
                pach_client.pfs.wait_commit("upper@master")
                assert pach_client.pfs.get_file("upper@master:/a.txt") == b"HELLO"

            def test_session_one(pach_session_client, pach_repo):
                pach_session_client.pfs.create_repo("kept")
                pach_repo("scratch", client=pach_session_client)

            def test_session_two(pach_session_client, pach_server_session):
                names = sorted(r.name for r in pach_session_client.pfs.list_repo())
                assert names == ["kept"], names   # same server; the factory's repo is gone
                assert pach_server_session.address == pach_session_client.address
        ''',
    })
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_a_failing_user_test_fails(tmp_path: Path) -> None:
    """The fixtures do not swallow failures (a plugin test that cannot fail proves nothing)."""
    result = _run_project(tmp_path, {
        "test_user.py": """
            def test_reads_a_missing_file(pach_client, pach_repo):
                repo = pach_repo("words")
                pach_client.pfs.get_file(f"{repo}@master:/missing.txt")
        """,
    })
    assert result.returncode == 1
    assert "NotFound" in result.stdout


# --- our own tests use the fixtures -------------------------------------------------


def test_fixtures_give_a_connected_client(pach_server: LocalServer, pach_client: Client, pach_repo: RepoFactory) -> None:
    repo = pach_repo("photos", files={"/a.png": b"\x89PNG"})
    assert repo == Repo("photos")
    assert pach_client.address == pach_server.address
    assert [i.path for i in pach_client.pfs.list_file("photos@master")] == ["/a.png"]


def test_pach_repo_with_a_branch_and_description(pach_client: Client, pach_repo: RepoFactory) -> None:
    pach_repo("data", {"/x": b"1"}, branch="dev", description="test data")
    info = pach_client.pfs.inspect_repo("data")
    assert info.description == "test data"
    assert info.branches == ("dev",)


@pytest.mark.parametrize("name", ["bad name", ""])
def test_pach_repo_reports_bad_names(pach_repo: RepoFactory, name: str) -> None:
    with pytest.raises(ValueError):
        pach_repo(name)


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    """README's "Testing your code with pytest" example, copied as a user would (with its upper.py)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing your code with pytest", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "def test_pipeline" in example
    result = _run_project(tmp_path, {
        "upper.py": """
            import pathlib
            for path in pathlib.Path("/pfs/words").iterdir():
                (pathlib.Path("/pfs/out") / path.name).write_text(path.read_text().upper())
        """,
        "test_sales.py": example,
    })
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
