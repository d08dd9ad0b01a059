"""Ctrl-C / Kernel > Interrupt that never lands inside gRPC or ipykernel: the one owner of SIGINT.

Why not let Python raise KeyboardInterrupt where SIGINT finds the main thread:
inside library code that can be just after a lock was taken and before the block
that releases it is entered (``threading.Condition.__enter__`` is Python code, so
CPython cannot close that window). The lock then stays taken. In gRPC it can be
the channel's own lock, and every later call on the channel waits forever; in
ipykernel's display path, a lock its IOPub thread needs, and the kernel sends
nothing more. Either way the notebook looks dead (this hung a kernel in CI).

While the main thread waits inside gRPC for a call made through the client's
seam (``_errors.py``; ``guard``), SIGINT only marks the call, and the call is
ended from outside:

- a server stream, or a unary call that waits (``cancellable``, made with
  ``.future()``), is cancelled by a watcher thread, woken through a pipe
  (``os.write`` takes no Python lock), as any other thread may cancel a call;
- an upload's request iterator raises when gRPC next asks it for a message, and
  gRPC cancels the call (a source that blocks, such as a pipe, is asked when it
  has given its next piece);
- any other unary call is short: it is let finish.

gRPC then returns on the main thread and the seam raises KeyboardInterrupt, with
nothing held. A second SIGINT while the call is still marked raises at once, as
Python's default handler would (for a call that neither ends nor can be
cancelled). Inside ``deferred()`` blocks (the magics' display updates) SIGINT is
held back and raised when the block ends. Anywhere else the handler raises at once.

Only the main thread, and only where SIGINT has Python's default handler (a
script, a kernel running a cell); anywhere else nothing changes. The default
handler is put back once no guarded call or deferred block is left open, unless
someone replaced ours meanwhile.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

__all__ = ["deferred", "Deferred", "guard", "Guard", "UploadInterrupted"]


class UploadInterrupted(Exception):
    """Raised by an interrupted upload's request iterator: gRPC cancels a call whose iterator raises."""


def _not_an_interrupted_upload(record: logging.LogRecord) -> bool:
    return not (record.exc_info and isinstance(record.exc_info[1], UploadInterrupted))


# gRPC logs every exception of a request iterator with its traceback; an interrupted upload is no error.
logging.getLogger("grpc._channel").addFilter(_not_an_interrupted_upload)

_inside: Guard | None = None  # the guarded call the main thread now waits on in gRPC
_users = 0  # guarded calls and deferred blocks still open (a stream stays open between its messages)
_count_lock = threading.Lock()
_deferring = 0  # deferred blocks open
_held = False  # a SIGINT held back by a deferred block
_wake_fd: int | None = None  # the watcher's pipe (write end); None until the first guard


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _held
    waiting = _inside
    if waiting is not None and not waiting.interrupted:
        waiting.interrupted = True
        try:
            os.write(_wake_fd, b"\0")  # type: ignore[arg-type]  # the watcher runs before any guard
        except OSError:  # the pipe is full: the watcher has wake-ups enough
            pass
        return
    if waiting is None and _deferring:
        _held = True
        return
    raise KeyboardInterrupt


def _watch(read_fd: int) -> None:
    while os.read(read_fd, 64):
        waiting = _inside
        if waiting is not None and waiting.interrupted:
            waiting.cancel()


def _take() -> bool:
    """Install our handler if SIGINT is ours to handle here; True when it is (then ``_give_back`` later)."""
    global _users, _wake_fd
    if threading.current_thread() is not threading.main_thread():
        return False  # SIGINT only ever reaches the main thread
    current = signal.getsignal(signal.SIGINT)
    if current is signal.default_int_handler:
        if _wake_fd is None:
            read_fd, write_fd = os.pipe()
            os.set_blocking(write_fd, False)
            _wake_fd = write_fd
            threading.Thread(target=_watch, args=(read_fd,), name="pachmagic-interrupts", daemon=True).start()
        signal.signal(signal.SIGINT, _on_sigint)
    elif current is not _on_sigint:
        return False  # the program handles SIGINT itself
    with _count_lock:
        _users += 1
    return True


def _give_back() -> None:
    global _users
    with _count_lock:  # a stream may be closed on another thread (by the garbage collector) ...
        _users -= 1
        left = _users
    # ... where handlers cannot be set: ours, left in place, raises as the default one does
    if (left == 0 and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is _on_sigint):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _forget() -> None:
    """In a forked child the watcher thread is gone and no call is open: start afresh."""
    global _wake_fd, _inside, _users, _deferring, _held, _count_lock
    _wake_fd, _inside, _users, _deferring, _held = None, None, 0, 0, False
    _count_lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_forget)


class Guard:
    """One call made on the main thread: ``call`` is what the watcher cancels once ``interrupted``."""

    def __init__(self) -> None:
        self.call: Any = None
        self.interrupted = False

    def inside(self) -> None:
        """The main thread enters gRPC for this call: SIGINT marks it from now on."""
        global _inside
        if threading.current_thread() is threading.main_thread():  # a stream may move to another thread
            _inside = self

    def outside(self) -> None:
        """The main thread is back in our code: a mark made meanwhile raises KeyboardInterrupt now."""
        global _inside
        if _inside is self:
            _inside = None
        if self.interrupted:
            self.cancel()
            raise KeyboardInterrupt from None  # not "during handling of" the call's CANCELLED

    def cancel(self) -> None:
        call = self.call
        if call is not None:
            call.cancel()

    def close(self) -> None:
        """The call is over (once)."""
        _give_back()


def guard() -> Guard | None:
    """A guard for a call about to be made, or None where SIGINT is not ours to handle."""
    return Guard() if _take() else None


class Deferred:
    """A block in which SIGINT is held back, and raised as KeyboardInterrupt when it ends."""

    def __init__(self) -> None:
        self._taken = False

    def __enter__(self) -> Deferred:
        global _deferring
        self._taken = _take()
        if self._taken:
            _deferring += 1
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _deferring, _held
        if not self._taken:
            return
        self._taken = False
        _deferring -= 1
        _give_back()
        if _held and not _deferring:
            _held = False
            if exc_type is None:
                raise KeyboardInterrupt


def deferred() -> Deferred:
    """A ``Deferred`` block: for code that must not be interrupted halfway (see the module docstring)."""
    return Deferred()
