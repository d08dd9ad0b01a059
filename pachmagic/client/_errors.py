"""The one seam where gRPC errors become ``pachmagic.errors.PachError``.

Every RPC the client makes goes through ``unary``, ``server_stream`` or
``client_stream`` here; nowhere else in ``pachmagic.client`` catches
``grpc.RpcError``. ``translate`` picks the exception class from the status code
(google-api-core's ``from_grpc_error`` idea): callers match on the class or on
``.code``, never on the message text.

One special case: UNAVAILABLE raised by gRPC itself because nothing answered at
the address (gRPC's own "failed to connect" wording, not a server's status)
becomes ``ConnectionFailed`` with a message naming the address and how it was
chosen. A server may legitimately answer UNAVAILABLE (pachd does for
"commit not finished"); that stays ``Unavailable``.

On the main thread SIGINT (Ctrl-C, Kernel > Interrupt) during a call ends it
and surfaces as KeyboardInterrupt once gRPC has let go of it (``_interrupts.py``
says why and how).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generator, Iterable, Iterator, TypeVar

import grpc

from pachmagic.client import _interrupts as interrupts
from pachmagic.errors import ConnectionFailed, PachError, Unknown, error_class_for_code

__all__ = ["CallContext", "translate", "unary", "server_stream", "client_stream"]

T = TypeVar("T")
Metadata = tuple[tuple[str, str], ...]

# Phrases of gRPC core (not of any server) for "could not establish a connection".
_CONNECT_FAILURE_MARKERS = (
    "failed to connect to all addresses",
    "connections to all backends failing",
    "dns resolution failed",
    "errors resolving",
    "name resolution failure",
    "empty address list",
)


@dataclass(frozen=True)
class CallContext:
    """What error messages need to know about the connection.

    Attributes
    ----------
    target:
        The ``host:port`` the channel dials.
    hint:
        Where the address came from, e.g. ``default address; set PACHD_ADDRESS ...``.
    """

    target: str
    hint: str


def _is_connect_failure(code: grpc.StatusCode | None, details: str) -> bool:
    if code is not grpc.StatusCode.UNAVAILABLE:
        return False
    lowered = details.lower()
    return any(marker in lowered for marker in _CONNECT_FAILURE_MARKERS)


def translate(error: grpc.RpcError, context: CallContext) -> PachError:
    """Turn a ``grpc.RpcError`` into the matching ``PachError`` subclass.

    Parameters
    ----------
    error:
        The error gRPC raised (a ``grpc.Call`` with ``code()`` and ``details()``).
    context:
        The connection, for ``ConnectionFailed`` messages.

    Returns
    -------
    PachError
        An instance of the class for the status code, with the server's details.
    """
    code_fn: Callable[[], grpc.StatusCode] | None = getattr(error, "code", None)
    details_fn: Callable[[], str | None] | None = getattr(error, "details", None)
    code = code_fn() if callable(code_fn) else None
    details = (details_fn() if callable(details_fn) else None) or ""
    if code is None:
        return Unknown(details or str(error))
    if _is_connect_failure(code, details):
        return ConnectionFailed(f"could not reach pachd at {context.target} ({context.hint})")
    return error_class_for_code(code.name)(details)


def unary(
    method: Callable[..., T], request: Any, *, metadata: Metadata, context: CallContext, cancellable: bool = False
) -> T:
    """Call a unary-unary method, translating errors.

    Parameters
    ----------
    method:
        A stub attribute (``grpc.UnaryUnaryMultiCallable``).
    request:
        The request message.
    metadata:
        Call metadata (the auth token).
    context:
        The connection, for error messages.
    cancellable:
        The call may wait long (``InspectCommit`` with ``wait``): on the main thread it is
        made with ``.future()``, so that SIGINT can cancel it. That costs a thread hand-off
        (measured: about 0.4 ms of client CPU a call), so short calls are let finish instead.

    Returns
    -------
    The response message.
    """
    guard = interrupts.guard()
    try:
        if guard is None:
            return method(request, metadata=metadata)
        guard.inside()
        try:
            if not cancellable:
                return method(request, metadata=metadata)
            guard.call = method.future(request, metadata=metadata)  # type: ignore[attr-defined]
            return guard.call.result()  # type: ignore[no-any-return]
        finally:
            guard.outside()
    except grpc.RpcError as exc:
        raise translate(exc, context) from exc
    finally:
        if guard is not None:
            guard.close()


def server_stream(
    method: Callable[..., Any], request: Any, *, metadata: Metadata, context: CallContext
) -> Generator[Any, None, None]:
    """Iterate a unary-stream method lazily, translating errors, also mid-stream.

    The call starts on the first ``next()``; closing the generator (or breaking
    out of a loop over it) cancels the call, which matters for followed logs.

    Parameters
    ----------
    method:
        A stub attribute (``grpc.UnaryStreamMultiCallable``).
    request:
        The request message.
    metadata:
        Call metadata (the auth token).
    context:
        The connection, for error messages.

    Yields
    ------
    The response messages, in order.
    """
    call = None
    guard = interrupts.guard()
    try:
        if guard is None:
            call = method(request, metadata=metadata)
            yield from call
            return
        guard.inside()
        try:
            call = guard.call = method(request, metadata=metadata)
        finally:
            guard.outside()
        while True:
            guard.inside()
            try:
                message = next(call)
            except StopIteration:
                return
            finally:
                guard.outside()
            yield message
    except grpc.RpcError as exc:
        raise translate(exc, context) from exc
    finally:
        if call is not None:
            call.cancel()
        if guard is not None:
            guard.close()


class _Requests:
    """Wraps a request iterator so that a local exception is re-raised as itself.

    gRPC consumes request iterators on its own thread and turns an exception
    there into a CANCELLED/UNKNOWN status; users should see their own error
    (e.g. the file they upload cannot be read) instead. Once SIGINT has marked
    the call (``guard``), the iterator ends the upload early.
    """

    def __init__(self, requests: Iterable[Any], guard: interrupts.Guard | None) -> None:
        self._it = iter(requests)
        self._guard = guard
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._guard is not None and self._guard.interrupted:
            # Not StopIteration: that would end the upload normally and store a part of it.
            raise interrupts.UploadInterrupted
        try:
            return next(self._it)
        except StopIteration:
            raise
        except BaseException as exc:  # re-raised on the caller's thread
            self.error = exc
            raise


def client_stream(
    method: Callable[..., T], requests: Iterable[Any], *, metadata: Metadata, context: CallContext
) -> T:
    """Call a stream-unary method (e.g. ModifyFile), translating errors.

    Parameters
    ----------
    method:
        A stub attribute (``grpc.StreamUnaryMultiCallable``).
    requests:
        The request messages; consumed lazily, so a generator keeps memory flat.
    metadata:
        Call metadata (the auth token).
    context:
        The connection, for error messages.

    Returns
    -------
    The response message.
    """
    guard = interrupts.guard()
    wrapped = _Requests(requests, guard)
    try:
        if guard is None:
            return method(wrapped, metadata=metadata)
        guard.inside()
        try:
            return method(wrapped, metadata=metadata)
        finally:
            guard.outside()
    except grpc.RpcError as exc:
        if wrapped.error is not None:
            raise wrapped.error from None
        raise translate(exc, context) from exc
    finally:
        if guard is not None:
            guard.close()
