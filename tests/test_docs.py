"""The README cannot drift from the code (datasette's ``tests/test_docs.py`` idea).

What fails here:

- a ``pachmagic`` command or option missing from the README's list of commands,
  or one the README names that does not exist. Hidden commands and options are
  internal plumbing (``serve --exit-with-parent`` is how ``LocalServer`` ties a
  child server to its parent) and are neither required nor expected;
- a notebook under ``notebooks/`` missing from the README's Tutorials list, or a
  listed notebook that does not exist;
- a ``%pach`` line in the README's prose or in a notebook that names no command
  or does not parse, or a ``PachMagic.<option>`` that does not exist;
- the tour, run as written;
- a troubleshooting entry quoting a message the product no longer prints;
- the two set-up commands no longer first, or the second no longer what CI runs.

Every ``%pach`` command, option and argument, and every ``PachMagic`` option, is
in the README's generated references; ``tests/magics/test_config.py`` checks
those (``test_readme_reference_is_current``,
``test_readme_documents_every_command_option_and_argument``), so this module
does not repeat it.
"""

from __future__ import annotations

import re
import shlex
import socket
import time
from pathlib import Path
from typing import Iterator

import click
import nbformat
import pandas as pd  # type: ignore[import-untyped,unused-ignore]
import pytest
from IPython.core.error import UsageError

from pachmagic.cli import main as cli
from pachmagic.client import Client
from pachmagic.client._config import resolve_endpoint
from pachmagic.magics import PachMagic, registry
from pachmagic.magics._testing import TestingShell, new_shell
from pachmagic.magics.parser import HelpRequested, split_line
from pachmagic.server import LocalServer
from tests.cli_runs import pachmagic, serve_on_a_busy_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOTEBOOKS = ROOT / "notebooks"
SETUP = (
    'python3 -m venv .venv && .venv/bin/pip install -q -e ".[tutorial]" && .venv/bin/pachmagic demo',
    'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" && .venv/bin/python -m pytest',
)
_GENERATED = re.compile(r"<!-- (magic|config)-reference:start.*?<!-- \1-reference:end -->", re.S)
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _readme() -> str:
    """The README without its generated sections (those are checked in tests/magics)."""
    return _GENERATED.sub("", README.read_text(encoding="utf-8"))


def _section(title: str) -> str:
    """The text of a ``## title`` section, up to the next ``## ``."""
    text = _readme()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def _blocks(text: str, *languages: str) -> list[str]:
    """Fenced code blocks of these languages in Markdown text."""
    return [body for lang, body in _FENCE.findall(text) if lang in languages]


def _inline(text: str) -> list[str]:
    """Inline code spans outside fenced blocks."""
    return re.findall(r"`([^`\n]+)`", _FENCE.sub("", text))


# --- set-up commands ---------------------------------------------------------------


def test_readme_starts_with_the_two_setup_commands_and_ci_runs_the_second() -> None:
    blocks = _FENCE.findall(README.read_text(encoding="utf-8"))
    assert [body.strip() for _, body in blocks[:2]] == list(SETUP)
    # CI runs the second's steps as lines of their own, in order (it starts background work in between).
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    steps = SETUP[1].split(" && ")
    at = [lines.index(step) for step in steps]
    assert at == sorted(at), f".ci/run runs {steps} out of order"


# --- the pachmagic command line --------------------------------------------------------


def _commands() -> dict[str, click.Command]:
    return {name: command for name, command in cli.commands.items() if not command.hidden}


def _documented_names(param: click.Parameter) -> list[str]:
    if isinstance(param, click.Argument):
        return [param.human_readable_name]
    return [*param.opts, *param.secondary_opts]


def _command_blocks() -> dict[str, str]:
    """``pachmagic NAME`` → its bullet (with its indented continuation lines) in the README."""
    blocks: dict[str, str] = {}
    name = ""
    for line in _section("The embedded server").splitlines():
        match = re.match(r"- `pachmagic ([a-z][a-z-]*)", line)
        if match:
            name = match.group(1)
            blocks[name] = blocks.get(name, "") + line
        elif name and line.startswith("  "):
            blocks[name] += "\n" + line
        else:
            name = ""
    return blocks


