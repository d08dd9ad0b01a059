"""The import rules of DESIGN.md, checked on the source (no imports executed).

- ``_proto`` and ``errors`` import nothing of ours (``_proto`` only itself);
- ``pachyderm`` (Pachyderm's rules, shared by both sides) imports only ``_proto``,
  ``errors`` and itself, and no gRPC;
- ``client`` imports only ``_proto``, ``errors``, ``pachyderm`` and itself;
- ``server.storage`` and ``server.pipelines`` import no gRPC, no generated
  ``*_pb2_grpc`` stubs, and nothing of ``client``, ``magics``, ``widgets``;
  storage imports nothing of the engine, the servicers or the app (one way:
  servicers -> pipelines -> storage), and the engine nothing of the servicers;
- ``server.servicers`` (gRPC only) use the engine through ``Engine``, its states
  and its read API, and storage through ``Storage``, its records and value
  types; nothing of the client, magics or widgets;
- the CLI reaches the server through its entry points only;
- ``magics``, ``widgets`` and ``fs`` never import ``server`` internals (only
  ``pachmagic.server`` itself, for ``LocalServer``);
- ``pachctl_config`` imports only ``errors``; ``serverext`` (the Jupyter server
  extension) only ``errors``, ``pachctl_config`` and ``LocalServer``.
- inside ``server.pipelines`` imports point one way (``ENGINE_ORDER``), only
  ``states`` imports generated code, and only the ledger writes the engine's
  tables.
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


def _is_module(name: str) -> bool:
    """Whether a dotted name of ours is a module or package (not a name imported from one)."""
    path = PKG.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


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
_UI = ("pachmagic.client", "pachmagic.magics", "pachmagic.widgets", "pachmagic.fs")
_SERVER_TOP = ("pachmagic.server.app", "pachmagic.server.local", "pachmagic.server.guard", "pachmagic.server.servicers")
for layer, above in (
    ("server/storage", (*_SERVER_TOP, "pachmagic.server.pipelines")),
    ("server/pipelines", _SERVER_TOP),
):
    RULES.append(
        (
            layer,
            "imports no grpc, no *_pb2_grpc, nothing of client/magics/widgets, nothing of the layers above it",
            lambda n, above=above: not (
                n == "grpc"
                or n.startswith(("grpc.", "grpc_"))
                or n.endswith("_pb2_grpc")
                or n.startswith(_UI)
                or n.startswith(above)
            ),
        )
    )
# What the servicers may use of the layers below them: the public surface, not the parts.
_SERVICER_ALLOWED = (
    "pachmagic.server.pipelines", "pachmagic.server.pipelines.Engine", "pachmagic.server.pipelines.states",
    "pachmagic.server.pipelines.queries", "pachmagic.server.storage", "pachmagic.server.storage.model",
    "pachmagic.server.storage.pipeline_records", "pachmagic.server.storage.files", "pachmagic.server.storage.tree",
    "pachmagic.server.storage.chunks",
)
RULES.append(
    (
        "server/servicers",
        "imports nothing of client/magics/widgets, and of storage and the engine only their public surface",
        lambda n: not n.startswith(_UI)
        and (
            not n.startswith(("pachmagic.server.storage", "pachmagic.server.pipelines"))
            or n in _SERVICER_ALLOWED
            or (not _is_module(n) and n.rpartition(".")[0] in _SERVICER_ALLOWED)  # a name from an allowed module
        ),
    )
)
# The CLI is a thin wrapper: it starts, checks and collects through the server's entry points.
_CLI_ALLOWED = (
    "pachmagic", "pachmagic.__version__", "pachmagic.errors", "pachmagic.demo", "pachmagic.server",
    "pachmagic.server.app", "pachmagic.server.local", "pachmagic.server.storage.fsck",
    "pachmagic.server.storage.gc", "pachmagic.server.pipelines.sandbox", "pachmagic.server.servicers.misc",
)
RULES.append(
    (
        "cli.py",
        "reaches the server through its entry points only",
        lambda n: not _ours(n) or n in _CLI_ALLOWED or (not _is_module(n) and n.rpartition(".")[0] in _CLI_ALLOWED),
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
    storage_up = next(r for r in RULES if r[0] == "server/storage")[2]
    assert not storage_up("pachmagic.server.pipelines.states")  # type: ignore[operator]
    servicer_rule = next(r for r in RULES if r[0] == "server/servicers")[2]
    assert servicer_rule("pachmagic.server.pipelines.Engine")  # type: ignore[operator]
    assert not servicer_rule("pachmagic.server.pipelines.ledger")  # type: ignore[operator]
    assert not servicer_rule("pachmagic.server.storage.db")  # type: ignore[operator]
    cli_rule = next(r for r in RULES if r[0] == "cli.py")[2]
    assert cli_rule("pachmagic.server.app.ServerApp")  # type: ignore[operator]
    assert not cli_rule("pachmagic.server.storage.catalog")  # type: ignore[operator]
    magic_rule = next(r for r in RULES if r[0] == "magics")[2]
    assert not magic_rule("pachmagic.server.storage")  # type: ignore[operator]
    assert magic_rule("pachmagic.server.LocalServer")  # type: ignore[operator]


def test_every_layer_has_files() -> None:
    for sub in ("_proto", "pachyderm", "client", "server/storage", "server/pipelines"):
        assert _files(sub), f"no modules under pachmagic/{sub}"


# --- inside the engine ------------------------------------------------------------

# server/pipelines, lowest first: a module imports only engine modules before it.
# (_nsworker.py is a script run in its own process, with its helpers _nsmounts.py and _nsprivs.py:
# they import nothing else of pachmagic.)
ENGINE_ORDER = [
    "states", "cron", "spec", "environment", "sandbox", "pool", "slot", "worker", "merge", "planner", "outcome",
    "ledger", "runner", "scheduler", "lifecycle", "queries", "engine", "__init__",
]
ENGINE = PKG / "server" / "pipelines"
# PipelineTables' methods that write: only the ledger calls them.
TABLE_WRITES = {
    "put_version", "set_state", "delete", "add_job", "update_job", "delete_job", "put_datums", "carry_datums",
    "add_logs", "set_last_tick",
}


def _engine_imports(path: Path) -> list[str]:
    prefix = "pachmagic.server.pipelines."
    return [n[len(prefix):].split(".")[0] for n in _imports(path) if n.startswith(prefix)]


def test_every_engine_module_has_a_place_in_the_order() -> None:
    modules = {p.stem for p in ENGINE.glob("*.py")} - {"_nsworker", "_nsmounts", "_nsprivs"}
    assert modules == set(ENGINE_ORDER), "add new engine modules to ENGINE_ORDER (lowest first)"


@pytest.mark.parametrize("name", ENGINE_ORDER)
def test_engine_imports_point_one_way(name: str) -> None:
    rank = ENGINE_ORDER.index(name)
    for imported in _engine_imports(ENGINE / f"{name}.py"):
        if imported in ENGINE_ORDER:  # "from . import x" names a module; other names are symbols
            assert ENGINE_ORDER.index(imported) < rank, f"pipelines/{name}.py imports {imported}, which comes after it"


@pytest.mark.parametrize("name", ENGINE_ORDER)
def test_only_states_touches_generated_code(name: str) -> None:
    generated = [n for n in _imports(ENGINE / f"{name}.py") if n.startswith("pachmagic._proto")]
    assert name == "states" or not generated, f"pipelines/{name}.py imports {generated}: name states via states.py"


def _table_writes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TABLE_WRITES:
            receiver = ast.unparse(node.func.value)
            if receiver.endswith(("pps", "tables")):
                found.append(f"{receiver}.{node.func.attr}")
    return found


@pytest.mark.parametrize("name", ENGINE_ORDER)
def test_only_the_ledger_writes_the_engines_records(name: str) -> None:
    writes = _table_writes(ENGINE / f"{name}.py")
    assert name == "ledger" or not writes, f"pipelines/{name}.py writes {writes}: go through the ledger"


def test_the_engine_rules_catch_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(storage):\n    storage.pps.update_job(1, 2)\n")
    assert _table_writes(bad) == ["storage.pps.update_job"]
    assert _table_writes(ENGINE / "ledger.py"), "the ledger writes through self.tables"


# --- module size ------------------------------------------------------------------

LONG = 400  # STYLE.md: readable in one sitting


@pytest.mark.parametrize(
    "path", [p for p in sorted(PKG.rglob("*.py")) if "_proto" not in p.parts], ids=lambda p: str(p.relative_to(PKG))
)
def test_a_long_module_says_why(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    if lines <= LONG:
        return
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert f"Over {LONG} lines because" in doc, (
        f"{path.relative_to(PKG.parent)} has {lines} lines: split it, or say in its docstring "
        f"'Over {LONG} lines because ...'"
    )
