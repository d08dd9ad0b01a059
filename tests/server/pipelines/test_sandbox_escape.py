"""A transform that tries to take its sandbox apart, above all when the server runs as root.

Root's transforms run as uid 0 (as in a Pachyderm container) in the server's user
namespace: before #15's follow-up they held CAP_SYS_ADMIN there and could unmount the
empty tmpfs over the data directory, unmount the private ``/tmp`` (uncovering the host's,
writable), or remount the host read-write, and so read or corrupt the store. The
hostile transform below tries all of that, directly and from a mount namespace of its
own, then reads and overwrites what it can of the data directory and writes the host.
Nothing of it may work; the store stays intact (fsck clean, its files byte for byte).
The same tests run as any user; run as root (as CI does) they are the ones that matter.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pachmagic.server.pipelines.sandbox import ENV_VAR, Sandbox, sandbox_available
from pachmagic.server.pipelines.states import JobState
from pachmagic.server.storage.fsck import fsck_data_dir
from tests.server.pipelines.harness import PY, Harness, pfs, spec
from tests.server.pipelines.unprivileged import PATH, run_unprivileged, sandbox_script

AVAILABLE, WHY_NOT = sandbox_available()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"namespaces unavailable: {WHY_NOT}")

# argv: <data dir> <a host directory> <"direct" | "unshare">. Prints one JSON object:
# the mount calls that succeeded, what it read of the data directory, what it wrote.
ESCAPE = textwrap.dedent(r"""
    import ctypes, json, os, sys
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    MS_RDONLY, MS_REMOUNT, MS_BIND, MNT_DETACH = 0x1, 0x20, 0x1000, 2
    CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
    data, host, how = sys.argv[1:4]
    report = {"mounts": [], "read": [], "wrote": [], "errors": []}

    known = []

    def points():  # the mount points (the last list seen once /proc itself is unmounted)
        try:
            with open("/proc/self/mountinfo") as f:
                known[:] = [line.split()[4].encode().decode("unicode_escape") for line in f]
        except OSError:
            pass
        return list(known)

    def attempt(what, result):
        if result == 0:
            report["mounts"].append(what)

    if how == "unshare":
        uid, gid = os.getuid(), os.getgid()
        # A mount namespace of its own (root needs no user namespace for that) ...
        if libc.unshare(CLONE_NEWNS) == 0:
            report["mounts"].append("unshare mount namespace")
        # ... else one under a user namespace of its own, where it holds every capability.
        elif libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0:
            report["mounts"].append("unshare user+mount namespace")
            for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
                try:
                    with open("/proc/self/" + name, "w") as f:
                        f.write(text)
                except OSError as e:
                    report["errors"].append(f"{name}: {e}")
    def probe(stage):
        # read and overwrite what shows of the data directory; plant files in it and on the host
        for top in (data, "/tmp/peek/" + os.path.basename(data)):
            for root, _dirs, files in os.walk(top):
                for name in files:
                    path = os.path.join(root, name)
                    try:
                        with open(path, "rb") as f:
                            report["read"].append([stage, path, f.read(64).decode("latin-1")])
                        with open(path, "r+b") as f:
                            f.write(b"corrupted by a transform")
                        report["wrote"].append([stage, path])
                    except OSError as e:
                        report["errors"].append(f"{stage} {path}: {e}")
        for target in (os.path.join(data, "planted"), os.path.join(host, "planted")):
            try:
                with open(target, "w") as f:
                    f.write("x")
                report["wrote"].append([stage, target])
            except OSError as e:
                report["errors"].append(f"{stage} {target}: {e}")

    # mount -o remount,rw on every mount
    for point in reversed(points()):
        attempt("remount,rw " + point, libc.mount(None, point.encode(), None, MS_REMOUNT | MS_BIND, None))
        attempt("remount,rw(fs) " + point, libc.mount(None, point.encode(), None, MS_REMOUNT, None))
    probe("remount")
    # a non-recursive bind of the data directory's parent shows what lies under its mounts
    os.makedirs("/tmp/peek", exist_ok=True)
    attempt("bind " + os.path.dirname(data), libc.mount(os.path.dirname(data).encode(), b"/tmp/peek", None, MS_BIND, None))
    probe("bind")
    # umount the data directory's cover, then the private /tmp (the host's lies under it)
    attempt("umount " + data, libc.umount2(data.encode(), MNT_DETACH))
    probe("umount data")
    attempt("umount /tmp", libc.umount2(b"/tmp", MNT_DETACH))
    probe("umount /tmp")
    # then everything, deepest first
    for _ in range(3):
        for point in reversed(points()):
            if point != "/":
                attempt("umount " + point, libc.umount2(point.encode(), MNT_DETACH))
    probe("umount all")
    print(json.dumps(report))
