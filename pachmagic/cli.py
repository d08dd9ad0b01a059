"""The ``pachmagic`` command: ``serve``, ``demo``, ``fsck``, ``gc`` and ``version``.

Thin wrappers: the work is done by ``pachmagic.server`` and ``pachmagic.demo``.
Help reads as plain text (``-h`` or ``--help``; command summaries are written
short enough that click never cuts them with ``...``), and failures are one
line (``Error: ...``), never a traceback or a log line from gRPC's core.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from . import __version__

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


def _exit_with_parent() -> None:
    """Make this process end when the process that started it ends."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, daemon=True).start()


def _tune_malloc() -> None:
    """Cap glibc's malloc arenas at two and keep freed chunk buffers for reuse.

    gRPC hands the server's threads megabyte-sized message buffers; with glibc's
    default of eight arenas per core, freed buffers spread across arenas and a
    1 GiB upload grew the server's RSS by 130-330 MB. Two arenas keep it near
    100 MB and measured slightly faster (what MALLOC_ARENA_MAX=2 does).

    Every 4 MiB chunk read from a pack or received from a client is a new
    buffer. By default glibc gives each its own mmap (once a buffer is freed
    from another thread's arena its dynamic threshold no longer helps) or trims
    the heap under it after the free, so every chunk's pages were faulted in and
    zeroed anew: measured 0.4-0.5 CPU-s per GiB downloaded, more than gRPC's own
    sending costs. Serving 4 MiB buffers from the heap and trimming it only past
    64 MiB of free space at its top reuses them. Must run before threads start;
    settings from the environment (MALLOC_*_, GLIBC_TUNABLES) win.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        if not os.environ.get("MALLOC_ARENA_MAX"):
            libc.mallopt(-8, 2)  # M_ARENA_MAX
        if not (os.environ.get("GLIBC_TUNABLES") or os.environ.get("MALLOC_MMAP_THRESHOLD_")
                or os.environ.get("MALLOC_TRIM_THRESHOLD_")):
            libc.mallopt(-3, 16 * 1024 * 1024)  # M_MMAP_THRESHOLD: above a chunk's buffer
            libc.mallopt(-1, 64 * 1024 * 1024)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _data_dir_option(what: str) -> Callable[[F], F]:
    """``--data-dir`` of the commands that work on a server's state."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"{what} [default: the user data dir, or $PACHMAGIC_DATA_DIR].",
    )


def _version_line() -> str:
    from .server.servicers.misc import VERSION

    return f"pachmagic {__version__} (serves the Pachyderm {'.'.join(map(str, VERSION))} API)"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version_line())
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show pachmagic's version and the Pachyderm API version it serves, and exit.")
def main() -> None:
    """pachmagic: Pachyderm inside Jupyter, with an embedded server."""


def _port_free(host: str, port: int) -> str | None:
    """None when ``host:port`` can be listened on now, else why not (checked before anything is created)."""
    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        return f"cannot listen on {host}:{port}: {err.strerror or err}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds
        try:
            probe.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return f"cannot listen on {host}:{port}: the port is in use (another server? try --port 0)"
            return f"cannot listen on {host}:{port}: {err.strerror or err}"
    return None


@main.command(short_help="Run the embedded server in the foreground.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; non-loopback needs --auth-token.")
@click.option("--port", default=30650, show_default=True, type=int, help="TCP port (0 picks a free one).")
@_data_dir_option("Where state is kept")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where relative transform commands run [default: the current directory].",
)
@click.option("--auth-token", envvar="PACHMAGIC_AUTH_TOKEN", default=None,
              help="Require this authn-token on every call (visible to local users in the process list: "
                   "prefer $PACHMAGIC_AUTH_TOKEN or --auth-token-file).")
@click.option("--auth-token-file", envvar="PACHMAGIC_AUTH_TOKEN_FILE", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Read the authn-token from this file's first line.")
@click.option(
    "--max-workers",
    envvar="PACHMAGIC_MAX_WORKERS",
    type=click.IntRange(min=1),
    default=None,
    help="The most workers one pipeline may run at once, whatever its parallelism_spec asks "
    "[default: the number of CPUs, or $PACHMAGIC_MAX_WORKERS].",
)
@click.option("--exit-with-parent", is_flag=True, hidden=True)
@click.option("-v", "--verbose", is_flag=True, help="Log server activity.")
def serve(
    host: str, port: int, data_dir: Path | None, workdir: Path | None, auth_token: str | None,
    auth_token_file: Path | None, max_workers: int | None, exit_with_parent: bool, verbose: bool,
) -> None:
    """Run the embedded Pachyderm-compatible server in the foreground."""
    # gRPC's core logs its own line (add_port.cc ...) before a bind fails: errors here are ours, one line.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    busy = _port_free(host, port)
    if busy:  # before the data directory is created or touched
        raise click.ClickException(busy)
    from .errors import PachError
    from .server import default_data_dir
    from .server.app import ServerApp
    from .server.local import READY_PREFIX

    if auth_token_file is not None:
        if auth_token:
            raise click.UsageError("give the token once: --auth-token (or $PACHMAGIC_AUTH_TOKEN) or --auth-token-file")
        try:
            lines = auth_token_file.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise click.ClickException(f"cannot read the auth token file {auth_token_file}: {err.strerror}") from None
        auth_token = lines[0].strip() if lines else ""
        if not auth_token:
            raise click.ClickException(f"the auth token file {auth_token_file} is empty")

    _tune_malloc()
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if exit_with_parent:
        _exit_with_parent()
    data_dir = data_dir or default_data_dir()
    try:
        app = ServerApp(data_dir, host=host, port=port, auth_token=auth_token, workdir=(workdir or Path.cwd()).resolve(),
                        max_workers=max_workers)
    except PachError as err:
        raise click.ClickException(str(err)) from None

    async def run() -> None:
        await app.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"{READY_PREFIX}{app.address} (data dir {data_dir})", nl=True)
        sys.stdout.flush()
        await stop.wait()
        await app.stop()

    try:
        asyncio.run(run())
    except OSError as err:  # e.g. the port is in use: one line, no traceback
        raise click.ClickException(err.strerror or str(err)) from None