def test_every_cli_command_and_option_is_documented() -> None:
    blocks = _command_blocks()
    for name, command in _commands().items():
        assert name in blocks, f"`pachmagic {name}` is not in the README's list of commands"
        for param in command.params:
            if getattr(param, "hidden", False) or param.name == "help":
                continue
            for flag in _documented_names(param):
                assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", blocks[name]), (
                    f"`pachmagic {name} {flag}` is not documented in the README"
                )
    group_options = [o for p in cli.params for o in p.opts if not getattr(p, "hidden", False)]
    for flag in group_options:
        assert f"pachmagic {flag}" in _readme(), f"`pachmagic {flag}` is not documented in the README"


def _cli_uses(code: str) -> Iterator[tuple[str, list[str]]]:
    """``(command, flags)`` for each ``pachmagic ...`` invocation in a piece of code."""
    for line in code.splitlines():
        if line.startswith(("Error:", "PachError:")):
            continue  # a quoted message (troubleshooting), not an invocation
        words = line.replace("[", " ").replace("]", " ").replace("|", " ").split()
        for i, word in enumerate(words):
            if word != "pachmagic" and not word.endswith("/pachmagic"):
                continue
            rest = words[i + 1 :]
            if not rest:
                continue
            if rest[0].startswith("-"):
                yield "", [rest[0]]
                continue
            flags = []
            for token in rest[1:]:
                if token in ("--", "&", "&&", ";", "#") or token.startswith("#"):
                    break
                if token.startswith("-"):
                    flags.append(token.split("=", 1)[0])
            yield rest[0], flags


def test_cli_commands_and_flags_the_readme_names_exist() -> None:
    seen = 0
    for code in _blocks(_readme(), "bash", "sh", "") + _inline(_readme()):
        for name, flags in _cli_uses(code):
            seen += 1
            command: click.Command = cli if not name else cli.commands.get(name)  # type: ignore[assignment]
            assert command is not None, f"the README uses `pachmagic {name}`, which does not exist"
            known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
            for flag in flags:
                assert flag in known, f"the README uses `pachmagic {name} {flag}`, which does not exist"
    assert seen > 5


# --- notebooks -------------------------------------------------------------------------


def test_every_notebook_is_listed_in_the_readme_and_every_listed_one_exists() -> None:
    listed = set(re.findall(r"notebooks/([\w-]+\.ipynb)", _section("Tutorials")))
    present = {path.name for path in NOTEBOOKS.glob("*.ipynb")}
    assert present, "no notebooks found"
    assert present - listed == set(), f"notebooks missing from the README's Tutorials: {sorted(present - listed)}"
    assert listed - present == set(), f"the README lists notebooks that do not exist: {sorted(listed - present)}"


def _notebook_code() -> Iterator[tuple[str, str]]:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                yield path.name, cell.source


# --- %pach lines and PachMagic options -------------------------------------------------


def _pach_lines(code: str) -> Iterator[str]:
    """The argument part of every ``%pach``/``%%pach`` line in a piece of code."""
    for line in code.splitlines():
        match = re.match(r"\s*(?:[\w.]+\s*=\s*)?%%?pach(?:\s+(.*))?$", line)
        if match:
            yield match.group(1) or ""


def _check_parses(where: str, line: str) -> None:
    tokens = split_line(line)
    while tokens and tokens[0] in ("--verbose", "-v"):
        tokens.pop(0)
    if not tokens or tokens[0] in ("-h", "--help"):
        return
    try:
        command, rest = registry.resolve(tokens)
        command.parse(rest)
    except HelpRequested:
        pass
    except UsageError as error:
        raise AssertionError(f"{where}: `%pach {line}` does not parse: {error}") from None


def _check_names(where: str, line: str) -> None:
    """An inline mention (``%pach update pipeline``, ``%pach config ...``) names a command."""
    words = split_line(line)
    words = words[: words.index("...")] if "..." in words else words
    words = [w for w in words if not w.startswith("-")][:3]
    names = [c.words for c in registry.COMMANDS]
    if not any(tuple(words[: len(n)]) == n or n[: len(words)] == tuple(words) for n in names):
        raise AssertionError(f"{where}: `%pach {line}` names no %pach command")