""")


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("how", ["direct", "unshare"])
def test_a_transform_cannot_undo_its_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    data = tmp_path / "data"
    (data / "packs").mkdir(parents=True)
    (data / "pfs.sqlite").write_text("the store")
    (data / "packs" / "0001.pack").write_bytes(b"pack bytes")
    before = snapshot(data)
    lines: list[tuple[str, str]] = []
    with Sandbox(tmp_path / "box", hidden=[data]) as sb:
        assert sb.mode == "namespace" and sb.warning is None, sb.warning
        # From the data directory's parent as working directory: bound (read-only) into the
        # view, with the data directory hidden under it; the rest of /tmp is the sandbox's own.
        result = sb.run(cmd=[sys.executable, "-c", ESCAPE, str(data), str(tmp_path), how], stdin=None,
                        env={"PATH": PATH}, cwd=str(tmp_path), mounts={}, timeout=60,
                        on_output=lambda stream, line: lines.append((stream, line)))
    stdout = [line for stream, line in lines if stream == "stdout"]
    assert result.exit_code == 0 and stdout, lines
    report: dict[str, Any] = json.loads(stdout[-1])
    assert report["read"] == [] and report["wrote"] == [], report
    if how == "direct":  # not one mount call was allowed (it may unshare: in a namespace of its own, all is locked)
        assert report["mounts"] == [], report
    assert snapshot(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box", "data"]


def test_a_root_servers_transforms_hold_no_mount_privileges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the transform holds: uid as the server's, no CAP_SYS_ADMIN (or any capability
    but a container's defaults), no_new_privs, and capabilities it cannot regain by exec."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    script = ("import os\n"
              "status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n"
              "print(os.getuid(), *(status[k].strip() for k in ('CapEff', 'CapPrm', 'CapBnd', 'CapAmb', 'NoNewPrivs')))\n")
    lines: list[str] = []
    with Sandbox(tmp_path / "box") as sb:
        result = sb.run(cmd=[sys.executable, "-c", script], stdin=None, env={"PATH": PATH}, cwd=None, mounts={},
                        timeout=60, on_output=lambda stream, line: lines.append(line))
    assert result.exit_code == 0, lines
    uid, eff, prm, bnd, amb, nnp = lines[0].split()
    assert int(uid) == os.getuid()
    cap_sys_admin, cap_sys_ptrace, cap_dac_read_search, cap_mknod = 1 << 21, 1 << 19, 1 << 2, 1 << 27
    for name, mask in (("CapEff", eff), ("CapPrm", prm), ("CapBnd", bnd)):
        held = int(mask, 16)
        assert not held & (cap_sys_admin | cap_sys_ptrace | cap_dac_read_search | cap_mknod), (name, mask)
    assert int(amb, 16) == 0 and nnp == "1"


def run_script(tmp_path: Path, script: str) -> list[str]:
    """Run a Python script as a transform; its stdout lines (it must succeed)."""
    lines: list[tuple[str, str]] = []
    with Sandbox(tmp_path / "box") as sb:
        assert sb.mode == "namespace" and sb.warning is None, sb.warning
        result = sb.run(cmd=[sys.executable, "-c", script], stdin=None, env={"PATH": PATH}, cwd=None, mounts={},
                        timeout=60, on_output=lambda stream, line: lines.append((stream, line)))
    assert result.exit_code == 0, lines
    return [line for stream, line in lines if stream == "stdout"]


def test_dev_holds_no_host_disks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A device node ignores a read-only mount: the host's /dev would hand root its raw disks."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    script = textwrap.dedent("""
        import os, pty, stat
        devices = sorted(name for name in os.listdir("/dev")
                         if stat.S_ISBLK(os.lstat("/dev/" + name).st_mode) or stat.S_ISCHR(os.lstat("/dev/" + name).st_mode))
        print(" ".join(devices))
        with open("/dev/null", "w") as f:
            f.write("discarded")
        with open("/dev/urandom", "rb") as f:
            print(len(f.read(8)))
        _, follower = pty.openpty()
        print(os.ttyname(follower).startswith("/dev/pts/"))
    """)
    devices, random_bytes, pty_ok = run_script(tmp_path, script)
    assert devices.split() == ["full", "null", "random", "tty", "urandom", "zero"]
    assert random_bytes == "8" and pty_ok == "True"


def test_kernel_settings_in_proc_are_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uid 0 may write /proc/sys without any capability (the kernel compares uids): not here."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    script = textwrap.dedent("""
        import os
        print(all(os.statvfs(p).f_flag & os.ST_RDONLY for p in ("/proc/sys", "/proc/irq", "/proc/bus", "/proc/fs")
                  if os.path.exists(p)))
        try:
            open("/proc/sys/kernel/printk_ratelimit", "w").close()  # opened, never written
            print("writable")
        except OSError as e:
            print(e.strerror)
        print(os.path.isdir("/proc/self/fd"))  # the rest of /proc is as usual
    """)
    assert run_script(tmp_path, script) == ["True", "Read-only file system", "True"]


def test_a_hostile_pipeline_leaves_the_store_intact(pps: Harness, tmp_path: Path) -> None:
    """End to end: the engine's own sandbox, the real data directory (SQLite and packs)."""
    data = tmp_path / "data"
    pps.repo("in")
    pps.put("in", {"/a": "alpha", "/b": "beta"})
    files_before = pps.files("in")
    pps.pipeline(spec("hostile", [PY, "-c", ESCAPE + "\nprint('escaped' if report['read'] or report['wrote'] "
                                  "else 'contained', file=open('/pfs/out/verdict', 'w'))\n",
                                  str(data), str(tmp_path), "direct"],
                      pfs("in", "/"), datum_tries=1))
    job = pps.job("hostile")
    assert job.state == JobState.SUCCESS, job
    assert pps.files("hostile") == {"/verdict": b"contained\n"}
    pps.pipeline(spec("hostile2", [PY, "-c", ESCAPE, str(data), str(tmp_path), "unshare"], pfs("in", "/"),
                      datum_tries=1))
    assert pps.job("hostile2").state == JobState.SUCCESS
    assert pps.files("in") == files_before
    assert not (tmp_path / "planted").exists() and not (data / "planted").exists()
    report = fsck_data_dir(data)
    assert report.ok, list(report.lines())


