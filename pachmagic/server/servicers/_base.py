"""What every servicer shares: the error table, thread hand-off and waiting.

* ``rpc`` wraps a servicer method (unary, client-streaming or
  server-streaming) so that a ``PachError`` raised anywhere below becomes a gRPC
  status with the matching code and the error's text, and anything else becomes
  INTERNAL with a short message (the traceback goes to the server log). This is
  the one place where domain errors meet gRPC.
* ``blocking`` runs storage/pipeline calls (plain synchronous code) on the
  server's thread pool so the event loop never blocks on disk or SQLite.
* ``send`` and ``add_raw`` stream messages serialized in bulk (``_encode.py``):
  a method registered with ``add_raw`` has no response serializer and writes
  bytes with ``context.write``, one coroutine per call instead of an async
  generator crossed for every message.
* ``Waiter`` lets a coroutine sleep until storage or the pipeline engine
  reports a change, without holding a thread: any number of clients can wait
  on commits and jobs at once.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable, Iterable, Iterator, TypeVar

import grpc

from ...errors import Cancelled, DeadlineExceeded, PachError
from . import _writes

__all__ = ["rpc", "Runtime", "add_raw", "status_code"]

log = logging.getLogger("pachmagic.server")
T = TypeVar("T")


def status_code(err: PachError) -> grpc.StatusCode:
    """The one table: a PachError's code name is the gRPC status code's name."""
    try:
        return grpc.StatusCode[err.code]
    except KeyError:
        return grpc.StatusCode.UNKNOWN


async def _abort(context: grpc.aio.ServicerContext, err: BaseException) -> None:
    if isinstance(err, PachError):
        await context.abort(status_code(err), err.details)
    log.exception("internal error in RPC", exc_info=err)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(err).__name__}: {err}")


def rpc(method: Callable[..., Any]) -> Callable[..., Any]:
    """Translate errors for an async servicer method or async-generator method."""
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def stream_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                async for item in method(self, request, context):
                    yield item
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception as err:  # noqa: BLE001 - translated, never swallowed
                await _abort(context, err)

        return stream_wrapper

    @functools.wraps(method)
    async def unary_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as err:  # noqa: BLE001 - translated, never swallowed
            await _abort(context, err)

    return unary_wrapper


class _Recorder:
    """Stands in for the server while a generated ``add_*Servicer_to_server`` registers its handlers."""

    def __init__(self) -> None:
        self.service = ""
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass  # the same handlers as add_registered_method_handlers gets

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        self.service, self.handlers = service, dict(handlers)


def add_raw(add: Callable[[Any, Any], None], servicer: Any, server: Any, raw: Iterable[str]) -> None:
    """Register ``servicer`` as the generated ``add`` does, the methods named in ``raw`` without a response serializer.

    Those methods hand gRPC messages serialized already (``Runtime.send``); the
    request side, the method names and every other method stay as generated.
    """
    recorder = _Recorder()
    add(servicer, recorder)
    names = frozenset(raw)
    missing = names - recorder.handlers.keys()
    if missing:
        raise ValueError(f"{recorder.service} has no methods {sorted(missing)}")
    handlers = {
        name: handler._replace(response_serializer=None) if name in names else handler
        for name, handler in recorder.handlers.items()
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(recorder.service, handlers),))
    server.add_registered_method_handlers(recorder.service, handlers)


class Runtime:
    """The event loop's helpers: a thread pool for blocking work and change waits.

    Parameters
    ----------
    threads:
        Size of the pool for blocking calls. Waits do not use it.
    """

    def __init__(self, threads: int = 16) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pachmagic-rpc")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: set[asyncio.Event] = set()
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def stopper(self, context: Any) -> Callable[[], None]:
        """A check for blocking work done for one call: it raises once the call is over.

        The work runs on the pool, where cancelling the awaiting task does not
        reach it; long scans call this every so often, so that a call whose client
        went away (or whose deadline passed) stops using the server.
        """
        ended = threading.Event()
        context.add_done_callback(lambda _ctx: ended.set())
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining

        def stop() -> None:
            if ended.is_set():
                raise Cancelled("the call ended before its work was done")
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded("the call's deadline passed before its work was done")

        return stop

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args))

    async def stream(self, make: Callable[[], Iterable[T]], batch: int = 512, *, prefetch: bool = False) -> AsyncIterator[T]:
        """Iterate a blocking iterable on the pool, ``batch`` items per hop.

        With ``prefetch`` the next batch is produced while the current one is
        being sent (reading and hashing chunks overlaps with gRPC's sending).
        """
        holder: list[Iterator[T]] = []

        def next_batch() -> list[T]:
            if not holder:
                holder.append(iter(make()))
            return list(itertools.islice(holder[0], batch))

        loop = asyncio.get_running_loop()
        pending = loop.run_in_executor(self.pool, next_batch)
        try:
            while True:
                items = await pending
                if len(items) == batch and prefetch:
                    pending = loop.run_in_executor(self.pool, next_batch)
                elif len(items) == batch:
                    pending = None  # type: ignore[assignment]
                for item in items:
                    yield item
                if len(items) < batch:
                    return
                if pending is None:
                    pending = loop.run_in_executor(self.pool, next_batch)
        finally:
            if pending is not None and not pending.done():
                pending.cancel()

    async def send(self, context: Any, make: Callable[[], Iterable[bytes]], batch: int = 1024) -> None:
        """Write the serialized messages of a blocking iterable to a call, ``batch`` per hop.

        For handlers registered without a response serializer (their messages are
        already bytes, ``_encode.py``). The next batch is produced on the pool while
        the current one is written, and each message goes to gRPC directly: no
        async generator stands between the handler and gRPC, so the event loop
        spends on each message only what gRPC itself costs. The messages of a
        batch but its last are written with gRPC's buffer hint (``_writes.py``),
        so they leave in few socket writes.
        """
        holder: list[Iterator[bytes]] = []

        def next_batch() -> list[bytes]:
            if not holder:
                holder.append(iter(make()))
            return list(itertools.islice(holder[0], batch))

        loop = asyncio.get_running_loop()
        pending: asyncio.Future[list[bytes]] | None = loop.run_in_executor(self.pool, next_batch)
        write: _writes.Write | None = None
        try:
            while pending is not None:
                items = await pending
                pending = loop.run_in_executor(self.pool, next_batch) if len(items) == batch else None
                if write is None:  # the first message goes with the initial metadata
                    if not items:
                        break
                    await context.write(items[0])
                    write, items = _writes.writer(context, loop), items[1:]
                # gRPC may hold each message for the ones after it (few socket
                # writes, as pachd's); the batch's last one sends what is held,
                # so nothing waits on the pool's next batch.
                last = len(items) - 1
                for i, item in enumerate(items):
                    await write(item, i == last)
        finally:
            if pending is not None and not pending.done():
                pending.cancel()

    def changed(self) -> None:
        """Wake every waiter; safe to call from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with self._lock:
            events = list(self._events)
        for event in events:
            loop.call_soon_threadsafe(event.set)

    async def wait_for(
        self,
        fetch: Callable[[], T],
        done: Callable[[T], bool],
        *,
        recheck: float = 2.0,
    ) -> T:
        """Return ``fetch()`` once ``done`` holds for it, re-checking on every change."""
        event = asyncio.Event()
        with self._lock:
            self._events.add(event)
        try:
            while True:
                event.clear()
                value = await self.blocking(fetch)
                if done(value):
                    return value
                try:
                    await asyncio.wait_for(event.wait(), timeout=recheck)
                except asyncio.TimeoutError:
                    pass
        finally:
            with self._lock:
                self._events.discard(event)

    async def changes(self, recheck: float = 2.0) -> AsyncIterator[None]:
        """Yield once now and then after every change (for subscriptions)."""
        event = asyncio.Event()
        with self._lock:
            self._events.add(event)
        try:
            while True:
                event.clear()
                yield None
                try:
                    await asyncio.wait_for(event.wait(), timeout=recheck)
                except asyncio.TimeoutError:
                    pass
        finally:
            with self._lock:
                self._events.discard(event)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

