"""Assemble and run the embedded server: storage, pipelines and gRPC services.

``ServerApp`` owns one data directory's ``Storage``, the pipeline ``Engine`` and
a ``grpc.aio`` server with every servicer registered. It is used in two ways:
``pachmagic serve`` runs it in the foreground, and ``LocalServer`` runs it in a
background thread or child process. Everything that listens on a socket is
decided here: 127.0.0.1 by default, and any other address only with a token.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import threading
from pathlib import Path
from typing import Any, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from .. import __version__
from .._proto import (
    admin_pb2_grpc,
    auth_pb2_grpc,
    enterprise_pb2_grpc,
    identity_pb2_grpc,
    license_pb2_grpc,
    pps_pb2_grpc,
    transaction_pb2_grpc,
    version_pb2_grpc,
)
from ..errors import InvalidArgument
from .guard import Guard
from .pipelines import Engine
from .servicers import ext, misc
from .servicers._base import Runtime
from .servicers.pfs import PfsServicer
from .servicers.pfs import add_to_server as add_pfs_to_server
from .servicers.pps import PpsServicer
from .storage import Storage

__all__ = ["ServerApp", "MAX_MESSAGE", "is_loopback"]

log = logging.getLogger("pachmagic.server")

# pachd's limit; clients send up to 19 MiB chunks.
MAX_MESSAGE = 20 * 1024 * 1024 + 64 * 1024


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServerApp:
    """One embedded server: storage + pipeline engine + gRPC services.

    Parameters
    ----------
    data_dir:
        Where state lives; ``None`` keeps everything in memory.
    host, port:
        Where to listen; port 0 picks a free port (see ``port`` after ``start``).
    auth_token:
        Required on every call when set; required when ``host`` is not loopback.
    workdir:
        Where relative transform commands are resolved when a pipeline sets no
        ``working_dir``.
    max_workers:
        The most workers (sandboxes) one pipeline may have, whatever its
        ``parallelism_spec`` asks; ``None``: the machine's CPU count.
    run_jobs:
        False: jobs are created but never run (see ``Engine``).
    """

    def __init__(
        self,
        data_dir: Path | None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        auth_token: str | None = None,
        workdir: Path | None = None,
        max_workers: int | None = None,
        run_jobs: bool = True,
    ) -> None:
        if not is_loopback(host) and not auth_token:
            raise InvalidArgument(
                f"refusing to serve on {host}: a non-loopback address needs an auth token "
                "(--auth-token or PACHMAGIC_AUTH_TOKEN)"
            )
        self.data_dir = data_dir
        self.host = host
        self.requested_port = port
        self.port = 0
        self.auth_token = auth_token or None
        self.workdir = workdir or Path.cwd()
        self.storage = Storage(data_dir)
        self.runtime = Runtime()
        self.storage.subscribe(self.runtime.changed)
        self.engine = Engine(self.storage, data_dir=data_dir, workdir=self.workdir, on_change=self.runtime.changed,
                             max_workers=max_workers, run_jobs=run_jobs)
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"{host}:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.runtime.bind(loop)
        interceptors = [Guard(self.auth_token)]
        server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
                ("grpc.so_reuseport", 0),
                # A fixed 16 MiB receive window per stream instead of BDP probing:
                # with probing, the server's RSS grew by 150-233 MB during a 1 GiB
                # upload (data queued in gRPC's buffers); with 16 MiB it grows by
                # about 100 MB at the same speed (bench/pfs.py, peak_rss_upload_1g_mb).
                ("grpc.http2.bdp_probe", 0),
                ("grpc.http2.lookahead_bytes", 16 << 20),
            ],
        )
        build = f"pachmagic {__version__}"
        cluster_id = self.storage.cluster_id()
        # (generated add_*_to_server, servicer) pairs; the generated code is untyped.
        registrations: list[tuple[Any, Any]] = [
            (
                add_pfs_to_server,
                PfsServicer(
                    self.storage,
                    self.runtime,
                    guard_repo_delete=self.engine.guard_repo_delete,
                    on_delete_all=self.engine.delete_all,
                ),
            ),
            (pps_pb2_grpc.add_APIServicer_to_server, PpsServicer(self.engine, self.storage, self.runtime)),
            (version_pb2_grpc.add_APIServicer_to_server, misc.VersionServicer(build)),
            (
                admin_pb2_grpc.add_APIServicer_to_server,
                misc.AdminServicer(cluster_id, build, metadata={"pachmagic_ext": ext.ADVERTISED}),
            ),
            (ext.add_to_server, ext.ExtServicer(self.storage, self.runtime)),
            (auth_pb2_grpc.add_APIServicer_to_server, misc.AuthServicer()),
            (identity_pb2_grpc.add_APIServicer_to_server, misc.IdentityServicer()),
            (license_pb2_grpc.add_APIServicer_to_server, misc.LicenseServicer()),
            (enterprise_pb2_grpc.add_APIServicer_to_server, misc.EnterpriseServicer()),
            (transaction_pb2_grpc.add_APIServicer_to_server, misc.TransactionServicer()),
        ]
        for add, servicer in registrations:
            add(servicer, server)
        health = health_aio.HealthServicer()
        await health.set("", health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        try:
            self.port = server.add_insecure_port(f"{self.host}:{self.requested_port}")
        except RuntimeError:  # grpcio >= 1.5x raises instead of returning 0
            self.port = 0
        if not self.port:
            raise OSError(
                errno.EADDRINUSE,
                f"cannot listen on {self.host}:{self.requested_port}: the port is in use (another pachmagic "
                "serve, or a port-forwarded pachd?) or the address is not this machine's; choose another "
                "--port (0 picks a free one)",
            )
        await server.start()
        self._server = server
        self.engine.start()
        log.info("pachmagic server listening on %s (data dir %s)", self.address, self.data_dir or "memory")

    async def wait(self) -> None:
        assert self._server is not None
        await self._server.wait_for_termination()

    async def stop(self, grace: float = 1.0) -> None:
        self.engine.stop()
        if self._server is not None:
            await self._server.stop(grace)
        self.runtime.close()
        self.storage.close()


def run_forever(app: ServerApp, ready: Callable[[ServerApp], None] | None = None) -> None:
    """Run ``app`` on a new event loop until interrupted (``pachmagic serve``)."""

    async def main() -> None:
        await app.start()
        if ready is not None:
            ready(app)
        try:
            await app.wait()
        finally:
            await app.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class ThreadedApp:
    """Run a ``ServerApp`` on its own event loop in a daemon thread."""

    def __init__(self, app: ServerApp) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pachmagic-server", daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.app.start(), self._loop).result()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.app.stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

