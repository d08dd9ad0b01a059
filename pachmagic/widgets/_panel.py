"""The base of every panel: a worker thread, a background refresh, a refresh button, errors inside.

A panel never blocks the kernel: RPCs run on the panel's own worker thread
(one at a time, in order), button and selection handlers only queue work. A
background thread asks for a refresh every ``refresh_interval`` seconds until
the panel is closed (``close()``, or the widget's comm going away). Errors from
the work show as one line inside the panel (``PachError``: its message; any
other exception: the line plus its traceback in the panel's log ``Output``).
Handlers that run on the kernel thread are wrapped in the log's ``capture()``.

``wait()`` blocks until queued work is done: tests and scripts use it after
``Button.click()``. This module knows nothing of Pachyderm beyond ``PachError``.

Widget lifetimes: every widget a panel makes is either shown (reachable from
the panel) or closed, and a box never holds a closed child: a closed child of a
live box makes the browser fail to restore *every* widget of the kernel after
a page reload ("Loading widget..." forever). ``replace_children`` swaps a box's
children and closes the ones it drops; ``close_tree`` closes a widget with its
descendants and their layout and style models. A panel stops polling when it
is closed, and pauses while none of its views is shown (the front end counts
views in ``_view_count``; a cleared or re-run output has none).
"""

from __future__ import annotations

import threading
import traceback
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Protocol, TypeVar

import ipywidgets as w

from pachmagic.errors import PachError
from pachmagic.widgets.logic.style import error_html, esc

__all__ = ["Panel", "Worker", "start_auto_refresh", "describe_client", "close_tree", "close_parts", "replace_children", "ViewTracker", "with_snapshot"]

T = TypeVar("T")


class Worker:
    """One background thread running submitted calls in order, with a count of pending calls."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._cond = threading.Condition()
        self._pending = 0
        self._ident: int | None = None

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Queue ``fn``; returns its future (already cancelled after ``shutdown``)."""

        def run() -> T:
            self._ident = threading.get_ident()
            try:
                return fn()
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

        with self._cond:
            self._pending += 1
        try:
            return self._pool.submit(run)
        except RuntimeError:  # shut down
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()
            future: Future[T] = Future()
            future.cancel()
            return future

    @property
    def busy(self) -> bool:
        """True while calls are queued or running."""
        with self._cond:
            return self._pending > 0

    def in_worker(self) -> bool:
        """True when called from the worker thread itself."""
        return threading.get_ident() == self._ident

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running; False on timeout."""
        if self.in_worker():
            return False
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self) -> None:
        """Stop taking work; queued calls are cancelled, a running one finishes."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._cond:
            self._pending = 0
            self._cond.notify_all()


class _Tickable(Protocol):
    def _tick(self) -> bool: ...


