"""Bad input shows one readable line (no traceback); bad arguments show a usage line."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError

from pachmagic.errors import InvalidArgument, NotFound
from pachmagic.magics._testing import Failure, TestingShell
from pachmagic.magics.display import MagicError


def _one_line(failure: Failure) -> str:
    assert "Traceback" not in failure.shown
    assert len(failure.lines) == 1, failure.shown
    return failure.lines[0]


def test_invalid_repo_name(ip: TestingShell) -> None:
    failure = ip.fail("%pach create repo 'bad name'")
    assert isinstance(failure.error, MagicError) and isinstance(failure.error.error, InvalidArgument)
    line = _one_line(failure)
    assert line.startswith("PachError: invalid repo name 'bad name'")
    assert line.endswith("(INVALID_ARGUMENT)")
    assert "invalid repo name 'a.b'" in _one_line(ip.fail("%pach create repo a.b"))


def test_put_into_missing_repo_suggests_similar_names(ip: TestingShell, workdir: Path) -> None:
    (workdir / "x.txt").write_text("x")
    ip.run_cell("%pach create repo photos")
    failure = ip.fail("%pach put file photoz@master -f x.txt")
    assert isinstance(failure.error, MagicError) and isinstance(failure.error.error, NotFound)
    assert _one_line(failure) == "PachError: repo default/photoz not found (NOT_FOUND) — did you mean: photos?"


def test_pipeline_over_missing_repo(ip: TestingShell) -> None:
    spec = "pipeline: {name: p}\ntransform: {image: x, cmd: ['true']}\ninput: {pfs: {repo: nope, glob: /}}\n"
    line = _one_line(ip.fail("%%pach create pipeline\n" + spec))
    assert line.startswith("PachError: repo default/nope not found (NOT_FOUND)")


@pytest.mark.parametrize(
    "spec, where",
    [
        ('{\n  "pipeline": {"name": "p",}\n}', "invalid JSON in pipeline spec at line 2, column 28"),
        ("pipeline:\n  name: p\ntransform: [\n", "invalid YAML in pipeline spec at line 4, column 1"),
    ],
)
def test_spec_syntax_errors_say_where(ip: TestingShell, spec: str, where: str) -> None:
    line = _one_line(ip.fail("%%pach create pipeline\n" + spec))
    assert line.startswith(f"PachError: {where}")


def test_unknown_spec_field_is_named(ip: TestingShell) -> None:
    spec = "pipeline: {name: p}\ntransform: {image: x, cmd: ['true'], imagee: y}\n"
    line = _one_line(ip.fail("%%pach create pipeline\n" + spec))
    assert 'unknown field "imagee"' in line and "(transform)" in line


def test_path_with_dotdot(ip: TestingShell, workdir: Path) -> None:
    (workdir / "x.txt").write_text("x")
    ip.run_cell("%pach create repo photos")
    line = _one_line(ip.fail("%pach put file photos@master:../x.txt -f x.txt"))
    assert line == "PachError: path (../x.txt) invalid: relative file paths are not allowed (UNKNOWN)"  # pachd's code


def test_missing_local_file(ip: TestingShell) -> None:
    ip.run_cell("%pach create repo photos")
    line = _one_line(ip.fail("%pach put file photos@master -f does-not-exist.png"))
    assert line == "FileNotFoundError: no such local file: does-not-exist.png"


def test_unreachable_server_says_what_to_do(shell: TestingShell) -> None:
    shell.run_cell("%config PachMagic.progress = False")
    line = _one_line(shell.fail("%pach connect 127.0.0.1:9"))
    assert line.startswith("PachError: could not reach pachd at 127.0.0.1:9")
    assert line.endswith("— start an embedded server with `%pach connect local`, or `%pach connect ADDRESS`")


def test_verbose_shows_the_full_error(ip: TestingShell) -> None:
    failure = ip.fail("%pach --verbose inspect repo nope")
    assert isinstance(failure.error, NotFound)
    assert "Traceback" in failure.shown
    ip.run_cell("%config PachMagic.verbose_errors = True")
    assert isinstance(ip.fail("%pach inspect repo nope").error, NotFound)


@pytest.mark.parametrize(
    "cell, message",
    [
        ("%pach create repo", "%pach create repo: the following arguments are required: REPO"),
        ("%pach create repo x --bogus", "%pach create repo: unrecognized arguments: --bogus"),
        ("%pach list foo", "%pach: unknown command 'list foo'"),
        ("%pach put file photos@master", "%pach put file: nothing to put"),
        ("%pach list job --history never", "%pach list job: argument --history: invalid history 'never'"),
        ("%pach create repo 'unterminated", "%pach: cannot split the line"),
        ("%%pach list repo\nbody", "%%pach list repo takes no cell body"),
        ("%pach create pipeline", "%pach create pipeline: give -f FILE|URL, or the spec"),
    ],
)
def test_bad_arguments_give_a_usage_line(ip: TestingShell, cell: str, message: str) -> None:
    failure = ip.fail(cell)
    assert type(failure.error) is UsageError
    assert "Traceback" not in failure.shown
    assert failure.lines[0].startswith(f"UsageError: {message}"), failure.shown
    assert len(failure.lines) <= 2


def test_argparse_errors_include_the_usage(ip: TestingShell) -> None:
    failure = ip.fail("%pach create repo")
    assert failure.lines[1].startswith("usage: %pach create repo [-h] [-d DESCRIPTION]")


def test_help(ip: TestingShell) -> None:
    index = str(ip.value("%pach help"))
    assert "list repo" in index and "put file" in index
    assert str(ip.value("%pach help list repo")).startswith("usage: %pach list repo")
    assert str(ip.value("%pach list repo -h")) == str(ip.value("%pach help list repo"))
    assert str(ip.value("%pach")) == index


def test_confirmations_and_blocks_are_one_kind_of_text(ip: TestingShell) -> None:
    from pachmagic.magics.display import Text

    ip.run_cell("%pach create repo words")
    done = ip.value("%%pach put file words@master:/a.txt\nhello")
    helped = ip.value("%pach help")
    assert type(done) is Text and type(helped) is Text  # one class for both
    assert done._repr_html_().startswith("<span>") and helped._repr_html_().startswith("<pre>")
    assert done.commit.repo.name == "words" and str(done).startswith("put 1 file")


def test_a_failed_connect_keeps_the_working_connection(ip: TestingShell, any_server) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell("%pach create repo kept")
    failure = ip.fail("%pach connect grpc://127.0.0.1:1")
    assert failure.lines[0].startswith("PachError: could not reach pachd at 127.0.0.1:1")
    assert list(ip.value("%pach list repo")["name"]) == ["kept"]  # still on the server that works
    import pachmagic.fs

    active = pachmagic.fs.get_default_client()
    assert active is not None and active.address == any_server.address  # and pfs:// too


def test_project_slash_repo_is_explained(ip: TestingShell) -> None:
    failure = ip.fail("%pach create repo bad/name")
    assert failure.lines == [
        'PachError: project "bad" not found: "bad/name" is repo "name" in project "bad" '
        "(pachctl reads PROJECT/REPO; repo names cannot contain '/') (NOT_FOUND) — existing projects: default"
    ]


def test_a_missing_file_names_the_ref_asked_for(ip: TestingShell) -> None:
    from pachmagic.errors import NotFound
    from pachmagic.magics.display import one_line

    # pachd names no commit when a branch was asked for: the line names the ref instead
    bare = NotFound("file /x not found in repo default/photos at commit ")
    assert one_line(bare, ref="photos@master") == \
        "PachError: file /x not found in repo default/photos at commit photos@master (NOT_FOUND)"
    ip.run_cell("%pach create repo photos")
    ip.run_cell("%%pach put file photos@master:/a.txt\na")
    # list file too: real pachd lists nothing there, the client checks an empty listing
    for command in ("get file photos@master:/x", "inspect file photos@master:/x", "list file photos@master:/x",
                    "list file photos@master:/a.txt/x"):
        line = ip.fail(f"%pach {command}").lines[0]
        path = command.partition(":")[2]
        assert line.startswith(f"PachError: file {path} not found in repo default/photos at commit "), line
        assert not line.endswith("at commit (NOT_FOUND)"), line


def test_pachmagic_connect_follows_the_notebooks_connection(ip: TestingShell, any_server) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell("%pach create repo followed")
    ip.run_cell("import pachmagic\nclient = pachmagic.connect()")
    client = ip.user_ns["client"]
    try:
        assert client.address == any_server.address and client.address_source == "the notebook's %pach connection"
        assert [r.name for r in client.pfs.list_repo()] == ["followed"]
    finally:
        client.close()
    assert list(ip.value("%pach list repo")["name"]) == ["followed"]  # closing it left the notebook's open
