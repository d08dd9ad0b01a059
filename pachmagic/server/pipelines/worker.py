"""Run one datum: lay out its inputs, run the transform in a sandbox, collect ``/pfs/out``.

This is the worker's side of a job, as a Pachyderm worker pod does it: write the
datum's input files under a slot directory (seen by the code as ``/pfs/<name>``),
run ``cmd`` with ``stdin`` and Pachyderm's environment up to ``datum_tries`` times
(``datum_timeout`` per attempt), run ``err_cmd`` after a failed attempt (success
makes the datum RECOVERED), and upload what a successful run left in ``/pfs/out``,
each file tagged with the datum ID. Output names that PFS cannot represent fail the
datum with pachd's message. Symbolic links in ``/pfs/out`` are followed, as
Pachyderm's worker does, in the transform's view (``Sandbox.host_path``): a link
into ``/pfs/<input>`` means that input's file; one into the server's data
directory is broken, as the transform saw it. The
chunks go to the job's shared ``ChunkWriter``; nothing becomes visible until the
job's end. No gRPC here.
"""

from __future__ import annotations

import functools
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ...errors import InvalidArgument, PachError, Unknown
from ...pachyderm.datums import Datum
from ...pachyderm.paths import input_path
from ...pachyderm.spec import Spec
from ..storage import CommitRef, RepoKey, Storage
from ..storage.chunks import CHUNK_SIZE, ChunkWriter
from ..storage.files import Reader, file_hash
from ..storage.model import validate_write_path
from ..storage.tree import Entry
from .sandbox import Sandbox
from .slot import Slot
from .states import DatumState

__all__ = ["DatumResult", "DatumWorker", "OUTPUT_NAME_ERROR"]

OUTPUT_NAME_ERROR = "cannot upload file produced by the user code because its name cannot be represented in PFS"
_MAX_LINKS = 40  # symlink hops, as the kernel's ELOOP limit


@dataclass
class DatumResult:
    """How one datum ended, and what it produced."""

    datum: Datum
    state: DatumState
    entries: list[Entry] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    restarted: bool = False  # stopped by RestartDatum: to be queued again


@dataclass
class JobContext:
    """What every datum of one job shares."""

    storage: Storage
    spec: Spec
    job_id: str
    base_env: dict[str, str]
    cwd: str
    writer: ChunkWriter
    writer_lock: threading.Lock
    log: Callable[..., None]
    deadline: float | None  # job_timeout, as time.monotonic()
    _readers: dict[tuple[str, str, str, str], Reader] = field(default_factory=dict)

    def reader(self, project: str, repo: str, repo_type: str, commit: str) -> Reader:
        """A reader of an input commit, shared by the job's datums (input commits are finished)."""
        key = (project, repo, repo_type, commit)
        found = self._readers.get(key)
        if found is None:
            found = self._readers[key] = self.storage.reader(CommitRef(RepoKey(project, repo, repo_type), id=commit))
        return found


def _stdin(lines: Iterable[str]) -> str | None:
    """A transform's ``stdin`` lines as the text its command reads."""
    lines = list(lines)
    return "\n".join(lines) + "\n" if lines else None


