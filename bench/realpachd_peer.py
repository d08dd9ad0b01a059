"""The reference pachd as a peer in the PFS benchmark: our client, both servers, one run.

A genuine pachd 2.12.2 (``tests/realpachd``: built from source where Go is
installed, with a throwaway PostgreSQL) and the embedded server each get the
same six operations through pachmagic's own client, interleaved (ours, then
pachd's, for every operation), so both see the same machine load:

* ``upload_large``: one 256 MiB file of fresh random bytes (nothing
  deduplicates), until its commit is FINISHED;
* ``download_large``: that file, streamed and dropped;
* ``small_files``: 2,000 files of 4 KiB in one commit, until FINISHED;
* ``list_file_20k``: ListFile of a directory of 20,000 files, every entry
  received;
* ``commit_latency``: one ``with client.pfs.commit(...)`` of one small file,
  until FINISHED (the client's context manager waits for it), median of 15;
* ``glob_20k``: GlobFile ``/*`` over those 20,000 files, every entry received.

And the same listing through the official clients, which use the standard
RPCs (one message per file, no extension):

* ``list_20k_pachctl`` / ``glob_20k_pachctl``: ``pachctl list file`` of that
  directory and ``pachctl glob file "/**"`` over it (when pachctl can be had,
  see ``pachctl_peers.find_pachctl``);
* ``list_20k_sdk``: pachyderm-sdk ``list_file`` of it, every entry received;
  each server's CPU time during it, per message received, is reported as
  ``server_cpu_us_per_msg`` (from ``/proc``, both servers being local processes);
* ``sdk_small_files``: pachyderm-sdk writing 300 files of 4 KiB its usual way
  (one ModifyFile call per file) in one commit.

"Until FINISHED" matters: pachd finishes commits in the background after
FinishCommit returns, so a commit is only comparable once finished on both.

Repos are ``peer-*`` on both servers. Each key ``<op>_vs_real_pachd`` is our speed ÷ pachd's (pachd's seconds ÷
ours): above 1 the embedded server is faster. Goal: at least 1 on every key.

Used from ``bench/pfs.py`` (``measure(ours_address)``), or on its own:
``python bench/realpachd_peer.py``. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # tests/realpachd holds the reference server

MiB = 1024 * 1024
BIG = 256 * MiB
SMALL_FILES, SMALL_SIZE = 2000, 4096
WIDE_FILES = 20_000
SDK_SMALL_FILES = 300  # pachd takes ~40 ms per call here: 300 keep the run short
COMMITS = 15
OPS = (
    "upload_large", "download_large", "small_files", "list_file_20k", "commit_latency", "glob_20k",
    "list_20k_pachctl", "glob_20k_pachctl", "list_20k_sdk", "sdk_small_files",
)
RATIO_KEYS = tuple(f"{op}_vs_real_pachd" for op in OPS)


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _write_random(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        for _ in range(size // (4 * MiB)):
            handle.write(os.urandom(4 * MiB))


def process_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (None when unknown)."""
    from _pfs_support import process_cpu_s as cpu_of  # next to this script, as sdk_upload

    if pid is None:
        return None
    try:
        return cpu_of(pid)
    except OSError:
        return None


