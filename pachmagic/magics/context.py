"""What a command's ``run`` function receives: settings, session, cell body, helpers.

``Settings`` is the read-only view of the ``PachMagic`` traitlets that commands
need (so command modules do not import the magic class); ``Context`` bundles
it with the session, the cell body of ``%%pach`` and progress-bar helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pachmagic.magics import progress

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    from pachmagic.client import Client
    from pachmagic.magics.session import Session

__all__ = ["Settings", "Context"]


class Settings(Protocol):
    """The configuration commands read (the ``PachMagic`` traitlets)."""

    display_limit: int
    progress: bool
    default_project: str
    auto_wait: bool
    raise_on_failure: bool
    verbose_errors: bool
    data_dir: str
    workdir: str
    default_image: str
    completion_cache_seconds: float
    file_preview_bytes: int
    wait_poll_seconds: float
    lock_file: str


@dataclass
class Context:
    """Everything one command invocation needs.

    Attributes
    ----------
    settings:
        The magic's configuration.
    session:
        The magic's session (client, embedded server, caches).
    cell:
        The ``%%pach`` cell body, or None for a line magic.
    user_ns:
        The notebook's namespace (for ``{var}`` expansion and results), if any.
    cell_id:
        The id of the notebook cell being run, when the front end says (JupyterLab
        and nbclient send it with each execution); None elsewhere.
    """

    settings: Settings
    session: Session
    cell: str | None = None
    user_ns: dict[str, Any] | None = None
    cell_id: str | None = None

    @property
    def client(self) -> Client:
        """The session's client (connecting on first use)."""
        return self.session.client()

    def bar(self, *, total: float | None, unit: str, desc: str, unit_scale: bool = False) -> progress.Bar:
        """A progress bar, or a silent stand-in when ``PachMagic.progress`` is off."""
        return progress.bar(self.settings.progress, total=total, unit=unit, desc=desc, unit_scale=unit_scale)

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Mark a listing for display with the configured row limit."""
        from pachmagic.magics.display import limited

        return limited(frame, self.settings.display_limit)
