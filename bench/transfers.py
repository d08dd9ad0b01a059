"""Our client's transfer path against the bare-gRPC ceiling, round by round, and a 1M-file listing.

Usage::

    python bench/transfers.py [--size MIB] [--rounds N] [--files N] [--json PATH]

The keys of ``bench/pfs.py`` that belong to the client's transfer path
(``upload_large_vs_grpc_ceiling``, ``download_large_vs_grpc_ceiling``,
``list_1m_to_dataframe_s``), measured so that a loaded machine disturbs the
ratios as little as possible: each round moves the same size through the
ceiling (``bench/_pfs_support.py``) and through our client right after, and the
key is the median of the per-round ratios (the best-of ratio is printed too).
Downloads are read and dropped, as the ceiling's client does, after one
untimed read (the first read of a fresh upload comes from the disk, which the
ceiling never touches); ``download_standard_rpc_*`` is the same download over
the standard ``pfs_v2`` GetFile that a real pachd gets. Client and server CPU
seconds per GiB are printed for each, which shows who bounds a figure. The
embedded server runs as a child process with its data on the default temporary
file system, whose write speed (with fdatasync) is printed: uploads end with
the data on disk, the ceiling's never touch it.

This is a script, not a test: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))

from _pfs_support import ceiling_server, process_cpu_s, raw_download, raw_upload  # noqa: E402 - next to this script

MiB = 1024 * 1024
GOALS = {
    "upload_large_vs_grpc_ceiling": (">=", 0.85),
    "download_large_vs_grpc_ceiling": (">=", 0.85),
    "list_1m_to_dataframe_s": ("<=", 5.0),
}


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(fn: Callable[[], Any], server_pid: int) -> tuple[float, float, float]:
    """Wall seconds, this process's CPU seconds and the server's CPU seconds of ``fn()``."""
    own, server, start = _own_cpu(), process_cpu_s(server_pid), time.perf_counter()
    fn()
    return time.perf_counter() - start, _own_cpu() - own, process_cpu_s(server_pid) - server


class DiskWatch:
    """The disk under ``directory`` during a stretch of time: how busy it was, how much everyone wrote.

    From ``/proc/diskstats`` (time with I/O in flight, sectors written) and the
    system's I/O pressure (``/proc/pressure/io``: time some task waited on I/O);
    whatever a machine does not have reads as None.
    """

    def __init__(self, directory: Path) -> None:
        dev = os.stat(directory).st_dev
        self._key = (str(os.major(dev)), str(os.minor(dev)))

    def _disk(self) -> tuple[int, int] | None:
        try:
            for line in Path("/proc/diskstats").read_text().splitlines():
                fields = line.split()
                if (fields[0], fields[1]) == self._key:
                    return int(fields[12]), int(fields[9])  # ms with I/O in flight, sectors written
        except OSError:
            pass
        return None

    @staticmethod
    def _pressure() -> int | None:
        try:
            return int(Path("/proc/pressure/io").read_text().split()[4].split("=")[1])  # 'some' total, us
        except (OSError, IndexError, ValueError):
            return None

    def around(self, fn: Callable[[], Any]) -> dict[str, float | None]:
        """Run ``fn`` and return the disk's busy share, MiB written (by all) and I/O-pressure share meanwhile."""
        disk, pressure, start = self._disk(), self._pressure(), time.perf_counter()
        fn()
        wall = time.perf_counter() - start
        disk_after, pressure_after = self._disk(), self._pressure()
        busy = written = waited = None
        if disk is not None and disk_after is not None:
            busy = round(min(1.0, (disk_after[0] - disk[0]) / 1000 / wall), 2)
            written = round((disk_after[1] - disk[1]) * 512 / MiB)
        if pressure is not None and pressure_after is not None:
            waited = round(min(1.0, (pressure_after - pressure) / 1e6 / wall), 2)
        return {"disk_busy": busy, "mib_written_by_all": written, "io_pressure": waited}


