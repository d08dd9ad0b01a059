"""The public API is ``pachmagic.client.__all__`` (httpx's exported-members guard).

Outside the client package, pachmagic (magics, widgets, ``pfs://``, the CLI,
the pytest plugin) imports only ``pachmagic.client`` itself, never one of its
modules: what they need is public, or the public API grows.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pachmagic.client as client_pkg

PUBLIC = {
    "Client", "connect", "to_frame",
    "PachFrame",
    "ReadRecorder", "DataLock", "LockFileError",
    "Repo", "Branch", "Commit", "File", "Pipeline", "Job", "is_commit_id",
    "RecordList", "ProjectInfo", "RepoInfo", "BranchInfo", "CommitInfo", "FileInfo", "FileDiff",
    "PipelineInfo", "JobInfo", "DatumInfo", "LogMessage", "Version", "ClusterInfo",
    "human_size", "human_duration",
    "defer_interrupts",
}
PACKAGE = Path(client_pkg.__file__).resolve().parents[1]  # pachmagic/


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


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])


def _deep_client_imports(path: Path, package: str) -> list[str]:
    """``pachmagic.client.<module>`` imports in one source file of ``package`` (absolute or relative)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            names = [base] + ([f"{base}.{a.name}" for a in node.names] if base == "pachmagic.client" else [])
        else:
            continue
        for name in names:
            if name.startswith("pachmagic.client.") and name.removeprefix("pachmagic.client.") not in PUBLIC:
                found.append(f"line {node.lineno}: {name}")
    return found


def test_nothing_outside_the_client_imports_its_modules() -> None:
    sources = [p for p in PACKAGE.rglob("*.py") if "client" not in p.relative_to(PACKAGE).parts[:1]]
    assert len(sources) > 50
    deep = {str(p.relative_to(PACKAGE.parent)): bad for p in sources if (bad := _deep_client_imports(p, _package_of(p)))}
    assert deep == {}, "import these from pachmagic.client (make them public if they are not)"


def test_the_deep_import_check_catches_one(tmp_path: Path) -> None:
    text = (PACKAGE / "magics" / "repo.py").read_text(encoding="utf-8")
    assert _deep_client_imports(PACKAGE / "magics" / "repo.py", "pachmagic.magics") == []
    probe = tmp_path / "probe.py"
    probe.write_text(text + "\nfrom pachmagic.client.records import human_size\nfrom ..client import refs\n", encoding="utf-8")
    assert _deep_client_imports(probe, "pachmagic.magics") == [
        f"line {len(text.splitlines()) + 2}: pachmagic.client.records",
        f"line {len(text.splitlines()) + 3}: pachmagic.client.refs",
    ]
