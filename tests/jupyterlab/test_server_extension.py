"""pachmagic's Jupyter server extension in a real Jupyter server (no browser).

Each test starts ``jupyter server`` from this environment (where installing
pachmagic enabled the extension) as a child process with its own HOME and
Jupyter directories, then checks what a user would: the shared server answers;
a kernel and a terminal of that Jupyter server get ``PACHD_ADDRESS``; ``%pach
connect`` with no argument reaches it; pachctl's active context points at it
and the one active before comes back when the Jupyter server stops (cleanly or
after a SIGKILL and a restart), and a config file it created is removed; data
persists across restarts; nothing starts
when ``PACHD_ADDRESS`` is set, with ``enabled = False``, or after
``jupyter server extension disable pachmagic``; a server that cannot start
(data directory in use) leaves the Jupyter server running without it.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from pachmagic.client import connect
from pachmagic.errors import PachError
from pachmagic.server import LocalServer
from pachmagic.serverext import CONTEXT
from tests.jupyterlab._lab import Lab, isolated_env, pach_config, run_code, run_in_terminal

pytestmark = pytest.mark.slow

CLUSTER = {"pachd_address": "grpc://pachd.example.com:30650", "session_token": "secret"}


def user_config(env: dict[str, str]) -> Path:
    """A pachctl config with the user's own cluster context active."""
    path = pach_config(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"user_id": "u1", "v2": {"active_context": "cluster", "contexts": {"cluster": CLUSTER},
                                                         "metrics": False}}))
    return path


def answers(address: str) -> bool:
    client = connect(address)
    try:
        client.version()
        return True
    except PachError:
        return False
    finally:
        client.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path / "jupyter")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "notebooks"
    path.mkdir()
    return path


def test_installing_pachmagic_enables_the_extension() -> None:
    """The config file that enables it is part of the installed distribution (an editable install here)."""
    files = {str(f) for f in importlib.metadata.distribution("pachmagic").files or ()}
    shipped = next(f for f in files if f.endswith("etc/jupyter/jupyter_server_config.d/pachmagic.json"))
    installed = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "pachmagic.json"
    assert installed.is_file(), shipped
    assert json.loads(installed.read_text()) == {"ServerApp": {"jpserver_extensions": {"pachmagic": True}}}


def test_one_shared_server_for_kernels_terminals_and_pachctl(env: dict[str, str], root: Path, tmp_path: Path) -> None:
    config = user_config(env)
    data_dir = tmp_path / "pachd"
    lab = Lab(sys.executable, env, root, tmp_path / "lab.log", args=(f"--PachMagicServer.data_dir={data_dir}",))
    try:
        address = lab.shared_address()
        assert answers(address)
        # pachctl's config: our context is active, the user's is kept (and comes back at the end)
        v2 = json.loads(config.read_text())["v2"]
        assert v2["active_context"] == CONTEXT
        assert v2["contexts"] == {"cluster": CLUSTER, CONTEXT: {"pachd_address": address}}
        # a kernel: PACHD_ADDRESS, and %pach connect with no argument reaches the shared server
        out = run_code(lab, "import os; print('PA=' + os.environ['PACHD_ADDRESS'])\n"
                            "%load_ext pachmagic\nm = %pach connect\n%pach create repo from_kernel\nprint(m)")
        assert f"PA={address}" in out
        assert (f"connected to JupyterLab's shared pachmagic server at {address.removeprefix('grpc://')} "
                f"(Pachyderm 2.12.2 API, data dir {data_dir}; PACHD_ADDRESS)") in out, out
        # a terminal: the same address, and pachmagic's client there sees the kernel's repo
        shown = run_in_terminal(
            lab,
            f"echo \"PA=[$PACHD_ADDRESS]\"; {sys.executable} -c \"import pachmagic; "
            "print('REPO' 'S=' + ','.join(r.repo.name for r in pachmagic.connect().pfs.list_repo()))\"",
            r"REPOS=\w+",  # not in the echoed command line

        )
        assert f"PA=[{address}]" in shown
        assert "REPOS=from_kernel" in shown
        client = connect(address)
        client.pfs.put_files("from_kernel@master", {"/kept.txt": "still here"})
        client.close()
    finally:
        assert lab.stop() == 0
    assert not answers(address), "the shared server outlived JupyterLab"
    assert json.loads(config.read_text())["v2"] == {"active_context": "cluster", "contexts": {"cluster": CLUSTER},
                                                    "metrics": False}
    assert "PACHD_ADDRESS" not in env

    # the data directory persists: a new JupyterLab serves the same repos
    lab = Lab(sys.executable, env, root, tmp_path / "lab2.log", args=(f"--PachMagicServer.data_dir={data_dir}",))
    try:
        client = connect(lab.shared_address())
        assert client.pfs.get_file("from_kernel@master:/kept.txt") == b"still here"
        client.close()
    finally:
        lab.stop()