class DatumWorker:
    """One datum slot of a job: a sandbox and a scratch directory, used one datum at a time."""

    def __init__(self, ctx: JobContext, sandbox: Sandbox, slot: Path) -> None:
        self.ctx = ctx
        self.sandbox = sandbox
        self.slot = Slot(slot, ctx.storage, ctx.reader)
        # What every datum of the job runs with, read from the spec once.
        spec, transform = ctx.spec, ctx.spec.transform
        self._tries = max(1, int(spec.datum_tries or 1))
        self._timeout = spec.datum_timeout.ToNanoseconds() / 1e9 if spec.HasField("datum_timeout") else None
        self._accept = frozenset(transform.accept_return_code)
        self._cmd = (list(transform.cmd), _stdin(transform.stdin))
        self._err_cmd = (list(transform.err_cmd), _stdin(transform.err_stdin)) if transform.err_cmd else None

    def run(self, datum: Datum, cancel: threading.Event, upcoming: Datum | None = None) -> DatumResult:
        """Run ``datum``; while its command runs, stage ``upcoming`` (this slot's next datum), if given."""
        ctx = self.ctx
        t0 = time.time()
        mounts, download_bytes, staging_s = self.slot.materialize(datum)
        t1 = time.time()
        stage = None if upcoming is None else functools.partial(self.slot.stage, upcoming)
        env = self._env(datum)
        tries, timeout, accept = self._tries, self._timeout, self._accept
        state, reason, recovered = DatumState.FAILED, "", False
        for attempt in range(1, tries + 1):
            if attempt > 1:
                self.slot.clear_out()
            code, why = self._run(*self._cmd, env, mounts, timeout, datum, cancel, stage)
            stage = None  # once, beside the first command
            if cancel.is_set():
                return DatumResult(datum, DatumState.FAILED, reason="job killed", restarted=True)
            if why is None and (code == 0 or code in accept):
                state = DatumState.SUCCESS
                break
            reason = why or f"exit code {code}"
            ctx.log(f"datum {datum.id} failed ({reason}), attempt {attempt} of {tries}", datum=datum.id)
            if self._err_cmd is not None:
                err_code, err_why = self._run(*self._err_cmd, env, mounts, timeout, datum, cancel)
                if err_why is None and err_code == 0:
                    recovered = True
        t2 = time.time()
        entries: list[Entry] = []
        upload_bytes = 0
        if state == DatumState.SUCCESS:
            try:
                entries, upload_bytes = self._collect(datum, mounts)
            except (InvalidArgument, Unknown) as err:  # PFS's path rules say UNKNOWN, as pachd
                state, reason = DatumState.FAILED, err.details
                ctx.log(f"datum {datum.id} failed: {reason}", datum=datum.id)
        elif recovered:
            state = DatumState.RECOVERED
        t3 = time.time()
        stats = {
            "download_time": t1 - t0 + staging_s,
            "process_time": t2 - t1,
            "upload_time": t3 - t2,
            "download_bytes": download_bytes,
            "upload_bytes": upload_bytes,
        }
        return DatumResult(datum, state, entries, stats, "" if state == DatumState.SUCCESS else reason)

    # --- steps ------------------------------------------------------------------

    def _run(
        self,
        cmd: list[str],
        stdin: str | None,
        env: dict[str, str],
        mounts: dict[str, Path],
        timeout: float | None,
        datum: Datum,
        cancel: threading.Event,
        while_running: Callable[[], None] | None = None,
    ) -> tuple[int, str | None]:
        """Run one command; return (exit code, failure reason or None)."""
        deadline = self.ctx.deadline
        if deadline is not None:
            left = max(0.0, deadline - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        try:
            result = self.sandbox.run(
                cmd=cmd, stdin=stdin, env=env, cwd=self.ctx.cwd, mounts=mounts, timeout=timeout,
                on_output=lambda stream, line: self.ctx.log(line, datum=datum.id, user=True),
                cancel=cancel, while_running=while_running,
            )
        except PachError as err:
            return -1, f"could not run the transform: {err.details}"
        if result.timed_out:
            return result.exit_code, "datum timed out"
        return result.exit_code, None

    def _env(self, datum: Datum) -> dict[str, str]:
        env = dict(self.ctx.base_env)
        env["PACH_DATUM_ID"] = datum.id
        for item in datum.inputs:
            env[item.name] = input_path(item.name, item.path)
            env[f"{item.name}_COMMIT"] = item.commit
            if item.join_on:
                env[f"PACH_DATUM_{item.name}_JOIN_ON"] = item.join_on
            if item.group_by:
                env[f"PACH_DATUM_{item.name}_GROUP_BY"] = item.group_by
        return env

    def _collect(self, datum: Datum, mounts: dict[str, Path]) -> tuple[list[Entry], int]:
        """Upload everything the datum left in /pfs/out, tagged with its ID."""
        out = mounts["out"]
        with os.scandir(out) as it:
            if next(it, None) is None:  # nothing to upload (a quick look: the usual case of some pipelines)
                return [], 0
        files: list[tuple[str, Path]] = []
        self._walk(out, "", mounts, files, 0)
        entries: list[Entry] = []
        total = 0
        for rel, local in sorted(files):
            try:
                path = validate_write_path(rel)
            except Unknown as err:
                raise InvalidArgument(f"{OUTPUT_NAME_ERROR}: {err.details}") from None
            chunks: list[bytes] = []
            size = 0
            with open(local, "rb") as fh:
                while True:
                    data = fh.read(CHUNK_SIZE)
                    if not data:
                        break
                    with self.ctx.writer_lock:
                        chunks.append(self.ctx.writer.put(data))
                    size += len(data)
            entries.append(Entry(path, size, file_hash(tuple(chunks)), tuple(chunks), datum.id))
            total += size
        return entries, total

    def _walk(self, directory: Path, prefix: str, mounts: dict[str, Path], files: list[tuple[str, Path]], hops: int) -> None:
        with os.scandir(directory) as it:
            for dirent in it:
                rel = f"{prefix}/{dirent.name}"
                local = Path(dirent.path)
                if dirent.is_symlink():
                    local, hops_used = self._resolve(f"/pfs/out{rel}", rel, mounts, hops)
                    try:
                        mode = local.stat().st_mode
                    except OSError:
                        raise InvalidArgument(f"{OUTPUT_NAME_ERROR}: {rel} is a broken symbolic link") from None
                    if stat.S_ISDIR(mode):
                        self._walk(local, rel, mounts, files, hops_used)
                    elif stat.S_ISREG(mode):
                        files.append((rel, local))
                    continue
                if dirent.is_dir(follow_symlinks=False):
                    self._walk(local, rel, mounts, files, hops)
                elif dirent.is_file(follow_symlinks=False):
                    files.append((rel, local))
                # Sockets, fifos and devices cannot be files in PFS: left out, as tar export does.

    def _resolve(self, view_path: str, rel: str, mounts: dict[str, Path], hops: int) -> tuple[Path, int]:
        """Follow a link as the transform saw it, component by component, in its view.

        Pachyderm's worker follows an output link wherever it points in the worker's
        container (os.Readlink, then os.Stat). Here the container is the sandbox's
        view: ``/pfs/<name>`` the datum's directories, ``/tmp`` the worker's own, the
        server's data directory absent (a link there is broken, as it would be for
        the transform), ``..`` taken in the view, not on the host.
        """
        done = "/"
        todo = [c for c in view_path.split("/") if c]
        while todo:
            part = todo.pop(0)
            if part == ".":
                continue
            if part == "..":
                done = os.path.dirname(done) or "/"
                continue
            candidate = os.path.join(done, part)
            if candidate == "/pfs":  # the sandbox's own directory of mount points: no link there
                done = candidate
                continue
            host = self.sandbox.host_path(candidate, mounts)
            if host is None:
                raise InvalidArgument(
                    f"{OUTPUT_NAME_ERROR}: {rel} is a broken symbolic link (its target is outside the datum's view)")
            if host.is_symlink():
                hops += 1
                if hops > _MAX_LINKS:
                    raise InvalidArgument(f"{OUTPUT_NAME_ERROR}: too many levels of symbolic links at {rel}")
                target = os.readlink(host)
                todo = [c for c in target.split("/") if c] + todo
                if target.startswith("/"):
                    done = "/"
                continue
            done = candidate
        host = self.sandbox.host_path(done, mounts)
        if host is None:
            raise InvalidArgument(f"{OUTPUT_NAME_ERROR}: {rel} is a broken symbolic link (its target is outside the datum's view)")
        return host, hops
