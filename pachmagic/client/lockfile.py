"""The data lock file: which commit each ref a notebook read resolved to, on disk.

A lock file is JSON, written so that it diffs well under version control: keys
sorted, two-space indents, one ref per block, one path per line, a final newline,
and nothing that changes between identical runs (no times, no addresses)::

    {
      "format": "pachmagic-lock",
      "refs": {
        "default/photos@master": {
          "commit": "1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d",
          "paths": [
            "/hand.png"
          ]
        }
      },
      "version": 1
    }

- ``format`` is always ``pachmagic-lock``; ``version`` is 1. A reader refuses a
  newer version (it could not honour it) and any field it does not know.
- ``refs`` maps ``project/repo[.type]@ref`` (the ref as written after ``@``: a
  branch, a commit id, or an ancestry expression like ``master^2``) to
  ``commit`` (the commit id the ref resolved to when first read) and ``paths``
  (the paths or glob patterns read through it, sorted). ``later_commits``, when
  present, lists other commits the same ref resolved to later in the recording
  session (the notebook wrote to a branch it reads); the lock pins ``commit``.

This module only parses and prints; no RPCs, no recording (``reads.py``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from pachmagic.client.refs import DEFAULT_PROJECT, Commit, InvalidRef, Repo
from pachmagic.errors import InvalidArgument

__all__ = ["FORMAT", "VERSION", "LockFileError", "RefKey", "LockEntry", "DataLock"]

FORMAT = "pachmagic-lock"
VERSION = 1

_ID = re.compile(r"^[0-9a-f]{32}$")
_UUID = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{19}$")
_ENTRY_FIELDS = {"commit", "paths", "later_commits"}


class LockFileError(InvalidArgument, ValueError):
    """A lock file that cannot be read: not JSON, not a lock, a newer version, a bad entry."""


@dataclass(frozen=True, order=True)
class RefKey:
    """A ref as a lock knows it: project, repo, repo type, and the text after ``@``.

    ``ref`` is kept as written (``master``, ``master^2``, a commit id), so the
    same text reads the same commit under the lock.
    """

    project: str
    repo: str
    repo_type: str
    ref: str

    @classmethod
    def of(cls, commit: Commit, project: str) -> RefKey:
        """The key of a commit ref, filling in the client's project when the ref names none."""
        token = commit.id if commit.branch is None else commit.branch
        if commit.branch is not None and commit.id is not None:
            token = f"{commit.branch}={commit.id}"
        assert token is not None  # a Commit always has a branch or an id
        return cls(commit.repo.project or project, commit.repo.name, commit.repo.type, token)

    @classmethod
    def parse(cls, text: str) -> RefKey:
        """Parse ``project/repo[.type]@ref`` (``InvalidRef`` when malformed)."""
        commit = Commit.from_uri(text)
        return cls.of(commit, DEFAULT_PROJECT if commit.repo.project is None else commit.repo.project)

    @property
    def pinned(self) -> bool:
        """True when the ref names one commit for good (an id, or ``branch=id``): it cannot move."""
        return "=" in self.ref or bool(_UUID.match(self.ref))

    @property
    def repo_ref(self) -> Repo:
        """The repo, with its project."""
        return Repo(self.repo, self.repo_type, self.project)

    def commit(self, commit_id: str | None = None) -> Commit:
        """The ref as a ``Commit`` (or, given ``commit_id``, that commit of the repo)."""
        if commit_id is not None:
            return Commit(self.repo_ref, None, commit_id)
        return Commit.from_uri(str(self))

    def __str__(self) -> str:
        return f"{self.repo_ref}@{self.ref}"


@dataclass(frozen=True)
class LockEntry:
    """What a lock pins for one ref."""

    key: RefKey
    commit: str
    paths: tuple[str, ...] = ()
    later_commits: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataLock:
    """A set of pinned refs, as read from or written to a lock file.

    Attributes
    ----------
    entries:
        ``RefKey`` → ``LockEntry``.
    source:
        The file it was loaded from, if any (for messages).
    """

    entries: Mapping[RefKey, LockEntry] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_entries(cls, entries: Iterable[LockEntry], source: str = "") -> DataLock:
        """A lock holding these entries (one per key)."""
        return cls({e.key: e for e in entries}, source)

    def get(self, key: RefKey) -> LockEntry | None:
        """The entry for ``key``, or None when the lock does not know that ref."""
        return self.entries.get(key)

    def __len__(self) -> int:
        return len(self.entries)

    # --- text ------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The document written to disk (see the module docstring)."""
        refs: dict[str, Any] = {}
        for key in sorted(self.entries):
            entry = self.entries[key]
            item: dict[str, Any] = {"commit": entry.commit, "paths": sorted(set(entry.paths))}
            if entry.later_commits:
                item["later_commits"] = list(entry.later_commits)
            refs[str(key)] = item
        return {"format": FORMAT, "version": VERSION, "refs": refs}

    def dumps(self) -> str:
        """The lock file's text."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the lock file (atomically: a reader never sees half a file)."""
        target = Path(path)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(self.dumps(), encoding="utf-8")
        os.replace(partial, target)
        return target

    @classmethod
    def loads(cls, text: str, source: str = "the lock") -> DataLock:
        """Parse a lock file's text (``LockFileError`` saying what is wrong, and where)."""
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise LockFileError(f"{source} is not a pachmagic lock file: {err}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise LockFileError(f"{source} is not a pachmagic lock file (no \"format\": \"{FORMAT}\")")
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise LockFileError(f"{source}: \"version\" must be an integer, got {version!r}")
        if version > VERSION:
            raise LockFileError(
                f"{source} is lock format version {version}, written by a newer pachmagic; "
                f"this one reads version {VERSION}"
            )
        unknown = sorted(set(doc) - {"format", "version", "refs"})
        if unknown:
            raise LockFileError(f"{source}: unknown field {unknown[0]!r}")
        refs = doc.get("refs")
        if not isinstance(refs, dict):
            raise LockFileError(f"{source}: \"refs\" must be an object of ref → {{commit, paths}}")
        return cls.from_entries((_entry(name, item, source) for name, item in refs.items()), source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DataLock:
        """Read a lock file (``FileNotFoundError`` if missing, ``LockFileError`` if malformed)."""
        target = Path(path)
        return cls.loads(target.read_text(encoding="utf-8"), str(target))


def _entry(name: str, item: Any, source: str) -> LockEntry:
    try:
        key = RefKey.parse(name)
    except InvalidRef as err:
        raise LockFileError(f"{source}: bad ref {name!r}: {err}") from None
    if not isinstance(item, dict):
        raise LockFileError(f"{source}: {name}: expected an object with \"commit\" and \"paths\"")
    unknown = sorted(set(item) - _ENTRY_FIELDS)
    if unknown:
        raise LockFileError(f"{source}: {name}: unknown field {unknown[0]!r}")
    commit = item.get("commit")
    if not isinstance(commit, str) or not _ID.match(commit):
        raise LockFileError(f"{source}: {name}: \"commit\" must be a 32-hex commit id, got {commit!r}")
    paths = item.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise LockFileError(f"{source}: {name}: \"paths\" must be a list of strings")
    later = item.get("later_commits", [])
    if not isinstance(later, list) or not all(isinstance(c, str) and _ID.match(c) for c in later):
        raise LockFileError(f"{source}: {name}: \"later_commits\" must be a list of commit ids")
    return LockEntry(key, commit, tuple(paths), tuple(later))
