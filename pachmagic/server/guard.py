"""The gate every call passes before a servicer sees it: auth token and request decoding.

``Guard`` is a ``grpc.aio`` server interceptor that

* rejects every call without the server's ``authn-token`` metadata (when the
  server has one) with UNAUTHENTICATED, unknown methods included, so that an
  unauthenticated caller learns nothing about what the server offers;
* decodes requests itself instead of letting grpc do it, so that a malformed
  message (truncated, corrupt, invalid UTF-8 in a string field) is answered
  INVALID_ARGUMENT with the parser's reason; grpc would say UNKNOWN.
* answers a method no servicer implements (a generated stub) with a plain
  UNIMPLEMENTED "method X not implemented by the pachmagic embedded server".

It knows nothing of Pachyderm; it only wraps method handlers.
"""

from __future__ import annotations

import inspect
import secrets
from typing import Any, AsyncIterator, Awaitable, Callable

import grpc
from google.protobuf.message import DecodeError

from ..errors import InvalidArgument

__all__ = ["Guard"]

Deserializer = Callable[[bytes], Any]


def _decode(deserializer: Deserializer | None, raw: bytes, method: str) -> Any:
    if deserializer is None:
        return raw
    try:
        return deserializer(raw)
    except (DecodeError, UnicodeDecodeError, ValueError) as err:
        raise InvalidArgument(f"malformed request to {method}: {err}") from None


class Guard(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Check the token (if any) and decode requests (see the module docstring).

    Parameters
    ----------
    token:
        The ``authn-token`` every call must carry, or ``None`` for no auth.
    """

    def __init__(self, token: str | None) -> None:
        self.token = token.encode() if token else None

    def _authorized(self, details: grpc.HandlerCallDetails) -> tuple[bool, str]:
        if self.token is None:
            return True, ""
        given: Any = ""
        for key, value in details.invocation_metadata or ():
            if key == "authn-token":
                given = value
        raw = given if isinstance(given, bytes) else str(given).encode("utf-8", "replace")
        if raw and secrets.compare_digest(raw, self.token):
            return True, ""
        return False, "invalid authn-token" if raw else "missing authn-token"

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        ok, reason = self._authorized(details)
        if not ok:
            return _deny(reason)
        handler = await continuation(details)
        if handler is None:
            return handler
        return _decoding(handler, details.method)


def _deny(reason: str) -> grpc.RpcMethodHandler:
    # A stream-stream handler answers every kind of call without reading it.
    async def deny(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)
        yield  # pragma: no cover - makes this an async generator

    return grpc.stream_stream_rpc_method_handler(deny)


def _unimplemented(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    message = f"method {method.rsplit('/', 1)[-1]} not implemented by the pachmagic embedded server"

    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)
        yield  # pragma: no cover - makes this an async generator

    # The request is never read: leave it undecoded.
    if handler.unary_unary:
        return handler._replace(request_deserializer=None, unary_unary=refuse)
    if handler.unary_stream:
        return handler._replace(request_deserializer=None, unary_stream=refuse_stream)
    if handler.stream_unary:
        return handler._replace(request_deserializer=None, stream_unary=refuse)
    return handler._replace(request_deserializer=None, stream_stream=refuse_stream)


def _decoding(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """The same handler, with request decoding moved inside the call."""
    deserializer = handler.request_deserializer
    behavior = handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    if not (inspect.iscoroutinefunction(behavior) or inspect.isasyncgenfunction(behavior)):
        # Synchronous handlers are the generated "Method not implemented!" stubs,
        # which grpc.aio reports as "Unexpected <class 'NotImplementedError'>: ...":
        # answer UNIMPLEMENTED plainly, as a Go pachd does for a method it lacks.
        return _unimplemented(handler, method)
    if deserializer is None:
        return handler

    async def decode_stream(requests: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        async for raw in requests:
            yield _decode(deserializer, raw, method)

    async def unary_request(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
        try:
            return _decode(deserializer, raw, method)
        except InvalidArgument as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, err.details)

    if handler.unary_unary:
        inner_uu = handler.unary_unary

        async def unary_unary(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            result = inner_uu(await unary_request(raw, context), context)
            return await result if inspect.isawaitable(result) else result

        return handler._replace(request_deserializer=None, unary_unary=unary_unary)
    if handler.unary_stream and inspect.iscoroutinefunction(handler.unary_stream):
        # A handler that writes its answers itself (``context.write``): stay a coroutine,
        # so that no generator stands between it and gRPC for every message.
        inner_uw = handler.unary_stream

        async def unary_writer(raw: bytes, context: grpc.aio.ServicerContext) -> None:
            await inner_uw(await unary_request(raw, context), context)

        return handler._replace(request_deserializer=None, unary_stream=unary_writer)
    if handler.unary_stream:
        inner_us = handler.unary_stream

        async def unary_stream(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            request = await unary_request(raw, context)
            result = inner_us(request, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            else:
                for item in result:
                    yield item

        return handler._replace(request_deserializer=None, unary_stream=unary_stream)
    if handler.stream_unary:
        inner_su = handler.stream_unary

        async def stream_unary(raw: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> Any:
            result = inner_su(decode_stream(raw), context)
            return await result if inspect.isawaitable(result) else result

        return handler._replace(request_deserializer=None, stream_unary=stream_unary)
    inner_ss = handler.stream_stream

    async def stream_stream(raw: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        result = inner_ss(decode_stream(raw), context)
        if hasattr(result, "__aiter__"):
            async for item in result:
                yield item
        else:
            for item in result:
                yield item

    return handler._replace(request_deserializer=None, stream_stream=stream_stream)