def test_after_a_crash_the_server_dies_and_the_users_context_comes_back(env: dict[str, str], root: Path, tmp_path: Path) -> None:
    config = user_config(env)
    args = (f"--PachMagicServer.data_dir={tmp_path / 'pachd'}",)
    lab = Lab(sys.executable, env, root, tmp_path / "lab.log", args=args)
    address = lab.shared_address()
    lab.kill()  # SIGKILL: no stop hook runs
    deadline = time.monotonic() + 30
    while answers(address) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not answers(address), "the shared server outlived a SIGKILLed JupyterLab"
    assert json.loads(config.read_text())["v2"]["active_context"] == CONTEXT  # left behind
    lab = Lab(sys.executable, env, root, tmp_path / "lab2.log", args=args)  # the data dir lock was released
    new_address = lab.shared_address()
    assert json.loads(config.read_text())["v2"]["contexts"][CONTEXT] == {"pachd_address": new_address}
    lab.stop()
    assert json.loads(config.read_text())["v2"] == {"active_context": "cluster", "contexts": {"cluster": CLUSTER},
                                                    "metrics": False}


def test_nothing_starts_when_pachd_is_configured_elsewhere_or_disabled(env: dict[str, str], root: Path, tmp_path: Path) -> None:
    cases = [
        ("PACHD_ADDRESS", {"PACHD_ADDRESS": "grpc://pachd.example.com:30650"}, (),
         "PACHD_ADDRESS is set (grpc://pachd.example.com:30650): kernels and terminals use that pachd"),
        ("enabled=False", {}, ("--PachMagicServer.enabled=False",), "PachMagicServer.enabled is False"),
    ]
    for name, extra, args, logged in cases:
        lab = Lab(sys.executable, {**env, **extra}, root, tmp_path / f"{name}.log",
                  args=(f"--PachMagicServer.data_dir={tmp_path / 'pachd'}", *args))
        try:
            assert logged in lab.log_text(), name
            assert "shared Pachyderm server at" not in lab.log_text(), name
            assert not pach_config(env).exists(), name
            if extra:  # the kernel uses the pachd configured elsewhere
                kernel_sees = run_code(lab, "import os; print('PA=' + os.environ.get('PACHD_ADDRESS', 'unset'))")
                assert f"PA={extra['PACHD_ADDRESS']}" in kernel_sees, name
        finally:
            lab.stop()
    assert not (tmp_path / "pachd").exists()