def test_pach_lines_in_the_readme_and_notebooks_parse() -> None:
    checked = 0
    for code in _blocks(_readme(), "python"):
        for line in _pach_lines(code):
            _check_parses("README.md", line)
            checked += 1
    for code in _inline(_readme()):
        for line in _pach_lines(code):
            _check_names("README.md", line)
            checked += 1
    for name, source in _notebook_code():
        for line in _pach_lines(source):
            _check_parses(name, line)
            checked += 1
    assert checked > 50


def test_pachmagic_options_the_docs_name_exist() -> None:
    options = set(PachMagic.class_traits(config=True))
    texts = [("README.md", _readme())] + [(name, source) for name, source in _notebook_code()]
    for where, text in texts:
        for name in re.findall(r"PachMagic\.(\w+)", text):
            assert name in options, f"{where} names PachMagic.{name}, which is not an option"


# --- the tour --------------------------------------------------------------------------


@pytest.fixture
def tour_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestingShell]:
    monkeypatch.setenv("PACH_CONFIG", str(tmp_path / "pachctl-config.json"))
    monkeypatch.delenv("PACHD_ADDRESS", raising=False)
    monkeypatch.delenv("PACH_CONTEXT", raising=False)
    monkeypatch.chdir(tmp_path)
    shell = new_shell()
    yield shell
    import ipywidgets

    ipywidgets.Widget.close_all()  # stops the dashboard's background refresh
    shell.close()


def test_the_tour_runs_as_written(tour_shell: TestingShell, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = [body for lang, body in _FENCE.findall(_section("A tour")) if lang == "python"]
    assert len(blocks) == 3, "the tour's code blocks changed: update this test"
    magics, pandas_block, client_block = blocks
    tour_shell.run_cell(magics)
    jobs = tour_shell.user_ns["jobs"]
    assert list(jobs["pipeline"]) == ["contour"] and list(jobs["state"]) == ["success"]
    frame = tour_shell.run_cell(pandas_block).result
    assert isinstance(frame, pd.DataFrame) and list(frame["pipeline"]) == ["contour"]
    magic = next(c for c in tour_shell.configurables if isinstance(c, PachMagic))
    assert magic.session.server is not None
    # "pachmagic.connect()" with no address follows the notebook's %pach connection (no PACHD_ADDRESS needed)
    tour_shell.run_cell(client_block)
    client: Client = tour_shell.user_ns["client"]
    try:
        assert client.pfs.get_file("reports@master:/notes.txt") == b"hello"
        assert [f.path for f in client.pfs.list_file("reports@master:/")] == ["/jobs.csv", "/notes.txt"]
    finally:
        client.close()


# --- troubleshooting -------------------------------------------------------------------


def _troubleshooting() -> str:
    return " ".join(_section("Troubleshooting").split())


def _quoted(fragment: str) -> None:
    assert " ".join(fragment.split()) in _troubleshooting(), f"the README's troubleshooting no longer quotes {fragment!r}"


def test_troubleshooting_quotes_connection_and_port_errors(tmp_path: Path) -> None:
    default = resolve_endpoint(None, environ={}, home=tmp_path)
    _quoted(f"PachError: could not reach pachd at {default.target} ({default.hint}) (UNAVAILABLE)")
    shell = new_shell()
    try:
        shell.run_cell("%load_ext pachmagic")
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        line = shell.fail(f"%pach connect grpc://127.0.0.1:{port}").lines[0]
        assert line.startswith(f"PachError: could not reach pachd at 127.0.0.1:{port} (address given as argument) (UNAVAILABLE)")
    finally:
        shell.close()

    port, result = serve_on_a_busy_port(tmp_path / "data")
    assert result.returncode == 1
    assert f"Error: cannot listen on 127.0.0.1:{port}: the port is in use" in result.stderr
    assert "Traceback" not in result.stderr
    _quoted("Error: cannot listen on 127.0.0.1:30650: the port is in use ...")


def test_troubleshooting_quotes_the_data_directory_lock(tmp_path: Path) -> None:
    from pachmagic.server.storage import Storage

    holder = Storage(tmp_path / "data")
    try:
        for command in (["serve", "--port", "0"], ["gc"]):
            result = pachmagic(*command, "--data-dir", str(tmp_path / "data"))
            assert result.returncode == 1 and "Traceback" not in result.stderr
            assert f"Error: data directory {tmp_path / 'data'} is in use by another pachmagic server" in result.stderr
    finally:
        holder.close()
    _quoted("Error: data directory ... is in use by another pachmagic server")


def test_troubleshooting_quotes_sandbox_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pachmagic.server.pipelines.sandbox import Sandbox

    monkeypatch.setenv("PACHMAGIC_SANDBOX", "substitute")
    with Sandbox(tmp_path / "box") as box:
        assert box.warning is not None
        assert box.warning.startswith("pipeline sandbox: ") and "; falling back to path substitution" in box.warning
    _quoted("warning: pipeline sandbox: ...; falling back to path substitution")
    _quoted("PACHMAGIC_SANDBOX=namespace")


@pytest.fixture
def wrong_workdir_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestingShell]:
    monkeypatch.setenv("PACH_CONFIG", str(tmp_path / "pachctl-config.json"))
    monkeypatch.delenv("PACHD_ADDRESS", raising=False)
    empty = tmp_path / "not-the-scripts"
    empty.mkdir()
    server = LocalServer(data_dir=tmp_path / "data", workdir=empty, in_process=True).start()
    shell = new_shell()
    shell.run_cell("%load_ext pachmagic")
    shell.run_cell("%config PachMagic.progress = False")
    shell.run_cell(f"%pach connect {server.address}")
    yield shell
    shell.close()
    server.stop()


