"""A datum slot's host directory: the datum's input files under ``<slot>/<name>``, an empty ``<slot>/out``.

The sandbox shows these at ``/pfs/<name>`` and ``/pfs/out``. They stay from datum
to datum (emptied, never made again: the sandbox worker keeps its mounts of them
while they are the same directories), and like Pachyderm nothing a previous datum
left in ``/pfs`` is seen by the next. A job's datums mostly have the same inputs:
the slot's layout is then known and only the directories' contents are cleared.

While one datum's command runs, the next datum's input can be *staged*: written
under ``<slot>.next`` and moved in, one rename per top-level entry, when its turn
comes. Its reading (tree lookups, chunk locations, chunk reads) is then off the
path from one command to the next. Only small inputs are staged
(``STAGE_MAX_FILES``, ``STAGE_MAX_BYTES``): staging runs on the job's thread while
the command runs, and must not keep that thread from the command's output or
from its timeout for long. Nothing here knows of sandboxes or gRPC.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable

from ...pachyderm.datums import Datum, DatumInput
from ..storage import Storage
from ..storage.files import Reader
from ..storage.tree import Entry

__all__ = ["Slot", "STAGE_MAX_BYTES", "STAGE_MAX_FILES", "clear"]

STAGE_MAX_FILES = 64
STAGE_MAX_BYTES = 1 << 20


def _remove(dirent: os.DirEntry[str]) -> None:
    if dirent.is_dir(follow_symlinks=False):
        shutil.rmtree(dirent.path, ignore_errors=True)
    else:
        try:
            os.unlink(dirent.path)
        except FileNotFoundError:
            pass


def clear(directory: str | Path) -> None:
    """Empty ``directory`` but keep it (cheaper than removing and recreating it)."""
    with os.scandir(directory) as it:
        for dirent in it:
            _remove(dirent)


class Slot:
    """One worker's slot directory, used one datum at a time by one thread.

    ``reader(project, repo, repo_type, commit)`` gives a reader of an input commit.
    """

    def __init__(self, path: Path, storage: Storage, reader: Callable[[str, str, str, str], Reader]) -> None:
        self.path = path
        self.storage = storage
        self.reader = reader
        self.staging = path.with_name(path.name + ".next")
        self._layout: tuple[str, ...] | None = None  # the slot's directories now: inputs' names and "out"
        self._mounts: dict[str, Path] = {}
        # (datum id, bytes, seconds, top-level entries by input name) under self.staging
        self._staged: tuple[str, int, float, dict[str, set[str]]] | None = None

    def materialize(self, datum: Datum) -> tuple[dict[str, Path], int, float]:
        """Lay out ``datum``'s input (moved in if it was staged) and empty ``out``.

        Returns the mounts (``name -> host directory``, ``out`` last), the input's
        bytes, and the seconds spent staging it earlier (0 if it was not).
        """
        staged, self._staged = self._staged, None
        if staged is not None and staged[0] != datum.id:
            staged = None
        layout = (*dict.fromkeys(item.name for item in datum.inputs), "out")
        if layout != self._layout:
            self._lay_out(layout)
        slot = str(self.path)
        for name in layout:
            self._clear(f"{slot}/{name}")
        if staged is not None:
            root = str(self.staging)
            for name, tops in staged[3].items():
                for top in tops:
                    os.rename(f"{root}/{name}/{top}", f"{slot}/{name}/{top}")
            return dict(self._mounts), staged[1], staged[2]
        total = 0
        for item in datum.inputs:
            total += self._write(item, self._entries(item), f"{slot}/{item.name}")
        return dict(self._mounts), total, 0.0

    def clear_out(self) -> None:
        """Empty ``out`` (before a datum's next attempt)."""
        self._clear(f"{self.path}/out")

    def stage(self, datum: Datum) -> None:
        """Write ``datum``'s input under the staging directory if it is small; a hint, it never raises.

        What cannot be staged (too big, unreadable) is written by ``materialize`` at
        its turn, which then reports any error as usual.
        """
        self._staged = None
        started = time.monotonic()
        try:
            wanted: list[tuple[DatumInput, list[Entry]]] = []
            files = size = 0
            for item in datum.inputs:
                entries = self._entries(item)
                files += len(entries)
                size += 0 if item.empty_files else sum(e.size for e in entries)
                if files > STAGE_MAX_FILES or size > STAGE_MAX_BYTES:
                    return
                wanted.append((item, entries))
            root = str(self.staging)
            for name in dict.fromkeys(item.name for item in datum.inputs):
                try:
                    clear(f"{root}/{name}")
                except FileNotFoundError:
                    os.makedirs(f"{root}/{name}")
            total = sum(self._write(item, entries, f"{root}/{item.name}") for item, entries in wanted)
            tops: dict[str, set[str]] = {}
            for item, entries in wanted:
                tops.setdefault(item.name, set()).update(e.path.split("/", 2)[1] for e in entries)
        except Exception:  # noqa: BLE001 - staging is only a head start
            return
        self._staged = (datum.id, total, time.monotonic() - started, tops)

    # --- helpers --------------------------------------------------------------------

    def _entries(self, item: DatumInput) -> list[Entry]:
        """The files of one datum input (its path in its commit)."""
        return list(self.reader(item.project, item.repo, item.repo_type, item.commit).files_under(item.path))

    def _write(self, item: DatumInput, entries: list[Entry], base: str) -> int:
        """Write one input's files under ``base``; their bytes."""
        total = 0
        made = {base}
        for entry in entries:
            target = base + entry.path
            parent = target[:target.rindex("/")]
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            with open(target, "wb") as fh:
                if not item.empty_files:
                    for data in self.storage.read_chunks(entry.chunks):
                        fh.write(data)
                    total += entry.size
        return total

    def _lay_out(self, layout: tuple[str, ...]) -> None:
        """Make the slot hold exactly ``layout``'s directories."""
        self._layout = None
        keep = set(layout)
        self.path.mkdir(parents=True, exist_ok=True)
        with os.scandir(self.path) as it:
            for dirent in it:
                if dirent.name not in keep:
                    _remove(dirent)
        for name in layout:
            (self.path / name).mkdir(exist_ok=True)
        self._layout = layout
        self._mounts = {name: self.path / name for name in layout}

    def _clear(self, directory: str) -> None:
        """Empty one of the slot's directories; lay the slot out again if it went away."""
        try:
            clear(directory)
        except FileNotFoundError:  # a substitute-mode transform may remove its host directory
            layout, self._layout = self._layout, None
            assert layout is not None
            self._lay_out(layout)