@pytest.fixture
def bare_prefix(tmp_path: Path) -> Path:
    """A Python prefix that sees this environment's packages but not its ``etc/jupyter``:
    ``jupyter server extension enable|disable`` (which write there by default) can run
    without touching the shared test environment."""
    prefix = tmp_path / "prefix"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
    site = next(prefix.glob("lib/python*/site-packages"))
    here = sysconfig.get_paths()["purelib"]
    (site / "parent_env.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    return prefix / "bin" / "python"


def test_the_shipped_config_file_and_jupyter_server_extension_disable_enable(
    bare_prefix: Path, env: dict[str, str], root: Path, tmp_path: Path
) -> None:
    """Without the config file installing ships, nothing enables the extension; with it, it runs;
    ``jupyter server extension disable pachmagic`` turns it off and ``enable`` back on. (Recent
    jupyter_server only toggles extensions its config dir already lists, as the shipped file does.)"""
    def extension(*args: str) -> str:
        done = subprocess.run([str(bare_prefix), "-m", "jupyter_server.extension.serverextension", *args],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)

    assert "pachmagic" not in extension("list")
    shipped = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "pachmagic.json"
    target = bare_prefix.parents[1] / "etc" / "jupyter" / "jupyter_server_config.d" / "pachmagic.json"
    target.parent.mkdir(parents=True)
    target.write_bytes(shipped.read_bytes())  # what `pip install pachmagic` puts there
    assert re.search(r"pachmagic enabled\s+- Validating pachmagic...\s+pachmagic \S+ OK", extension("list"))
    args = (f"--PachMagicServer.data_dir={tmp_path / 'pachd'}",)

    assert "successfully disabled" in extension("disable", "pachmagic")
    assert "pachmagic disabled" in extension("list")
    lab = Lab(bare_prefix, env, root, tmp_path / "off.log", args=args)
    try:
        assert "pachmagic | extension was successfully linked" not in lab.log_text()
        assert not pach_config(env).exists()
    finally:
        lab.stop()

    assert "successfully enabled" in extension("enable", "pachmagic")
    lab = Lab(bare_prefix, env, root, tmp_path / "on.log", args=args)
    try:
        assert answers(lab.shared_address())
        assert json.loads(pach_config(env).read_text())["v2"]["active_context"] == CONTEXT
    finally:
        lab.stop()
    # the pachctl config it created is removed again: pachyderm-sdk (and so jupyterlab-pachyderm)
    # fails on a config without an active context
    assert not pach_config(env).exists()


def test_a_server_that_cannot_start_leaves_jupyterlab_running(env: dict[str, str], root: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "pachd"
    with LocalServer(data_dir, in_process=True):  # holds the data directory's lock
        lab = Lab(sys.executable, env, root, tmp_path / "lab.log", args=(f"--PachMagicServer.data_dir={data_dir}",))
        try:
            assert re.search(r"the shared Pachyderm server did not start: .*in use by another pachmagic server",
                             lab.log_text()), lab.log_text()[-3000:]
            assert not pach_config(env).exists()
            assert "PA=unset" in run_code(lab, "import os; print('PA=' + os.environ.get('PACHD_ADDRESS', 'unset'))")
        finally:
            assert lab.stop() == 0


def test_connect_names_the_shared_server_only_when_pachd_address_is_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``%pach connect`` says "JupyterLab's shared server" when PACHD_ADDRESS is the one the extension
    set; a PACHD_ADDRESS the user changed in the kernel is just PACHD_ADDRESS."""
    from pachmagic.magics._testing import new_shell

    with LocalServer(tmp_path / "data", in_process=True) as server:
        shell = new_shell()
        try:
            shell.run_cell("%load_ext pachmagic")
            monkeypatch.setenv("PACHD_ADDRESS", f"grpc://{server.address}")
            monkeypatch.setenv("PACHMAGIC_SHARED_SERVER", f"grpc://{server.address}")
            monkeypatch.setenv("PACHMAGIC_SHARED_DATA_DIR", "/somewhere/pachd")
            assert str(shell.value("%pach connect")) == (
                f"connected to JupyterLab's shared pachmagic server at {server.address} "
                "(Pachyderm 2.12.2 API, data dir /somewhere/pachd; PACHD_ADDRESS)")
            assert str(shell.value(f"%pach connect {server.address}")).startswith("connected to pachd 2.12.2 at")
            monkeypatch.setenv("PACHD_ADDRESS", server.address)  # changed by the user
            assert str(shell.value("%pach connect")) == f"connected to pachd 2.12.2 at {server.address} (PACHD_ADDRESS)"
        finally:
            shell.close()


def test_the_readme_documents_the_extension_and_the_side_panels_extra() -> None:
    from pachmagic.serverext import PachMagicServer
    from tests.jupyterlab.official_env import EXTRA

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## JupyterLab\n")
    section = readme[start: readme.index("\n## ", start + 1)]
    own = set(PachMagicServer.class_own_traits(config=True))
    assert own == {"enabled", "data_dir", "port", "workdir"}
    for name in own:
        assert f"c.PachMagicServer.{name} = " in section, f"README's JupyterLab section does not show PachMagicServer.{name}"
    for name in re.findall(r"PachMagicServer\.(\w+)", readme):
        assert name in own, f"README names PachMagicServer.{name}, which is not a setting"
    assert f'"pachmagic[{EXTRA}]"' in section  # the command the test environment runs
    extras = importlib.metadata.metadata("pachmagic").get_all("Provides-Extra") or []
    assert EXTRA in extras
    for command in ("jupyter server extension disable pachmagic", "jupyter server extension enable pachmagic"):
        assert command in section


def test_an_unwritable_pachctl_config_still_shares_the_server(env: dict[str, str], root: Path, tmp_path: Path) -> None:
    env = {**env, "PACH_CONFIG": "/proc/pachmagic-nowhere/config.json"}  # cannot be created, even by root
    lab = Lab(sys.executable, env, root, tmp_path / "lab.log", args=(f"--PachMagicServer.data_dir={tmp_path / 'pachd'}",))
    try:
        address = lab.shared_address()
        assert "cannot write pachctl's config /proc/pachmagic-nowhere/config.json" in lab.log_text()
        assert answers(address)
        assert f"PA={address}" in run_code(lab, "import os; print('PA=' + os.environ['PACHD_ADDRESS'])")
    finally:
        assert lab.stop() == 0
    assert not answers(address)
