"""Run one job: plan datums, skip the unchanged ones, run the rest, merge outputs.

The runner lays out each datum's inputs in a scratch directory, runs the
transform in a ``Sandbox`` (so it sees ``/pfs/<input>`` and ``/pfs/out``),
uploads what the datum left in ``/pfs/out`` tagged with the datum ID, and at the
end writes the output commit's tree — the previous output, minus outputs of
datums that were reprocessed or vanished, plus the new outputs — and finishes
the output and meta commits in the same transaction that records the job's end.
No gRPC here.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import InvalidArgument, PachError
from ..storage import CommitRef, RepoKey
from ..storage.chunks import CHUNK_SIZE, ChunkWriter
from ..storage.files import Reader, file_hash
from ..storage.model import META, validate_write_path
from ..storage.tree import Changes, Entry
from .datums import Datum, plan
from .sandbox import Sandbox
from .spec import pfs_inputs
from .store import (
    JOB_FAILURE,
    JOB_KILLED,
    JOB_RUNNING,
    JOB_SUCCESS,
    JOB_UNRUNNABLE,
    DatumRecord,
    JobRecord,
    PipelineRecord,
)

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["JobRunner", "DATUM_FAILED", "DATUM_SUCCESS", "DATUM_SKIPPED", "DATUM_RECOVERED"]

# pps_v2.DatumState values.
DATUM_FAILED, DATUM_SUCCESS, DATUM_SKIPPED, DATUM_STARTING, DATUM_RECOVERED = 1, 2, 3, 4, 5


@dataclass
class _DatumResult:
    datum: Datum
    state: int
    entries: list[Entry] = field(default_factory=list)
    rows: list[tuple[bytes, int, int, int]] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
    error: str = ""


class JobKilled(Exception):
    """The job was stopped (StopJob, pipeline stopped, updated or deleted)."""


class JobRunner:
    """Runs one job of one pipeline to a terminal state."""

    def __init__(self, engine: "Engine", pipeline: PipelineRecord, job: JobRecord) -> None:
        self.engine = engine
        self.storage = engine.storage
        self.store = engine.store
        self.pipeline = pipeline
        self.spec = pipeline.spec
        self.job = job
        self.cancel = threading.Event()
        self.kill_reason = ""
        self.out_repo = RepoKey(pipeline.project, pipeline.name)
        self.meta_repo = RepoKey(pipeline.project, pipeline.name, META)
        self.scratch = engine.scratch_dir / f"{pipeline.name}-{job.id}"
        self._log_lock = threading.Lock()
        self._logs: list[tuple[str, str, str, str, float, bool, str]] = []
        self._warned = False

    # --- logging -----------------------------------------------------------------

    def log(self, message: str, *, datum: str = "", user: bool = False) -> None:
        with self._log_lock:
            self._logs.append((self.pipeline.project, self.pipeline.name, self.job.id, datum, time.time(), user, message))

    def flush_logs(self) -> None:
        with self._log_lock:
            rows, self._logs = self._logs, []
        if rows:
            self.store.add_logs(rows)
            self.engine.changed()

    # --- the job -----------------------------------------------------------------

    def kill(self, reason: str) -> None:
        self.kill_reason = reason
        self.cancel.set()

    def run(self) -> None:
        try:
            self._run()
        except JobKilled:
            self._finish(JOB_KILLED, self.kill_reason or "job killed", None, [], {})
        except PachError as err:
            self.log(f"job failed: {err.details}")
            self._finish(JOB_FAILURE, err.details, None, [], {})
        except Exception as err:  # noqa: BLE001 - a job must always end
            self.log(f"internal error: {type(err).__name__}: {err}")
            self._finish(JOB_FAILURE, f"internal error: {err}", None, [], {})
        finally:
            self.flush_logs()
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _run(self) -> None:
        started = time.time()
        self.store.update_job(self.pipeline.project, self.pipeline.name, self.job.id, state=JOB_RUNNING, started=started)
        self.engine.changed()
        out_info = self.storage.inspect_commit(CommitRef(self.out_repo, id=self.job.id))
        provenance = {(c.repo.project, c.repo.name, c.repo.type): c for c in out_info.direct_provenance}
        readers: dict[str, tuple[Reader, str]] = {}
        failed_upstream = []
        for pfs in pfs_inputs(self.spec.input):
            key = (pfs.project, pfs.repo, pfs.repo_type or "user")
            commit = provenance.get(key)
            if commit is None:
                raise InvalidArgument(f"input {pfs.name}: no commit of {pfs.project}/{pfs.repo} in this job's provenance")
            info = self.storage.inspect_commit(CommitRef(commit.repo, id=commit.id))
            if info.error:
                failed_upstream.append(pfs.repo)
            readers[pfs.name] = (self.storage.reader(CommitRef(commit.repo, id=commit.id)), commit.id)
        if failed_upstream:
            reason = "unrunnable because the following upstream pipelines failed: " + ", ".join(sorted(set(failed_upstream)))
            self._finish(JOB_UNRUNNABLE, reason, None, [], {})
            return

        datums = plan(self.spec.input, readers)
        base_root, base_datums = self._base()
        every_job = self.spec.reprocess_spec == "every_job"
        skipped: list[DatumRecord] = []
        todo: list[tuple[Datum, str]] = []
        for datum in datums:
            h = datum.hash(self.pipeline.salt)
            prev = base_datums.get(datum.id)
            if not every_job and prev is not None and prev.hash == h:
                skipped.append(prev)
            else:
                todo.append((datum, h))
        total = len(datums)
        self.store.update_job(self.pipeline.project, self.pipeline.name, self.job.id, total=total, skipped=len(skipped))
        self.engine.changed()
        self.log(f"job {self.job.id}: {total} datums, {len(skipped)} skipped, {len(todo)} to process")

        results = self._run_datums([d for d, _ in todo])
        hashes = {d.id: h for d, h in todo}

        # Merge: remove outputs of base datums that were not skipped, add new ones.
        kept = {d.datum_id for d in skipped}
        changes = Changes()
        for prev in base_datums.values():
            if prev.datum_id not in kept:
                for path in prev.outputs:
                    changes.delete(path)
        owners: dict[str, str] = {}
        for prev in skipped:
            for path in prev.outputs:
                owners[path] = prev.datum_id
        error = ""
        for result in results:
            if result.state != DATUM_SUCCESS:
                continue
            for entry in result.entries:
                other = owners.get(entry.path)
                if other is not None and other != result.datum.id:
                    error = (
                        f"duplicate path output by different datums ({entry.path} from {other} and "
                        f"{entry.path} from {result.datum.id})"
                    )
                owners[entry.path] = result.datum.id
                changes.put(entry)

        records = [
            DatumRecord(
                self.pipeline.project, self.pipeline.name, self.job.id, prev.datum_id, DATUM_SKIPPED, prev.hash,
                prev.inputs, prev.outputs, prev.stats,
            )
            for prev in skipped
        ]
        for result in results:
            records.append(
                DatumRecord(
                    self.pipeline.project, self.pipeline.name, self.job.id, result.datum.id, result.state,
                    hashes[result.datum.id], _inputs_json(result.datum),
                    [e.path for e in result.entries] if result.state == DATUM_SUCCESS else [], result.stats,
                )
            )
        failed = [r for r in results if r.state == DATUM_FAILED]
        counts = {
            "processed": sum(1 for r in results if r.state == DATUM_SUCCESS),
            "failed": len(failed),
            "skipped": len(skipped),
            "total": total,
        }
        rows = [row for r in results for row in r.rows]
        if error:
            self.log(error)
            self._finish(JOB_FAILURE, error, None, records, counts, rows=rows, base_root=base_root)
        elif failed:
            self._finish(JOB_FAILURE, f"datum {failed[0].datum.id} failed", changes, records, counts, rows=rows, base_root=base_root)
        else:
            self._finish(JOB_SUCCESS, "", changes, records, counts, rows=rows, base_root=base_root)

    def _base(self) -> tuple[bytes | None, dict[str, DatumRecord]]:
        """The tree and datums the new output builds on: the nearest good ancestor."""
        catalog = self.storage.catalog
        row = catalog.resolve(CommitRef(self.out_repo, id=self.job.id))
        parent = row.parent_seq
        while parent is not None:
            prow = catalog.commit_row(parent)
            if not prow.error and prow.finished is not None:
                job = self.store.job(self.pipeline.project, self.pipeline.name, prow.id)
                datums: dict[str, DatumRecord] = {}
                if job is not None and job.state == JOB_SUCCESS:
                    datums = {
                        d.datum_id: d
                        for d in self.store.datums(self.pipeline.project, self.pipeline.name, prow.id)
                        if d.state in (DATUM_SUCCESS, DATUM_SKIPPED)
                    }
                return prow.root, datums
            parent = prow.parent_seq
        return None, {}

    # --- datums ------------------------------------------------------------------

    def _run_datums(self, datums: list[Datum]) -> list[_DatumResult]:
        if not datums:
            return []
        workers = max(1, min(int(self.spec.parallelism_spec.constant or 1), len(datums)))
        sandboxes = self.engine.sandboxes(self.pipeline, workers)
        free = list(sandboxes)
        lock = threading.Lock()
        results: list[_DatumResult] = []

        def work(datum: Datum) -> _DatumResult:
            with lock:
                sandbox = free.pop()
            try:
                return self._run_datum(datum, sandbox)
            finally:
                with lock:
                    free.append(sandbox)
                self.flush_logs()

        processed = failed = 0
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"datum-{self.pipeline.name}") as pool:
            for result in pool.map(work, datums):
                results.append(result)
                if result.state == DATUM_SUCCESS:
                    processed += 1
                else:
                    failed += 1
                self.store.update_job(
                    self.pipeline.project, self.pipeline.name, self.job.id, processed=processed, failed=failed
                )
                self.engine.changed()
        if self.cancel.is_set():
            raise JobKilled()
        return results

    def _run_datum(self, datum: Datum, sandbox: Sandbox) -> _DatumResult:
        if self.cancel.is_set():
            return _DatumResult(datum, DATUM_FAILED, error="job killed")
        root = self.scratch / datum.id[:32]
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.time()
        mounts, download_bytes = self._materialize(datum, root)
        t1 = time.time()
        transform = self.spec.transform
        env = self._env(datum)
        cwd = transform.working_dir or str(self.engine.workdir)
        timeout = self.spec.datum_timeout.ToTimedelta().total_seconds() if self.spec.HasField("datum_timeout") else None
        stdin = "\n".join(transform.stdin) + "\n" if transform.stdin else None
        accept = set(transform.accept_return_code)
        tries = max(1, int(self.spec.datum_tries or 1))
        outcome = DATUM_FAILED
        error = ""
        if sandbox.warning and not self._warned:
            self._warned = True
            self.log(f"warning: {sandbox.warning}")
        for attempt in range(1, tries + 1):
            out = mounts["out"]
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            try:
                result = sandbox.run(
                    cmd=list(transform.cmd),
                    stdin=stdin,
                    env=env,
                    cwd=cwd,
                    mounts=mounts,
                    timeout=timeout,
                    on_output=lambda stream, line: self.log(line, datum=datum.id, user=True),
                    cancel=self.cancel,
                )
            except PachError as err:
                error = err.details
                self.log(f"datum {datum.id} could not start: {error}", datum=datum.id)
                break
            if self.cancel.is_set():
                error = "job killed"
                break
            if result.exit_code == 0 or result.exit_code in accept:
                outcome = DATUM_SUCCESS
                break
            error = "timed out" if result.timed_out else f"exit code {result.exit_code}"
            self.log(f"datum {datum.id} failed ({error}), attempt {attempt} of {tries}", datum=datum.id)
        t2 = time.time()
        entries: list[Entry] = []
        rows: list[tuple[bytes, int, int, int]] = []
        upload_bytes = 0
        if outcome == DATUM_SUCCESS:
            try:
                entries, rows, upload_bytes = self._collect(datum, mounts["out"])
            except InvalidArgument as err:
                outcome, error = DATUM_FAILED, err.details
                self.log(error, datum=datum.id)
        t3 = time.time()
        shutil.rmtree(root, ignore_errors=True)
        stats = {
            "download_time": t1 - t0,
            "process_time": t2 - t1,
            "upload_time": t3 - t2,
            "download_bytes": download_bytes,
            "upload_bytes": upload_bytes,
        }
        return _DatumResult(datum, outcome, entries, rows, stats, error)

    def _materialize(self, datum: Datum, root: Path) -> tuple[dict[str, Path], int]:
        """Write each input's files for this datum under ``root/<name>``."""
        mounts: dict[str, Path] = {}
        total = 0
        for item in datum.inputs:
            base = root / item.name
            base.mkdir(parents=True, exist_ok=True)
            mounts[item.name] = base
            reader = self.storage.reader(CommitRef(RepoKey(item.project, item.repo), id=item.commit))
            for entry in reader.files_under(item.path):
                target = base / entry.path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as fh:
                    for data in self.storage.read_chunks(entry.chunks):
                        fh.write(data)
                total += entry.size
        mounts["out"] = root / "out"
        return mounts, total

    def _collect(self, datum: Datum, out: Path) -> tuple[list[Entry], list[tuple[bytes, int, int, int]], int]:
        """Upload everything the datum left in /pfs/out, tagged with its ID."""
        writer: ChunkWriter = self.storage.chunks.writer()
        entries = []
        total = 0
        for dirpath, dirnames, filenames in os.walk(out):
            dirnames.sort()
            for name in sorted(filenames):
                local = Path(dirpath) / name
                rel = "/" + str(local.relative_to(out)).replace(os.sep, "/")
                if local.is_symlink() or not local.is_file():
                    raise InvalidArgument(
                        f"cannot upload file produced by the user code: {rel} is not a regular file"
                    )
                try:
                    path = validate_write_path(rel)
                except InvalidArgument:
                    raise InvalidArgument(
                        f"cannot upload file produced by the user code because its name cannot be represented in PFS: {rel}"
                    ) from None
                chunks = []
                size = 0
                with open(local, "rb") as fh:
                    while True:
                        data = fh.read(CHUNK_SIZE)
                        if not data:
                            break
                        chunks.append(writer.put(data))
                        size += len(data)
                entries.append(Entry(path, size, file_hash(tuple(chunks)), tuple(chunks), datum.id))
                total += size
        return entries, writer.finish(), total

    def _env(self, datum: Datum) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.spec.transform.env)
        # python/python3 resolve to the server's own environment first.
        bindir = os.path.dirname(sys.executable)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", os.defpath)
        env.update(
            {
                "PACH_JOB_ID": self.job.id,
                "PACH_OUTPUT_COMMIT_ID": self.job.id,
                "PACH_DATUM_ID": datum.id,
                "PPS_PIPELINE_NAME": self.pipeline.name,
                "PPS_PROJECT_NAME": self.pipeline.project,
                "PPS_SPEC_COMMIT": self.pipeline.spec_commit,
                "PPS_POD_NAME": f"{self.pipeline.project}-{self.pipeline.name}-v{self.pipeline.version}-local",
                "PPS_NAMESPACE": "pachmagic",
                "PPS_WORKER_IP": "127.0.0.1",
            }
        )
        for item in datum.inputs:
            env[item.name] = "/pfs/" + item.name + ("" if item.path == "/" else item.path)
            env[f"{item.name}_COMMIT"] = item.commit
        return env

    # --- the end -----------------------------------------------------------------

    def _finish(
        self,
        state: int,
        reason: str,
        changes: Changes | None,
        records: list[DatumRecord],
        counts: dict[str, int],
        *,
        rows: list[tuple[bytes, int, int, int]] | None = None,
        base_root: bytes | None = None,
    ) -> None:
        self.engine.finish_job(self, state, reason, changes, records, counts, rows or [], base_root)


def _inputs_json(datum: Datum) -> list[dict[str, object]]:
    return [
        {
            "name": i.name,
            "project": i.project,
            "repo": i.repo,
            "branch": i.branch,
            "commit": i.commit,
            "path": i.path,
            "hash": i.hash.hex(),
            "is_dir": i.is_dir,
        }
        for i in datum.inputs
    ]

