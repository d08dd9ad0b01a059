"""The import rules of DESIGN.md, checked on the source (no imports executed).

- ``_proto`` and ``errors`` import nothing of ours (``_proto`` only itself);
- ``pachyderm`` (Pachyderm's rules, shared by both sides) imports only ``_proto``,
  ``errors`` and itself, and no gRPC;
- ``client`` imports only ``_proto``, ``errors``, ``pachyderm`` and itself;
- ``server.storage`` and ``server.pipelines`` import no gRPC, no generated
  ``*_pb2_grpc`` stubs, and nothing of ``client``, ``magics``, ``widgets``;
- ``magics``, ``widgets`` and ``fs`` never import ``server`` internals (only
  ``pachmagic.server`` itself, for ``LocalServer``);
- ``pachctl_config`` imports only ``errors``; ``serverext`` (the Jupyter server
  extension) only ``errors``, ``pachctl_config`` and ``LocalServer``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "pachmagic"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append(target)
            # "from pachmagic._proto import pfs_pb2_grpc" imports a submodule.
            names.extend(f"{target}.{alias.name}" for alias in node.names)
    return names


def _files(sub: str) -> list[Path]:
    root = PKG / sub
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.py")) if root.exists() else []


def _ours(name: str) -> bool:
    return name == "pachmagic" or name.startswith("pachmagic.")


RULES: list[tuple[str, str, object]] = [
    ("_proto", "imports only _proto of ours", lambda n: not _ours(n) or n.startswith("pachmagic._proto")),
    ("errors.py", "imports nothing of ours", lambda n: not _ours(n) or n == "pachmagic.errors"),
    (
        "pachyderm",
        "imports only _proto, errors and pachyderm of ours, and no grpc",
        lambda n: not (n == "grpc" or n.startswith("grpc.") or n.endswith("_pb2_grpc"))
        and (not _ours(n) or n.startswith(("pachmagic._proto", "pachmagic.errors", "pachmagic.pachyderm"))),
    ),
    (
        "client",
        "imports only _proto, errors, pachyderm and client of ours",
        lambda n: not _ours(n)
        or n.startswith(("pachmagic._proto", "pachmagic.errors", "pachmagic.pachyderm", "pachmagic.client")),
    ),
]
for layer in ("server/storage", "server/pipelines"):
    RULES.append(
        (
            layer,
            "imports no grpc, no *_pb2_grpc, nothing of client/magics/widgets",
            lambda n: not (
                n == "grpc"
                or n.startswith(("grpc.", "grpc_"))
                or n.endswith("_pb2_grpc")
                or n.startswith(("pachmagic.client", "pachmagic.magics", "pachmagic.widgets"))
            ),
        )
    )
for layer in ("magics", "widgets", "fs.py"):
    RULES.append(
        (
            layer,
            "imports no server internals (only pachmagic.server for LocalServer)",
            lambda n: not n.startswith("pachmagic.server.") or n in ("pachmagic.server.LocalServer", "pachmagic.server.default_data_dir"),
        )
    )

# Neutral helpers and the Jupyter server extension, which every Jupyter server start imports:
# it must stay light (no client, magics or widgets; only LocalServer of the server).
RULES.append(("pachctl_config.py", "imports only errors of ours", lambda n: not _ours(n) or n.startswith("pachmagic.errors")))
RULES.append(
    (
        "serverext.py",
        "imports only errors, pachctl_config and pachmagic.server (LocalServer) of ours",
        lambda n: not _ours(n)
        or n in ("pachmagic.server", "pachmagic.server.LocalServer", "pachmagic.server.default_data_dir")
        or n.startswith(("pachmagic.errors", "pachmagic.pachctl_config")),
    )
)

CASES = [(sub, why, ok, f) for sub, why, ok in RULES for f in _files(sub)]


@pytest.mark.parametrize(
    "sub,why,ok,path", CASES, ids=[f"{c[0]}:{c[3].relative_to(PKG)}" for c in CASES]
)
def test_import_rules(sub: str, why: str, ok: object, path: Path) -> None:
    bad = [n for n in _imports(path) if not ok(n)]  # type: ignore[operator]
    assert not bad, f"{path.relative_to(PKG.parent)} breaks the rule '{sub} {why}': {bad}"


def test_rules_catch_a_violation(tmp_path: Path) -> None:
    """The checker itself must flag a forbidden import."""
    storage_rule = next(r for r in RULES if r[0] == "server/storage")[2]
    assert not storage_rule("grpc")  # type: ignore[operator]
    assert not storage_rule("pachmagic._proto.pfs_pb2_grpc")  # type: ignore[operator]
    assert storage_rule("pachmagic._proto.pfs_pb2")  # type: ignore[operator]
    neutral_rule = next(r for r in RULES if r[0] == "pachyderm")[2]
    assert not neutral_rule("pachmagic.client")  # type: ignore[operator]
    assert not neutral_rule("pachmagic.server.storage.model")  # type: ignore[operator]
    assert not neutral_rule("grpc")  # type: ignore[operator]
    assert neutral_rule("pachmagic._proto.pps_pb2")  # type: ignore[operator]
    magic_rule = next(r for r in RULES if r[0] == "magics")[2]
    assert not magic_rule("pachmagic.server.storage")  # type: ignore[operator]
    assert magic_rule("pachmagic.server.LocalServer")  # type: ignore[operator]


def test_every_layer_has_files() -> None:
    for sub in ("_proto", "pachyderm", "client", "server/storage", "server/pipelines"):
        assert _files(sub), f"no modules under pachmagic/{sub}"
