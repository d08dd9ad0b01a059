"""Tab completion through IPython's completer, with names from the connected server."""

from __future__ import annotations

import pytest
from IPython.core.completer import provisionalcompleter

from pachmagic.magics._testing import TestingShell


def _complete(shell: TestingShell, line: str) -> list[str]:
    """What IPython would offer at the end of ``line`` (the same API Jupyter uses)."""
    with provisionalcompleter():
        completions = list(shell.Completer.completions(line, len(line)))
    return sorted({c.text for c in completions})


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
    assert {"list", "create", "put", "preview", "run", "help"} <= set(_complete(shell, "%pach "))
    assert _complete(shell, "%pach li") == ["list"]
    assert {"repo", "file", "pipeline", "job", "datum", "commit", "branch", "project"} == set(
        _complete(shell, "%pach list ")
    )
    assert _complete(shell, "%pach list re") == ["repo"]
    assert _complete(shell, "%pach config ") == ["delete", "get", "list", "set", "update", "use"]
    assert _complete(shell, "%pach put file photos@master --re") == ["--recursive"]
    assert "--all-projects" in _complete(shell, "%pach list repo --")
    assert _complete(shell, "%pach connect lo") == ["local"]
    assert _complete(shell, "%pach help li") == ["list"]
    assert _complete(shell, "%pach --verb") == ["--verbose"]
    assert _complete(shell, "%pach --verbose list re") == ["repo"]


def test_names_from_the_server(data: TestingShell) -> None:
    ip = data
    assert _complete(ip, "%pach inspect repo p") == ["photos", "plots"]
    assert _complete(ip, "%pach inspect repo s") == ["sizes"]
    assert _complete(ip, "%pach list branch ph") == ["photos"]
    # IPython splits on '@' and ':', so matches replace only the part after them.
    assert _complete(ip, "%pach list file pho") == ["photos@"]
    assert _complete(ip, "%pach list file photos@") == ["master", "staging"]
    assert _complete(ip, "%pach list file photos@ma") == ["master"]
    assert _complete(ip, "%pach get file photos@master:/") == ["/images/", "/readme.txt"]
    assert _complete(ip, "%pach get file photos@master:/images/") == ["/images/a.png"]
    assert _complete(ip, "%pach inspect pipeline s") == ["sizes"]
    assert _complete(ip, "%pach inspect job s") == ["sizes@"]
    job_ids = _complete(ip, "%pach inspect job sizes@")
    assert len(job_ids) == 1 and len(job_ids[0]) == 32
    assert _complete(ip, "%pach logs -p s") == ["sizes"]
    assert _complete(ip, "%pach create branch photos@x -p pl") == ["plots@"]
    assert _complete(ip, "%pach list repo --project d") == ["default"]


def test_names_are_cached_for_a_while(data: TestingShell) -> None:
    from pachmagic.magics import PachMagic
    from pachmagic.magics.complete import candidates

    ip = data
    magic = next(c for c in ip.configurables if isinstance(c, PachMagic))
    assert candidates("%pach inspect repo ne", magic) == []
    ip.run_cell("%pach create repo newer")
    # creating through the magic forgets the cache ...
    assert candidates("%pach inspect repo ne", magic) == ["newer"]
    # ... but a change made elsewhere is seen only once the cache expires
    magic.session.client().pfs.create_repo("newest")
    assert candidates("%pach inspect repo ne", magic) == ["newer"]
    ip.run_cell("%config PachMagic.completion_cache_seconds = 0")
    assert candidates("%pach inspect repo ne", magic) == ["newer", "newest"]


def test_completion_does_not_connect(shell: TestingShell) -> None:
    from pachmagic.magics import PachMagic
    from pachmagic.magics.complete import candidates

    magic = next(c for c in shell.configurables if isinstance(c, PachMagic))
    assert candidates("%pach inspect repo p", magic) == []
    _complete(shell, "%pach inspect repo p")
    assert not magic.session.connected
