"""Progress bars for long magics: uploads, downloads and waits on jobs.

``bar(enabled, ...)`` returns a ``tqdm.auto`` bar (a widget in Jupyter, text on
stderr elsewhere) or, when ``PachMagic.progress`` is off, a silent object with
the same small interface. ``ByteCounter`` adapts the client's
``progress(bytes_done, files_done)`` callbacks, which may come from gRPC's
sending thread, to a bar. Bars are closed by their ``with`` block; nothing here
prints anything else.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Protocol

__all__ = ["Bar", "NullBar", "bar", "ByteCounter"]


class Bar(Protocol):
    """The part of tqdm's interface the magics use."""

    n: float
    total: float | None

    def update(self, n: float = 1) -> Any: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> Any: ...

    def set_description_str(self, desc: str | None = None, refresh: bool = True) -> Any: ...

    def refresh(self) -> Any: ...

    def close(self) -> Any: ...

    def __enter__(self) -> Bar: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any: ...


class NullBar:
    """A bar that shows nothing (progress bars off)."""

    def __init__(self, total: float | None = None) -> None:
        self.n: float = 0
        self.total = total

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Ignored."""

    def set_description_str(self, desc: str | None = None, refresh: bool = True) -> None:
        """Ignored."""

    def refresh(self) -> None:
        """Ignored."""

    def close(self) -> None:
        """Ignored."""

    def __enter__(self) -> NullBar:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def bar(enabled: bool, *, total: float | None, unit: str, desc: str, unit_scale: bool = False) -> Bar:
    """Make a progress bar.

    Parameters
    ----------
    enabled:
        ``PachMagic.progress``; False gives a silent ``NullBar``.
    total:
        The expected total (None when unknown).
    unit:
        ``B`` for bytes (shown with binary prefixes), ``datum``, ``file``...
    desc:
        The label in front of the bar.
    unit_scale:
        Scale the counts (1.2MB...); on for bytes.
    """
    if not enabled:
        return NullBar(total)
    from tqdm.auto import tqdm

    class _Bar(tqdm):  # type: ignore[misc,unused-ignore]
        # tqdm's monitor is a process-wide thread started by the first bar and never ended;
        # our bars refresh themselves, so none is started.
        monitor_interval = 0

    scaled = unit_scale or unit == "B"
    made: Bar = _Bar(
        total=total,
        unit=unit,
        desc=desc,
        unit_scale=scaled,
        unit_divisor=1024 if unit == "B" else 1000,
        leave=True,
        dynamic_ncols=True,
    )
    return made


class ByteCounter:
    """Feeds a bar from ``progress(bytes_done, files_done)`` callbacks.

    Parameters
    ----------
    target:
        The bar (counting bytes).
    files_total:
        How many files the transfer has, shown as ``files 3/10``.
    """

    def __init__(self, target: Bar, files_total: int) -> None:
        self._bar = target
        self._files_total = files_total
        self._lock = threading.Lock()
        self._bytes = 0
        self._files = -1

    def __call__(self, bytes_done: int, files_done: int) -> None:
        with self._lock:
            if bytes_done > self._bytes:
                self._bar.update(bytes_done - self._bytes)
                self._bytes = bytes_done
            if files_done != self._files:
                self._files = files_done
                self._bar.set_postfix_str(f"files {files_done}/{self._files_total}", refresh=False)

    @property
    def bytes_done(self) -> int:
        """Bytes counted so far."""
        return self._bytes
