"""The committed ``pachmagic/_proto/`` must be exactly what ``proto/generate.py`` writes.

Regenerates into a temporary directory with the pinned grpcio-tools and compares
bytes, so a hand edit or a stale .proto change fails here. Also checks the
script's own safety nets: the version pin and ``--check``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "proto" / "generate.py"
COMMITTED = ROOT / "pachmagic" / "_proto"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("proto_generate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATE = _load_script()


def _tools_version() -> str | None:
    try:
        return importlib.metadata.version("grpcio-tools")
    except importlib.metadata.PackageNotFoundError:
        return None


needs_pinned_tools = pytest.mark.skipif(
    _tools_version() != GENERATE.REQUIRED_GRPCIO_TOOLS,
    reason=(
        f"regenerating needs grpcio-tools=={GENERATE.REQUIRED_GRPCIO_TOOLS} "
        f"(found {_tools_version()}); pip install grpcio-tools=={GENERATE.REQUIRED_GRPCIO_TOOLS}"
    ),
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False, timeout=300
    )


@needs_pinned_tools
def test_committed_code_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "_proto"
    result = _run("--out", str(out))
    assert result.returncode == 0, result.stderr
    fresh = GENERATE.generated_files(out)
    committed = GENERATE.generated_files(COMMITTED)
    assert len(fresh) == 3 * len(GENERATE.proto_files()) + 1  # _pb2, _pb2.pyi, _pb2_grpc + __init__
    assert GENERATE.diff(fresh, committed) == [], "run: python proto/generate.py"


@needs_pinned_tools
def test_check_passes_on_committed_code() -> None:
    result = _run("--check")
    assert result.returncode == 0, result.stderr


@needs_pinned_tools
def test_check_lists_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "_proto"
    assert _run("--out", str(out)).returncode == 0
    (out / "pfs_pb2.py").write_text("# edited by hand\n")
    (out / "task_pb2.pyi").unlink()
    (out / "old_pb2.py").write_text("")
    result = _run("--check", "--out", str(out))
    assert result.returncode == 1
    assert "differs: pfs_pb2.py" in result.stderr
    assert "missing: task_pb2.pyi" in result.stderr
    assert "extra:   old_pb2.py" in result.stderr


def test_refuses_other_generator_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GENERATE.importlib.metadata, "version", lambda name: "1.60.0")
    with pytest.raises(SystemExit) as excinfo:
        GENERATE.check_generator_version()
    assert "pip install grpcio-tools==1.85.1" in str(excinfo.value)


def test_generated_imports_are_package_relative() -> None:
    for path in sorted(COMMITTED.glob("*_pb2*.py*")):
        for line in path.read_text().splitlines():
            if line.startswith("import ") and "_pb2" in line:
                pytest.fail(f"{path.name}: flat import left: {line}")


def test_generated_modules_import_without_warnings() -> None:
    code = (
        "import importlib, pkgutil, pachmagic._proto as p\n"
        "for m in pkgutil.iter_modules(p.__path__):\n"
        "    importlib.import_module('pachmagic._proto.' + m.name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,  # python -c puts the working directory first on sys.path
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
