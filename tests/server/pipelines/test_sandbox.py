"""The pipeline sandbox, with real processes: /pfs in a private namespace, and the fallback.

Namespace tests skip (with the reason) only where ``sandbox_available()`` is False.
Tests that need another uid run a script through ``su`` when we are root (``unprivileged.py``).
"""

from __future__ import annotations

import functools
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from pachmagic.errors import Internal
from pachmagic.server.pipelines.sandbox import (
    WRITABLE_HOME_DIRS,
    ENV_VAR,
    RunResult,
    Sandbox,
    SandboxUnavailable,
    sandbox_available,
)
from tests.server.pipelines.unprivileged import PATH, REPO, run_unprivileged, sandbox_script

AVAILABLE, WHY_NOT = sandbox_available()
needs_ns = pytest.mark.skipif(not AVAILABLE, reason=f"namespaces unavailable: {WHY_NOT}")

# A transform written as for a Pachyderm cluster: fixed /pfs paths, nothing passed in.
TRANSFORM = textwrap.dedent("""
    import os
    names = []
    for root, _dirs, files in os.walk("/pfs/in"):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), "/pfs/in")
            names.append(rel)
            with open(os.path.join(root, f)) as src, open("/pfs/out/" + rel.replace("/", "_"), "w") as dst:
                dst.write(src.read().upper())
    print(" ".join(sorted(names)))
    print("uid", os.getuid())
""")