def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        for _ in range(size // (4 * MiB)):
            handle.write(os.urandom(4 * MiB))


def disk_write_mib_s(directory: Path, size: int) -> float:
    """MiB/s of writing ``size`` bytes as an upload's chunks are written: 4 MiB blocks with
    O_DIRECT where the file system takes it (else buffered), then fdatasync."""
    block, path = mmap.mmap(-1, 4 * MiB), directory / "disk-probe"  # page-aligned, as O_DIRECT wants
    block.write(os.urandom(4 * MiB))
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    start = time.perf_counter()
    fd = os.open(path, flags | getattr(os, "O_DIRECT", 0), 0o600)
    try:
        for i in range(size // len(block)):
            try:
                os.pwrite(fd, block, i * len(block))
            except OSError:  # no O_DIRECT here (e.g. tmpfs): buffered, as the server falls back
                os.close(fd)
                fd = os.open(path, os.O_WRONLY, 0o600)
                os.pwrite(fd, block, i * len(block))
        os.fdatasync(fd)
    finally:
        os.close(fd)
        path.unlink()
    return size / MiB / (time.perf_counter() - start)


def cpu_s_per_gib(work: Callable[[bytes], Any], block: bytes, total: int = 1024 * MiB) -> float:
    """This process's CPU seconds for ``work`` over ``total`` bytes, ``block`` at a time, per GiB."""
    before = _own_cpu()
    for _ in range(total // len(block)):
        work(block)
    return (_own_cpu() - before) / (total / (1024 * MiB))


def read_cpu_s_per_gib(path: Path, chunk: int = 4 * MiB - 64 * 1024) -> float:
    """CPU seconds per GiB of reading ``path`` (in the page cache) into new buffers, as a client or pack read does."""
    before, size = _own_cpu(), 0
    with open(path, "rb", buffering=0) as handle:
        while data := handle.read(chunk):
            size += len(data)
    return (_own_cpu() - before) / (size / (1024 * MiB))


def work_the_ceiling_skips(directory: Path, source: Path, size: int) -> dict[str, float]:
    """CPU seconds per GiB of the work our transfers do and the ceiling's do not, and the disk's speed.

    ``hash``: BLAKE3 of every byte (uploads: chunk ids; a first read: verification);
    ``copy``: one copy in memory (an upload's copy into its O_DIRECT buffer);
    ``read``: reading a file from the page cache into new buffers (an upload's
    source; a download's pack reads); ``disk``: O_DIRECT write + fdatasync of ``size``.
    """
    from blake3 import blake3

    block = os.urandom(4 * MiB)
    read = [read_cpu_s_per_gib(source) for _ in range(3)]
    return {
        "hash_cpu_s_per_gib": cpu_s_per_gib(lambda b: blake3(b).digest(), block),
        "copy_cpu_s_per_gib": cpu_s_per_gib(lambda b: bytearray(b), block),
        "read_cpu_s_per_gib": statistics.median(read),
        "disk_write_fsync_mib_s": disk_write_mib_s(directory, size),
    }


def transfer_rounds(client: Any, standard: Any, server_pid: int, ceiling: Any, work: Path, size: int,
                    rounds: int, rss: Callable[[], Any] | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """The large-transfer keys: ceiling then ours, ``rounds`` times, in repo ``big`` of ``client``'s server.

    ``standard`` is a client of the same server forced onto the standard
    ``pfs_v2`` RPCs. The last round's upload stays at ``big@master:/big.bin``,
    its source at ``work / "big.bin"``. With ``rss`` (a ``PeakRss`` factory),
    ``details["rss_growth_mb"]`` holds the growth during the first round's upload
    and (untimed) download by our client. Returns (keys, details); the details hold
    each side's CPU seconds per GiB beside the ceiling's, the cost of the work the
    ceiling does not do, and the best ratios that leaves (``bounds``).
    """
    samples: dict[str, list[tuple[float, float, float]]] = {}
    results: dict[str, float] = {}
    details: dict[str, Any] = {"size_mib": size // MiB, "rounds": rounds}
    ceiling_pid = ceiling.process.pid
    client.pfs.create_repo("big")

    def download(which: Any) -> Callable[[], None]:
        def run() -> None:
            got = sum(len(chunk) for chunk in which.pfs.iter_file("big@master:/big.bin"))
            assert got == size, got
        return run

    source = work / "big.bin"
    watch = DiskWatch(work)
    for round_ in range(rounds):
        write_random(source, size)  # fresh bytes each round: nothing deduplicates
        samples.setdefault("ceiling_up", []).append(measure(lambda: raw_upload(ceiling.address, size), ceiling_pid))
        peak = rss() if rss is not None and round_ == 0 else None
        disk: dict[str, float | None] = {}

        def upload() -> None:
            disk.update(watch.around(lambda: client.pfs.put_file_from_path("big@master", "/big.bin", source)))

        samples.setdefault("up", []).append(measure(upload, server_pid))
        details.setdefault("upload_rounds", []).append({
            "ratio": round(samples["ceiling_up"][-1][0] / samples["up"][-1][0], 3),
            "wall_s": round(samples["up"][-1][0], 3), "client_cpu_s": round(samples["up"][-1][1], 3),
            "server_cpu_s": round(samples["up"][-1][2], 3), **disk})
        if round_ < rounds - 1:
            source.unlink()
        if peak is not None:
            details["rss_growth_mb"] = {"upload": peak.growth_mb()}
            peak = rss() if rss is not None else None
        download(client)()  # from the disk once, untimed
        if peak is not None:
            details["rss_growth_mb"]["download"] = peak.growth_mb()
        samples.setdefault("ceiling_down", []).append(measure(lambda: raw_download(ceiling.address, size), ceiling_pid))
        order = [("down", client), ("down_standard", standard)]
        for name, which in order if round_ % 2 == 0 else order[::-1]:
            samples.setdefault(name, []).append(measure(download(which), server_pid))
    details["work_the_ceiling_skips"] = skipped = work_the_ceiling_skips(work, source, min(size, 512 * MiB))

    def ratio(ceiling_key: str, key: str) -> tuple[float, float]:
        per_round = [c[0] / o[0] for c, o in zip(samples[ceiling_key], samples[key])]
        best_ratio = min(c[0] for c in samples[ceiling_key]) / min(o[0] for o in samples[key])
        return statistics.median(per_round), best_ratio

    results["upload_large_vs_grpc_ceiling"], details["upload_best_vs_best"] = ratio("ceiling_up", "up")
    results["download_large_vs_grpc_ceiling"], details["download_best_vs_best"] = ratio("ceiling_down", "down")
    results["download_standard_rpc_vs_grpc_ceiling"], _ = ratio("ceiling_down", "down_standard")
    gib = size / (1024 * MiB)
    per_gib = details["per_gib_median"] = {
        name: {"wall_s": statistics.median(s[0] for s in v) / gib, "client_cpu_s": statistics.median(s[1] for s in v) / gib,
               "server_cpu_s": statistics.median(s[2] for s in v) / gib}
        for name, v in samples.items()
    }
    details["rounds_wall_s"] = {name: [round(s[0], 3) for s in v] for name, v in samples.items()}

    # On two shared cores a transfer's wall time follows the CPU time of both
    # ends; the best ratio is the ceiling's CPU over the ceiling's CPU plus what
    # we must do on top (upload: read the source file, hash every byte, copy into
    # the O_DIRECT buffer; a repeated download: read the packs from the page
    # cache; the ceiling sends one prebuilt buffer and drops what it gets), and an
    # upload can be no faster than the disk writes (its end waits for fdatasync).
    # Estimates, not walls: they take our processes' gRPC costs to be the
    # ceiling's, and our server's are lower (its malloc keeps received buffers:
    # ~3k page faults per GiB uploaded against the ceiling server's ~150k), and
    # its hashing runs on a thread of its own beside the receiving loop.
    def total(name: str) -> float:
        return float(per_gib[name]["client_cpu_s"] + per_gib[name]["server_cpu_s"])

    hash_, copy, read = (skipped[k] for k in ("hash_cpu_s_per_gib", "copy_cpu_s_per_gib", "read_cpu_s_per_gib"))
    disk_s_per_gib = 1024 / skipped["disk_write_fsync_mib_s"]
    details["bounds"] = {
        "upload_if_cpu_bound": total("ceiling_up") / (total("ceiling_up") + read + hash_ + copy),
        "upload_if_disk_bound": per_gib["ceiling_up"]["wall_s"] / disk_s_per_gib,
        "download_if_cpu_bound": total("ceiling_down") / (total("ceiling_down") + read),
        "cpu_s_per_gib_total": {name: round(total(name), 3) for name in per_gib},
    }
    return results, details


def evidence(details: dict[str, Any]) -> str:
    """The figures behind the bounds, one line per direction: who spends what, and the work the ceiling skips."""
    per_gib, skipped = details["per_gib_median"], details["work_the_ceiling_skips"]

    def cpu(name: str) -> str:
        return f"{per_gib[name]['client_cpu_s']:.2f} / {per_gib[name]['server_cpu_s']:.2f}"

    return (f"CPU-s per GiB, client / server (median): upload ceiling {cpu('ceiling_up')}, ours {cpu('up')}; "
            f"download ceiling {cpu('ceiling_down')}, ours {cpu('down')}\n"
            f"work the ceiling skips, CPU-s per GiB: read {skipped['read_cpu_s_per_gib']:.3f} (upload: the source; "
            f"download: the packs), hash {skipped['hash_cpu_s_per_gib']:.3f} and copy {skipped['copy_cpu_s_per_gib']:.3f}"
            f" (upload: chunk ids, the O_DIRECT buffer); disk {skipped['disk_write_fsync_mib_s']:.0f} MiB/s "
            f"(O_DIRECT write + fdatasync); per-round wall s: {details['rounds_wall_s']}; load {os.getloadavg()}\n"
            "upload rounds (ratio, our wall and CPU s, the data disk meanwhile: busy share, MiB written by all, "
            "I/O-pressure share): " + "; ".join(
                f"{r['ratio']:.2f} wall {r['wall_s']:.2f} cpu {r['client_cpu_s']:.2f}+{r['server_cpu_s']:.2f} "
                f"disk {r['disk_busy']} {r['mib_written_by_all']} MiB io {r['io_pressure']}"
                for r in details.get("upload_rounds", [])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="MiB per large transfer (default 1024)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of ceiling-then-ours (default 3)")
    parser.add_argument("--files", type=int, default=1_000_000, help="files listed (0: no listing)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from pachmagic.client._transfer import Transfer
    from pachmagic.server import LocalServer

    with tempfile.TemporaryDirectory(prefix="pachmagic-bench-") as tmp:
        work = Path(tmp)
        server = LocalServer(work / "data", in_process=False).start()
        ceiling = ceiling_server()
        try:
            pid = server._proc.pid  # type: ignore[union-attr]  # noqa: SLF001
            client, standard = server.client(), server.client()
            standard.pfs._transfer = Transfer(standard.pfs._t)  # noqa: SLF001 - what a real pachd gets
            results, details = transfer_rounds(client, standard, pid, ceiling, work, args.size * MiB, args.rounds)

            if args.files:
                start = time.perf_counter()
                client.pfs.create_repo("many")
                client.pfs.put_files("many@master", ((f"/f{i:07d}", b"x") for i in range(args.files)))
                details["listing_setup_s"] = time.perf_counter() - start
                listed: list[tuple[float, float, float]] = []
                for _ in range(3):
                    def frame() -> None:
                        assert len(client.pfs.list_file("many@master:/").to_frame()) == args.files
                    listed.append(measure(frame, pid))
                key = "list_1m_to_dataframe_s" if args.files == 1_000_000 else f"list_{args.files}_to_dataframe_s"
                results[key] = min(s[0] for s in listed)
                details["listing_s"] = [{"wall": round(w, 3), "client_cpu": round(c, 3), "server_cpu": round(s, 3)}
                                        for w, c, s in listed]
            client.close()
            standard.close()
        finally:
            ceiling.stop()
            server.stop()

    print(f"\n{'key':<40} {'value':>10}  {'goal':>9}  met")
    for key, value in results.items():
        op, goal = GOALS.get(key, ("", None))
        met = "-" if goal is None else ("yes" if (value >= goal if op == ">=" else value <= goal) else "NO")
        print(f"{key:<40} {value:>10.3f}  {op + ' ' + str(goal) if goal is not None else '-':>9}  {met}")
    bounds = details["bounds"]
    print(f"\nbest ratios this run's figures leave (details.bounds): upload {bounds['upload_if_cpu_bound']:.3f} "
          f"if CPU-bound, {bounds['upload_if_disk_bound']:.3f} if disk-bound; "
          f"download {bounds['download_if_cpu_bound']:.3f} if CPU-bound")
    print(evidence(details))
    print("\ndetails:", json.dumps(details, indent=1))
    if args.json:
        args.json.write_text(json.dumps({**results, "details": details}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
