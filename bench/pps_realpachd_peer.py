"""The reference pachd as a peer in the pipeline benchmark: the same jobs on both servers, one run.

A genuine pachd 2.12.2 in its ``-workers`` mode (``tests/realpachd``:
Pachyderm's own worker and storage sidecar as local processes, built from
source where Go is installed, with a throwaway PostgreSQL) and the embedded
server each run the same pipelines, driven by pachmagic's client, interleaved
(ours, then pachd's) so both see the same machine load:

* ``commit_to_output_latency``: a one-datum ``cp`` pipeline; finishing an input
  commit -> its output commit finished, median of the rounds;
* ``per_datum_overhead``: a job of N ``/bin/true`` datums at parallelism 1
  (glob ``/*``), the job's own started -> finished per datum, minus the bare
  cost of spawning ``/bin/true`` on this machine. The ratio is taken of the
  per-datum times (both overheads are in the details): ours is near the bare
  spawn, and a ratio over a difference near zero (or below it, on a noisy
  machine) says nothing.

Each key ``<what>_vs_real_pachd`` is pachd's time ÷ ours: above 1 the embedded
server is faster. Used from ``bench/pps.py`` (``measure(...)``), or on its own:
``python bench/pps_realpachd_peer.py [--quick]``. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # tests/realpachd holds the reference server

TRUE = "/bin/true"
RATIO_KEYS = ("commit_to_output_latency_vs_real_pachd", "per_datum_overhead_vs_real_pachd")


def bare_spawn_ms(runs: int) -> float:
    env = {"PATH": "/usr/bin:/bin"}
    start = time.perf_counter()
    for _ in range(runs):
        subprocess.run([TRUE], env=env, check=True)
    return (time.perf_counter() - start) / runs * 1000


class _Side:
    """One server under measurement, through pachmagic's client."""

    def __init__(self, name: str, address: str) -> None:
        from pachmagic.client import connect

        self.name = name
        self.client = connect(address)
        self.latencies_ms: list[float] = []
        self.job: dict[str, float] = {}

    def setup_latency(self) -> None:
        c = self.client
        c.pfs.create_repo("one")
        c.pfs.put_file("one@master", "/x", b"0")
        c.pps.create_pipeline({
            "pipeline": {"name": "echo"}, "transform": {"image": "x", "cmd": ["cp", "/pfs/one/x", "/pfs/out/x"]},
            "input": {"pfs": {"repo": "one", "glob": "/"}},
        })
        c.pfs.wait_commit("echo@master")

    def one_round(self, i: int) -> None:
        c = self.client
        commit = c.pfs.start_commit("one@master")
        c.pfs.put_file(commit, "/x", str(i).encode())
        start = time.perf_counter()
        c.pfs.finish_commit(commit)
        c.pfs.wait_commit(f"echo@{commit.id}")
        self.latencies_ms.append((time.perf_counter() - start) * 1000)
        got = c.pfs.get_file(f"echo@{commit.id}:/x")
        if got != str(i).encode():
            raise RuntimeError(f"{self.name}: round {i} output {got!r}")

    def datums_job(self, files: int) -> None:
        c = self.client
        c.pfs.create_repo("many")
        c.pfs.put_files("many@master", {f"/f{i:05d}": f"{i}".encode() for i in range(files)})
        c.pps.create_pipeline({
            "pipeline": {"name": "noop"}, "transform": {"image": "x", "cmd": [TRUE]},
            "input": {"pfs": {"repo": "many", "glob": "/*"}}, "parallelism_spec": {"constant": 1},
        })
        c.pfs.wait_commit("noop@master")
        info = c.pps.list_job(pipeline="noop")[0]
        if info.state != "success" or info.data_processed != files or info.started is None or info.finished is None:
            raise RuntimeError(f"{self.name}: the datums job ended {info.state} with {info.data_processed} processed")
        seconds = (info.finished - info.started).total_seconds()
        self.job = {"datums": files, "job_s": seconds, "per_datum_ms": seconds / files * 1000}
        c.pps.delete_pipeline("noop")  # its idle worker must not share the CPUs with the other side


def compare(ours_address: str, real_address: str, rounds: int, files: int) -> dict[str, Any]:
    ours, real = _Side("embedded", ours_address), _Side("real_pachd", real_address)
    sides = (ours, real)
    try:
        for side in sides:
            side.setup_latency()
        for i in range(rounds):
            for side in sides:
                side.one_round(i)
        for side in sides:
            side.client.pps.delete_pipeline("echo")
        bare_before = bare_spawn_ms(100)
        for side in sides:
            side.datums_job(files)
        bare = (bare_before + bare_spawn_ms(100)) / 2
    finally:
        for side in sides:
            side.client.close()
    latency = {side.name: statistics.median(side.latencies_ms) for side in sides}
    overhead = {side.name: side.job["per_datum_ms"] - bare for side in sides}
    return {
        "ratios": {
            "commit_to_output_latency_vs_real_pachd": latency["real_pachd"] / latency["embedded"],
            "per_datum_overhead_vs_real_pachd": real.job["per_datum_ms"] / ours.job["per_datum_ms"],
        },
        "details": {
            "rounds": rounds, "bare_spawn_ms": bare,
            **{f"{side.name}_latency_ms": latency[side.name] for side in sides},
            **{f"{side.name}_latency_min_max_ms": [min(side.latencies_ms), max(side.latencies_ms)] for side in sides},
            **{f"{side.name}_per_datum_overhead_ms": overhead[side.name] for side in sides},
            **{f"{side.name}_{k}": v for side in sides for k, v in side.job.items()},
        },
    }


def measure(rounds: int, files: int) -> dict[str, Any]:
    """Start an embedded server and the reference pachd with workers, compare, stop both.

    ``{"ratios", "details"}``, or ``{"note"}`` where the reference cannot run here.
    """
    from pachmagic.server import LocalServer

    try:
        from tests.realpachd import build, postgres
        from tests.realpachd.launcher import RealPachd
    except ImportError as err:
        return {"note": f"reference pachd unavailable: {err}"}
    with tempfile.TemporaryDirectory(prefix="pachmagic-bench-pps-peer-") as tmp:
        work = Path(tmp)
        pg: Any = None
        pachd: Any = None
        try:
            try:
                binary = build.build(log=lambda msg: print(msg, file=sys.stderr)).path
                pg = postgres.start()
                pachd = RealPachd(binary, pg, workers=True, worker_dir=work).start()
            except Exception as err:  # Go or PostgreSQL missing, or a failed build: say so in the results
                return {"note": f"reference pachd unavailable: {str(err)[-500:]}"}
            with LocalServer(work / "data", in_process=True, workdir=work) as server:
                return compare(server.address, pachd.address, rounds, files)
        finally:
            if pachd is not None:
                pachd.stop()
            if pg is not None:
                pg.stop()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and datums, for a smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    peer = measure(rounds=5 if args.quick else 15, files=50 if args.quick else 200)
    if "note" in peer:
        print(peer["note"], file=sys.stderr)
        return 1
    for key, value in peer["ratios"].items():
        print(f"{key:<40}  {value:>8.3f}")
    print("  " + ", ".join(f"{k}={_fmt(v)}" for k, v in peer["details"].items()))
    if args.json:
        args.json.write_text(json.dumps(peer, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