@main.command(short_help="Check a data directory's references and hashes.")
@_data_dir_option("The data directory to check")
@click.option("--no-data", is_flag=True, help="Skip reading and hashing every stored chunk (faster).")
def fsck(data_dir: Path | None, no_data: bool) -> None:
    """Check every reference and hash of a data directory; exit 1 on damage."""
    from .server import default_data_dir
    from .server.storage.fsck import fsck_data_dir

    data_dir = data_dir or default_data_dir()
    try:
        report = fsck_data_dir(data_dir, verify_data=not no_data)
    except FileNotFoundError as err:
        raise click.ClickException(str(err)) from None
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        sys.exit(1)


@main.command(short_help="Reclaim space of deleted data (server stopped).")
@_data_dir_option("The data directory to collect")
@click.option("--dry-run", is_flag=True, help="Only report what would be removed and reclaimed.")
def gc(data_dir: Path | None, dry_run: bool) -> None:
    """Reclaim the space of deleted repos, commits and files (stop the server first)."""
    from .errors import FailedPrecondition, PachError
    from .server import default_data_dir
    from .server.storage.gc import gc_data_dir

    data_dir = data_dir or default_data_dir()
    try:
        report = gc_data_dir(data_dir, dry_run=dry_run)
    except FileNotFoundError as err:
        raise click.ClickException(str(err)) from None
    except FailedPrecondition as err:  # the data directory's lock: a server holds it
        raise click.ClickException(f"{err}; stop it first: pachmagic gc works on a stopped server's data") from None
    except PachError as err:
        raise click.ClickException(str(err)) from None
    for line in report.lines():
        click.echo(line)


@main.command(short_help="Print the versions (same as --version).")
def version() -> None:
    """Print pachmagic's version, the Pachyderm API version the server speaks, and how transforms are isolated."""
    click.echo(_version_line())
    if os.name == "posix":
        from .server.pipelines.sandbox import sandbox_report

        click.echo(sandbox_report())  # where the OS refuses a namespace, this says which


@main.command(short_help="Run the tutorial's workflow, headless.")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("pachmagic-demo-output"),
    show_default=True,
    help="Where to write the contour and histogram images.",
)
def demo(output: Path) -> None:
    """Run the photos → contour → histogram tutorial on a temporary embedded server."""
    from .demo import run_demo

    code = run_demo(output, echo=click.echo)
    if code:
        sys.exit(code)


@main.command("sandbox-run", short_help="Run a command as a pipeline worker would.")
@click.option("--mount", "mounts", multiple=True, metavar="NAME=DIR", help="Make DIR appear at /pfs/NAME (repeatable; use out=DIR for /pfs/out).")
@click.option("--cwd", type=click.Path(file_okay=False), default=None, help="Working directory of the command.")
@click.option("--stdin-file", type=click.Path(dir_okay=False, exists=True), default=None, help="Feed this file to the command's stdin.")
@click.option("--timeout", type=float, default=None, help="Kill the command after this many seconds.")
@click.argument("cmd", nargs=-1, required=True)
def sandbox_run(mounts: tuple[str, ...], cwd: str | None, stdin_file: str | None, timeout: float | None, cmd: tuple[str, ...]) -> None:
    """Run CMD as a pipeline worker would: with /pfs/NAME paths that really exist.

    Used by "%pach run datum"; handy for running a transform by hand. On
    Linux the paths come from a private user and mount namespace; elsewhere
    /pfs is substituted in the command, stdin and environment, with a warning.

    \b
    Example:
      pachmagic sandbox-run --mount photos=./photos --mount out=./out -- python3 contour.py
    """
    import tempfile

    from .server.pipelines.sandbox import Sandbox

    mapping: dict[str, Path] = {}
    for item in mounts:
        name, sep, directory = item.partition("=")
        if not sep or not name or not directory:
            raise click.BadParameter(f"expected NAME=DIR, got {item!r}", param_hint="--mount")
        mapping[name] = Path(directory).resolve()
    stdin = Path(stdin_file).read_text() if stdin_file else None
    with tempfile.TemporaryDirectory(prefix="pachmagic-sandbox-") as scratch:
        with Sandbox(Path(scratch)) as box:
            if box.warning:
                click.echo(f"warning: {box.warning}", err=True)
            result = box.run(
                cmd=list(cmd),
                stdin=stdin,
                env=dict(os.environ),
                cwd=cwd or os.getcwd(),
                mounts=mapping,
                timeout=timeout,
                on_output=lambda stream, line: click.echo(line, err=stream == "stderr"),
            )
    if result.timed_out:
        click.echo(f"timed out after {timeout}s", err=True)
    sys.exit(result.exit_code if result.exit_code >= 0 else 128 - result.exit_code)