def test_an_unprivileged_servers_transform_cannot_undo_its_sandbox_either() -> None:
    """The same attempts, the server run as user pmtest (its transforms in a user namespace of its own)."""
    script = sandbox_script(f"""
        data = base / "data"
        (data / "packs").mkdir(parents=True)
        (data / "pfs.sqlite").write_text("the store")
        reports, lines = [], []
        with m.Sandbox(base / "box", hidden=[data]) as sb:
            for how in ("direct", "unshare"):
                sb.run(cmd=[sys.executable, "-c", {ESCAPE!r}, str(data), str(base), how], stdin=None,
                       env={{"PATH": {PATH!r}}}, cwd=str(base), mounts={{}}, timeout=60,
                       on_output=lambda s, l: lines.append(l) if s == "stdout" else None)
                reports.append(json.loads(lines[-1]))
            warning = sb.warning
        print(json.dumps({{"reports": reports, "warning": warning, "store": (data / "pfs.sqlite").read_text(),
                          "entries": sorted(p.name for p in base.iterdir())}}))
    """)
    result = run_unprivileged(script)
    assert result["warning"] is None
    for report in result["reports"]:
        assert report["read"] == [] and report["wrote"] == [], report
    assert result["store"] == "the store"
    assert set(result["entries"]) <= {"box", "data", "script.py"}  # nothing planted (script.py: run_unprivileged's)
