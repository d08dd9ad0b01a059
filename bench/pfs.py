"""PFS speed and memory of the embedded server, as ratios measured side by side in one run.

Usage::

    python bench/pfs.py [--quick] [--json PATH] [--data-dir DIR]

Starts the embedded server as a child process (its data directory on the
default temporary file system unless ``--data-dir``), a bare gRPC server as the
transport ceiling, and prints one table. The large-transfer keys are measured
by ``bench/transfers.py``'s ``transfer_rounds`` (ceiling and ours alternating
round by round; its figures are under ``details.transfers``). Large downloads
are read and dropped, as the ceiling's client does; ``details`` adds the speed of a download to a
local file and of the disk itself (write + fdatasync), which bound the large
transfers on slow disks. ``--quick`` moves 256 MiB instead of
1 GiB and measures the official clients on fewer files (their rates are
per file, so the ratios stay comparable); it runs in a few minutes.

The reference pachd (a genuine pachd 2.12.2, ``tests/realpachd``) is a peer
where Go and PostgreSQL can be had: the same client does the same operations on
both servers in the same run (``bench/realpachd_peer.py``); its keys
``*_vs_real_pachd`` are our speed ÷ pachd's, with goal 1. ``--no-real-pachd``
leaves it out. pachctl and pachyderm-sdk list and glob the same 20,000 files on
both servers there too (``list_20k_pachctl_vs_real_pachd`` and the like).

``stream_server_cpu_us_per_msg`` is the embedded server's CPU time per FileInfo
while pachyderm-sdk lists 20,000 files (standard ListFile, one message per file);
``sdk_small_files_per_s`` is pachyderm-sdk writing 4 KiB files its usual way, one
ModifyFile call per file. Under the table, the limits measured in the same run
stand beside the keys they bound: grpcio's own CPU per streamed message (plain
writes, and buffer-hinted as ours), pachyderm-sdk's calls per second to a
ModifyFile that does nothing, pachyderm-sdk's listing of 20,000 prebuilt
FileInfos from a server that only sends them, pachctl's listing and glob of the
same, and the disk's 4 KiB write + fdatasync.

The full run (not ``--quick``) also lists 1,000,000 files into a DataFrame,
commits one file into that repo (``*_1m_*``), and moves 10 GiB up and down
(``upload_10g_peak_rss_mb``: the larger RSS growth of server and client); the
quick run does the listing with 100,000 files (``*_100k_*``) and leaves out the
10 GiB. The full run takes about 10 minutes on a 2-core machine (8 min 47 s
on 2026-12-06, reference pachd included).

pachctl is a peer too when it can be had (``$PACHCTL``, or built by
``tests/go`` where Go is installed): its ``put file`` (many small files, one
large file) and ``get file`` are timed in the same run, as ratios with no goal
(see ``bench/pachctl_peers.py``).

This is a script, not a test: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))

from _pfs_support import (  # noqa: E402 - the helpers live next to this script
    PeakRss,
    ceiling_server,
    fdatasync_ms,
    floor_calls,
    floor_stream_cpu_us,
    pack_read_cpu_s_per_gib,
    python_pachyderm_python,
    sdk_floor_calls,
    sdk_floor_list_s,
    pachctl_floor,
    sdk_upload,
)
from transfers import transfer_rounds  # noqa: E402 - the large-transfer keys, measured once for both benches
import pachctl_peers  # noqa: E402 - pachctl as a peer, when Go or $PACHCTL can provide it
import realpachd_peer  # noqa: E402 - the reference pachd as a peer, when Go and PostgreSQL can be had

GOALS = {
    "upload_large_vs_grpc_ceiling": (">=", 0.85),
    "download_large_vs_grpc_ceiling": (">=", 0.85),
    "small_files_per_s": (">=", 3000),
    "stream_server_cpu_us_per_msg": ("<=", 10),
    "sdk_small_files_per_s": (">=", 1000),
    "list_100k_to_dataframe_s": ("<=", 1.0),
    "commit_cost_100k_vs_empty": ("<=", 2.0),
    "list_1m_to_dataframe_s": ("<=", 5.0),
    "commit_cost_1m_vs_empty": ("<=", 1.5),
    "upload_vs_pachyderm_sdk": (">=", 1.0),
    "upload_vs_python_pachyderm": (">=", 1.0),
    "peak_rss_upload_1g_mb": ("<=", 150),
    "upload_10g_peak_rss_mb": ("<=", 150),
    **{key: (">=", 1.0) for key in realpachd_peer.RATIO_KEYS},
}
MiB = 1024 * 1024
GiB = 1024 * MiB
SMALL_FILES = 10_000
SMALL_SIZE = 4096
STREAM_FILES = 20_000


class RandomReader:
    """A file object of ``size`` fresh random bytes, never held in memory at once."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def stream_cpu_us_per_msg(address: str, pid: int, repo: str, files: int, repeat: int = 3) -> float:
    """The server's CPU microseconds per FileInfo while pachyderm-sdk lists ``files`` files (best of ``repeat``)."""
    from pachyderm_sdk import Client
    from pachyderm_sdk.api import pfs

    host, port = address.rsplit(":", 1)
    sdk = Client(host=host, port=int(port))
    figures = []
    try:
        for _ in range(repeat):
            before = realpachd_peer.process_cpu_s(pid)
            n = sum(1 for _ in sdk.pfs.list_file(file=pfs.File.from_uri(f"{repo}@master:/")))
            after = realpachd_peer.process_cpu_s(pid)
            assert n == files, n
            assert before is not None and after is not None
            figures.append((after - before) / n * 1e6)
    finally:
        sdk._channel.close()  # noqa: SLF001 - the SDK has no public close
    return min(figures)


