"""Server-stream writes that let gRPC put many small messages into one socket write.

grpc.aio's ``context.write`` hands gRPC each message as its own batch with no
write flags, and gRPC's HTTP/2 transport starts a socket write for each: a
20,000-file listing left in 20,000 ``sendmsg`` calls of ~150 bytes, and every
client paid a read (pure-Python HTTP/2 clients such as pachyderm-sdk's grpclib
also a parse round) per message. pachd (Go) sends ~20 messages per write.

gRPC core has a flag for this, ``GRPC_WRITE_BUFFER_HINT``: the message may
wait in the transport's buffer (up to its write buffer size, 64 KiB by default)
until a write without the flag, the call's status or a full buffer sends it; the
write completes at once while it waits, so the next one follows without a
round through the network. grpc.aio has no public way to pass the flag, so
``writer`` reaches the call's state through the context (``gc.get_referents``)
and calls grpcio's ``cygrpc._send_message``, the function ``context.write``
itself uses with flag 0. Where either is missing (another grpcio), or once the
call has ended, it is ``context.write`` itself: the same bytes, one write each,
and the same errors.

Must not: be used before the call's first ``context.write`` (that one sends
the initial metadata, which ``writer`` never does), or send a message with the
hint that must reach the client before the producer's next wait (the last of
each produced batch goes without it; ``Runtime.send`` does this).
"""

from __future__ import annotations

import gc
from typing import Any, Awaitable, Callable

__all__ = ["writer", "BUFFER_HINT"]

try:  # grpcio's internals: present in the grpcio versions pachmagic supports, checked at import
    from grpc._cython import cygrpc as _cygrpc

    _SEND: Callable[..., Awaitable[None]] | None = getattr(_cygrpc, "_send_message", None)
    BUFFER_HINT: int = int(_cygrpc.WriteFlag.buffer_hint)
    _STATE_TYPE: type | None = getattr(_cygrpc, "RPCState", None)
except (ImportError, AttributeError):  # pragma: no cover - another grpcio
    _SEND, BUFFER_HINT, _STATE_TYPE = None, 0, None

Write = Callable[[bytes, bool], Awaitable[None]]


def _state(context: Any) -> Any:
    """The call state grpc.aio keeps behind ``context`` (its only ``RPCState`` referent), or None."""
    if _STATE_TYPE is None:
        return None
    states = [ref for ref in gc.get_referents(context) if type(ref) is _STATE_TYPE]
    return states[0] if len(states) == 1 else None


def writer(context: Any, loop: Any) -> Write:
    """``write(message, flush)`` for a call whose initial metadata went out with a first ``context.write``.

    ``flush=False`` lets gRPC hold the message with the ones after it;
    ``flush=True`` sends everything held so far.
    """
    plain = context.write

    async def write_plain(message: bytes, flush: bool) -> None:
        await plain(message)

    state = _state(context)
    send = _SEND
    if state is None or send is None:
        return write_plain
    ended: list[bool] = []
    context.add_done_callback(lambda _ctx: ended.append(True))

    def write(message: bytes, flush: bool) -> Awaitable[None]:
        if ended or context.done():  # context.write's checks raise what they raise for an ended call
            return plain(message)  # type: ignore[no-any-return]
        return send(state, message, None, 0 if flush else BUFFER_HINT, loop)

    return write
