"""Build pachctl and our Go client program (``tests/go``) for the tests, with caching.

Both come from the Go module in this directory: ``go.mod`` pins
``github.com/pachyderm/pachyderm/v2`` at the release that matches the
pachyderm-sdk we test with, and names pachctl as a ``tool``, so one
``go build`` compiles the shared dependencies once for both binaries.

Nothing is built or cached inside the repository:

* binaries go to ``$PACHMAGIC_GO_CACHE`` or ``$XDG_CACHE_HOME/pachmagic-go``
  (default ``~/.cache/pachmagic-go``), with a stamp of everything that went
  into them (go.mod, go.sum, our Go sources, ``go version``); a matching stamp
  means the binaries are reused without running the Go toolchain at all;
* the module cache and build cache are the Go toolchain's own (``go env
  GOMODCACHE`` / ``GOCACHE``, under ``~/go`` and ``~/.cache`` by default), so
  a rebuild after a go.mod change only compiles what changed.

``GOFLAGS=-mod=mod`` lets the go command fill in go.sum entries if a module is
missing from it; ``-buildvcs=false`` keeps our checkout's commit out of
pachctl's version. ``github.com/pachyderm/dex`` (Pachyderm's fork of dex,
which Pachyderm's go.mod substitutes with a ``replace`` that we must repeat) is
not in the public checksum database (its lookup answers 404), so it is exempt
from that lookup via ``GONOSUMDB``; its hashes in our go.sum equal those in
Pachyderm's own go.sum at the same release.

Usage from a test module::

    binaries = gobuild.build_or_skip()      # pytest.skip only when there is no `go`
    binaries.pachctl, binaries.tutorial     # Paths to the executables

Run ``python tests/go/gobuild.py`` to build (and time) outside pytest.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
PACHCTL_PKG = "github.com/pachyderm/pachyderm/v2/src/server/cmd/pachctl"
TUTORIAL_PKG = "./tutorial"
VERSION_VAR = "github.com/pachyderm/pachyderm/v2/src/version.AppVersion"
# A cold build (empty module and build caches) takes several minutes on two
# cores; see the numbers in tests/go/README.md.
BUILD_TIMEOUT = 3000


@dataclass(frozen=True)
class GoBinaries:
    pachctl: Path
    tutorial: Path
    built: bool  # False when reused from the cache
    seconds: float  # time spent building (0 when reused)


class GoUnavailable(Exception):
    """No Go toolchain on this machine (the only reason to skip)."""


class GoBuildError(Exception):
    """The Go toolchain is there but the build failed (a test failure, not a skip)."""


def cache_dir() -> Path:
    explicit = os.environ.get("PACHMAGIC_GO_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "pachmagic-go"


def go_executable() -> str:
    go = shutil.which("go")
    if go is None:
        for candidate in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go"):
            if os.access(candidate, os.X_OK):
                go = candidate
                break
    if go is None:
        raise GoUnavailable("no Go toolchain: `go` is not on PATH (needed to build pachctl and the Go client)")
    return go


def pachyderm_version() -> str:
    """The Pachyderm release go.mod requires, e.g. ``v2.12.2``."""
    match = re.search(r"^\s*(?:require\s+)?github\.com/pachyderm/pachyderm/v2\s+(v\S+)", (HERE / "go.mod").read_text(), re.M)
    if match is None:
        raise GoBuildError("tests/go/go.mod does not require github.com/pachyderm/pachyderm/v2")
    return match.group(1)


def _inside_repo(path: str) -> bool:
    try:
        Path(path).resolve().relative_to(REPO_ROOT)
    except ValueError:
        return False
    return True


def go_env(go: str) -> dict[str, str]:
    env = dict(os.environ)
    # -buildvcs=false: our checkout's git state is not pachctl's (and git may refuse a foreign checkout).
    env["GOFLAGS"] = "-mod=mod -buildvcs=false"
    env["GONOSUMDB"] = ",".join(filter(None, [env.get("GONOSUMDB"), "github.com/pachyderm/dex"]))
    # Module and build caches: the toolchain's defaults, unless they point into the repository.
    for var, fallback in (("GOMODCACHE", Path.home() / "go" / "pkg" / "mod"), ("GOCACHE", Path.home() / ".cache" / "go-build")):
        value = subprocess.run([go, "env", var], capture_output=True, text=True, env=env, cwd=HERE).stdout.strip()
        if not value or _inside_repo(value):
            env[var] = str(fallback)
    return env


def _build_args() -> list[str]:
    # Stamp the release version into pachctl as Pachyderm's release build does
    # (otherwise `pachctl version` says 0.0.0).
    ldflags = f"-X {VERSION_VAR}={pachyderm_version().lstrip('v')}"
    return ["build", "-trimpath", "-ldflags", ldflags]


def _stamp(go: str, env: dict[str, str]) -> str:
    """A digest of everything the binaries depend on: toolchain, flags, environment, sources."""
    h = hashlib.sha256()
    version = subprocess.run([go, "version"], capture_output=True, text=True, env=env, cwd=HERE).stdout
    h.update(version.encode())
    h.update(" ".join(_build_args()).encode() + b"\n")
    for var in ("GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS", "GOEXPERIMENT", "GOAMD64"):
        h.update(f"{var}={env.get(var, '')}\n".encode())
    sources = [HERE / "go.mod", HERE / "go.sum", *sorted((HERE / "tutorial").rglob("*.go"))]
    for path in sources:
        h.update(str(path.relative_to(HERE)).encode() + b"\0")
        h.update(path.read_bytes() if path.exists() else b"<missing>")
    return h.hexdigest()


def build(log: Callable[[str], None] | None = None) -> GoBinaries:
    """Build (or reuse) pachctl and the tutorial program; raise GoUnavailable or GoBuildError."""
    go = go_executable()
    env = go_env(go)
    out = cache_dir()
    bindir = out / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    pachctl, tutorial = bindir / "pachctl", bindir / "tutorial"
    stamp_file = out / "stamp"
    stamp = _stamp(go, env)
    with open(out / "lock", "w") as lock:
        # One builder at a time (several test runs may share the cache).
        fcntl.flock(lock, fcntl.LOCK_EX)
        if pachctl.exists() and tutorial.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
            return GoBinaries(pachctl, tutorial, built=False, seconds=0.0)
        stamp_file.unlink(missing_ok=True)
        cmd = [go, *_build_args(), "-o", str(bindir) + os.sep, PACHCTL_PKG, TUTORIAL_PKG]
        if log is not None:
            log(f"building pachctl and the Go tutorial client into {bindir} (a cold build takes minutes)")
        started = time.monotonic()
        try:
            result = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired as err:
            stderr = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else (err.stderr or "")
            raise GoBuildError(f"`{' '.join(cmd)}` did not finish in {BUILD_TIMEOUT} s\n{stderr}") from None
        seconds = time.monotonic() - started
        if result.returncode != 0:
            raise GoBuildError(
                f"`{' '.join(cmd)}` (in {HERE}) exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        stamp_file.write_text(stamp)
        (out / "last-build-seconds").write_text(f"{seconds:.1f}\n")
        return GoBinaries(pachctl, tutorial, built=True, seconds=seconds)


def build_or_skip() -> GoBinaries:  # noqa: RET503 - skip/fail raise
    """For tests: skip only when there is no Go toolchain; a failed build fails."""
    import pytest

    try:
        return build()
    except GoUnavailable as err:
        pytest.skip(str(err))
    except GoBuildError as err:
        pytest.fail(str(err), pytrace=False)


if __name__ == "__main__":
    try:
        binaries = build(log=lambda msg: print(msg, file=sys.stderr))
    except (GoUnavailable, GoBuildError) as err:
        print(err, file=sys.stderr)
        sys.exit(1)
    how = f"built in {binaries.seconds:.1f} s" if binaries.built else "up to date (reused)"
    print(f"{binaries.pachctl}\n{binaries.tutorial}\n{how}")
