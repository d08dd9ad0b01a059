"""A job's plan: its input commits as datum sources, its datums, and what it can skip.

Datums themselves are planned by Pachyderm's rules (``pachmagic.pachyderm.datums``);
this module feeds them stored commits. No gRPC here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..storage.files import Reader
from ..storage.model import FileInfo

__all__ = ["CommitSource"]


@dataclass(frozen=True)
class CommitSource:
    """One input name's commit, read for datum planning (an ``InputSource``)."""

    reader: Reader
    commit: str

    def glob(self, pattern: str) -> Iterator[FileInfo]:
        return self.reader.glob(pattern)

    def is_empty(self) -> bool:
        return next(self.reader.files_under("/"), None) is None
