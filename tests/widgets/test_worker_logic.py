"""The panels' plumbing without a kernel or server: the worker thread and the background refresh."""

from __future__ import annotations

import gc
import threading
import time

from pachmagic.widgets._panel import Worker, start_auto_refresh


def test_worker_runs_in_order_off_the_calling_thread_and_waits_idle() -> None:
    worker = Worker("test")
    seen: list[tuple[int, bool]] = []
    gate = threading.Event()
    worker.submit(lambda: gate.wait(10) and None)
    for i in range(5):
        worker.submit(lambda i=i: seen.append((i, worker.in_worker())))
    assert worker.busy and not worker.in_worker()
    assert not worker.wait_idle(timeout=0.05)  # still blocked on the gate
    gate.set()
    assert worker.wait_idle(timeout=10)
    assert seen == [(i, True) for i in range(5)] and not worker.busy
    worker.shutdown()
    late = worker.submit(lambda: None)
    assert late.cancelled() and worker.wait_idle(timeout=1)


def test_worker_wait_from_inside_does_not_deadlock() -> None:
    worker = Worker("test")
    result = worker.submit(lambda: worker.wait_idle(timeout=10))
    assert result.result(timeout=10) is False
    worker.shutdown()


class Ticker:
    def __init__(self, stop_after: int | None = None) -> None:
        self.ticks = 0
        self.stop_after = stop_after

    def _tick(self) -> bool:
        self.ticks += 1
        return self.stop_after is None or self.ticks < self.stop_after


def wait_dead(thread: threading.Thread) -> bool:
    thread.join(timeout=10)
    return not thread.is_alive()


def test_auto_refresh_ticks_until_stopped() -> None:
    stop = threading.Event()
    owner = Ticker()
    thread = start_auto_refresh(owner, stop, 0.01, "test-refresh")
    deadline = time.monotonic() + 10
    while owner.ticks < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert owner.ticks >= 3 and thread.daemon
    stop.set()
    assert wait_dead(thread)


def test_auto_refresh_ends_when_tick_says_so_or_the_owner_is_gone() -> None:
    owner = Ticker(stop_after=2)
    thread = start_auto_refresh(owner, threading.Event(), 0.01, "test-refresh")
    assert wait_dead(thread) and owner.ticks == 2
    orphan = Ticker()
    thread = start_auto_refresh(orphan, threading.Event(), 0.01, "test-refresh")
    del orphan
    gc.collect()
    assert wait_dead(thread)  # holds only a weak reference
