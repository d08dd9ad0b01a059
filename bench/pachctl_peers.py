"""pachctl as a peer in the PFS benchmark: the same transfers, timed through pachctl.

pachctl (Pachyderm 2.12.2, built from source by ``tests/go``; see
``tests/go/gobuild.py``) talks to the embedded server through a pachctl
config context, exactly as in ``tests/test_pachctl.py``. Three transfers:

* ``put file -r`` of a local directory of many small files (one invocation,
  one commit: what a user does to load a folder);
* ``put file -f`` of one large file;
* ``get file -o`` of that large file.

Every upload gets fresh random bytes, so nothing is deduplicated against an
earlier upload. Times include pachctl's start (about 0.1 s), which is what a
user waits for.

Used two ways:

* from ``bench/pfs.py``: ``measure(address, work_dir, big_size=..., small_count=...,
  small_size=..., repeat=...)`` returns seconds (or a note saying why pachctl is
  unavailable), and ``ratios(ours, peer)`` turns them into ratios for the table;
* on its own: ``python bench/pachctl_peers.py [--quick]`` starts a server, times
  pachmagic's client and pachctl side by side in the same run, and prints the
  ratios.

Which pachctl: ``$PACHCTL`` if set, else the cached build of ``tests/go``
(built first if Go is installed and the cache is stale: minutes when cold).
This is a script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # tests/go holds the pachctl build and runner
MiB = 1024 * 1024
RATIO_KEYS = ("upload_large_vs_pachctl", "download_large_vs_pachctl", "small_files_vs_pachctl")


def find_pachctl(build: bool = True) -> tuple[Path | None, str]:
    """The pachctl to use, or None and why not."""
    explicit = os.environ.get("PACHCTL")
    if explicit:
        path = Path(explicit)
        return (path, "") if os.access(path, os.X_OK) else (None, f"$PACHCTL={explicit} is not executable")
    from tests.go import gobuild

    bindir = gobuild.cache_dir() / "bin"
    if not build:
        cached = bindir / "pachctl"
        return (cached, "") if cached.exists() else (None, f"no pachctl in {bindir} (run python tests/go/gobuild.py)")
    try:
        binaries = gobuild.build(log=lambda msg: print(msg, file=sys.stderr))
    except (gobuild.GoUnavailable, gobuild.GoBuildError) as err:
        return None, f"pachctl unavailable: {str(err)[-500:]}"
    return binaries.pachctl, ""


def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        left = size
        while left > 0:
            n = min(left, 4 * MiB)
            handle.write(os.urandom(n))
            left -= n


def write_small_tree(root: Path, count: int, size: int) -> None:
    root.mkdir(parents=True)
    for i in range(count):
        (root / f"f{i:05d}").write_bytes(os.urandom(size))


def _timed_run(pachctl: Any, *args: str) -> float:
    start = time.perf_counter()
    pachctl.run(*args)
    return time.perf_counter() - start


def measure(
    address: str, work_dir: Path, *, big_size: int, small_count: int, small_size: int, repeat: int = 2,
    pachctl_exe: Path | None = None,
) -> dict[str, Any]:
    """Best-of-``repeat`` seconds for pachctl's three transfers against the server at ``address``.

    Returns ``{"upload_large_s", "download_large_s", "small_files_s", "small_files",
    "big_bytes", "pachctl"}``, or ``{"note": why}`` when there is no pachctl.
    Uses repos ``pachctl-big`` and ``pachctl-small`` on the server.
    """
    if pachctl_exe is None:
        pachctl_exe, note = find_pachctl()
        if pachctl_exe is None:
            return {"note": note}
    from tests.go import pachctl_runner as runner

    work = Path(work_dir) / "pachctl-peer"
    work.mkdir(parents=True, exist_ok=True)
    pachctl = runner.Pachctl(pachctl_exe, address, work / "home", timeout=3600)
    pachctl.run("create", "repo", "pachctl-big")
    pachctl.run("create", "repo", "pachctl-small")

    uploads = []
    for i in range(repeat):
        source = work / f"big{i}.bin"
        write_random(source, big_size)
        uploads.append(_timed_run(pachctl, "put", "file", "pachctl-big@master:/big.bin", "-f", str(source)))
        source.unlink()
    target = work / "down.bin"
    downloads = []
    for _ in range(repeat):
        downloads.append(_timed_run(pachctl, "get", "file", "pachctl-big@master:/big.bin", "-o", str(target)))
        if target.stat().st_size != big_size:
            raise RuntimeError(f"pachctl downloaded {target.stat().st_size} bytes, expected {big_size}")
        target.unlink()

    smalls = []
    for i in range(repeat):
        tree = work / f"small{i}"
        write_small_tree(tree, small_count, small_size)
        smalls.append(_timed_run(pachctl, "put", "file", f"pachctl-small@master:/run{i}", "-r", "-f", str(tree)))
    listed = pachctl.raw("list", "file", "pachctl-small@master:/run0")
    if len(listed) != small_count:
        raise RuntimeError(f"pachctl put {len(listed)} small files, expected {small_count}")
    return {
        "upload_large_s": min(uploads),
        "download_large_s": min(downloads),
        "small_files_s": min(smalls),
        "small_files": small_count,
        "big_bytes": big_size,
        "pachctl": str(pachctl_exe),
    }


def ratios(ours: dict[str, float], peer: dict[str, Any]) -> dict[str, float | None]:
    """Speed-ups of pachmagic's client over pachctl (>1: ours is faster).

    ``ours``: ``upload_large_s`` and ``download_large_s`` for the same size as
    the peer's, and ``small_files_per_s``.
    """
    if "note" in peer:
        return dict.fromkeys(RATIO_KEYS)
    return {
        "upload_large_vs_pachctl": peer["upload_large_s"] / ours["upload_large_s"],
        "download_large_vs_pachctl": peer["download_large_s"] / ours["download_large_s"],
        "small_files_vs_pachctl": ours["small_files_per_s"] / (peer["small_files"] / peer["small_files_s"]),
    }


def details(peer: dict[str, Any]) -> dict[str, Any]:
    """Rates for the benchmark's details section."""
    if "note" in peer:
        return {"pachctl_note": peer["note"]}
    return {
        "pachctl_upload_mib_s": peer["big_bytes"] / MiB / peer["upload_large_s"],
        "pachctl_download_mib_s": peer["big_bytes"] / MiB / peer["download_large_s"],
        "pachctl_small_files_per_s": peer["small_files"] / peer["small_files_s"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB and 1,000 small files instead of 1 GiB and 10,000")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from pachmagic.server import LocalServer

    big = (64 if args.quick else 1024) * MiB
    small_count, small_size, repeat = (1000 if args.quick else 10_000), 4096, 2
    pachctl_exe, note = find_pachctl()
    if pachctl_exe is None:
        print(note, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pachmagic-bench-pachctl-") as tmp:
        work = Path(tmp)
        server = LocalServer(work / "data", in_process=False).start()
        try:
            client = server.client()
            # Ours first, on the same sizes, with fresh bytes for every upload.
            client.pfs.create_repo("ours-big")
            ups = []
            for i in range(repeat):
                source = work / f"ours{i}.bin"
                write_random(source, big)
                start = time.perf_counter()
                client.pfs.put_file_from_path("ours-big@master", "/big.bin", source)
                ups.append(time.perf_counter() - start)
                source.unlink()
            downs = []
            for _ in range(repeat):
                start = time.perf_counter()
                client.pfs.get_file_to_path("ours-big@master:/big.bin", work / "down.bin")
                downs.append(time.perf_counter() - start)
                (work / "down.bin").unlink()
            client.pfs.create_repo("ours-small")
            smalls = []
            for i in range(repeat):
                files = [(f"/run{i}/f{j:05d}", os.urandom(small_size)) for j in range(small_count)]
                start = time.perf_counter()
                client.pfs.put_files("ours-small@master", files)
                smalls.append(time.perf_counter() - start)
            ours = {"upload_large_s": min(ups), "download_large_s": min(downs), "small_files_per_s": small_count / min(smalls)}
            peer = measure(
                server.address, work, big_size=big, small_count=small_count, small_size=small_size,
                repeat=repeat, pachctl_exe=pachctl_exe,
            )
            client.close()
        finally:
            server.stop()
    figures = {
        **ratios(ours, peer),
        "details": {
            "big_file_mib": big // MiB, "small_files": small_count, "small_file_bytes": small_size,
            "ours_upload_mib_s": big / MiB / ours["upload_large_s"],
            "ours_download_mib_s": big / MiB / ours["download_large_s"],
            "ours_small_files_per_s": ours["small_files_per_s"],
            **details(peer),
        },
    }
    for key, value in figures.items():
        if key != "details":
            print(f"{key:<28} {value:>8.2f}" if value is not None else f"{key:<28} {'n/a':>8}")
    print("details:", json.dumps(figures["details"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
