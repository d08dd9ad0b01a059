"""The embedded server run by an unprivileged user: a script hard-coding ``/pfs/...`` works.

This is the notebook user's situation: no root, no containers. The server runs
as ``pmtest`` when the tests run as root (as ourselves otherwise) in a child
process, and a transform that knows nothing of pachmagic — fixed ``/pfs/in`` and
``/pfs/out`` paths — runs in its private mount namespace.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from pachmagic.client import Job, Pipeline, connect
from pachmagic.server.local import READY_PREFIX
from pachmagic.server.pipelines.sandbox import sandbox_available

REPO = Path(__file__).resolve().parents[2]
UNPRIVILEGED = "pmtest"
AVAILABLE, WHY_NOT = sandbox_available()

TRANSFORM = textwrap.dedent("""
    import os
    for name in sorted(os.listdir("/pfs/in")):
        with open(os.path.join("/pfs/in", name)) as src, open(os.path.join("/pfs/out", name), "w") as dst:
            dst.write(src.read().upper())
    with open("/pfs/out/uid", "w") as f:
        f.write(str(os.getuid()))
    print("converted", sorted(os.listdir("/pfs/in")))
""")


def _python_for(user: pwd.struct_passwd | None, env: dict[str, str]) -> str | None:
    """An interpreter ``user`` may run that imports the server (ours may live under /root)."""
    candidates = [sys.executable, shutil.which("python3") or "", "/usr/bin/python3", "/usr/local/bin/python3"]
    for python in dict.fromkeys(c for c in candidates if c):
        probe = [python, "-c", "import sys; assert sys.version_info >= (3, 10); import grpc, pachmagic.server.app"]
        try:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
            if subprocess.run(probe, env=env, capture_output=True, timeout=60, **kwargs).returncode == 0:  # type: ignore[call-overload]
                return python
        except (OSError, subprocess.SubprocessError):
            continue
    return None


@pytest.fixture
def unprivileged_server() -> Iterator[tuple[str, int, Path]]:
    user: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(UNPRIVILEGED)
        except KeyError:
            pytest.skip(f"running as root and there is no user {UNPRIVILEGED!r} to run the server as")
    base = Path(tempfile.mkdtemp(prefix="pachmagic-unprivileged-", dir="/tmp"))
    (base / "work").mkdir()
    (base / "work" / "upper.py").write_text(TRANSFORM)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PACHMAGIC_"))}
    # Our site-packages and source tree, importable by another interpreter of the same version.
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])
    env["HOME"] = str(base)
    if user is not None:
        for path in (base, base / "work", base / "work" / "upper.py"):
            os.chown(path, user.pw_uid, user.pw_gid)
    python = _python_for(user, env)
    if python is None:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"no Python >= 3.10 with the server's dependencies that {UNPRIVILEGED!r} may run")
    kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
    proc = subprocess.Popen(  # type: ignore[call-overload]
        [python, "-m", "pachmagic", "serve", "--port", "0", "--data-dir", str(base / "data"),
         "--workdir", str(base / "work"), "--exit-with-parent"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(base), **kwargs,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if READY_PREFIX in line:
                address = line.split(READY_PREFIX, 1)[1].split()[0]
                break
        else:
            raise AssertionError("server did not start:\n" + "".join(lines[-20:]))
        yield address, (user.pw_uid if user else os.getuid()), base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(not AVAILABLE, reason=f"namespaces unavailable: {WHY_NOT}")
def test_hard_coded_pfs_paths_work_for_an_unprivileged_server(unprivileged_server: tuple[str, int, Path]) -> None:
    address, uid, base = unprivileged_server
    with connect(address) as client:
        client.pfs.create_repo("in")
        client.pfs.put_files("in@master", {"/a.txt": b"hello", "/b.txt": b"world"})
        client.pps.create_pipeline({
            "pipeline": {"name": "upper"},
            "transform": {"image": "python:3.11", "cmd": ["python3", "upper.py"]},
            "input": {"pfs": {"repo": "in", "glob": "/"}},
        })
        job = client.pps.wait_job(Job(Pipeline("upper"), client.pps.list_job(pipeline="upper")[0].id))
        assert job.state == "success", job.reason
        assert client.pfs.get_file("upper@master:/a.txt") == b"HELLO"
        assert client.pfs.get_file("upper@master:/b.txt") == b"WORLD"
        assert client.pfs.get_file("upper@master:/uid") == str(uid).encode()
        logs = list(client.pps.get_logs(pipeline="upper"))
        assert [m.message for m in logs if m.user] == ["converted ['a.txt', 'b.txt']"]
        # A real /pfs, not path substitution: no fallback warning anywhere.
        master = list(client.pps.get_logs(pipeline="upper", master=True))
        assert not [m for m in master if "falling back" in m.message]
    if os.geteuid() == 0:
        assert (base / "data").stat().st_uid == uid