def test_troubleshooting_quotes_repo_spec_and_workdir_errors(wrong_workdir_shell: TestingShell) -> None:
    from pachmagic import tutorial

    shell = wrong_workdir_shell
    shell.run_cell("%pach create repo photos")
    assert shell.fail("%pach inspect repo photoz").lines == [
        "PachError: repo default/photoz not found (NOT_FOUND) — did you mean: photos?"
    ]
    _quoted("PachError: repo default/photoz not found (NOT_FOUND) — did you mean: photos?")

    spec = (tutorial.DIR / "contour.yaml").read_text()
    misspelt = spec.replace("  image:", "  imag:")
    assert shell.fail(f"%%pach create pipeline\n{misspelt}").lines == [
        'PachError: unknown field "imag" in pipeline spec (transform) (INVALID_ARGUMENT)'
    ]
    _quoted('PachError: unknown field "imag" in pipeline spec (transform) (INVALID_ARGUMENT)')

    # the tutorial's relative `python3 contour.py`, run where the script is not
    shell.run_cell(f"%pach put file photos@master -f {tutorial.PHOTOS}/hand.png")
    shell.run_cell(f"%pach create pipeline -f {shlex.quote(str(tutorial.DIR / 'contour.yaml'))}")
    shell.run_cell("%pach wait commit contour@master")
    failed = shell.value("%pach list job -p contour --state failure")
    assert len(failed) == 1 and failed["reason"][0].startswith("datum ") and failed["reason"][0].endswith(" failed")
    logs = str(shell.value("%pach logs -p contour"))
    assert "python3: can't open file '" in logs and "contour.py': [Errno 2] No such file or directory" in logs
    _quoted("python3: can't open file '.../contour.py': [Errno 2] No such file or directory")
    _quoted("the job fails with `datum ... failed`")

    shell.run_cell(f"%%pach create pipeline\n{spec.replace('contour', 'nosuch').replace('python3', 'nosuchcommand')}")
    deadline = time.monotonic() + 60
    while (state := shell.value("%pach list pipeline nosuch")["state"][0]) != "failure" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert state == "failure"
    reason = shell.value("%pach list job -p nosuch")["reason"][0]
    assert 'transform command "nosuchcommand" was not found (the image is not pulled here)' in reason
    _quoted('transform command "X" was not found (the image is not pulled here)')
