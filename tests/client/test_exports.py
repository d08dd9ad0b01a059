"""The public API is ``pachmagic.client.__all__`` (httpx's exported-members guard)."""

from __future__ import annotations

import importlib
import pkgutil

import pachmagic.client as client_pkg

PUBLIC = {
    "Client", "connect", "to_frame",
    "ReadRecorder", "DataLock",
    "Repo", "Branch", "Commit", "File", "Pipeline", "Job",
    "RecordList", "ProjectInfo", "RepoInfo", "BranchInfo", "CommitInfo", "FileInfo", "FileDiff",
    "PipelineInfo", "JobInfo", "DatumInfo", "LogMessage", "Version", "ClusterInfo",
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(client_pkg.__all__) == PUBLIC
    assert len(client_pkg.__all__) == len(set(client_pkg.__all__))


def test_every_public_name_exists_and_is_documented() -> None:
    for name in client_pkg.__all__:
        member = getattr(client_pkg, name)
        assert member.__doc__, f"{name} has no docstring"


def test_no_other_public_members_at_top_level() -> None:
    submodules = {m.name for m in pkgutil.iter_modules(client_pkg.__path__)}
    # pytest rewrites the asserts of a package that ships a pytest11 plugin (ours does),
    # adding '@py_builtins' and '@pytest_ar': not identifiers, so never importable names.
    names = {n for n in vars(client_pkg) if n.isidentifier()}
    exposed = {n for n in names if not n.startswith("_")} - submodules - {"annotations"}
    assert exposed == PUBLIC


def test_every_module_has_a_docstring_and_future_annotations() -> None:
    for info in pkgutil.iter_modules(client_pkg.__path__):
        module = importlib.import_module(f"pachmagic.client.{info.name}")
        assert module.__doc__ and len(module.__doc__.strip()) > 40, info.name
        assert "annotations" in vars(module), f"{info.name} lacks 'from __future__ import annotations'"
