"""The metadata database: one SQLite file (or an in-memory database) and its schema.

Everything mutable lives here — projects, repos, branches (the refs), commits
(their state and tree root), the chunk index and tree nodes — so that one SQLite
transaction makes a change visible all at once or not at all. Chunk *bytes* live
in pack files (``packs.py``) and are written and synced before the transaction
that first references them commits.

One connection is shared by all threads behind a re-entrant lock: the embedded
server is one process, statements are short, and this keeps transactions simple.
This module must not know about Pachyderm semantics.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

__all__ = ["Database", "SCHEMA_VERSION", "DATABASE_FILE", "existing_database"]

# The metadata database's name inside a data directory.
DATABASE_FILE = "pfs.sqlite"


def existing_database(data_dir: Path) -> Path:
    """The metadata database of ``data_dir``; FileNotFoundError when it holds no pachmagic data."""
    path = data_dir / DATABASE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{data_dir} holds no pachmagic data (no {DATABASE_FILE})")
    return path

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS repos (
    id INTEGER PRIMARY KEY,
    project TEXT NOT NULL REFERENCES projects(name),
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    UNIQUE (project, name, type)
);
CREATE TABLE IF NOT EXISTS commits (
    seq INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos(id),
    id TEXT NOT NULL,
    branch TEXT,
    parent_seq INTEGER,
    origin INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL,
    finishing REAL,
    finished REAL,
    error TEXT NOT NULL DEFAULT '',
    root BLOB,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (repo_id, id)
);
CREATE INDEX IF NOT EXISTS commits_by_set ON commits(id);
CREATE INDEX IF NOT EXISTS commits_by_parent ON commits(parent_seq);
CREATE TABLE IF NOT EXISTS commit_provenance (
    commit_seq INTEGER NOT NULL,
    prov_seq INTEGER NOT NULL,
    PRIMARY KEY (commit_seq, prov_seq)
);
CREATE INDEX IF NOT EXISTS commit_subvenance ON commit_provenance(prov_seq);
CREATE TABLE IF NOT EXISTS branches (
    id INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos(id),
    name TEXT NOT NULL,
    head_seq INTEGER,
    trigger TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    UNIQUE (repo_id, name)
);
CREATE TABLE IF NOT EXISTS branch_provenance (
    branch_id INTEGER NOT NULL,
    prov_id INTEGER NOT NULL,
    PRIMARY KEY (branch_id, prov_id)
);
CREATE INDEX IF NOT EXISTS branch_subvenance ON branch_provenance(prov_id);
CREATE TABLE IF NOT EXISTS chunks (
    id BLOB PRIMARY KEY,
    pack INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    size INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes (
    id BLOB PRIMARY KEY,
    data BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;
"""


class Database:
    """A SQLite database shared by the storage and pipeline layers.

    Parameters
    ----------
    path:
        The database file, or ``None`` for a private in-memory database.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._conn = sqlite3.connect(
            str(path) if path is not None else ":memory:",
            check_same_thread=False,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        )
        self._lock = threading.RLock()
        self._depth = 0
        with self._lock:
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode: a committed transaction survives a process
                # crash; pack data is fsynced before the commit that uses it.
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)
            self._conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction (nested blocks join the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> None:
        with self._lock:
            self._conn.executemany(sql, rows)

    def meta_value(self, key: str, make: Callable[[], str]) -> str:
        """The ``meta`` table's value for ``key``, set to ``make()`` the first time (once, even in a race)."""
        with self.transaction():
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row[0])
            value = make()
            self._conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (key, value))
            return value

    def executescript(self, script: str) -> None:
        """Run DDL (other layers add their own tables to this database)."""
        with self._lock:
            self._conn.executescript(script)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
