"""The transport: one gRPC channel, the generated stubs, auth metadata, error seam.

The API classes (``pfs.py``, ``pps.py``, ``admin.py``) never touch grpc
directly; they call ``unary``/``stream``/``client_stream`` here with a stub
method and a request message. Creating a ``Transport`` does not connect (gRPC
channels connect on the first call).
"""

from __future__ import annotations

from typing import Any, Callable, Generator, Iterable, TypeVar

import grpc
import grpc.experimental

from pachmagic._proto import (
    admin_pb2_grpc,
    pfs_pb2_grpc,
    pps_pb2_grpc,
    version_pb2_grpc,
)
from pachmagic.client import _errors
from pachmagic.client._config import Endpoint

__all__ = ["Transport", "MAX_MESSAGE_BYTES"]

T = TypeVar("T")

# Pachyderm's limit is 20 MiB both ways (chunks of at most 19 MiB); a little slack
# so that a full-size message plus framing is never rejected on our side.
MAX_MESSAGE_BYTES = 20 * 1024 * 1024 + 256 * 1024

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.primary_user_agent", "pachmagic"),
    # Server streams wait for their messages on the calling thread, in gRPC's core, instead of
    # being handed over by the channel's one shared "spin" thread: one thread hand-off less per
    # message (measured: 0.67x the client CPU for short listings), and no thread that one call
    # whose lock was left taken (see _interrupts.py) can stall for every other call.
    (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1),
]


class Transport:
    """One channel to pachd and the stubs bound to it.

    Parameters
    ----------
    endpoint:
        Where to connect and with which token.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        if endpoint.tls:
            credentials = grpc.ssl_channel_credentials(root_certificates=endpoint.root_certs)
            self.channel = grpc.secure_channel(endpoint.target, credentials, options=_CHANNEL_OPTIONS)
        else:
            self.channel = grpc.insecure_channel(endpoint.target, options=_CHANNEL_OPTIONS)
        self.pfs = pfs_pb2_grpc.APIStub(self.channel)  # type: ignore[no-untyped-call,unused-ignore]
        self.pps = pps_pb2_grpc.APIStub(self.channel)  # type: ignore[no-untyped-call,unused-ignore]
        self.admin = admin_pb2_grpc.APIStub(self.channel)  # type: ignore[no-untyped-call,unused-ignore]
        self.version = version_pb2_grpc.APIStub(self.channel)  # type: ignore[no-untyped-call,unused-ignore]
        self._metadata: _errors.Metadata = (
            (("authn-token", endpoint.token),) if endpoint.token else ()
        )
        self._context = _errors.CallContext(endpoint.target, endpoint.hint)
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"this client of {self.endpoint.target} is closed")

    def unary(self, method: Callable[..., T], request: Any, *, cancellable: bool = False) -> T:
        """Call a unary method; errors become ``PachError``; ``cancellable`` for one that may wait long."""
        self._check_open()
        return _errors.unary(method, request, metadata=self._metadata, context=self._context, cancellable=cancellable)

    def stream(self, method: Callable[..., Any], request: Any) -> Generator[Any, None, None]:
        """Iterate a server-streaming method lazily; errors (also mid-stream) become ``PachError``."""
        self._check_open()
        return _errors.server_stream(method, request, metadata=self._metadata, context=self._context)

    def client_stream(self, method: Callable[..., T], requests: Iterable[Any]) -> T:
        """Call a client-streaming method with a lazily consumed request iterator."""
        self._check_open()
        return _errors.client_stream(method, requests, metadata=self._metadata, context=self._context)

    def close(self) -> None:
        """Close the channel; later calls fail."""
        if not self.closed:
            self.closed = True
            self.channel.close()
