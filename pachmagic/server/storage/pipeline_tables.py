"""The pipeline engine's tables (pipelines, jobs, datums, logs, cron ticks) in the server's database.

They live next to PFS's metadata (same SQLite database) so that a job's end — output
and meta commits finished, datums recorded, job marked done — is one transaction
(``Storage.changing()``). Typed records in, typed records out
(``pipeline_records``); every statement is here. The engine's ledger
(``server/pipelines/ledger.py``) is the only caller of the methods that write.
Specs are stored as serialized ``CreatePipelineRequest`` messages. No gRPC, no
pipeline behaviour.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable

from ..._proto import pps_pb2
from .db import Database
from .pipeline_records import DatumRecord, JobKey, JobRecord, JobUpdate, LogLine, LogRecord, PipelineRecord

__all__ = ["PipelineTables"]

# pps_v2.JobState.JOB_CREATED and pps_v2.DatumState.SKIPPED/SUCCESS, as stored.
_JOB_CREATED = pps_pb2.JOB_CREATED
_DATUM_SUCCESS, _DATUM_SKIPPED = pps_pb2.SUCCESS, pps_pb2.SKIPPED

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pipelines (
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    spec BLOB NOT NULL,
    user_spec TEXT NOT NULL DEFAULT '',
    salt TEXT NOT NULL,
    spec_commit TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (project, name, version)
);
CREATE TABLE IF NOT EXISTS pipeline_state (
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    state INTEGER NOT NULL,
    stopped INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (project, name)
);
CREATE TABLE IF NOT EXISTS jobs (
    project TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    state INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    restart INTEGER NOT NULL DEFAULT 0,
    processed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    recovered INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    stats TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (project, pipeline, id)
);
CREATE INDEX IF NOT EXISTS jobs_by_id ON jobs(id);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs(project, pipeline, created);
CREATE TABLE IF NOT EXISTS datums (
    project TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    job_id TEXT NOT NULL,
    datum_id TEXT NOT NULL,
    state INTEGER NOT NULL,
    hash TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outputs TEXT NOT NULL DEFAULT '[]',
    stats TEXT NOT NULL DEFAULT '{}',
    reason TEXT NOT NULL DEFAULT '',
    processed_job TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (project, pipeline, job_id, datum_id)
);
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY,
    project TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    job_id TEXT NOT NULL,
    datum_id TEXT NOT NULL,
    ts REAL NOT NULL,
    user INTEGER NOT NULL,
    message TEXT NOT NULL,
    master INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS logs_by_pipeline ON logs(project, pipeline, job_id);
CREATE TABLE IF NOT EXISTS cron_ticks (
    project TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    input TEXT NOT NULL,
    last REAL NOT NULL,
    PRIMARY KEY (project, pipeline, input)
);
"""

# Columns added after the first release: (table, column, declaration).
_ADDED = (
    ("datums", "reason", "TEXT NOT NULL DEFAULT ''"),
    ("datums", "processed_job", "TEXT NOT NULL DEFAULT ''"),
    ("logs", "master", "INTEGER NOT NULL DEFAULT 0"),
)


_JOB_COLS = (
    "project, pipeline, id, version, state, reason, created, started, finished, restart, "
    "processed, skipped, failed, recovered, total, stats"
)
_DATUM_COLS = "project, pipeline, job_id, datum_id, state, hash, inputs, outputs, stats, reason, processed_job"
_PIPELINE_SQL = (
    "SELECT p.project, p.name, p.version, p.spec, p.user_spec, p.salt, p.spec_commit, p.created, "
    "s.state, s.stopped, s.reason, "
    "(SELECT MIN(created) FROM pipelines f WHERE f.project = p.project AND f.name = p.name), "
    "(SELECT state FROM jobs j WHERE j.project = p.project AND j.pipeline = p.name "
    " ORDER BY created DESC, rowid DESC LIMIT 1) "
    "FROM pipelines p JOIN pipeline_state s ON s.project = p.project AND s.name = p.name "
)