def _auto_refresh(ref: weakref.ref[_Tickable], stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        target = ref()
        if target is None or not target._tick():
            return
        del target


def start_auto_refresh(owner: _Tickable, stop: threading.Event, interval: float, name: str) -> threading.Thread:
    """Call ``owner._tick()`` every ``interval`` seconds until ``stop`` is set or it returns False.

    The thread holds only a weak reference to ``owner``, so it also ends when
    the owner is garbage collected.
    """
    thread = threading.Thread(target=_auto_refresh, args=(weakref.ref(owner), stop, interval), name=name, daemon=True)
    thread.start()
    return thread


def with_snapshot(widget: Any, bundle: dict[str, Any] | None, wait: Callable[[float], bool]) -> dict[str, Any] | None:
    """``bundle`` (a widget's) with a static HTML snapshot of ``widget`` added as ``text/html``."""
    from pachmagic.widgets._snapshot import snapshot_html

    if bundle is None or getattr(widget, "comm", None) is None:
        return bundle
    wait(10.0)  # the first load, so the snapshot shows data (bounded: a slow server gives "loading…")
    note = f"{type(widget).__name__} of {describe_client(widget.client)}: a snapshot; run the notebook for the live panel"
    bundle["text/html"] = snapshot_html(widget, note)
    return bundle


def describe_client(client: Any) -> str:
    """``pachd at <address>, project <name>`` for a widget's text fallback."""
    return f"pachd at {getattr(client, 'address', '?')}, project {getattr(client, 'project', '?')}"


def close_tree(widget: w.Widget) -> None:
    """Close a widget, every descendant of a box, and their layout and style models.

    ipywidgets' ``close()`` leaves a widget's ``Layout`` and ``Style`` models
    open; ours are never shared, so they go with their widget.
    """
    if getattr(widget, "comm", None) is None:
        return  # already closed
    if getattr(widget, "_closes_own_tree", False):
        widget.close()  # a panel: it stops its threads, then closes its own tree
        return
    close_parts(widget)
    widget.close()


def close_parts(widget: w.Widget) -> None:
    """Close what ``close_tree`` closes, except ``widget`` itself (for panels' own ``close``)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for part in ("layout", "style"):
        model = getattr(widget, part, None)
        if isinstance(model, w.Widget):
            model.close()


def replace_children(box: w.Box, children: list[w.Widget] | tuple[w.Widget, ...]) -> None:
    """Give ``box`` new children and close the old ones it no longer holds (never a closed child in a live box)."""
    if getattr(box, "comm", None) is None:  # the box was closed meanwhile (a worker finishing late)
        for child in children:
            close_tree(child)
        return
    old = box.children
    box.children = tuple(children)
    kept = {id(c) for c in children}
    for child in old:
        if id(child) not in kept:
            close_tree(child)


class ViewTracker:
    """Whether a widget is shown anywhere, from the front end's count of its views.

    Setting ``_view_count`` to 0 asks the front end to keep it up to date. A
    widget never shown yet counts as shown (a script or test without a front
    end still refreshes it); once shown, no views means hidden. After a page
    reload the count only grows (the old views vanish without a word), so a
    reloaded page never wrongly reads as hidden.
    """

    def __init__(self, widget: w.DOMWidget) -> None:
        self._seen = False
        widget._view_count = 0
        widget.observe(self._on_view_count_change, names="_view_count")
        self._widget = weakref.ref(widget)
        self.changed: Callable[[bool], None] | None = None

    @property
    def hidden(self) -> bool:
        """True once the widget was shown and no view of it is left."""
        widget = self._widget()
        return widget is None or (self._seen and not widget._view_count)

    def _on_view_count_change(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._seen = True
        if self.changed is not None:
            self.changed(self.hidden)


class Panel(w.VBox):  # type: ignore[misc]
    """A titled box with a refresh button, a status line, a body, an error line and a log.

    Subclasses set their options, then call ``super().__init__``, which calls
    their ``_build()`` for the body widgets (the shared ``_log`` and worker
    exist by then); they implement ``_refresh_now`` (runs on the worker thread).

    Parameters
    ----------
    client:
        The ``pachmagic.client.Client`` to read from.
    title:
        Shown at the top left.
    refresh_interval:
        Seconds between background refreshes; None or 0 for none.
    """

    _closes_own_tree = True

    def __init__(self, client: Any, *, title: str, refresh_interval: float | None = 2.0, **kwargs: Any) -> None:
        self._client = client
        self._worker = Worker(f"pachmagic-{type(self).__name__}")
        self._stop = threading.Event()
        self._queued_refresh: Future[None] | None = None
        self._error_text = ""
        self._title = w.HTML(f"<b style='font-size:14px'>{esc(title)}</b>")
        self._refresh_button = w.Button(description="Refresh", icon="refresh", tooltip="Reload now", layout=w.Layout(width="auto"))
        self._status = w.HTML("<span style='color:var(--jp-ui-font-color2,#6b7280);font-size:12px'>loading…</span>")
        self._error = w.HTML("")
        self._log = w.Output(layout=w.Layout(max_height="140px", overflow="auto"))
        self._refresh_button.on_click(self._captured(self._on_refresh_button_click))
        toolbar = w.HBox([self._title, self._refresh_button, self._status], layout=w.Layout(align_items="center"))
        body = self._build()
        if "layout" not in kwargs:  # (setdefault would make an orphan Layout model every time)
            kwargs["layout"] = w.Layout(border="1px solid var(--jp-border-color1,#d1d5db)", padding="6px", min_width="0")
        super().__init__(children=[toolbar, *body, self._error, self._log], **kwargs)
        self.add_class("pachmagic-panel")
        self._refresher: threading.Thread | None = None
        self._views = ViewTracker(self)
        self._views.changed = self._on_views_change
        self.refresh()
        if refresh_interval:
            self._refresher = start_auto_refresh(self, self._stop, float(refresh_interval), f"pachmagic-{type(self).__name__}-refresh")

    # --- for subclasses ---------------------------------------------------------

    def _build(self) -> list[w.Widget]:
        """Create the panel's own widgets and wire their handlers; return the body."""
        raise NotImplementedError

    def _refresh_now(self) -> None:
        """Reload from the server and update the widgets (worker thread)."""
        raise NotImplementedError

    def _captured(self, handler: Callable[..., None]) -> Callable[..., None]:
        """``handler`` with its output and errors captured into the panel's log."""
        wrapped: Callable[..., None] = self._log.capture()(handler)
        return wrapped

    def _submit(self, fn: Callable[[], None]) -> Future[None]:
        """Queue ``fn`` on the worker; its error, if any, is shown in the panel."""

        def guarded() -> None:
            if self._stop.is_set():
                return
            try:
                fn()
            except Exception as exc:  # shown in the panel, never raised into the kernel
                self._report(exc)

        return self._worker.submit(guarded)

    def _set_status(self, text: str) -> None:
        self._status.value = f"<span style='color:var(--jp-ui-font-color2,#6b7280);font-size:12px'>{esc(text)}</span>"

    def _report(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if message != self._error_text:
            self._error_text = message
            self._error.value = error_html(message)
            if not isinstance(exc, PachError):
                self._log.append_stderr("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))

    def _clear_error(self) -> None:
        if self._error_text:
            self._error_text = ""
            self._error.value = ""

    # --- public -------------------------------------------------------------------

    def __repr__(self) -> str:
        # The text/plain fallback of the widget view (saved notebooks, nbval, consoles):
        # static, unlike ipywidgets' repr of every child's current state.
        return f"<{type(self).__name__} of {describe_client(self._client)} (a live widget)>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        # The live widget, plus a static HTML snapshot for where no kernel brings it to life
        # (a saved or untrusted notebook): taken once the first load is done.
        return with_snapshot(self, super()._repr_mimebundle_(**kwargs), self.wait)

    @property
    def client(self) -> Any:
        """The client the panel reads from."""
        return self._client

    @property
    def error(self) -> str:
        """The error line shown in the panel ('' when the last refresh worked)."""
        return self._error_text

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._stop.is_set()

    @property
    def auto_refreshing(self) -> bool:
        """True while the background refresh thread runs."""
        return self._refresher is not None and self._refresher.is_alive()

    def refresh(self) -> Future[None]:
        """Queue a reload (at most one waits in the queue); returns immediately."""
        queued = self._queued_refresh
        if queued is not None and not queued.done() and not queued.running():
            return queued

        def run() -> None:
            self._refresh_now()
            self._clear_error()

        self._queued_refresh = self._submit(run)
        return self._queued_refresh

    def wait(self, timeout: float | None = 60.0) -> bool:
        """Block until queued work is done (False on timeout); for tests and scripts."""
        return self._worker.wait_idle(timeout)

    @property
    def hidden(self) -> bool:
        """True while the panel was shown and none of its views is left (it does not poll then)."""
        return self._views.hidden

    def _tick(self) -> bool:
        """Background refresh: False stops it (closed panel or comm gone); nothing while hidden."""
        if self._stop.is_set() or self.comm is None:
            return False
        if not self._worker.busy and not self.hidden:
            self.refresh()
        return True

    def close(self) -> None:
        """Stop the background refresh and the worker, and close the panel and every widget it made."""
        if not hasattr(self, "_worker"):  # a constructor that failed half-way (Widget.__del__)
            super().close()
            return
        self._stop.set()
        self._worker.shutdown()
        self._close_extra()
        close_parts(self)
        super().close()

    def _close_extra(self) -> None:
        """Close widgets the panel made that are not shown right now (subclasses)."""

    # --- handlers -------------------------------------------------------------------

    def _on_refresh_button_click(self, _button: w.Button) -> None:
        self.refresh()

    def _on_views_change(self, hidden: bool) -> None:
        if not hidden and not self._stop.is_set():
            self.refresh()  # shown again (a reloaded page): bring it up to date now
