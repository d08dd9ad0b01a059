"""The engine-level test harness: a real ``Storage`` and ``Engine``, no gRPC.

A ``Harness`` writes input commits, creates pipelines from spec
dicts (through the same protojson parser as ``CreatePipelineV2``), waits for
jobs on the engine's change notifications (never on wall-clock assertions) and
reads output trees back. Transforms are real processes in real sandboxes.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, Callable, TypeVar

from pachmagic.server.pipelines import Engine
from pachmagic.pachyderm.spec import parse_pipeline_spec
from pachmagic.server.pipelines.states import TERMINAL
from pachmagic.server.storage import BranchKey, CommitRef, RepoKey, Storage
from pachmagic.server.storage.pipeline_records import JobRecord, PipelineRecord

T = TypeVar("T")
PY = sys.executable
WAIT = 90.0  # generous: a loaded CI machine; never asserted on


class Harness:
    """Drive one engine the way the servicers do, with helpers for tests."""

    def __init__(self, storage: Storage, engine: Engine, changed: threading.Condition) -> None:
        self.storage = storage
        self.engine = engine
        self._changed = changed

    # --- waiting -------------------------------------------------------------

    def wait(self, what: Callable[[], T | None], timeout: float = WAIT, message: str = "condition") -> T:
        """Return ``what()`` once it is truthy, re-checking on every engine/storage change."""
        end = time.monotonic() + timeout
        while True:
            value = what()
            if value:
                return value
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {message}")
            with self._changed:
                self._changed.wait(min(left, 0.2))

    def job(self, pipeline: str, job_id: str | None = None, *, terminal: bool = True) -> JobRecord:
        """A pipeline's job (default: its newest), once terminal."""

        def find() -> JobRecord | None:
            if job_id is None:
                jobs = self.engine.list_jobs(project="default", pipeline=pipeline)
                job = jobs[0] if jobs else None
            else:
                try:
                    job = self.engine.inspect_job("default", pipeline, job_id)
                except Exception:  # noqa: BLE001 - not created yet
                    return None
            if job is None or (terminal and job.state not in TERMINAL):
                return None
            return job

        return self.wait(find, message=f"job of {pipeline}")

    def idle(self) -> list[JobRecord]:
        """Wait until every job of every pipeline is terminal; return all jobs."""

        def done() -> list[JobRecord] | None:
            self.engine.ledger.sync()
            jobs = self.engine.list_jobs()
            if any(j.state not in TERMINAL for j in jobs):
                return None
            return jobs or [None]  # type: ignore[list-item]

        jobs = self.wait(done, message="all jobs to finish")
        return [j for j in jobs if j is not None]

    def pipeline_state(self, name: str, state: int) -> PipelineRecord:
        return self.wait(
            lambda: (r := self.engine.inspect_pipeline("default", name)).state == state and r,  # type: ignore[return-value]
            message=f"pipeline {name} in state {state}",
        )

    # --- writing ---------------------------------------------------------------

    def repo(self, name: str) -> None:
        self.storage.create_repo(RepoKey("default", name))

    def put(self, repo: str, files: dict[str, bytes | str] | None = None, *, delete: tuple[str, ...] = (),
            branch: str = "master") -> str:
        """One commit on ``repo@branch`` with these writes; returns its ID."""
        session = self.storage.write_session()
        for path in delete:
            session.delete(path)
        for path, data in (files or {}).items():
            session.delete(path)
            session.add(path, data.encode() if isinstance(data, str) else data)
        info = self.storage.apply(CommitRef(RepoKey("default", repo), branch=branch), session)
        return info.key.id

    def pipeline(self, spec: dict[str, Any], *, update: bool = False, reprocess: bool = False) -> PipelineRecord:
        request = parse_pipeline_spec(json.dumps(spec))
        return self.engine.create_pipeline(request, update=update, reprocess=reprocess, user_json=json.dumps(spec))

    # --- reading ---------------------------------------------------------------

    def files(self, repo: str, ref: str = "master", repo_type: str = "user") -> dict[str, bytes]:
        key = RepoKey("default", repo, repo_type)
        commit = CommitRef(key, id=ref) if len(ref) == 32 else CommitRef(key, branch=ref)
        reader = self.storage.reader(commit)
        return {e.path: b"".join(self.storage.read_chunks(e.chunks)) for e in reader.files_under("/")}

    def commit(self, repo: str, ref: str = "master", repo_type: str = "user") -> Any:
        key = RepoKey("default", repo, repo_type)
        commit = CommitRef(key, id=ref) if len(ref) == 32 else CommitRef(key, branch=ref)
        return self.storage.inspect_commit(commit)

    def head(self, repo: str, branch: str = "master") -> str:
        head = self.storage.inspect_branch(BranchKey(RepoKey("default", repo), branch)).head
        assert head is not None
        return head.id

    def user_logs(self, pipeline: str, job_id: str | None = None) -> list[str]:
        rows = self.engine.storage.pps.logs(project="default", pipeline=pipeline, job_id=job_id)
        return [r.message for r in rows if r.user]


def spec(name: str, cmd: list[str] | str, input: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A pipeline spec; a string ``cmd`` is a shell script (``sh -c``)."""
    command = ["sh", "-c", cmd] if isinstance(cmd, str) else cmd
    return {"pipeline": {"name": name}, "transform": {"image": "local", "cmd": command, **extra.pop("transform", {})},
            "input": input, **extra}


def pfs(repo: str, glob: str = "/*", **extra: Any) -> dict[str, Any]:
    return {"pfs": {"repo": repo, "glob": glob, **extra}}