class Collect:
    """An ``on_output`` that records (stream, line) pairs."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, stream: str, line: str) -> None:
        self.lines.append((stream, line))

    def of(self, stream: str) -> list[str]:
        return [line for s, line in self.lines if s == stream]


@pytest.fixture
def datum(tmp_path: Path) -> Callable[..., dict[str, Path]]:
    """Make host directories for one datum: ``in`` with the given files, empty ``out``."""
    count = 0

    def make(**files: str) -> dict[str, Path]:
        nonlocal count
        count += 1
        base = tmp_path / f"datum{count}"
        (base / "out").mkdir(parents=True)
        (base / "in").mkdir()
        for rel, text in files.items():
            path = base / "in" / rel.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return {"in": base / "in", "out": base / "out"}

    return make


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with Sandbox(tmp_path / "scratch") as sb:
        yield sb


@pytest.fixture
def substitute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv(ENV_VAR, "substitute")
    with Sandbox(tmp_path / "scratch") as sb:
        yield sb


def run(sb: Sandbox, cmd: list[str], *, mounts: dict[str, Path] | None = None,
        stdin: str | None = None, env: dict[str, str] | None = None, cwd: str | None = None,
        timeout: float | None = 30, cancel: threading.Event | None = None) -> tuple[RunResult, Collect]:
    out = Collect()
    result = sb.run(cmd=cmd, stdin=stdin, env={"PATH": PATH} if env is None else env, cwd=cwd,
                    mounts=mounts or {}, timeout=timeout, on_output=out, cancel=cancel)
    return result, out


def gone(pid: int) -> bool:
    """The process no longer exists (or is a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def describe(pid: int) -> str:
    """What a process is, for failure messages: its command line and state."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        status = {k: v.strip() for k, _, v in (line.partition(":") for line in Path(f"/proc/{pid}/status").read_text().splitlines())}
    except FileNotFoundError:
        return f"pid {pid} is gone"
    return f"pid {pid} {cmdline!r} state={status.get('State')} ppid={status.get('PPid')} sigcgt={status.get('SigCgt')}"


def unique_sleep() -> str:
    """A sleep duration no other process has on its command line: finds the process on the host."""
    return f"{100 + random.randrange(10**6) / 10**7:.7f}"


def host_pids_of(*markers: str) -> list[int]:
    """Live host processes whose command line holds one of ``markers`` (pids as the host sees them)."""
    found = []
    wanted = [m.encode() for m in markers]
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
                if any(m in cmdline for m in wanted) and not gone(int(name)):
                    found.append(int(name))
            except OSError:
                pass
    return found


def wait_no_process(*markers: str, within: float = 60) -> bool:
    end = time.monotonic() + within
    while host_pids_of(*markers):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def worker_pid(sb: Sandbox) -> int:
    assert sb._worker is not None  # noqa: SLF001
    return sb._worker.proc.pid  # noqa: SLF001 - the host's number (a PID namespace shows others)


def wait_gone(pid: int, within: float = 60) -> bool:
    # Generous: on a loaded two-core machine reaping can lag; a kept process never goes.
    end = time.monotonic() + within
    while not gone(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


# --- namespace mode ----------------------------------------------------------------


@needs_ns
def test_hard_coded_pfs_paths_work(sandbox: Sandbox, datum: Callable[..., dict[str, Path]]) -> None:
    assert sandbox.mode == "namespace" and sandbox.warning is None
    mounts = datum(a="alpha", sub__b="beta")
    result, out = run(sandbox, [sys.executable, "-c", TRANSFORM], mounts=mounts)
    assert result == RunResult(0), out.lines
    assert out.of("stdout") == ["a sub/b", f"uid {os.getuid()}"]
    assert (mounts["out"] / "a").read_text() == "ALPHA"
    assert (mounts["out"] / "sub_b").read_text() == "BETA"
    assert (mounts["out"] / "a").stat().st_uid == os.getuid()  # the server's uid on the host
    assert not Path("/pfs/in").exists()  # nothing leaked into the host's root


@needs_ns
def test_pfs_is_repointed_between_runs(sandbox: Sandbox, datum: Callable[..., dict[str, Path]]) -> None:
    first, second = datum(one="1"), datum(two="2")
    run(sandbox, [sys.executable, "-c", TRANSFORM], mounts=first)
    result, out = run(sandbox, [sys.executable, "-c", TRANSFORM], mounts=second)
    assert result.exit_code == 0
    assert out.of("stdout")[0] == "two"
    assert [p.name for p in first["out"].iterdir()] == ["one"]
    assert [p.name for p in second["out"].iterdir()] == ["two"]
    # Without mounts, /pfs is there but empty: nothing is left over from a datum.
    _, out = run(sandbox, ["ls", "-A", "/pfs"])
    assert out.of("stdout") == []


MOUNT_IDS = "import sys\nfor line in open('/proc/self/mountinfo'):\n    f = line.split()\n    if f[4].startswith('/pfs/'): print(f[4], f[0])\n"


@needs_ns
def test_the_same_mounts_stay_in_place_from_run_to_run(sandbox: Sandbox,
                                                       datum: Callable[..., dict[str, Path]]) -> None:
    # A job's datums reuse one slot: its view is kept (no unmount and mount per datum).
    mounts = datum(x="1")
    _, first = run(sandbox, [sys.executable, "-c", MOUNT_IDS], mounts=mounts)
    (mounts["in"] / "x").unlink()  # the engine rewrites the slot's contents between datums
    (mounts["in"] / "y").write_text("2")
    _, second = run(sandbox, [sys.executable, "-c", MOUNT_IDS + "print(sorted(__import__('os').listdir('/pfs/in')))"],
                    mounts=mounts)
    assert sorted(first.of("stdout")) == sorted(second.of("stdout")[:-1]) and len(first.of("stdout")) == 2
    assert second.of("stdout")[-1] == "['y']"
    # Kept mounts keep their modes: inputs read-only, /pfs/out writable.
    _, out = run(sandbox, ["sh", "-c", "echo z > /pfs/in/z; echo o > /pfs/out/o"], mounts=mounts)
    assert any("Read-only file system" in line for line in out.of("stderr"))
    assert not (mounts["in"] / "z").exists() and (mounts["out"] / "o").read_text() == "o\n"


@needs_ns
def test_a_slot_directory_made_again_is_mounted_afresh(sandbox: Sandbox,
                                                       datum: Callable[..., dict[str, Path]]) -> None:
    # Same host paths, new directories (a job's scratch removed, the next job's made at the
    # same path): the command must see the new ones, not the removed ones a kept mount shows.
    mounts = datum(old="1")
    run(sandbox, [sys.executable, "-c", TRANSFORM], mounts=mounts)
    for path in mounts.values():
        shutil.rmtree(path)
        path.mkdir()
    (mounts["in"] / "new").write_text("2")
    result, out = run(sandbox, [sys.executable, "-c", TRANSFORM], mounts=mounts)
    assert result.exit_code == 0, out.lines
    assert out.of("stdout")[0] == "new"
    assert [p.name for p in mounts["out"].iterdir()] == ["new"]


@needs_ns
def test_pfs_entries_are_real_directories(sandbox: Sandbox, datum: Callable[..., dict[str, Path]]) -> None:
    # Bind mounts, not symlinks: `find /pfs/in` descends and realpath stays under /pfs.
    _, out = run(sandbox, ["sh", "-c", "find /pfs/in -type f; test ! -L /pfs/out && realpath /pfs/out"],
                 mounts=datum(x="1"))
    assert out.of("stdout") == ["/pfs/in/x", "/pfs/out"]


@needs_ns
def test_host_paths_stay_visible_read_only(sandbox: Sandbox, tmp_path: Path) -> None:
    # Outside /tmp (the sandbox's /tmp is its own): the checkout, unless it lies under /tmp.
    parent = next(p for p in (REPO, Path("/var/tmp"), Path.home()) if not p.is_relative_to("/tmp"))
    host_dir = Path(tempfile.mkdtemp(prefix="pachmagic-host-", dir=parent))
    try:
        (host_dir / "host.txt").write_text("on the host")
        _, out = run(sandbox, ["sh", "-c", f"cat {host_dir}/host.txt; echo; echo x > {host_dir}/w.txt; ls -A /"])
        assert out.of("stdout")[0] == "on the host"
        assert not (host_dir / "w.txt").exists()
        assert any("Read-only file system" in line for line in out.of("stderr"))
        assert set(os.listdir("/")) | {"pfs"} == set(out.of("stdout")[1:])
    finally:
        shutil.rmtree(host_dir)


@needs_ns
def test_env_values_are_not_rewritten_in_namespace_mode(sandbox: Sandbox,
                                                        datum: Callable[..., dict[str, Path]]) -> None:
    _, out = run(sandbox, ["sh", "-c", 'echo "$in"; cat "$in/f"'], mounts=datum(f="data"),
                 env={"PATH": PATH, "in": "/pfs/in"})
    assert out.of("stdout") == ["/pfs/in", "data"]


@needs_ns
def test_concurrent_sandboxes_see_only_their_own_pfs(tmp_path: Path,
                                                      datum: Callable[..., dict[str, Path]]) -> None:
    script = "sleep 0.5; ls /pfs/in; echo done > /pfs/out/$(ls /pfs/in)"
    results: dict[str, list[str]] = {}

    def slot(name: str, mounts: dict[str, Path]) -> None:
        with Sandbox(tmp_path / f"scratch-{name}") as sb:
            for _ in range(3):
                _, out = run(sb, ["sh", "-c", script], mounts=mounts)
                results.setdefault(name, []).extend(out.of("stdout"))

    a, b = datum(fileA="a"), datum(fileB="b")
    threads = [threading.Thread(target=slot, args=(n, m)) for n, m in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"a": ["fileA"] * 3, "b": ["fileB"] * 3}
    assert [p.name for p in a["out"].iterdir()] == ["fileA"]
    assert [p.name for p in b["out"].iterdir()] == ["fileB"]


@needs_ns
def test_namespace_mode_as_unprivileged_user(datum: Callable[..., dict[str, Path]]) -> None:
    script = sandbox_script(f"""
        (base / "in").mkdir(); (base / "out").mkdir(); (base / "in" / "f.txt").write_text("hello")
        lines = []
        with m.Sandbox(base / "scratch") as sb:
            r = sb.run(cmd=[sys.executable, "-c", {TRANSFORM!r}], stdin=None,
                       env={{"PATH": {PATH!r}}}, cwd=None,
                       mounts={{"in": base / "in", "out": base / "out"}}, timeout=60,
                       on_output=lambda s, l: lines.append(l))
            mode, warning = sb.mode, sb.warning
        out = base / "out" / "f.txt"
        print(json.dumps({{"mode": mode, "warning": warning, "exit": r.exit_code, "lines": lines,
                          "uid": os.getuid(), "written": out.read_text(), "owner": out.stat().st_uid}}))
    """)
    report = run_unprivileged(script)
    assert report["uid"] != 0
    assert report["mode"] == "namespace" and report["warning"] is None
    assert report["exit"] == 0 and report["lines"] == ["f.txt", f"uid {report['uid']}"]
    assert report["written"] == "HELLO" and report["owner"] == report["uid"]


# --- isolation (#15 items 7 and 9) ----------------------------------------------------


@needs_ns
def test_the_data_directory_is_invisible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    data = tmp_path / "data"
    (data / "packs").mkdir(parents=True)
    (data / "pfs.sqlite").write_text("the store")
    with Sandbox(data / "scratch" / "box", hidden=[data]) as sb:
        # From the data directory's parent as working directory (a workdir holding the data dir).
        script = f"ls -A {data}; cat {data}/pfs.sqlite; touch {data}/x; echo done"
        for cwd in (None, str(tmp_path)):
            result, out = run(sb, ["sh", "-c", script], cwd=cwd)
            assert out.of("stdout") == ["done"], cwd
            assert not (data / "x").exists()
            assert "the store" not in " ".join(out.of("stdout") + out.of("stderr"))


@needs_ns
def test_tmp_is_private_to_each_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    name = f"pachmagic-private-{os.getpid()}-{random.randrange(10**9)}"
    with Sandbox(tmp_path / "a") as a, Sandbox(tmp_path / "b") as b:
        assert run(a, ["sh", "-c", f"echo mine > /tmp/{name}; cat /tmp/{name}"])[1].of("stdout") == ["mine"]
        assert run(a, ["cat", f"/tmp/{name}"])[1].of("stdout") == ["mine"]  # kept for the worker's life
        assert run(b, ["sh", "-c", f"cat /tmp/{name} 2>/dev/null || echo absent"])[1].of("stdout") == ["absent"]
    assert not Path("/tmp", name).exists()


@needs_ns
def test_only_pfs_out_and_tmp_are_writable(sandbox: Sandbox, datum: Callable[..., dict[str, Path]]) -> None:
    d = datum(f="x")
    script = ("for p in /pfs/out/w /tmp/w /pfs/in/w /usr/w /w; do "
              "if touch $p 2>/dev/null; then echo $p yes; else echo $p no; fi; done")
    assert run(sandbox, ["sh", "-c", script], mounts=d)[1].of("stdout") == [
        "/pfs/out/w yes", "/tmp/w yes", "/pfs/in/w no", "/usr/w no", "/w no"]
    assert [p.name for p in d["in"].iterdir()] == ["f"]


@needs_ns
def test_other_processes_are_invisible(sandbox: Sandbox) -> None:
    script = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"
    lines = [line for line in run(sandbox, ["sh", "-c", script])[1].of("stdout") if line.strip()]
    # Only the worker (its namespace's init) and this command: not the server, not other workers.
    assert lines and all("_nsworker.py" in line or line.startswith(("sh -c", "tr ")) for line in lines), lines
    assert sum("_nsworker.py" in line for line in lines) == 1


@needs_ns
def test_the_server_cannot_be_signalled(sandbox: Sandbox) -> None:
    marker = unique_sleep()
    victim = subprocess.Popen(["sleep", marker])  # a process of the server's, as the server itself
    try:
        out = run(sandbox, ["sh", "-c", f"kill -9 {victim.pid} 2>/dev/null; echo tried"])[1]
        assert out.of("stdout") == ["tried"]
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_background_processes_end_with_the_datum(any_sandbox: Sandbox) -> None:
    plain, detached = unique_sleep(), unique_sleep()
    result, _ = run(any_sandbox, ["sh", "-c", f"sleep {plain} & (setsid sleep {detached} &); echo started"])
    assert result.exit_code == 0
    assert wait_no_process(plain), "a background child outlived its datum"
    if any_sandbox.mode == "namespace":  # setsid leaves the process group, not the PID namespace
        assert wait_no_process(detached), "a detached child outlived its datum"
    else:
        for pid in host_pids_of(detached):
            os.kill(pid, signal.SIGKILL)


def test_isolation_the_os_refuses_is_reported(sandbox: Sandbox) -> None:
    """Where a namespace is refused, ``warning`` says which (the job logs and ``pachmagic version`` show it)."""
    assert sandbox.warning is None or sandbox.warning.startswith("pipeline sandbox: ")


# --- running commands (both modes) ---------------------------------------------------

MODES = ["sandbox", "substitute"]


@pytest.fixture(params=MODES)
def any_sandbox(request: pytest.FixtureRequest) -> Sandbox:
    if request.param == "sandbox" and not AVAILABLE:
        pytest.skip(f"namespaces unavailable: {WHY_NOT}")
    sb: Sandbox = request.getfixturevalue(request.param)
    return sb


def test_output_lines_arrive_per_stream_in_order(any_sandbox: Sandbox) -> None:
    script = ("import sys\n"
              "for i in range(3):\n"
              "    print('out', i, flush=True); print('err', i, file=sys.stderr, flush=True)\n"
              "sys.stdout.buffer.write(b'crlf\\r\\nbad \\xff\\nno newline'); sys.stdout.flush()\n")
    result, out = run(any_sandbox, [sys.executable, "-c", script])
    assert result.exit_code == 0
    assert out.of("stdout") == ["out 0", "out 1", "out 2", "crlf", "bad \ufffd", "no newline"]
    assert out.of("stderr") == ["err 0", "err 1", "err 2"]


def test_exit_codes(any_sandbox: Sandbox) -> None:
    assert run(any_sandbox, ["true"])[0] == RunResult(0)
    assert run(any_sandbox, ["sh", "-c", "exit 3"])[0] == RunResult(3)
    assert run(any_sandbox, ["sh", "-c", "kill -TERM $$"])[0] == RunResult(-signal.SIGTERM)


def test_missing_command_reports_127(any_sandbox: Sandbox) -> None:
    result, out = run(any_sandbox, ["no-such-command-pachmagic"])
    assert result == RunResult(127)
    assert "no-such-command-pachmagic" in out.of("stderr")[0]
    assert run(any_sandbox, ["true"])[0] == RunResult(0)  # and the sandbox carries on


def test_timeout_kills_the_process_group(any_sandbox: Sandbox) -> None:
    # SIGKILL as the result proves the kill (a sleep that ran out would exit 0).
    marker = unique_sleep()
    result, out = run(any_sandbox, ["sh", "-c", f"sleep {marker} & sleep 100"], timeout=0.5)
    assert result == RunResult(-signal.SIGKILL, timed_out=True)
    assert wait_no_process(marker)  # the background child went too


def test_cancel_kills_the_command(any_sandbox: Sandbox) -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    result, _ = run(any_sandbox, ["sleep", "100"], cancel=cancel, timeout=None)
    assert result == RunResult(-signal.SIGKILL, timed_out=False)


def test_cancel_set_before_the_run(any_sandbox: Sandbox) -> None:
    cancel = threading.Event()
    cancel.set()
    result, _ = run(any_sandbox, ["sleep", "100"], cancel=cancel, timeout=None)
    assert result == RunResult(-signal.SIGKILL)


def test_stdin_is_delivered_then_closed(any_sandbox: Sandbox) -> None:
    _, out = run(any_sandbox, ["cat"], stdin="first\nsecond\n")
    assert out.of("stdout") == ["first", "second"]
    big = "x" * 1_000_000  # more than a pipe holds: written as the command reads
    _, out = run(any_sandbox, ["wc", "-c"], stdin=big)
    assert out.of("stdout") == ["1000000"]
    assert run(any_sandbox, ["true"], stdin=big)[0] == RunResult(0)  # broken pipe ignored
    _, out = run(any_sandbox, ["wc", "-c"], stdin=None)
    assert out.of("stdout") == ["0"]


def test_env_is_exactly_what_was_given(any_sandbox: Sandbox) -> None:
    _, out = run(any_sandbox, ["env"], env={"PATH": PATH, "PACH_JOB_ID": "abc", "EMPTY": ""})
    # (and, where the host is read-only, per-user config and caches in the worker's /tmp)
    extra = [f"{k}={v}" for k, v in WRITABLE_HOME_DIRS.items()] if any_sandbox.mode == "namespace" else []
    assert sorted(out.of("stdout")) == sorted(["EMPTY=", "PACH_JOB_ID=abc", f"PATH={PATH}", *extra])
    _, out = run(any_sandbox, ["env"], env={"PATH": PATH, "XDG_CACHE_HOME": "/x"})
    assert "XDG_CACHE_HOME=/x" in out.of("stdout")


def test_the_command_holds_only_its_stdio_with_default_signals(any_sandbox: Sandbox) -> None:
    # Nothing of the worker's (its control socket, the pipes as they arrived) reaches the
    # command, and what Python ignores (SIGPIPE, SIGXFSZ) is the default again for it.
    listing = "import os\nfor fd in range(3, 1024):\n    try:\n        print(fd, os.readlink(f'/proc/self/fd/{fd}'))\n    except OSError:\n        pass\n"
    result, out = run(any_sandbox, [sys.executable, "-I", "-S", "-c", listing])
    assert result == RunResult(0) and out.lines == []
    _, out = run(any_sandbox, ["grep", "^SigIgn", "/proc/self/status"])
    # (Signals 1-31; glibc's posix_spawn leaves its own 32 and 33 ignored, and a program's
    # glibc installs its handlers for them where it uses them.)
    assert out.of("stdout")[0].startswith("SigIgn:") and int(out.of("stdout")[0].split()[1], 16) & 0x7FFFFFFF == 0
    _, out = run(any_sandbox, ["sh", "-c", "yes | head -n 1"])
    assert out.lines == [("stdout", "y")]  # yes ended on SIGPIPE, no "Broken pipe" message


def test_path_lookup_passes_over_what_cannot_run(any_sandbox: Sandbox, tmp_path: Path) -> None:
    # As a shell and Popen: a name not executable in one PATH directory is taken from the next;
    # found only where it cannot run, it exits 126 with the reason (127 is "not found").
    for where, mode in (("first", 0o644), ("second", 0o755)):
        (tmp_path / where).mkdir()
        (tmp_path / where / "tool").write_text(f"#!/bin/sh\necho {where}\n")
        (tmp_path / where / "tool").chmod(mode)
    _, out = run(any_sandbox, ["tool"], env={"PATH": f"{tmp_path}/missing:{tmp_path}/first:{tmp_path}/second:{PATH}"})
    assert out.of("stdout") == ["second"]
    result, out = run(any_sandbox, ["tool"], env={"PATH": f"{tmp_path}/first:{PATH}"})
    assert result == RunResult(126)
    assert "Permission denied" in out.of("stderr")[0] and "'tool'" in out.of("stderr")[0]


def test_cwd_and_relative_command_paths(any_sandbox: Sandbox, tmp_path: Path) -> None:
    tool = tmp_path / "code" / "bin" / "tool.sh"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho tool ran in $(pwd)\n")
    tool.chmod(0o755)
    code = str(tmp_path / "code")
    assert run(any_sandbox, ["pwd"], cwd=code)[1].of("stdout") == [code]
    assert run(any_sandbox, ["./bin/tool.sh"], cwd=code)[1].of("stdout") == [f"tool ran in {code}"]
    assert run(any_sandbox, ["bin/tool.sh"], cwd=code)[1].of("stdout") == [f"tool ran in {code}"]
    # A bare name is looked up on the given PATH, not the server's.
    _, out = run(any_sandbox, ["tool.sh"], env={"PATH": f"{tool.parent}:{PATH}"})
    assert out.of("stdout") == [f"tool ran in {os.getcwd()}"]


@needs_ns
def test_a_virtualenv_under_tmp_on_path_is_whole(sandbox: Sandbox) -> None:
    # A checkout with its .venv under /tmp runs its pipelines with that venv's python:
    # the sandbox's own /tmp must not leave it its bin/ and hide its site-packages.
    env_dir = Path(tempfile.mkdtemp(prefix="pachmagic-venv-", dir="/tmp"))
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
        site = next(env_dir.glob("lib/python*/site-packages"))
        (site / "only_in_this_env.py").write_text("WHERE = 'in the venv'\n")
        _, out = run(sandbox, ["python3", "-c", "import only_in_this_env as m; print(m.WHERE)"],
                     env={"PATH": f"{env_dir}/bin:{PATH}"})
        assert out.of("stdout") == ["in the venv"], out.of("stderr")
    finally:
        shutil.rmtree(env_dir)


def test_a_raising_callback_leaves_the_sandbox_usable(any_sandbox: Sandbox) -> None:
    def boom(stream: str, line: str) -> None:
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        any_sandbox.run(cmd=["sh", "-c", "echo hi; sleep 100"], stdin=None, env={"PATH": PATH},
                        cwd=None, mounts={}, timeout=30, on_output=boom)
    assert run(any_sandbox, ["echo", "again"])[1].of("stdout") == ["again"]


def test_a_dead_worker_is_replaced(any_sandbox: Sandbox) -> None:
    run(any_sandbox, ["true"])
    worker = worker_pid(any_sandbox)
    os.kill(worker, signal.SIGKILL)
    assert wait_gone(worker)
    assert run(any_sandbox, ["echo", "again"])[1].of("stdout") == ["again"]
    assert worker_pid(any_sandbox) != worker


def test_bad_mount_names_are_refused(any_sandbox: Sandbox, tmp_path: Path) -> None:
    for name in ("a/b", "..", ""):
        with pytest.raises(ValueError):
            run(any_sandbox, ["true"], mounts={name: tmp_path})


def test_sandbox_made_in_a_finished_thread_keeps_working(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # PDEATHSIG fires when the *thread* that started the worker exits; the worker
    # must tell that apart from the server process dying.
    monkeypatch.delenv(ENV_VAR, raising=False)
    made: list[Sandbox] = []
    t = threading.Thread(target=lambda: made.append(Sandbox(tmp_path / "scratch")))
    t.start()
    t.join()
    with made[0] as sb:
        time.sleep(0.2)
        assert run(sb, ["echo", "alive"])[1].of("stdout") == ["alive"]


def test_worker_and_command_die_with_the_server(tmp_path: Path) -> None:
    marker = unique_sleep()
    # The detached child says "started" itself, once its command line (with the marker) is
    # there for good: a shell's echo raced that child's execs (setsid, then sleep), while which
    # /proc/<pid>/cmdline reads empty.
    child = f"import time; print('started', flush=True); time.sleep({marker})"
    cmd = ["sh", "-c", f"(setsid {shlex.quote(sys.executable)} -c {shlex.quote(child)} &); exec sleep 100"]
    script = textwrap.dedent(f"""
        import sys, threading
        from pathlib import Path
        from pachmagic.server.pipelines.sandbox import Sandbox
        sb = Sandbox(Path(sys.argv[1]))
        print(sb._worker.proc.pid, flush=True)
        sb.run(cmd={cmd!r}, stdin=None,
               env={{"PATH": "/usr/bin:/bin"}}, cwd=None, mounts={{}}, timeout=None,
               on_output=lambda s, l: print(l, flush=True))
    """)
    server = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "scratch")],
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                  filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))})
    assert server.stdout is not None
    worker = int(server.stdout.readline())
    assert server.stdout.readline().strip() == "started"
    assert host_pids_of(marker)
    server.kill()
    server.wait()
    assert wait_gone(worker), f"the worker outlived the server: {describe(worker)}"
    assert wait_no_process(marker), "a command's detached child outlived the server"


def test_close_stops_the_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    sb = Sandbox(tmp_path / "scratch")
    run(sb, ["true"])
    assert sb._worker is not None
    worker = sb._worker.proc.pid  # noqa: SLF001 - (in a PID namespace the command sees other numbers)
    sb.close()
    assert wait_gone(worker)
    assert list((tmp_path / "scratch").iterdir()) == []


# --- substitution ---------------------------------------------------------------------


def test_substitute_rewrites_cmd_stdin_env_and_cwd(substitute: Sandbox,
                                                    datum: Callable[..., dict[str, Path]]) -> None:
    assert substitute.mode == "substitute"
    assert substitute.warning is not None and ENV_VAR in substitute.warning
    mounts = datum(f="content")
    script = textwrap.dedent("""
        import os, sys
        src = sys.argv[1]
        print(src); print(os.environ["in"]); print(os.getcwd()); print(sys.stdin.read().strip())
        with open(src) as f, open(os.path.join(sys.argv[2], "g"), "w") as g:
            g.write(f.read())
    """)
    result, out = run(substitute, [sys.executable, "-c", script, "/pfs/in/f", "/pfs/out"],
                      mounts=mounts, stdin="/pfs/in and /pfs/out", cwd="/pfs/in",
                      env={"PATH": PATH, "in": "/pfs/in", "other": "/data/pfs/in"})
    assert result.exit_code == 0, out.lines
    assert out.of("stdout") == [str(mounts["in"] / "f"), str(mounts["in"]), str(mounts["in"]),
                                f"{mounts['in']} and {mounts['out']}"]
    assert (mounts["out"] / "g").read_text() == "content"


def test_substitute_only_whole_path_components(substitute: Sandbox, tmp_path: Path) -> None:
    # Inputs in unrelated places: each /pfs/<name> maps on its own.
    mounts = {"in": tmp_path / "x" / "one", "in2": tmp_path / "y" / "two", "out": tmp_path / "o"}
    args = ["/pfs/in/a", "/pfs/in2/b", "/pfs/input", "/data/pfs/in", "--to=/pfs/out", "/pfs/in"]
    _, out = run(substitute, ["printf", "%s\\n", *args], mounts=mounts)
    assert out.of("stdout") == [f"{tmp_path}/x/one/a", f"{tmp_path}/y/two/b", "/pfs/input",
                                "/data/pfs/in", f"--to={tmp_path}/o", f"{tmp_path}/x/one"]


def test_explicit_namespace_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "namespace")
    if not AVAILABLE:
        with pytest.raises(SandboxUnavailable):
            Sandbox(tmp_path / "scratch")
        return
    with Sandbox(tmp_path / "scratch") as sb:
        assert sb.mode == "namespace"


def test_bad_mode_setting_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "chroot")
    with pytest.raises(ValueError, match=ENV_VAR):
        Sandbox(tmp_path / "scratch")


def test_falls_back_when_user_namespaces_are_refused() -> None:
    """A real refusal: an unprivileged user in a user namespace whose limit is 0."""
    if os.geteuid() != 0:
        pytest.skip("setting up a user namespace with max_user_namespaces=0 needs root")
    script = sandbox_script(f"""
        (base / "in").mkdir(); (base / "in" / "f").write_text("x")
        lines = []
        with m.Sandbox(base / "scratch") as sb:
            r = sb.run(cmd=["cat", "/pfs/in/f"], stdin=None, env={{"PATH": {PATH!r}}}, cwd=None,
                       mounts={{"in": base / "in"}}, timeout=60, on_output=lambda s, l: lines.append(l))
            mode, warning = sb.mode, sb.warning
        os.environ[m.ENV_VAR] = "namespace"
        try:
            m.Sandbox(base / "scratch2")
            required = "no error"
        except m.SandboxUnavailable as e:
            required = str(e)
        print(json.dumps({{"available": m.sandbox_available(), "mode": mode, "warning": warning,
                          "lines": lines, "required": required}}))
    """)
    report = run_unprivileged(script, deny_userns=True)
    assert report["available"][0] is False and report["available"][1]
    assert report["mode"] == "substitute" and report["lines"] == ["x"]
    assert "falling back to path substitution" in report["warning"]
    assert report["required"].startswith(f"{ENV_VAR}=namespace, but")


def test_a_killed_worker_takes_its_command_along(any_sandbox: Sandbox) -> None:
    """SIGKILL gives the worker no chance to kill its command (its own session): the
    kernel does (the worker's PID namespace ends with it), or else the server, which
    learnt the command's pid at its start."""
    marker = unique_sleep()
    started = threading.Event()
    errors: list[BaseException] = []

    # "started" must come from the process holding the marker once its command line is there
    # for good. (A shell's "echo started; exec sleep" raced its exec: while the kernel builds
    # the new image, /proc/<pid>/cmdline of the live process reads empty.)
    script = f"import time; print('started', flush=True); time.sleep({marker})"

    def run_long() -> None:
        try:
            any_sandbox.run(cmd=[sys.executable, "-c", script], stdin=None, env={"PATH": PATH},
                            cwd=None, mounts={}, timeout=60, on_output=lambda s, l: started.set())
        except BaseException as err:  # noqa: BLE001 - looked at below
            errors.append(err)

    run(any_sandbox, ["true"])
    worker = worker_pid(any_sandbox)
    runner = threading.Thread(target=run_long)
    runner.start()
    assert started.wait(30)
    assert host_pids_of(marker)
    os.kill(worker, signal.SIGKILL)
    runner.join(60)
    assert not runner.is_alive()
    assert [type(e).__name__ for e in errors] == ["Internal"]
    assert wait_no_process(marker), "the command outlived its worker"
    assert run(any_sandbox, ["echo", "again"])[1].of("stdout") == ["again"]  # a new worker serves


def test_a_worker_killed_as_it_starts_a_command_takes_it_along(any_sandbox: Sandbox) -> None:
    """The worker dies while it forks the command, before anything could tell the server its pid.

    Random moments just after the request is sent: in plain mode ~1 in 4 of them fell between
    the fork and the death signal being set (which covers only deaths after it), and the
    command lived on, with init as its parent.
    """
    def kill_soon(worker: int, delay: float) -> None:  # on the server's thread, once the request is sent
        until = time.perf_counter() + delay
        while time.perf_counter() < until:
            pass
        os.kill(worker, signal.SIGKILL)

    markers: list[str] = []
    for _ in range(20):
        run(any_sandbox, ["true"])
        kill = functools.partial(kill_soon, worker_pid(any_sandbox), random.uniform(0, 0.003))
        markers.append(unique_sleep())
        with pytest.raises(Internal):
            any_sandbox.run(cmd=["sleep", markers[-1]], stdin=None, env={"PATH": PATH}, cwd=None, mounts={},
                            timeout=60, on_output=lambda s, l: None, while_running=kill)
    # Looked for only now: a command caught before its exec does not show its marker yet.
    if not wait_no_process(*markers):
        left = [describe(pid) for pid in host_pids_of(*markers)]
        for pid in host_pids_of(*markers):
            os.kill(pid, signal.SIGKILL)
        pytest.fail(f"commands outlived their worker: {left}")


def test_a_worker_killed_at_the_first_output_takes_the_whole_command_along(any_sandbox: Sandbox) -> None:
    """Outside a PID namespace the server kills the command's process group: it must know it
    before the command can start another process (in ~1 in 40 of these runs it did not: the
    worker told it only once back from the fork, and the background sleep lived on)."""
    markers: list[str] = []
    for _ in range(40):
        run(any_sandbox, ["true"])
        worker = worker_pid(any_sandbox)
        markers.append(unique_sleep())
        with pytest.raises(Internal):
            any_sandbox.run(cmd=["sh", "-c", f"sleep {markers[-1]} & echo started; wait"], stdin=None,
                            env={"PATH": PATH}, cwd=None, mounts={}, timeout=60,
                            on_output=lambda s, l, w=worker: os.kill(w, signal.SIGKILL))
    if not wait_no_process(*markers):
        left = [describe(pid) for pid in host_pids_of(*markers)]
        for pid in host_pids_of(*markers):
            os.kill(pid, signal.SIGKILL)
        pytest.fail(f"background children outlived their worker: {left}")
