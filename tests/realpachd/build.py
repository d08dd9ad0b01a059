"""Build the reference-server program (``tests/realpachd/main.go``), or reuse it.

Built exactly like ``tests/go`` (and with its helpers): module and build caches
are the Go toolchain's own, outside the repository; the binary goes to the same
cache directory as pachctl (``<cache>/bin/realpachd``, see
``tests.go.gobuild.cache_dir``) with a stamp of everything that went into it,
so an unchanged build costs no Go command at all; builds take the same lock as
pachctl's, so only one Go build runs at a time on the machine. ``-trimpath``
and the ``AppVersion`` ldflag match Pachyderm's release build, so the server
reports version 2.12.2.

This module builds; it does not start anything (see ``launcher.py``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.go import gobuild
from tests.go.gobuild import GoBuildError, GoUnavailable

HERE = Path(__file__).resolve().parent
BINARY_NAME = "realpachd"
BUILD_TIMEOUT = gobuild.BUILD_TIMEOUT

__all__ = ["Built", "GoBuildError", "GoUnavailable", "build", "binary_path"]


@dataclass(frozen=True)
class Built:
    path: Path
    built: bool  # False when reused from the cache
    seconds: float  # time spent building (0 when reused)


def pachyderm_version() -> str:
    """The Pachyderm release our go.mod requires, e.g. ``2.12.2``."""
    text = (HERE / "go.mod").read_text()
    match = re.search(r"^\s*(?:require\s+)?github\.com/pachyderm/pachyderm/v2\s+v(\S+)", text, re.M)
    if match is None:
        raise GoBuildError(f"{HERE / 'go.mod'} does not require github.com/pachyderm/pachyderm/v2")
    return match.group(1)


def _build_args() -> list[str]:
    ldflags = f"-X {gobuild.VERSION_VAR}={pachyderm_version()}"
    return ["build", "-trimpath", "-ldflags", ldflags]


def _stamp(go: str, env: dict[str, str]) -> str:
    h = hashlib.sha256()
    h.update(subprocess.run([go, "version"], capture_output=True, text=True, env=env, cwd=HERE).stdout.encode())
    h.update(" ".join(_build_args()).encode() + b"\n")
    for var in ("GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS", "GOEXPERIMENT", "GOAMD64"):
        h.update(f"{var}={env.get(var, '')}\n".encode())
    for path in [HERE / "go.mod", HERE / "go.sum", *sorted(HERE.glob("*.go"))]:
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes() if path.exists() else b"<missing>")
    return h.hexdigest()


# Binaries of other stamps kept (other checkouts'), newest first; older ones are removed.
KEEP_OTHERS = 3


def binary_path(stamp: str) -> Path:
    return gobuild.cache_dir() / "bin" / f"{BINARY_NAME}-{stamp[:16]}"


def _prune(keep: Path) -> None:
    named = re.compile(rf"{BINARY_NAME}-[0-9a-f]{{16}}")
    others = [p for p in keep.parent.iterdir() if p != keep and named.fullmatch(p.name)]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in others[KEEP_OTHERS:]:
        old.unlink(missing_ok=True)  # a running server keeps its inode


def build(log: Callable[[str], None] | None = None) -> Built:
    """Build (or reuse) the realpachd binary; raise GoUnavailable or GoBuildError."""
    go = gobuild.go_executable()
    env = gobuild.go_env(go)
    out = gobuild.cache_dir()
    stamp = _stamp(go, env)
    binary = binary_path(stamp)
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(binary.name + ".tmp")
    with open(out / "lock", "w") as lock:
        # The same lock as tests/go's build: one Go build at a time.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            os.utime(binary)  # recently used: kept by _prune
            return Built(binary, built=False, seconds=0.0)
        cmd = [go, *_build_args(), "-o", str(partial), "."]
        if log is not None:
            log(f"building the reference pachd into {binary} (a cold build takes minutes)")
        started = time.monotonic()
        try:
            result = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired as err:
            stderr = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else (err.stderr or "")
            raise GoBuildError(f"`{' '.join(cmd)}` did not finish in {BUILD_TIMEOUT} s\n{stderr}") from None
        seconds = time.monotonic() - started
        if result.returncode != 0:
            raise GoBuildError(f"`{' '.join(cmd)}` (in {HERE}) exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        partial.replace(binary)  # complete or absent: its name is its stamp
        (out / f"{BINARY_NAME}-last-build-seconds").write_text(f"{seconds:.1f}\n")
        _prune(binary)
        return Built(binary, built=True, seconds=seconds)


if __name__ == "__main__":
    import sys

    try:
        built = build(log=lambda msg: print(msg, file=sys.stderr))
    except (GoUnavailable, GoBuildError) as err:
        print(err, file=sys.stderr)
        sys.exit(1)
    print(built.path)
    print(f"built in {built.seconds:.1f} s" if built.built else "up to date (reused)")
