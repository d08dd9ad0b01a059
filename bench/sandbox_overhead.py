"""Per-datum overhead of ``Sandbox.run`` against spawning the same command bare.

Runs ``/bin/true`` N times through a ``Sandbox`` (with two ``/pfs`` mounts, as a
one-input datum has) and N times with ``subprocess.run``, interleaved so both see
the same machine load, and prints per-run times, their ratio and the difference.
The target is a difference of at most 5 ms per datum. A script, not a test: it
asserts nothing.

    python bench/sandbox_overhead.py [--runs 1000] [--mode namespace|substitute|both]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from pachmagic.server.pipelines.sandbox import ENV_VAR, Sandbox

TRUE = "/bin/true"
WARMUP = 20


def measure(mode: str, runs: int, scratch: Path) -> None:
    os.environ[ENV_VAR] = mode
    datum = scratch / f"datum-{mode}"
    mounts = {"in": datum / "in", "out": datum / "out"}
    for path in mounts.values():
        path.mkdir(parents=True)
    env = {"PATH": "/usr/bin:/bin"}
    started = time.perf_counter()
    with Sandbox(scratch / f"sandbox-{mode}") as sb:
        startup = time.perf_counter() - started
        boxed: list[float] = []
        bare: list[float] = []
        for i in range(WARMUP + runs):
            t0 = time.perf_counter()
            result = sb.run(cmd=[TRUE], stdin=None, env=env, cwd=None, mounts=mounts,
                            timeout=None, on_output=lambda stream, line: None)
            t1 = time.perf_counter()
            subprocess.run([TRUE], env=env, check=True)
            t2 = time.perf_counter()
            assert result.exit_code == 0
            if i >= WARMUP:
                boxed.append(t1 - t0)
                bare.append(t2 - t1)
        actual = sb.mode
    ms = 1000.0
    b_mean, r_mean = statistics.fmean(boxed) * ms, statistics.fmean(bare) * ms
    b_med, r_med = statistics.median(boxed) * ms, statistics.median(bare) * ms
    print(f"mode={actual} runs={runs} (worker start-up {startup * ms:.1f} ms, once per sandbox)")
    print(f"  Sandbox.run          mean {b_mean:7.3f} ms   median {b_med:7.3f} ms")
    print(f"  subprocess.run bare  mean {r_mean:7.3f} ms   median {r_med:7.3f} ms")
    print(f"  overhead per datum   mean {b_mean - r_mean:+7.3f} ms   median {b_med - r_med:+7.3f} ms"
          f"   ratio {b_mean / r_mean:.2f}x (mean), {b_med / r_med:.2f}x (median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--mode", choices=["namespace", "substitute", "both"], default="both")
    args = parser.parse_args()
    modes = ["namespace", "substitute"] if args.mode == "both" else [args.mode]
    with tempfile.TemporaryDirectory(prefix="pachmagic-bench-") as tmp:
        for mode in modes:
            measure(mode, args.runs, Path(tmp))


if __name__ == "__main__":
    main()
