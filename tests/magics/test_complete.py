"""Tab completion through IPython's completer with Jedi on (as in a kernel), names from the server.

Before, a real kernel (Jedi on) buried our candidates under Python names:
``photos@`` offered 222 items starting with ``abs``. In a ``%pach`` line only
our candidates appear, each with its kind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.completer import provisionalcompleter

from pachmagic.magics._testing import TestingShell


def _offered(shell: TestingShell, text: str) -> list[tuple[str, str]]:
    """What a frontend would offer at the end of ``text``: (text, kind), as ipykernel asks for it."""
    assert shell.Completer.use_jedi
    with provisionalcompleter():
        completions = list(shell.Completer.completions(text, len(text)))
    return sorted({(c.text, c.type) for c in completions})


def _complete(shell: TestingShell, text: str) -> list[str]:
    return [t for t, _ in _offered(shell, text)]


@pytest.fixture
def data(ip: TestingShell) -> TestingShell:
    ip.run_cell("%pach create repo photos")
    ip.run_cell("%pach create repo plots")
    ip.run_cell("%%pach put file photos@master:/images/a.png\nx")
    ip.run_cell("%%pach put file photos@master:/readme.txt\nx")
    ip.run_cell("%pach create branch photos@staging --head master")
    ip.run_cell("%%pach create pipeline\npipeline: {name: sizes}\ntransform: {image: x, cmd: ['true']}\n"
                "input: {pfs: {repo: photos, glob: /}}")
    return ip


def test_verbs_nouns_and_flags(shell: TestingShell) -> None:
    commands = _offered(shell, "%pach ")
    assert {"list", "create", "put", "preview", "run", "help"} <= {t for t, _ in commands}
    assert {k for _, k in commands} == {"command"}  # no Python keywords or builtins
    assert _offered(shell, "%pach li") == [("list", "command")]
    assert {"repo", "file", "pipeline", "job", "datum", "commit", "branch", "project"} == set(
        _complete(shell, "%pach list ")
    )
    assert _complete(shell, "%pach list re") == ["repo"]
    assert _complete(shell, "%pach config ") == ["delete", "get", "list", "set", "update", "use"]
    assert _offered(shell, "%pach put file photos@master --re") == [("--recursive", "flag")]
    flags = _offered(shell, "%pach list file -")
    assert ("--project", "flag") in flags and {k for _, k in flags} == {"flag"}  # no dunder names
    assert "--all-projects" in _complete(shell, "%pach list repo --")
    assert _complete(shell, "%pach connect lo") == ["local"]
    assert _complete(shell, "%pach help li") == ["list"]
    assert _complete(shell, "%pach --verb") == ["--verbose"]
    assert _complete(shell, "%pach --verbose list re") == ["repo"]


def test_names_from_the_server_with_their_kinds(data: TestingShell) -> None:
    ip = data
    assert _offered(ip, "%pach inspect repo p") == [("photos", "repo"), ("plots", "repo")]
    assert _complete(ip, "%pach inspect repo s") == ["sizes"]
    assert _complete(ip, "%pach list branch ph") == ["photos"]
    # Jupyter replaces the word after '@' and ':', so matches are the part after them.
    assert _offered(ip, "%pach list file pho") == [("photos@", "repo")]
    assert _offered(ip, "%pach list file photos@") == [("master", "branch"), ("staging", "branch")]
    assert _offered(ip, "%pach list file photos@m") == [("master", "branch")]  # not map, max
    assert _offered(ip, "%pach get file photos@master:/") == [("/images/", "path"), ("/readme.txt", "path")]
    assert _offered(ip, "%pach get file photos@master:/h") == []  # not /hasattr, /hash
    assert _complete(ip, "%pach get file photos@master:/images/") == ["/images/a.png"]
    assert _offered(ip, "%pach inspect pipeline s") == [("sizes", "pipeline")]
    assert _complete(ip, "%pach inspect job s") == ["sizes@"]
    [(job_id, kind)] = _offered(ip, "%pach inspect job sizes@")
    assert len(job_id) == 32 and kind == "job"
    assert _complete(ip, "%pach logs -p s") == ["sizes"]
    assert _complete(ip, "%pach create branch photos@x -p pl") == ["plots@"]
    assert _offered(ip, "%pach list repo --project d") == [("default", "project")]


def test_only_our_candidates_even_when_there_are_none(data: TestingShell) -> None:
    ip = data
    assert _offered(ip, "%pach create repo ") == []  # a new name: nothing to offer, and no Python names
    assert _offered(ip, "%pach list file nothing@") == []
    assert _offered(ip, "%pach create repo x -d ") == []


def test_assigned_magics_and_cell_magics(data: TestingShell) -> None:
    ip = data
    assert _offered(ip, "files = %pach list file photos@") == [("master", "branch"), ("staging", "branch")]
    assert _complete(ip, "x = 1\njobs = %pach list jo") == ["job"]
    assert _complete(ip, "%%pach put file photos@") == ["master", "staging"]
    # the body of a %%pach cell and ordinary Python complete as IPython does
    assert "abs" in _complete(ip, "%%pach put file photos@master:/x.txt\nab")
    assert "abs" in _complete(ip, "ab")
    assert "%pach" in _complete(ip, "%pa")


def test_local_paths_for_local_arguments(data: TestingShell, workdir: Path) -> None:
    (workdir / "hand.png").write_bytes(b"x")
    (workdir / "raw").mkdir()
    (workdir / "raw" / "a.csv").write_text("a")
    assert _offered(data, "%pach put file photos@master -f ") == [("hand.png", "file"), ("raw/", "file")]
    assert _offered(data, "%pach put file photos@master -f raw/") == [("raw/a.csv", "file")]


def test_unloading_gives_ipython_its_completion_back(data: TestingShell) -> None:
    data.run_cell("%unload_ext pachmagic")
    assert "abs" in _complete(data, "%pach list file photos@")  # Jedi again: we are gone


def test_names_are_cached_for_a_while(data: TestingShell) -> None:
    from pachmagic.magics import PachMagic
    from pachmagic.magics.complete import candidates

    ip = data
    magic = next(c for c in ip.configurables if isinstance(c, PachMagic))

    def names(line: str) -> list[str]:
        return [c.text for c in candidates(line, magic)]

    assert names("%pach inspect repo ne") == []
    ip.run_cell("%pach create repo newer")
    # creating through the magic forgets the cache ...
    assert names("%pach inspect repo ne") == ["newer"]
    # ... but a change made elsewhere is seen only once the cache expires
    magic.session.client().pfs.create_repo("newest")
    assert names("%pach inspect repo ne") == ["newer"]
    ip.run_cell("%config PachMagic.completion_cache_seconds = 0")
    assert names("%pach inspect repo ne") == ["newer", "newest"]


def test_completion_does_not_connect(shell: TestingShell) -> None:
    from pachmagic.magics import PachMagic
    from pachmagic.magics.complete import candidates

    magic = next(c for c in shell.configurables if isinstance(c, PachMagic))
    assert candidates("%pach inspect repo p", magic) == []
    assert _offered(shell, "%pach inspect repo p") == []
    assert not magic.session.connected
