"""A job's end: merge datum outputs into the output commit and write the meta commit.

The output commit is the base job's output (the nearest earlier job whose output
commit has no error) minus the files of datums that were reprocessed or vanished,
plus the files of datums processed now. Every file is tagged with the datum that
wrote it; two datums writing one path, or one writing a file where another wrote
a directory, fail the job with pachd's validation messages.

The meta commit holds, as Pachyderm's ``<pipeline>.meta`` repo does, one
``/meta/<datum>/meta`` JSON per datum (inputs, hash, state, reason, stats) and the
datum's files under ``/pfs/<datum>/<input>/...`` and ``/pfs/<datum>/out/...``; the
datum's user log lines are kept next to its meta file, in ``/meta/<datum>/logs``.
Files are tree entries pointing at existing chunks, so the meta commit costs no
copies of data. No gRPC here.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import AbstractSet, Iterable, Mapping

from ...pachyderm.datums import DatumInput
from ..storage import CommitRef, RepoKey, Storage
from ..storage.chunks import CHUNK_SIZE, ChunkWriter
from ..storage.files import Reader, file_hash
from ..storage.tree import Changes, Entry
from .states import DatumState
from .worker import DatumResult

__all__ = ["output_changes", "meta_changes", "datum_inputs_json"]

_STATE_NAMES = {DatumState.SUCCESS: "PROCESSED", DatumState.FAILED: "FAILED", DatumState.RECOVERED: "RECOVERED"}


def _ancestors(path: str) -> Iterable[str]:
    i = path.rfind("/")
    while i > 0:
        yield path[:i]
        i = path.rfind("/", 0, i)


def output_changes(
    base: Mapping[str, tuple[str, list[str]]], kept: AbstractSet[str], results: list[DatumResult]
) -> tuple[Changes, str]:
    """The output tree's changes against the base tree, and a validation error (or "")."""
    changes = Changes()
    owners: dict[str, str] = {}
    for datum_id, (_, outputs) in base.items():
        if datum_id in kept:
            for path in outputs:
                owners[path] = datum_id
        else:
            for path in outputs:
                changes.delete(path)
    error = ""
    new: list[str] = []
    for result in sorted(results, key=lambda r: r.datum.id):
        if result.state != DatumState.SUCCESS:
            continue
        for entry in result.entries:
            other = owners.get(entry.path)
            if other is not None and other != result.datum.id and not error:
                first, second = sorted((other, result.datum.id))
                error = (
                    f"duplicate path output by different datums ({entry.path} from {first} and "
                    f"{entry.path} from {second})"
                )
            owners[entry.path] = result.datum.id
            changes.put(entry)
            new.append(entry.path)
    if new and not error:
        error = _collision(owners, new)
    return changes, error


def _collision(owners: Mapping[str, str], new: list[str]) -> str:
    """A file where another datum's output needs a directory (only new paths can cause one)."""
    dirs: set[str] = set()
    for path in owners:
        dirs.update(_ancestors(path))
    for path in new:
        if path in dirs:
            below = min(p for p in owners if p.startswith(path + "/"))
            return f"file / directory path collision ({below})"
        for ancestor in _ancestors(path):
            if ancestor in owners:
                return f"file / directory path collision ({path})"
    return ""


def datum_inputs_json(result_inputs: Iterable[DatumInput]) -> list[dict[str, object]]:
    """A datum's inputs as stored with its record (and shown by ListDatum)."""
    return [
        {
            "name": i.name, "project": i.project, "repo": i.repo, "repo_type": i.repo_type, "branch": i.branch,
            "commit": i.commit, "path": i.path, "hash": i.hash.hex(), "is_dir": i.is_dir, "size": i.size,
            "join_on": i.join_on, "group_by": i.group_by, "datum": i.datum,
        }
        for i in result_inputs
    ]


def _put_blob(changes: Changes, writer: ChunkWriter, lock: threading.Lock, path: str, data: bytes, datum: str) -> None:
    chunks = []
    with lock:
        for start in range(0, len(data), CHUNK_SIZE):
            chunks.append(writer.put(data[start : start + CHUNK_SIZE]))
    changes.put(Entry(path, len(data), file_hash(tuple(chunks)), tuple(chunks), datum))


def _meta_json(result: DatumResult, job: Mapping[str, object], hashes: Mapping[str, str]) -> bytes:
    datum = result.datum
    inputs = []
    for i in datum.inputs:
        inputs.append({
            "fileInfo": {
                "file": {
                    "commit": {"repo": {"name": i.repo, "type": i.repo_type, "project": {"name": i.project}},
                               "id": i.commit, "branch": {"name": i.branch}},
                    "path": i.path,
                },
                "fileType": "DIR" if i.is_dir else "FILE",
                "sizeBytes": str(i.size),
                "hash": base64.b64encode(i.hash).decode(),
            },
            "name": i.name, "joinOn": i.join_on, "outerJoin": i.outer_join, "groupBy": i.group_by,
            "branch": i.branch, "emptyFiles": i.empty_files,
        })
    stats = result.stats
    meta = {
        "job": job,
        "inputs": inputs,
        "hash": hashes.get(datum.id, ""),
        "state": _STATE_NAMES.get(result.state, "FAILED"),
        "reason": result.reason,
        "stats": {
            "downloadTime": f"{stats.get('download_time', 0.0):.9f}s",
            "processTime": f"{stats.get('process_time', 0.0):.9f}s",
            "uploadTime": f"{stats.get('upload_time', 0.0):.9f}s",
            "downloadBytes": str(int(stats.get("download_bytes", 0))),
            "uploadBytes": str(int(stats.get("upload_bytes", 0))),
        },
    }
    return json.dumps(meta, separators=(",", ":")).encode()


def meta_changes(
    storage: Storage,
    writer: ChunkWriter,
    lock: threading.Lock,
    job: Mapping[str, object],
    base: Mapping[str, tuple[str, list[str]]],
    kept: AbstractSet[str],
    results: list[DatumResult],
    hashes: Mapping[str, str],
    logs: Mapping[str, list[str]],
) -> Changes:
    """The meta tree's changes against the base job's meta tree."""
    changes = Changes()
    for datum_id in (*(d for d in base if d not in kept), *(r.datum.id for r in results)):
        for prefix in (f"/meta/{datum_id}/", f"/pfs/{datum_id}/"):
            changes.delete_range(prefix, prefix[:-1] + "0")
    readers: dict[tuple[str, str, str, str], Reader] = {}
    for result in results:
        datum_id = result.datum.id
        _put_blob(changes, writer, lock, f"/meta/{datum_id}/meta", _meta_json(result, job, hashes), datum_id)
        lines = logs.get(datum_id)
        if lines:
            _put_blob(changes, writer, lock, f"/meta/{datum_id}/logs", ("\n".join(lines) + "\n").encode(), datum_id)
        for item in result.datum.inputs:
            key = (item.project, item.repo, item.repo_type, item.commit)
            reader = readers.get(key)
            if reader is None:
                reader = readers[key] = storage.reader(CommitRef(RepoKey(item.project, item.repo, item.repo_type), id=item.commit))
            for entry in reader.files_under(item.path):
                changes.put(entry._replace(path=f"/pfs/{datum_id}/{item.name}{entry.path}", datum=datum_id))
        if result.state == DatumState.SUCCESS:
            for entry in result.entries:
                changes.put(entry._replace(path=f"/pfs/{datum_id}/out{entry.path}"))
    return changes