class _Side:
    """One server under measurement, through pachmagic's client (and the official ones)."""

    def __init__(self, name: str, address: str, pid: int | None = None, pachctl_exe: Path | None = None,
                 work: Path | None = None) -> None:
        from pachmagic.client import connect

        self.name = name
        self.address = address
        self.pid = pid
        self.client = connect(address)
        self.seconds: dict[str, list[float]] = {op: [] for op in OPS}
        self.cpu_us_per_msg: list[float] = []
        self.pachctl: Any = None
        if pachctl_exe is not None and work is not None:
            from tests.go import pachctl_runner

            self.pachctl = pachctl_runner.Pachctl(pachctl_exe, address, work / f"pachctl-{name}", timeout=600)

    def upload_large(self, source: Path) -> None:
        c = self.client

        def run() -> None:
            with c.pfs.commit("peer-big@master") as commit:  # finished (and waited for) when the block ends
                commit.put_file_from_path("/big.bin", source)

        self.seconds["upload_large"].append(_timed(run))

    def download_large(self) -> None:
        def run() -> None:
            got = 0
            for chunk in self.client.pfs.iter_file("peer-big@master:/big.bin"):
                got += len(chunk)
            if got != BIG:
                raise RuntimeError(f"{self.name}: downloaded {got} bytes, expected {BIG}")

        self.seconds["download_large"].append(_timed(run))

    def small_files(self, files: list[tuple[str, bytes]]) -> None:
        def run() -> None:
            with self.client.pfs.commit("peer-small@master") as commit:
                commit.put_files(files)

        self.seconds["small_files"].append(_timed(run))

    def fill_wide(self) -> None:
        with self.client.pfs.commit("peer-wide@master") as commit:
            commit.put_files([(f"/f{i:05d}.txt", b"x") for i in range(WIDE_FILES)])

    def list_wide(self) -> None:
        def run() -> None:
            n = len(self.client.pfs.list_file("peer-wide@master:/"))
            if n != WIDE_FILES:
                raise RuntimeError(f"{self.name}: listed {n} files, expected {WIDE_FILES}")

        self.seconds["list_file_20k"].append(_timed(run))

    def glob_wide(self) -> None:
        def run() -> None:
            n = len(self.client.pfs.glob_file("peer-wide@master", "/*"))
            if n != WIDE_FILES:
                raise RuntimeError(f"{self.name}: globbed {n} files, expected {WIDE_FILES}")

        self.seconds["glob_20k"].append(_timed(run))

    def list_wide_pachctl(self) -> None:
        def run() -> None:
            lines = self.pachctl.run("list", "file", "peer-wide@master:/").lines
            if len(lines) != WIDE_FILES + 1:  # a header, then one line per file
                raise RuntimeError(f"{self.name}: pachctl listed {len(lines) - 1} files, expected {WIDE_FILES}")

        if self.pachctl is not None:
            self.seconds["list_20k_pachctl"].append(_timed(run))

    def glob_wide_pachctl(self) -> None:
        def run() -> None:
            lines = self.pachctl.run("glob", "file", "peer-wide@master:/**").lines
            if len(lines) < WIDE_FILES + 1:
                raise RuntimeError(f"{self.name}: pachctl globbed {len(lines) - 1} files, expected {WIDE_FILES}")

        if self.pachctl is not None:
            self.seconds["glob_20k_pachctl"].append(_timed(run))

    def list_wide_sdk(self) -> None:
        from pachyderm_sdk import Client
        from pachyderm_sdk.api import pfs

        host, port = self.address.rsplit(":", 1)
        sdk = Client(host=host, port=int(port))
        try:
            before = process_cpu_s(self.pid)
            start = time.perf_counter()
            n = sum(1 for _ in sdk.pfs.list_file(file=pfs.File.from_uri("peer-wide@master:/")))
            self.seconds["list_20k_sdk"].append(time.perf_counter() - start)
            after = process_cpu_s(self.pid)
        finally:
            sdk._channel.close()  # noqa: SLF001 - the SDK has no public close
        if n != WIDE_FILES:
            raise RuntimeError(f"{self.name}: pachyderm-sdk listed {n} files, expected {WIDE_FILES}")
        if before is not None and after is not None:
            self.cpu_us_per_msg.append((after - before) / n * 1e6)

    def sdk_small_files(self, i: int) -> None:
        from _pfs_support import sdk_upload

        files = [(f"/sdk{i}/f{j:05d}", os.urandom(SMALL_SIZE)) for j in range(SDK_SMALL_FILES)]
        self.seconds["sdk_small_files"].append(sdk_upload(self.address, "peer-small", files))

    def one_commit(self, i: int) -> None:
        def run() -> None:
            with self.client.pfs.commit("peer-latency@master") as commit:
                commit.put_file(f"/one-{i}", b"one file")

        self.seconds["commit_latency"].append(_timed(run))

    def best(self, op: str) -> float | None:
        values = self.seconds[op]
        if not values:
            return None
        return statistics.median(values) if op == "commit_latency" else min(values)


def compare(
    ours_address: str, real_address: str, work: Path, repeat: int = 2, *, ours_pid: int | None = None,
    real_pid: int | None = None, pachctl_exe: Path | None = None,
) -> dict[str, Any]:
    """Run the operations interleaved on both servers; return seconds per side and the ratios.

    The ``*_pachctl`` operations run only with ``pachctl_exe``; their ratios are None otherwise.
    """
    ours = _Side("embedded", ours_address, ours_pid, pachctl_exe, work)
    real = _Side("real_pachd", real_address, real_pid, pachctl_exe, work)
    sides = (ours, real)
    try:
        for side in sides:
            for repo in ("peer-big", "peer-small", "peer-wide", "peer-latency"):
                side.client.pfs.create_repo(repo)
        for i in range(repeat):
            for side in sides:  # fresh bytes for every upload
                source = work / f"peer-big-{side.name}-{i}.bin"
                _write_random(source, BIG)
                side.upload_large(source)
                source.unlink()
        for _ in range(repeat):
            for side in sides:
                side.download_large()
        for i in range(repeat):
            for side in sides:
                side.small_files([(f"/run{i}/f{j:05d}", os.urandom(SMALL_SIZE)) for j in range(SMALL_FILES)])
        for i in range(repeat):
            for side in sides:
                side.sdk_small_files(i)
        for side in sides:
            side.fill_wide()
        for _ in range(max(repeat, 3)):
            for side in sides:
                side.list_wide()
                side.glob_wide()
                side.list_wide_pachctl()
                side.glob_wide_pachctl()
                side.list_wide_sdk()
        for i in range(COMMITS):
            for side in sides:
                side.one_commit(i)
    finally:
        for side in sides:
            side.client.close()
    seconds = {side.name: {op: side.best(op) for op in OPS} for side in sides}
    ratios: dict[str, float | None] = {}
    for op in OPS:
        theirs, mine = seconds["real_pachd"][op], seconds["embedded"][op]
        ratios[f"{op}_vs_real_pachd"] = theirs / mine if theirs and mine else None
    cpu = {side.name: min(side.cpu_us_per_msg) if side.cpu_us_per_msg else None for side in sides}
    return {"ratios": ratios, "seconds": seconds, "server_cpu_us_per_msg": cpu}