def best(fn: Callable[[], float], repeat: int) -> float:
    """The best (shortest) of ``repeat`` timings of ``fn`` (which returns seconds)."""
    return min(fn() for _ in range(repeat))


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def disk_write(directory: Path, size: int) -> float:
    """Seconds to write and fdatasync ``size`` bytes where the server keeps its packs: the disk's share."""
    block = os.urandom(4 * MiB)
    path = directory / "bench-disk-probe"
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(size // len(block)):
            os.write(fd, block)
        os.fdatasync(fd)
    finally:
        os.close(fd)
        path.unlink()
    return time.perf_counter() - start


def small_files(prefix: str, count: int) -> list[tuple[str, bytes]]:
    return [(f"/{prefix}/f{i:05d}", os.urandom(SMALL_SIZE)) for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB instead of 1 GiB; fewer files for the official clients")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--data-dir", type=Path, help="the server's data directory (default: a new temporary one)")
    parser.add_argument("--no-real-pachd", action="store_true", help="leave out the reference pachd peer")
    args = parser.parse_args(argv)

    from pachmagic.server import LocalServer

    big = (256 if args.quick else 1024) * MiB
    official_files = 1000 if args.quick else SMALL_FILES
    repeat = 2
    details: dict[str, Any] = {"big_file_mib": big // MiB, "official_client_files": official_files}
    results: dict[str, float | None] = {}

    with tempfile.TemporaryDirectory(prefix="pachmagic-bench-") as tmp:
        work = Path(tmp)
        data_dir = args.data_dir or work / "data"
        server = LocalServer(data_dir, in_process=False).start()
        ceiling = ceiling_server()
        try:
            client = server.client()
            pid = server._proc.pid  # type: ignore[union-attr]  # noqa: SLF001 - the child's pid for RSS

            # --- large transfers against the bare transport (bench/transfers.py) ----
            from pachmagic.client._transfer import Transfer

            standard = server.client()
            standard.pfs._transfer = Transfer(standard.pfs._t)  # noqa: SLF001 - the standard RPCs, as a real pachd gets
            transfer_keys, transfer_details = transfer_rounds(client, standard, pid, ceiling, work, big, repeat,
                                                              rss=lambda: PeakRss(pid))
            standard.close()
            results["upload_large_vs_grpc_ceiling"] = transfer_keys["upload_large_vs_grpc_ceiling"]
            results["download_large_vs_grpc_ceiling"] = transfer_keys["download_large_vs_grpc_ceiling"]
            details["download_standard_rpc_vs_grpc_ceiling"] = transfer_keys["download_standard_rpc_vs_grpc_ceiling"]
            details["transfers"] = transfer_details
            bounds = transfer_details["bounds"]  # the best ratios this run's figures leave (bench/transfers.py)
            details["upload_bound_if_cpu_bound"] = bounds["upload_if_cpu_bound"]
            details["upload_bound_if_disk_bound"] = bounds["upload_if_disk_bound"]
            details["download_bound_if_cpu_bound"] = bounds["download_if_cpu_bound"]
            # The same bound with the reads as our server makes them (packs in the page cache
            # the way a first download leaves them; see pack_read_cpu_s_per_gib).
            ceiling_down_cpu = bounds["cpu_s_per_gib_total"]["ceiling_down"]
            details["pack_read_cpu_s_per_gib"] = pack_read_cpu_s_per_gib(work, min(big, 512 * MiB))
            details["download_bound_packs_as_served"] = ceiling_down_cpu / (ceiling_down_cpu + details["pack_read_cpu_s_per_gib"])
            source = work / "big.bin"  # the last round's upload, at big@master:/big.bin
            up = min(transfer_details["rounds_wall_s"]["up"])
            down = min(transfer_details["rounds_wall_s"]["down"])
            raw_up = min(transfer_details["rounds_wall_s"]["ceiling_up"])
            raw_down = min(transfer_details["rounds_wall_s"]["ceiling_down"])
            up_rss, down_rss = (transfer_details["rss_growth_mb"][k] for k in ("upload", "download"))
            rss = PeakRss(pid)

            def read_down() -> None:  # the file-like API: one more copy per read
                got = 0
                with client.pfs.open_file("big@master:/big.bin") as handle:
                    while chunk := handle.read(4 * MiB):
                        got += len(chunk)
                assert got == big, got

            details["open_file_read_mib_s"] = big / MiB / timed(read_down)
            read_rss = rss.growth_mb()
            target = work / "down.bin"
            to_file = timed(lambda: client.pfs.get_file_to_path("big@master:/big.bin", target))
            if target.read_bytes()[:MiB] != source.read_bytes()[:MiB] or target.stat().st_size != big:
                raise SystemExit("download differs from upload")
            target.unlink()
            source.unlink()
            details["download_to_file_mib_s"] = big / MiB / to_file
            details["disk_write_fsync_mib_s"] = big / MiB / disk_write(data_dir, big)
            results["peak_rss_upload_1g_mb"] = max(*up_rss.values(), *down_rss.values())
            details.update(
                grpc_ceiling_upload_mib_s=big / MiB / raw_up, grpc_ceiling_download_mib_s=big / MiB / raw_down,
                upload_mib_s=big / MiB / up, download_mib_s=big / MiB / down,
                rss_growth_mb={"upload": up_rss, "download": down_rss, "open_file_read": read_rss},
            )

            # --- many small files --------------------------------------------------
            client.pfs.create_repo("small")
            batches = [small_files(f"ours{i}", SMALL_FILES) for i in range(repeat)]
            ours = min(timed(lambda: client.pfs.put_files("small@master", files)) for files in batches)
            results["small_files_per_s"] = SMALL_FILES / ours
            cpu_before = realpachd_peer.process_cpu_s(pid) or 0.0
            sdk_s = sdk_upload(server.address, "small", small_files("sdk", official_files))
            details["sdk_small_files_server_cpu_ms_per_file"] = ((realpachd_peer.process_cpu_s(pid) or 0.0) - cpu_before) / official_files * 1e3
            floor_rate, floor_cpu = floor_calls(ceiling, official_files)
            details["grpc_floor_short_calls_per_s"] = floor_rate
            details["grpc_floor_server_cpu_ms_per_call"] = floor_cpu
            # The SDK's own limit (the same calls to a server that does nothing) and the disk's (one
            # fdatasync per ModifyFile: the data is durable before the call answers).
            details["sdk_floor_small_files_per_s"] = sdk_floor_calls(ceiling.address, official_files)
            details["disk_fdatasync_4k_ms"] = fdatasync_ms(data_dir)
            details["fdatasync_bound_files_per_s"] = 1e3 / details["disk_fdatasync_4k_ms"]
            results["upload_vs_pachyderm_sdk"] = (SMALL_FILES / ours) / (official_files / sdk_s)
            results["sdk_small_files_per_s"] = official_files / sdk_s

            # --- standard streaming: server CPU per FileInfo -------------------------
            client.pfs.create_repo("stream")
            client.pfs.put_files("stream@master", [(f"/f{i:05d}.txt", b"x") for i in range(STREAM_FILES)])
            results["stream_server_cpu_us_per_msg"] = stream_cpu_us_per_msg(server.address, pid, "stream", STREAM_FILES)
            # What grpcio's Python server alone costs per small streamed message, in the same run.
            details["grpc_floor_server_cpu_us_per_msg"] = floor_stream_cpu_us(ceiling, STREAM_FILES)
            details["grpc_floor_hinted_server_cpu_us_per_msg"] = floor_stream_cpu_us(ceiling, STREAM_FILES, hinted=True)
            pp_rate, pp_note = python_pachyderm_rate(server.address, official_files)
            results["upload_vs_python_pachyderm"] = (SMALL_FILES / ours) / pp_rate if pp_rate else None
            details["python_pachyderm_files_per_s"] = pp_rate
            if pp_note:
                details["python_pachyderm_note"] = pp_note

            # --- pachctl as a peer: the same transfers through pachctl ----------------
            peer = pachctl_peers.measure(
                server.address, work, big_size=big, small_count=official_files, small_size=SMALL_SIZE, repeat=repeat,
            )

            def ours_to_file() -> float:  # pachctl's get file writes a file: compare with ours doing the same
                took = timed(lambda: client.pfs.get_file_to_path("big@master:/big.bin", target))
                target.unlink()
                return took

            mine = {
                "upload_large_s": up,
                "download_large_s": min(to_file, best(ours_to_file, repeat)),
                "small_files_per_s": SMALL_FILES / ours,
            }
            results.update(pachctl_peers.ratios(mine, peer))
            details.update(pachctl_peers.details(peer))

            # --- the reference pachd as a peer: the same client on both servers ------
            if not args.no_real_pachd:
                real = realpachd_peer.measure(server.address, work, repeat=repeat, ours_pid=pid)
                results.update(realpachd_peer.ratios(real))
                details.update(realpachd_peer.details(real))
                per_msg = details.get("server_cpu_us_per_msg_sdk_list") or {}
                details["real_pachd_server_cpu_us_per_msg"] = per_msg.get("real_pachd")
                # The SDK's own limit on a listing: the same 20,000 entries from a server that only sends
                # them. The SDK's own parsing is nearly all of it, for every server (ours has come out ahead of
                # this bare server, whose flushes differ: it marks where a server doing no work stands).
                seconds = details.get("real_pachd_seconds") or {}
                floor_s = sdk_floor_list_s(ceiling.address)
                details["sdk_floor_list_20k_s"] = floor_s
                details["real_pachd_list_20k_sdk_s"] = seconds.get("list_20k_sdk")
                details["ours_list_20k_sdk_s"] = (details.get("ours_vs_real_pachd_seconds") or {}).get("list_20k_sdk")
                if seconds.get("list_20k_sdk"):
                    details["list_20k_sdk_floor_vs_real_pachd"] = seconds["list_20k_sdk"] / floor_s
                # pachctl's: the same listing, and its glob, from the bare server (its CPU per message is
                # grpc.aio's wake-up per message when the client keeps up).
                pachctl_exe, _ = pachctl_peers.find_pachctl(build=False)
                if pachctl_exe is not None:
                    floor = pachctl_floor(ceiling, pachctl_exe, work)
                    details["pachctl_floor_server_cpu_us_per_msg"] = floor["server_cpu_us_per_msg"]
                    ours_s = details.get("ours_vs_real_pachd_seconds") or {}
                    for op in ("list", "glob"):
                        details[f"pachctl_floor_{op}_20k_s"] = floor[f"{op}_s"]
                        details[f"ours_{op}_20k_pachctl_s"] = ours_s.get(f"{op}_20k_pachctl")
                        details[f"real_pachd_{op}_20k_pachctl_s"] = seconds.get(f"{op}_20k_pachctl")
                        if seconds.get(f"{op}_20k_pachctl"):
                            details[f"{op}_20k_pachctl_floor_vs_real_pachd"] = seconds[f"{op}_20k_pachctl"] / floor[f"{op}_s"]

            # --- a 100,000-file repo (1,000,000 in the full run) -----------------------
            list_files, size_name = (100_000, "100k") if args.quick else (1_000_000, "1m")
            client.pfs.create_repo("wide")
            fill_start = time.perf_counter()
            for part in range(list_files // 100_000):
                client.pfs.put_files("wide@master", [(f"/f{part:02d}{i:05d}", b"x") for i in range(100_000)])
            details[f"fill_{size_name}_s"] = time.perf_counter() - fill_start
            frame_rows: list[int] = []
            listing = best(lambda: timed(lambda: frame_rows.append(len(client.pfs.list_file("wide@master:/").to_frame()))), 3)
            assert frame_rows[-1] == list_files, frame_rows
            results[f"list_{size_name}_to_dataframe_s"] = listing
            client.pfs.create_repo("empty")
            full_times, empty_times = [], []
            for i in range(15):
                for repo, times in (("wide", full_times), ("empty", empty_times)):
                    def one_commit() -> None:
                        with client.pfs.commit(f"{repo}@master") as commit:
                            commit.put_file(f"/one-{i}", b"one file")
                    times.append(timed(one_commit))
            results[f"commit_cost_{size_name}_vs_empty"] = statistics.median(full_times) / statistics.median(empty_times)
            details[f"commit_{size_name}_ms"] = statistics.median(full_times) * 1e3
            details["commit_empty_ms"] = statistics.median(empty_times) * 1e3

            # --- 10 GiB up and down (full run only): memory stays flat --------------------
            if not args.quick:
                client.pfs.create_repo("huge")
                rss = PeakRss(pid)
                took = timed(lambda: client.pfs.put_file("huge@master", "/huge.bin", RandomReader(10 * GiB)))
                up_growth = rss.growth_mb()
                rss = PeakRss(pid)
                got = 0

                def huge_down() -> None:
                    nonlocal got
                    for chunk in client.pfs.iter_file("huge@master:/huge.bin"):
                        got += len(chunk)

                down_took = timed(huge_down)
                down_growth = rss.growth_mb()
                assert got == 10 * GiB, got
                results["upload_10g_peak_rss_mb"] = max(*up_growth.values(), *down_growth.values())
                details["move_10g"] = {"upload_s": took, "download_s": down_took,
                                       "rss_growth_mb": {"upload": up_growth, "download": down_growth}}
                client.pfs.delete_repo("huge", force=True)
            client.close()
        finally:
            ceiling.stop()
            server.stop()

    print_table(results, details)
    if args.json:
        args.json.write_text(json.dumps({**results, "details": details}, indent=2) + "\n")
    return 0


def python_pachyderm_rate(address: str, count: int) -> tuple[float | None, str]:
    """Files per second of python-pachyderm 7.6 (its own virtualenv, see ``_pfs_support``)."""
    try:
        python = python_pachyderm_python()
    except RuntimeError as err:
        return None, f"python-pachyderm unavailable: {err}"
    script = REPO_ROOT / "bench" / "_python_pachyderm_upload.py"
    out = subprocess.run(
        [str(python), str(script), address, str(count), str(SMALL_SIZE)],
        capture_output=True, text=True, timeout=1800, env={"PATH": os.environ.get("PATH", "")},
    )
    if out.returncode != 0:
        return None, f"python-pachyderm run failed: {out.stderr.strip()[-500:]}"
    return count / float(out.stdout.split()[-1]), ""


# Limits measured in the same run, printed under the goals they bound.
FLOORS = {
    "upload_large_vs_grpc_ceiling": (
        ("upload_bound_if_cpu_bound", "ceiling's CPU / (it + reading the source, hashing, O_DIRECT copy)"),
        ("upload_bound_if_disk_bound", "ceiling's wall / the disk's write + fdatasync of as much"),
    ),
    "download_large_vs_grpc_ceiling": (
        ("download_bound_if_cpu_bound", "ceiling's CPU / (it + reading a file from the page cache)"),
        ("download_bound_packs_as_served", "ceiling's CPU / (it + reading the packs as our warm download does)"),
    ),
    "stream_server_cpu_us_per_msg": (
        ("grpc_floor_server_cpu_us_per_msg", "bare grpc.aio server, one plain write per message"),
        ("grpc_floor_hinted_server_cpu_us_per_msg", "bare grpc.aio server, buffer-hinted writes as ours"),
        ("real_pachd_server_cpu_us_per_msg", "the reference pachd during the same SDK listing"),
    ),
    "list_20k_pachctl_vs_real_pachd": (
        ("list_20k_pachctl_floor_vs_real_pachd", "pachd's seconds / the bare server's: where a grpc.aio server doing no work stands"),
        ("pachctl_floor_list_20k_s", "pachctl listing 20,000 prebuilt FileInfos from a bare grpc.aio server"),
        ("pachctl_floor_server_cpu_us_per_msg", "that bare server's CPU per message (a wake-up per message)"),
        ("ours_list_20k_pachctl_s", "pachctl listing them from ours, best round"),
        ("real_pachd_list_20k_pachctl_s", "pachctl listing them from the reference pachd, best round"),
    ),
    "glob_20k_pachctl_vs_real_pachd": (
        ("glob_20k_pachctl_floor_vs_real_pachd", "pachd's seconds / the bare server's: where a grpc.aio server doing no work stands"),
        ("pachctl_floor_glob_20k_s", "pachctl globbing them from the bare grpc.aio server"),
        ("ours_glob_20k_pachctl_s", "pachctl globbing them from ours, best round"),
        ("real_pachd_glob_20k_pachctl_s", "pachctl globbing them from the reference pachd, best round"),
    ),
    "list_20k_sdk_vs_real_pachd": (
        ("list_20k_sdk_floor_vs_real_pachd", "pachd's seconds / the bare server's: where a server doing no work stands"),
        ("sdk_floor_list_20k_s", "pachyderm-sdk listing 20,000 prebuilt FileInfos from a bare grpc.aio server"),
        ("ours_list_20k_sdk_s", "pachyderm-sdk listing them from ours, best round"),
        ("real_pachd_list_20k_sdk_s", "pachyderm-sdk listing them from the reference pachd, best round"),
    ),
    "sdk_small_files_per_s": (
        ("sdk_floor_small_files_per_s", "pachyderm-sdk to a ModifyFile that does nothing"),
        ("real_pachd_sdk_small_files_per_s", "pachyderm-sdk to the reference pachd, same run"),
        ("grpc_floor_short_calls_per_s", "grpcio client to the same, 4-message calls"),
        ("fdatasync_bound_files_per_s", "1 / the disk's 4 KiB write + fdatasync"),
    ),
}


def print_table(results: dict[str, float | None], details: dict[str, Any]) -> None:
    print(f"\n{'key':<34} {'value':>12}  {'goal':>9}  met")
    for key, (op, goal) in GOALS.items():
        value = results.get(key)
        if value is None:
            print(f"{key:<34} {'n/a':>12}  {op}{goal:>7}  -")
            continue
        met = value >= goal if op == ">=" else value <= goal
        print(f"{key:<34} {value:>12.3f}  {op}{goal:>7}  {'yes' if met else 'NO'}")
    for key in pachctl_peers.RATIO_KEYS:  # peers: no goal, >1 means faster than pachctl
        value = results.get(key)
        print(f"{key:<34} {'n/a' if value is None else f'{value:.3f}':>12}  {'-':>9}  -")
    print("\nlimits measured in the same run:")
    for key, floors in FLOORS.items():
        print(f"  {key} = {_figure(results.get(key))}")
        for name, what in floors:
            print(f"    {name:<42} {_figure(details.get(name)):>10}  ({what})")
    print("\ndetails:", json.dumps(details, indent=1, default=str))


def _figure(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
