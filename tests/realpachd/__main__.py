"""``python -m tests.realpachd [--port P] [--workers]``: a genuine pachd 2.12.2 by hand.

Builds (or reuses) the reference-server program, starts a throwaway PostgreSQL,
starts pachd with fresh state, prints ``READY grpc://127.0.0.1:P`` and serves
until Ctrl-C or SIGTERM; then stops pachd (which drops its database and its
temporary directory) and PostgreSQL, and removes PostgreSQL's directory.
With ``--workers`` its pipelines run (worker pods as local processes, user
code starting in the current directory). Progress goes to stderr; stdout
carries only the READY line.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from tests.realpachd import build, postgres
from tests.realpachd.launcher import RealPachd, RealPachdError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.realpachd", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug-level pachd logs (in its log file)")
    parser.add_argument(
        "--workers", action="store_true",
        help="run pipelines (worker pods as local processes; user code starts in the current directory)",
    )
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        built = build.build(log=say)
    except (build.GoUnavailable, build.GoBuildError) as err:
        say(f"error: {err}")
        return 1
    say(f"realpachd: {built.path} ({'built in %.0f s' % built.seconds if built.built else 'up to date'})")
    try:
        pg = postgres.start(log=say)
    except (postgres.PostgresUnavailable, postgres.PostgresError) as err:
        say(f"error: {err}")
        return 1
    pachd = RealPachd(built.path, pg, args.port, verbose=args.verbose, workers=args.workers, worker_dir=Path.cwd())
    try:
        try:
            pachd.start()
        except RealPachdError as err:
            say(f"error: {err}")
            return 1
        say(f"pachd ready in {pachd.start_seconds:.1f} s; log: {pachd.log_path}; Ctrl-C stops it")
        print(f"READY {pachd.url}", flush=True)
        while not stop.wait(0.5):
            if not pachd.alive():
                say(f"error: pachd stopped; its log ends:\n{pachd.log_tail()}")
                return 1
        say("stopping")
        return 0
    finally:
        started = time.monotonic()
        pachd.stop()
        pg.stop()
        say(f"stopped and cleaned up in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
