"""The worker pool: each pipeline's long-lived sandboxes, how many it may have, and their lifetimes.

A pipeline's workers are sandboxes (``sandbox.py``: one worker process each, its
namespace prepared once), made when the pipeline starts and reused by every job
until the pipeline is stopped, updated away or deleted, or the server stops. How
many: ``parallelism_spec.constant``, but never more than the job has datums, nor
more than ``max_workers`` — the machine's limit (its CPU count unless the server
is told otherwise: ``pachmagic serve --max-workers``). A spec asking for a
trillion workers gets ``max_workers`` of them.

``close`` stops making sandboxes at once (a start that is under way gives up),
closes every sandbox concurrently (each kills its running command) and waits for
their processes, so a server shuts down within seconds whatever its pipelines
ask for. No gRPC here; the sandbox internals are ``sandbox.py``'s.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ...errors import FailedPrecondition
from .sandbox import Sandbox

__all__ = ["WorkerPool", "default_max_workers"]


def default_max_workers() -> int:
    """The machine's limit on workers: its CPU count (at least 1)."""
    return max(1, os.cpu_count() or 1)


class PoolClosed(FailedPrecondition):
    """The server is stopping: no new workers."""


class WorkerPool:
    """Sandboxes by pipeline, capped at ``max_workers`` each.

    Parameters
    ----------
    scratch_dir:
        Where the sandboxes keep their bookkeeping (``<scratch_dir>/sandboxes``).
    max_workers:
        The most sandboxes one pipeline may have (``None``: the CPU count).
    """

    def __init__(self, scratch_dir: Path, max_workers: int | None = None, hidden: Path | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {max_workers}")
        self.scratch_dir = scratch_dir
        # What a transform must not see: the data directory (or the scratch directory).
        self.hidden = hidden or scratch_dir
        self.max_workers = max_workers or default_max_workers()
        self._lock = threading.Lock()  # guards _boxes and _closed; never held while a sandbox starts or closes
        self._boxes: dict[tuple[str, str], list[Sandbox]] = {}
        self._closed = False

    def workers(self, parallelism: int, datums: int | None = None) -> int:
        """How many workers a pipeline gets: its parallelism, capped by the datums and by ``max_workers``."""
        count = min(max(1, parallelism), self.max_workers)
        if datums is not None:
            count = min(count, max(1, datums))
        return count

    def acquire(self, pipeline: tuple[str, str], count: int) -> list[Sandbox]:
        """``count`` (capped) sandboxes of ``pipeline``, starting the missing ones.

        Raises ``FailedPrecondition`` if the pool closes meanwhile (the server is stopping).
        """
        count = min(count, self.max_workers)
        while True:
            with self._lock:
                if self._closed:
                    raise PoolClosed("the server is stopping")
                boxes = self._boxes.setdefault(pipeline, [])
                if len(boxes) >= count:
                    return boxes[:count]
                index = len(boxes)
            root = self.scratch_dir / "sandboxes" / f"{pipeline[0]}-{pipeline[1]}-{index}"
            root.mkdir(parents=True, exist_ok=True)
            box = Sandbox(root, hidden=[self.hidden])  # slow: a process starts; outside the lock
            with self._lock:
                if not self._closed and self._boxes.get(pipeline) is boxes and len(boxes) == index:
                    boxes.append(box)
                    continue
            box.close()  # closed, released or raced meanwhile: this one is not needed
            with self._lock:
                if self._closed:
                    raise PoolClosed("the server is stopping")

    def release(self, pipeline: tuple[str, str]) -> None:
        """Close a pipeline's sandboxes (it was stopped, updated or deleted)."""
        with self._lock:
            boxes = self._boxes.pop(pipeline, [])
        _close_all(boxes)

    def close(self) -> None:
        """Stop making sandboxes and close every one (their commands are killed)."""
        with self._lock:
            self._closed = True
            boxes = [b for group in self._boxes.values() for b in group]
            self._boxes.clear()
        _close_all(boxes)

    def count(self, pipeline: tuple[str, str]) -> int:
        """How many sandboxes ``pipeline`` has now."""
        with self._lock:
            return len(self._boxes.get(pipeline, []))


def _close_all(boxes: list[Sandbox]) -> None:
    """Close sandboxes side by side: each waits for its process, and a shutdown should not wait for each in turn."""
    if len(boxes) <= 1:
        for box in boxes:
            box.close()
        return
    threads = [threading.Thread(target=box.close, name="sandbox-close", daemon=True) for box in boxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
