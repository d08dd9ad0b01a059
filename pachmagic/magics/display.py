"""What magics return and how their errors look.

- ``MagicError``: a failed command shown as one line (no traceback) through
  IPython's ``_render_traceback_`` hook, e.g.
  ``PachError: repo default/nope not found (NOT_FOUND) — did you mean: photos?``.
  The cell still fails (so "run all" stops and tests notice); the original
  error is kept as ``.error`` and ``%pach --verbose ...`` shows it in full.
- ``limited(frame, n)``: a listing whose notebook view shows at most ``n`` rows
  (the data is complete; ``PachMagic.display_limit``).
- ``Text``: a plain result (a confirmation line or a block of text) with
  ``__repr__``, ``_repr_html_`` and the values behind it as attributes.

Nothing here prints; everything is returned and displayed by IPython.
"""

from __future__ import annotations

import html
from typing import Any, Callable

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from pachmagic.client import PachFrame
from pachmagic.errors import PachError

__all__ = ["OneLineError", "MagicError", "one_line", "limited", "ListingFrame", "Text"]


def one_line(error: BaseException, hint: str = "", ref: str | None = None) -> str:
    """Format an error as the single line a magic shows.

    Parameters
    ----------
    error:
        A ``PachError`` (shown with its status code) or any other exception.
    hint:
        What to do next, appended after a dash.
    ref:
        The ref the command was given (``photos@master``): pachd names no commit in
        ``... at commit`` when a branch was asked for, so the line names the ref.
    """
    if isinstance(error, PachError):
        details = error.details or type(error).__name__
        if ref and details.rstrip().endswith(" at commit"):
            details = f"{details.rstrip()} {ref}"
        text = f"PachError: {details} ({error.code})"
    else:
        text = f"{type(error).__name__}: {error}"
    text = " ".join(text.split())  # one line, whatever the server said
    return f"{text} — {hint}" if hint else text


class OneLineError(Exception):
    """An error IPython shows as its one line (no traceback); the cell still fails.

    Attributes
    ----------
    line:
        The line shown.
    """

    def __init__(self, line: str) -> None:
        self.line = " ".join(line.split())
        super().__init__(self.line)

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of formatting a traceback.
        return [self.line]


class MagicError(OneLineError):
    """A failed ``%pach`` command, displayed by IPython as one line.

    Attributes
    ----------
    error:
        The original exception (``PachError`` or a local error such as ``OSError``).
    line:
        The line shown.
    """

    def __init__(self, error: BaseException, hint: str = "", ref: str | None = None) -> None:
        self.error = error
        super().__init__(one_line(error, hint, ref))

    @property
    def code(self) -> str:
        """The status code of the original error (``UNKNOWN`` for local errors)."""
        return getattr(self.error, "code", "UNKNOWN")


class ListingFrame(PachFrame):  # type: ignore[misc,unused-ignore]
    """A listing whose notebook and text views show at most ``attrs['display_limit']`` rows.

    Only the display is limited: ``len(df)``, computations and slices see every
    row (and slices are plain ``PachFrame`` objects again).
    """

    @property
    def _constructor(self) -> Callable[..., PachFrame]:
        return PachFrame

    def _limit(self) -> int:
        return int(self.attrs.get("display_limit") or 0)

    def _note(self, shown: int) -> str:
        return f"{len(self)} rows, showing the first {shown} (PachMagic.display_limit)"

    def _shown(self) -> tuple[PachFrame, int | None]:
        limit = self._limit()
        if not limit or len(self) <= limit:
            whole = PachFrame(self)
            whole.attrs = dict(self.attrs)
            return whole, None
        head = PachFrame(self.head(limit))
        head.attrs = dict(self.attrs)
        return head, limit

    def _repr_html_(self) -> str | None:
        shown, limit = self._shown()
        body = shown._repr_html_() or ""
        return body if limit is None else f"{body}<p>{html.escape(self._note(limit))}</p>"

    def __repr__(self) -> str:
        shown, limit = self._shown()
        return repr(shown) if limit is None else f"{shown!r}\n[{self._note(limit)}]"


def limited(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """Return ``frame`` as a ``ListingFrame`` showing at most ``limit`` rows (0 = all)."""
    out = ListingFrame(frame)
    out.attrs = dict(frame.attrs)
    out.attrs["display_limit"] = max(0, int(limit))
    return out


class Text:
    """A result shown as text: a one-line confirmation (``put 3 files ...``) or a block (help, logs, specs).

    One line displays as a line, several as a preformatted block. Values worth
    keeping (a commit, an address, a spec as a dict...) ride along as ``details``
    and are also attributes: ``%pach put file ...`` returns a ``Text`` whose
    ``.commit`` is the new commit.

    Attributes
    ----------
    text:
        The text.
    details:
        The values behind it.
    """

    def __init__(self, text: str, **details: Any) -> None:
        self.text = text
        self.details = details

    def __getattr__(self, name: str) -> Any:
        details = self.__dict__.get("details", {})
        if name in details:
            return details[name]
        raise AttributeError(name)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        if "\n" in self.text:
            return f"<pre>{html.escape(self.text)}</pre>"
        return f"<span>{html.escape(self.text)}</span>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)
