"""Run a sandbox script as an unprivileged user, for the sandbox tests (not a test module).

- ``sandbox_script(body)``: a self-contained Python script that loads the sandbox
  module by path (as ``m``: it needs only the standard library, and the package's
  own ``__init__`` may need dependencies another interpreter lacks), then runs
  ``body``, which prints one JSON line.
- ``run_unprivileged(script, deny_userns=False)``: runs it as user ``pmtest`` when
  we are root (through ``su``; with ``deny_userns`` in a user namespace whose limit
  on nested ones is 0), as ourselves otherwise; returns the JSON it printed.

Skips (saying why) where no such user or no usable Python can be had. It must not
hold assertions about the sandbox: the tests that use it do.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
UNPRIVILEGED = "pmtest"
PATH = "/usr/local/bin:/usr/bin:/bin"

_PROLOGUE = textwrap.dedent(f"""
    import importlib.util, json, os, sys
    from pathlib import Path

    def load(name, rel):
        spec = importlib.util.spec_from_file_location(name, {str(REPO)!r} + "/" + rel)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    load("pachmagic.errors", "pachmagic/errors.py")
    load("pachmagic.pachyderm.paths", "pachmagic/pachyderm/paths.py")  # the /pfs rules (standard library only)
    m = load("pachmagic.server.pipelines.sandbox", "pachmagic/server/pipelines/sandbox.py")
    base = Path(sys.argv[1])  # a fresh directory the user owns
""")


def sandbox_script(body: str) -> str:
    """The prologue above (``m``: the sandbox module, ``base``: a directory), then ``body`` (dedented)."""
    return _PROLOGUE + textwrap.dedent(body)


# Run as root inside a fresh user namespace that maps uids 0-65535 one to one, so the
# limit on nested user namespaces can be set to 0, then drop to the target uid.
DENY_USERNS = textwrap.dedent("""
    import ctypes, os, sys
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = int(sys.argv[1]), int(sys.argv[2])
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        if libc.unshare(0x10000000) != 0:
            os._exit(90)
        os.write(ready_w, b"x")
        os.read(go_r, 1)
        os.setgroups([])
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0")
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        os.execv(sys.argv[3], sys.argv[3:])
    os.read(ready_r, 1)
    for kind in ("uid", "gid"):
        with open(f"/proc/{pid}/{kind}_map", "w") as f:
            f.write("0 0 65536\\n")
    os.write(go_w, b"x")
    sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
""")


def run_unprivileged(script: str, deny_userns: bool = False) -> dict[str, Any]:
    """Run ``script`` (printing one JSON line) as a non-root user; return what it printed."""
    if os.geteuid() != 0:
        if deny_userns:
            pytest.skip("needs root")
        # We already are unprivileged: run it as ourselves.
        base = Path(tempfile.mkdtemp(prefix="pachmagic-sandbox-test-"))
        try:
            proc = subprocess.run([sys.executable, "-c", script, str(base)],
                                  capture_output=True, text=True, timeout=120)
        finally:
            shutil.rmtree(base, ignore_errors=True)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]
    try:
        user = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        pytest.skip(f"running as root and there is no user {UNPRIVILEGED!r} to switch to")
    python = _python_for(user.pw_name)
    if python is None:
        pytest.skip(f"no Python >= 3.10 that user {UNPRIVILEGED!r} may execute")
    # A directory the user can reach: pytest's tmp_path lives under root's 0700 dir.
    base = Path(tempfile.mkdtemp(prefix="pachmagic-sandbox-test-", dir="/tmp"))
    try:
        os.chown(base, user.pw_uid, user.pw_gid)
        (base / "script.py").write_text(script)
        argv = [python, str(base / "script.py"), str(base)]
        if deny_userns:
            (base / "deny.py").write_text(DENY_USERNS)
            argv = [sys.executable, str(base / "deny.py"), str(user.pw_uid), str(user.pw_gid), *argv]
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                                  env={"PATH": PATH}, cwd=base)
        else:
            proc = subprocess.run(["su", user.pw_name, "-s", "/bin/sh", "-c", shlex.join(argv)],
                                  capture_output=True, text=True, timeout=120, cwd=base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _python_for(user: str) -> str | None:
    for candidate in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if not candidate:
            continue
        check = subprocess.run(
            ["su", user, "-s", "/bin/sh", "-c",
             f"{shlex.quote(candidate)} -c 'import sys; assert sys.version_info >= (3, 10)'"],
            capture_output=True)
        if check.returncode == 0:
            return candidate
    return None