class ReferenceServer:
    """A started reference pachd with its PostgreSQL (``with ReferenceServer() as real: real.address``)."""

    def __init__(self) -> None:
        self.note = ""
        self._pg: Any = None
        self._pachd: Any = None
        self.address = ""

    def __enter__(self) -> "ReferenceServer":
        from tests.realpachd import build, postgres
        from tests.realpachd.launcher import RealPachd

        try:
            binary = build.build(log=lambda msg: print(msg, file=sys.stderr)).path
            self._pg = postgres.start()
            self._pachd = RealPachd(binary, self._pg).start()
            self.address = self._pachd.address
        except Exception as err:  # Go or PostgreSQL missing, or a failed build: say so in the results
            self.note = f"reference pachd unavailable: {str(err)[-500:]}"
            self.__exit__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pachd is not None:
            self._pachd.stop()
        if self._pg is not None:
            self._pg.stop()

    @property
    def pid(self) -> int | None:
        proc = getattr(self._pachd, "process", None)
        return proc.pid if proc is not None else None


def measure(ours_address: str, work: Path, repeat: int = 2, *, ours_pid: int | None = None) -> dict[str, Any]:
    """Start the reference pachd, compare, stop it. ``{"ratios", "seconds", ...}`` or ``{"note"}``."""
    import pachctl_peers

    pachctl_exe, pachctl_note = pachctl_peers.find_pachctl()
    with ReferenceServer() as real:
        if real.note:
            return {"note": real.note}
        result = compare(ours_address, real.address, work, repeat, ours_pid=ours_pid, real_pid=real.pid,
                         pachctl_exe=pachctl_exe)
    if pachctl_note:
        result["pachctl_note"] = pachctl_note
    return result


def ratios(peer: dict[str, Any]) -> dict[str, float | None]:
    if "note" in peer:
        return dict.fromkeys(RATIO_KEYS)
    return dict(peer["ratios"])


def details(peer: dict[str, Any]) -> dict[str, Any]:
    if "note" in peer:
        return {"real_pachd_note": peer["note"]}
    ours, real = peer["seconds"]["embedded"], peer["seconds"]["real_pachd"]
    return {
        "real_pachd_seconds": real,
        "ours_vs_real_pachd_seconds": ours,
        "real_pachd_upload_mib_s": BIG / MiB / real["upload_large"],
        "real_pachd_download_mib_s": BIG / MiB / real["download_large"],
        "real_pachd_commit_ms": real["commit_latency"] * 1e3,
        "real_pachd_sdk_small_files_per_s": SDK_SMALL_FILES / real["sdk_small_files"] if real["sdk_small_files"] else None,
        "server_cpu_us_per_msg_sdk_list": peer.get("server_cpu_us_per_msg"),
        **({"pachctl_note": peer["pachctl_note"]} if "pachctl_note" in peer else {}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from pachmagic.server import LocalServer

    with tempfile.TemporaryDirectory(prefix="pachmagic-bench-real-") as tmp:
        work = Path(tmp)
        server = LocalServer(work / "data", in_process=False).start()
        try:
            peer = measure(server.address, work, ours_pid=server._proc.pid)  # type: ignore[union-attr]  # noqa: SLF001
        finally:
            server.stop()
    if "note" in peer:
        print(peer["note"], file=sys.stderr)
        return 1
    figures = {**ratios(peer), "details": details(peer)}
    print(f"\n{'key':<34} {'value':>9}  goal")
    for key in RATIO_KEYS:
        value = figures[key]
        if value is None:
            print(f"{key:<34} {'n/a':>9}  >=1  -")
            continue
        print(f"{key:<34} {value:>9.3f}  >=1  {'yes' if value >= 1 else 'NO'}")
    print("details:", json.dumps(figures["details"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
