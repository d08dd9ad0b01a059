"""Progress for long magics (uploads, downloads, waits on jobs) that leaves nothing behind.

``bar(enabled, ...)`` returns a bar with a small tqdm-like interface:

- in a notebook kernel, a ``DisplayBar``: an HTML bar shown with a display id,
  updated in place, and *erased* when it closes (its output ends with no data).
  A saved notebook therefore holds no progress bar (nor a widget that cannot
  be restored), only what the magic printed or returned once it was done;
- in a terminal, a tqdm bar on stderr that also clears its line when it closes;
- with ``PachMagic.progress`` off, a ``NullBar`` that shows nothing.

``ByteCounter`` adapts the client's ``progress(bytes_done, files_done)``
callbacks, which may come from gRPC's sending thread, to a bar. ``status``
shows a line (HTML and text) that is likewise erased, for waits
(``waits.py``). Nothing here prints anything that stays.
"""

from __future__ import annotations

import html
import threading
import time
from types import TracebackType
from typing import Any, Protocol

from pachmagic.client import defer_interrupts

__all__ = ["Bar", "NullBar", "DisplayBar", "bar", "ByteCounter", "in_kernel", "Status", "status", "bar_html"]

_MIN_INTERVAL = 0.15  # seconds between two redraws of a display (callbacks may come far more often)


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


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where displays can be updated and erased)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()  # type: ignore[no-untyped-call,unused-ignore]
    return shell is not None and getattr(shell, "kernel", None) is not None


def _size(n: float, unit: str) -> str:
    if unit != "B":
        return f"{n:,.0f}"
    value, units = float(n), ("B", "KiB", "MiB", "GiB", "TiB")
    k = 0
    while value >= 1024 and k < len(units) - 1:
        value /= 1024
        k += 1
    return f"{value:.3g}{units[k]}" if k else f"{int(value)}B"


def bar_html(fraction: float | None, label: str, detail: str, *, failed: bool = False) -> str:
    """One line: a label, a bar (striped while its end is unknown) and the counts."""
    colour = "#d13b3b" if failed else "#2e9d57"
    if fraction is None:
        fill = "width:100%;background-image:repeating-linear-gradient(45deg,#e5e7eb 0 6px,#f3f4f6 6px 12px)"
    else:
        fill = f"width:{100 * max(0.0, min(fraction, 1.0)):.1f}%;background:{colour}"
    return (
        "<div class='pachmagic-progress-line' style='display:flex;align-items:center;gap:8px;font-size:12px'>"
        f"<span style='white-space:nowrap'>{html.escape(label)}</span>"
        "<div style='flex:1;min-width:120px;max-width:420px;height:10px;border-radius:5px;overflow:hidden;"
        f"background:var(--jp-layout-color3,#e5e7eb)'><div style='height:100%;{fill}'></div></div>"
        f"<span style='white-space:nowrap;font-family:monospace'>{html.escape(detail)}</span></div>"
    )


class Status:
    """A line that is updated in place and erased by ``close()``.

    In a kernel it is a display with an id (HTML and text); in a terminal a
    line on stderr that tqdm rewrites and clears.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handle: Any = None
        self._line: Any = None
        self._last = 0.0
        self._closed = False
        if in_kernel():
            from IPython.display import display

            # Empty from the start: what a test runner records (the first message) is what a
            # saved notebook keeps (the last update), and neither holds a bar.
            with defer_interrupts():
                self._handle = display({}, raw=True, display_id=True)  # type: ignore[no-untyped-call,unused-ignore]
        else:
            self._line = _text_bar()(total=None, bar_format="{desc}", leave=False)

    def show(self, html_text: str, text: str, *, force: bool = False) -> None:
        """Replace the line (at most every 0.15 s unless ``force``)."""
        with defer_interrupts(), self._lock:
            now = time.monotonic()
            if self._closed or (not force and now - self._last < _MIN_INTERVAL):
                return
            self._last = now
            if self._handle is not None:
                self._handle.update({"text/html": html_text, "text/plain": text}, raw=True)
            elif self._line is not None:
                self._line.set_description_str(text)

    def close(self) -> None:
        """Erase the line (in a kernel, its output keeps no data)."""
        with defer_interrupts(), self._lock:
            if not self._closed:
                if self._handle is not None:
                    self._handle.update({}, raw=True)
                if self._line is not None:
                    self._line.close()
            self._closed = True


def status() -> Status:
    """A new erasable status line (see ``Status``)."""
    return Status()


class DisplayBar:
    """A tqdm-like bar drawn as HTML in a kernel's display, erased when closed."""

    def __init__(self, *, total: float | None, unit: str, desc: str) -> None:
        self.n: float = 0
        self.total = total
        self.unit = unit
        self.desc = desc
        self.postfix = ""
        self._status = Status()
        self.refresh()

    def _detail(self) -> str:
        done = _size(self.n, self.unit)
        counts = f"{done} / {_size(self.total, self.unit)}" if self.total else f"{done} {self.unit}"
        return f"{counts}  {self.postfix}".strip()

    def _draw(self, force: bool) -> None:
        fraction = self.n / self.total if self.total else None
        detail = self._detail()
        percent = f"{100 * fraction:.0f}% " if fraction is not None else ""
        self._status.show(bar_html(fraction, self.desc, detail), f"{self.desc}: {percent}{detail}", force=force)

    def update(self, n: float = 1) -> None:
        self.n += n
        self._draw(force=False)

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s
        if refresh:
            self._draw(force=False)

    def set_description_str(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""
        if refresh:
            self._draw(force=False)

    def refresh(self) -> None:
        self._draw(force=True)

    def close(self) -> None:
        self._status.close()

    def __enter__(self) -> DisplayBar:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _text_bar() -> Any:
    """tqdm's text bar (``tqdm.auto`` would pick a widget in a kernel), without its monitor thread."""
    from tqdm import tqdm

    class _Bar(tqdm):  # type: ignore[misc,unused-ignore]
        # tqdm's monitor is a process-wide thread started by the first bar and never ended;
        # our bars refresh themselves, so none is started.
        monitor_interval = 0

    return _Bar


def bar(enabled: bool, *, total: float | None, unit: str, desc: str, unit_scale: bool = False) -> Bar:
    """Make a progress bar that leaves nothing behind once closed.

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
    if in_kernel():
        return DisplayBar(total=total, unit=unit, desc=desc)
    scaled = unit_scale or unit == "B"
    made: Bar = _text_bar()(
        total=total,
        unit=unit,
        desc=desc,
        unit_scale=scaled,
        unit_divisor=1024 if unit == "B" else 1000,
        leave=False,  # the line is cleared when done: the magic's result says what happened
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
            if files_done != self._files:
                self._files = files_done
                self._bar.set_postfix_str(f"files {files_done}/{self._files_total}", refresh=False)
            if bytes_done > self._bytes:
                self._bar.update(bytes_done - self._bytes)
                self._bytes = bytes_done

    @property
    def bytes_done(self) -> int:
        """Bytes counted so far."""
        return self._bytes