class PipelineTables:
    """Rows of the pipeline engine, over the shared ``Database``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.executescript(_SCHEMA)
        for table, column, decl in _ADDED:
            have = {r[1] for r in db.all(f"PRAGMA table_info({table})")}
            if column not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    # --- pipelines ---------------------------------------------------------------

    def put_version(
        self,
        project: str,
        name: str,
        version: int,
        spec: pps_pb2.CreatePipelineRequest,
        user_spec: str,
        salt: str,
        spec_commit: str,
        *,
        stopped: bool,
        state: int,
    ) -> None:
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO pipelines(project, name, version, spec, user_spec, salt, spec_commit, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (project, name, version, spec.SerializeToString(), user_spec, salt, spec_commit, time.time()),
            )
            self.db.execute(
                "INSERT INTO pipeline_state(project, name, state, stopped, reason) VALUES (?, ?, ?, ?, '') "
                "ON CONFLICT(project, name) DO UPDATE SET state = excluded.state, stopped = excluded.stopped, reason = ''",
                (project, name, state, int(stopped)),
            )

    def set_state(
        self, project: str, name: str, *, state: int | None = None, stopped: bool | None = None, reason: str | None = None
    ) -> None:
        sets, params = [], []  # type: list[str], list[Any]
        for col, value in (("state", state), ("stopped", None if stopped is None else int(stopped)), ("reason", reason)):
            if value is not None:
                sets.append(f"{col} = ?")
                params.append(value)
        if sets:
            self.db.execute(
                f"UPDATE pipeline_state SET {', '.join(sets)} WHERE project = ? AND name = ?", [*params, project, name]
            )

    def _pipeline(self, row: Any) -> PipelineRecord:
        project, name, version, spec, user_spec, salt, spec_commit, created, state, stopped, reason, first, last = row
        msg = pps_pb2.CreatePipelineRequest()
        msg.ParseFromString(spec)
        return PipelineRecord(
            project, name, version, msg, user_spec, salt, spec_commit, first, created, state, bool(stopped), reason,
            last or 0,
        )

    def get(self, project: str, name: str, version: int | None = None) -> PipelineRecord | None:
        if version is None:
            row = self.db.one(
                _PIPELINE_SQL + "WHERE p.project = ? AND p.name = ? ORDER BY p.version DESC LIMIT 1", (project, name)
            )
        else:
            row = self.db.one(
                _PIPELINE_SQL + "WHERE p.project = ? AND p.name = ? AND p.version = ?", (project, name, version)
            )
        return self._pipeline(row) if row else None

    def history(self, project: str, name: str) -> list[PipelineRecord]:
        rows = self.db.all(_PIPELINE_SQL + "WHERE p.project = ? AND p.name = ? ORDER BY p.version DESC", (project, name))
        return [self._pipeline(r) for r in rows]

    def pipelines(self, projects: Iterable[str] = ()) -> list[PipelineRecord]:
        projects = list(projects)
        sql = _PIPELINE_SQL + (
            "WHERE p.version = (SELECT MAX(version) FROM pipelines v WHERE v.project = p.project AND v.name = p.name) "
        )
        params: list[Any] = []
        if projects:
            sql += f"AND p.project IN ({','.join('?' * len(projects))}) "
            params = projects
        sql += "ORDER BY p.project, p.name"
        return [self._pipeline(r) for r in self.db.all(sql, params)]

    def delete(self, project: str, name: str) -> None:
        with self.db.transaction():
            for table, col in (
                ("pipelines", "name"), ("pipeline_state", "name"), ("jobs", "pipeline"), ("datums", "pipeline"),
                ("logs", "pipeline"), ("cron_ticks", "pipeline"),
            ):
                self.db.execute(f"DELETE FROM {table} WHERE project = ? AND {col} = ?", (project, name))

    # --- jobs --------------------------------------------------------------------

    def _job(self, row: Any) -> JobRecord:
        values = list(row)
        values[-1] = json.loads(values[-1])
        return JobRecord(*values)

    def add_job(self, key: JobKey, version: int, created: float | None = None) -> bool:
        """Insert a CREATED job unless it exists; whether it was new."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO jobs(project, pipeline, id, version, state, created) VALUES (?, ?, ?, ?, ?, ?)",
            (key.project, key.pipeline, key.id, version, _JOB_CREATED, created or time.time()),
        )
        return cur.rowcount == 1

    def job(self, key: JobKey) -> JobRecord | None:
        row = self.db.one(
            f"SELECT {_JOB_COLS} FROM jobs WHERE project = ? AND pipeline = ? AND id = ?",
            (key.project, key.pipeline, key.id),
        )
        return self._job(row) if row else None

    def jobs(
        self,
        *,
        project: str | None = None,
        pipeline: str | None = None,
        job_id: str | None = None,
        states: Iterable[int] = (),
    ) -> list[JobRecord]:
        """Jobs matching the filters (any of ``states``, if given), newest first."""
        where, params = [], []  # type: list[str], list[Any]
        for col, value in (("project", project), ("pipeline", pipeline), ("id", job_id)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        wanted = sorted(int(s) for s in states)
        if wanted:
            where.append(f"state IN ({','.join('?' * len(wanted))})")
            params.extend(wanted)
        sql = f"SELECT {_JOB_COLS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, rowid DESC"
        return [self._job(r) for r in self.db.all(sql, params)]

    def update_job(self, key: JobKey, update: JobUpdate, *, if_state_in: Iterable[int] | None = None) -> bool:
        """Change a job's row (only while its state is one of ``if_state_in``, if given); whether it changed."""
        sets, params = [], []  # type: list[str], list[Any]
        for column, value in update.columns():
            sets.append(f"{column} = ?")
            params.append(json.dumps(value) if column == "stats" else value)
        if not sets:
            return False
        sql = f"UPDATE jobs SET {', '.join(sets)} WHERE project = ? AND pipeline = ? AND id = ?"
        params += [key.project, key.pipeline, key.id]
        if if_state_in is not None:
            allowed = sorted(int(s) for s in if_state_in)
            sql += f" AND state IN ({','.join('?' * len(allowed))})"
            params += allowed
        return self.db.execute(sql, params).rowcount == 1

    def delete_job(self, key: JobKey) -> None:
        with self.db.transaction():
            for table, col in (("jobs", "id"), ("datums", "job_id"), ("logs", "job_id")):
                self.db.execute(
                    f"DELETE FROM {table} WHERE project = ? AND pipeline = ? AND {col} = ?",
                    (key.project, key.pipeline, key.id),
                )

    # --- datums ------------------------------------------------------------------

    def put_datums(self, records: Iterable[DatumRecord]) -> None:
        self.db.executemany(
            f"INSERT OR REPLACE INTO datums({_DATUM_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    d.project, d.pipeline, d.job_id, d.datum_id, d.state, d.hash, json.dumps(d.inputs),
                    json.dumps(d.outputs), json.dumps(d.stats), d.reason, d.processed_job or d.job_id,
                )
                for d in records
            ],
        )

    def carry_datums(self, key: JobKey, base_job: str, datum_ids: Iterable[str]) -> None:
        """Copy ``datum_ids`` of ``base_job`` (same pipeline) into job ``key`` as SKIPPED (one statement, no decoding)."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS carry_ids (id TEXT PRIMARY KEY)")
        self.db.execute("DELETE FROM carry_ids")
        self.db.executemany("INSERT OR IGNORE INTO carry_ids(id) VALUES (?)", ((i,) for i in datum_ids))
        self.db.execute(
            f"INSERT OR REPLACE INTO datums({_DATUM_COLS}) "
            f"SELECT project, pipeline, ?, datum_id, {_DATUM_SKIPPED}, hash, inputs, outputs, stats, '', processed_job "
            "FROM datums WHERE project = ? AND pipeline = ? AND job_id = ? AND datum_id IN (SELECT id FROM carry_ids)",
            (key.id, key.project, key.pipeline, base_job),
        )
        self.db.execute("DELETE FROM carry_ids")

    def skip_table(self, key: JobKey) -> dict[str, tuple[str, list[str]]]:
        """Datum ID → (hash, outputs) of a job's successful and skipped datums (the skip rule's input)."""
        rows = self.db.all(
            "SELECT datum_id, hash, outputs FROM datums WHERE project = ? AND pipeline = ? AND job_id = ? "
            f"AND state IN ({_DATUM_SUCCESS}, {_DATUM_SKIPPED})",
            (key.project, key.pipeline, key.id),
        )
        return {r[0]: (r[1], json.loads(r[2])) for r in rows}

    def datums(self, key: JobKey, datum_id: str | None = None) -> list[DatumRecord]:
        """A job's datums (or one of them), sorted by ID."""
        sql = f"SELECT {_DATUM_COLS} FROM datums WHERE project = ? AND pipeline = ? AND job_id = ?"
        params: list[Any] = [key.project, key.pipeline, key.id]
        if datum_id is not None:
            sql += " AND datum_id = ?"
            params.append(datum_id)
        sql += " ORDER BY datum_id"
        return [
            DatumRecord(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), json.loads(r[7]), json.loads(r[8]), r[9], r[10])
            for r in self.db.all(sql, params)
        ]

    # --- logs --------------------------------------------------------------------

    def add_logs(self, lines: Iterable[LogLine]) -> None:
        self.db.executemany(
            "INSERT INTO logs(project, pipeline, job_id, datum_id, ts, user, message, master) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(ln.job.project, ln.job.pipeline, ln.job.id, ln.datum, ln.ts, int(ln.user), ln.message, int(ln.master))
             for ln in lines],
        )

    def logs(
        self,
        *,
        project: str,
        pipeline: str | None = None,
        job_id: str | None = None,
        datum_id: str | None = None,
        after_seq: int = 0,
        master: bool | None = None,
        since: float | None = None,
    ) -> list[LogRecord]:
        where, params = ["project = ?", "seq > ?"], [project, after_seq]  # type: list[str], list[Any]
        for col, value in (("pipeline", pipeline), ("job_id", job_id), ("datum_id", datum_id)):
            if value:
                where.append(f"{col} = ?")
                params.append(value)
        if master is not None:
            where.append("master = ?")
            params.append(int(master))
        if since is not None:
            where.append("ts >= ?")
            params.append(since)
        rows = self.db.all(
            "SELECT seq, project, pipeline, job_id, datum_id, ts, user, message, master FROM logs "
            f"WHERE {' AND '.join(where)} ORDER BY seq",
            params,
        )
        return [LogRecord(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], bool(r[8])) for r in rows]

    # --- cron --------------------------------------------------------------------

    def last_tick(self, project: str, pipeline: str, name: str) -> float | None:
        row = self.db.one(
            "SELECT last FROM cron_ticks WHERE project = ? AND pipeline = ? AND input = ?", (project, pipeline, name)
        )
        return None if row is None else float(row[0])

    def set_last_tick(self, project: str, pipeline: str, name: str, t: float) -> None:
        self.db.execute(
            "INSERT INTO cron_ticks(project, pipeline, input, last) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(project, pipeline, input) DO UPDATE SET last = excluded.last",
            (project, pipeline, name, t),
        )
