"""``Client`` and ``connect``: the entry point of the Pachyderm client.

A client is a composition over one gRPC channel: ``client.pfs``,
``client.pps``, ``client.admin`` and ``client.version()``. Creating one resolves
the address (``_config.py``) but sends nothing; the first RPC connects, and if
nothing answers it raises ``ConnectionFailed`` naming the address and how it
was chosen. Use it as a context manager or call ``close()``.

This module imports only ``pachmagic._proto``, ``pachmagic.errors`` and the
client's own modules; never the server, magics or widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Mapping

from google.protobuf import empty_pb2

from pachmagic.client import _convert as cv
from pachmagic.client._config import Endpoint, resolve_endpoint
from pachmagic.client._transport import Transport
from pachmagic.client.admin import Admin
from pachmagic.client.pfs import Pfs
from pachmagic.client.pps import Pps
from pachmagic.client.reads import ReadRecorder
from pachmagic.client.records import Version
from pachmagic.client.refs import InvalidRef, Repo
from pachmagic.errors import InvalidArgument

__all__ = ["Client", "connect"]


@dataclass
class _Shared:
    """What a client and its ``unrecorded()`` twin share besides the connection."""

    project: str


class Client:
    """A connection to pachd (a cluster or the embedded server).

    Parameters
    ----------
    address:
        ``host:port`` or ``grpc://``/``grpcs://``/``http://``/``https://`` URL.
        Default: ``PACHD_ADDRESS``, then pachctl's active context, then
        ``localhost:30650``.
    token:
        Auth token (default: ``PACH_PYTHON_AUTH_TOKEN``, then the context's).
    project:
        Project for refs that name none (default: the context's, else ``default``).
    environ, home:
        The environment and home directory to resolve from (default: the
        process' ``os.environ`` and the user's home); for tests and tools.
    recorder:
        A ``pachmagic.client.reads.ReadRecorder``: every file read of this
        client is recorded there, and resolved through the lock it uses
        (see ``ReadRecorder``). Default: none (reads are not recorded).

    Examples
    --------
    >>> with Client("localhost:30650") as client:          # doctest: +SKIP
    ...     client.pfs.create_repo("photos")
    ...     with client.pfs.commit("photos@master") as c:
    ...         c.put_file("/hello.txt", b"hi")
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        project: str | None = None,
        environ: Mapping[str, str] | None = None,
        home: Path | None = None,
        recorder: ReadRecorder | None = None,
    ) -> None:
        self._endpoint: Endpoint = resolve_endpoint(
            address, token=token, project=project, environ=environ, home=home
        )
        self._shared = _Shared(self._endpoint.project)
        self._transport = Transport(self._endpoint)
        self._owns_transport = True
        self._compose(recorder)

    def _compose(self, recorder: ReadRecorder | None) -> None:
        self._recorder = recorder
        self.pfs = Pfs(self._transport, lambda: self._shared.project, recorder)
        self.pps = Pps(self._transport, lambda: self._shared.project)
        self.admin = Admin(self._transport)

    @property
    def recorder(self) -> ReadRecorder | None:
        """The recorder of this client's reads (None when reads are not recorded)."""
        return self._recorder

    def unrecorded(self) -> Client:
        """A client on the same connection and project whose reads are neither recorded nor locked.

        For tools that look around on the user's behalf (tab completion, live
        panels): what they read is not what the notebook read. Closing it does
        not close this client's connection; the project is shared with this client.
        """
        twin = object.__new__(Client)
        twin._endpoint = self._endpoint
        twin._shared = self._shared  # one project for both: setting it on either sets it on both
        twin._transport = self._transport
        twin._owns_transport = False
        twin._compose(None)
        return twin

    def fork(self, *, source: str | None = None) -> Client:
        """A new client of its own (its own connection) to the same server, token and project.

        Closing either leaves the other open; their projects are independent.
        ``source`` replaces ``address_source`` (how the address was chosen).
        """
        twin = object.__new__(Client)
        endpoint = self._endpoint
        twin._endpoint = replace(endpoint, project=self.project, source=source or endpoint.source)
        twin._shared = _Shared(twin._endpoint.project)
        twin._transport = Transport(twin._endpoint)
        twin._owns_transport = True
        twin._compose(None)
        return twin

    @property
    def address(self) -> str:
        """The ``host:port`` the client dials."""
        return self._endpoint.target

    @property
    def address_source(self) -> str:
        """How the address was chosen: ``argument``, ``PACHD_ADDRESS``, ``pachctl config context ...``, ``default``."""
        return self._endpoint.source

    @property
    def tls(self) -> bool:
        """Whether the channel uses TLS."""
        return self._endpoint.tls

    @property
    def authenticated(self) -> bool:
        """Whether an auth token is sent with every call."""
        return self._endpoint.token is not None

    @property
    def project(self) -> str:
        """The project used for refs that name none; assignable."""
        return self._shared.project

    @project.setter
    def project(self, name: str) -> None:
        try:
            Repo("x", project=name)
        except InvalidRef as exc:
            raise InvalidArgument(str(exc)) from None
        self._shared.project = name

    def version(self) -> Version:
        """Return the server's version (``str(v)`` is e.g. ``2.12.2``)."""
        t = self._transport
        return cv.version(t.unary(t.version.GetVersion, empty_pb2.Empty()))

    def close(self) -> None:
        """Close the channel; the client is unusable afterwards (``unrecorded()`` twins: no effect)."""
        if self._owns_transport:
            self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<pachmagic Client {self.address} ({self.address_source}) project={self.project!r}>"


def connect(
    address: str | None = None,
    *,
    token: str | None = None,
    project: str | None = None,
    recorder: ReadRecorder | None = None,
) -> Client:
    """Create a client (no RPC is sent until the first call).

    Parameters
    ----------
    address:
        pachd address; default ``PACHD_ADDRESS``, then pachctl's active
        context, then ``localhost:30650``.
    token:
        Auth token; default ``PACH_PYTHON_AUTH_TOKEN``, then the context's.
    project:
        Default project; default the context's, else ``default``.
    recorder:
        Record this client's file reads there and resolve them through its lock.

    Returns
    -------
    Client
        The client; ``client.address_source`` says where the address came from.
    """
    return Client(address, token=token, project=project, recorder=recorder)
