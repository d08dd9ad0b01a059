"""Datum planning: which files form which datum, their IDs, and their skip hashes.

A datum is one combination of input paths the transform runs on. PFS inputs
yield one datum per path matching the glob; ``cross`` multiplies datum lists,
``union`` concatenates them. IDs and hashes use Pachyderm's formulas, so a datum
keeps its ID while its inputs' paths stay the same, and its hash changes when
their contents (or the pipeline's salt) change. No gRPC here.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Mapping

from ..._proto import pps_pb2
from ...errors import InvalidArgument
from ..storage.files import Reader

__all__ = ["DatumInput", "Datum", "plan", "datum_id"]


@dataclass(frozen=True)
class DatumInput:
    """One input's share of a datum: the matched path in one input commit."""

    name: str
    project: str
    repo: str
    branch: str
    commit: str
    path: str  # "/" for the whole repo; directories without a trailing "/"
    hash: bytes
    is_dir: bool


@dataclass(frozen=True)
class Datum:
    id: str
    inputs: tuple[DatumInput, ...]

    def hash(self, salt: str) -> str:
        """The skip key: the ID, each input's content hash, and the pipeline's salt."""
        h = hashlib.blake2b(digest_size=32)
        h.update(self.id.encode())
        for item in self.inputs:
            h.update(item.hash)
        h.update(salt.encode())
        return h.hexdigest()


def datum_id(inputs: tuple[DatumInput, ...]) -> str:
    """Pachyderm's datum ID: BLAKE2b-256 over each input's name, repo, branch and path."""
    h = hashlib.blake2b(digest_size=32)
    for item in inputs:
        for text in (item.name, item.repo, item.branch, item.path):
            data = text.encode()
            h.update(data)
            h.update(len(data).to_bytes(8, "big"))
    return h.hexdigest()


def _make(inputs: tuple[DatumInput, ...]) -> Datum:
    return Datum(datum_id(inputs), inputs)


def _pfs(pfs: pps_pb2.PFSInput, reader: Reader, commit_id: str) -> list[tuple[DatumInput, ...]]:
    out = []
    for info in reader.glob(pfs.glob):
        is_dir = info.type == 2
        path = info.path.rstrip("/") or "/"
        if is_dir and info.size == 0 and not any(True for _ in reader.files_under(path)):
            continue  # an empty repo has no datums, even for glob "/"
        out.append((DatumInput(pfs.name, pfs.project, pfs.repo, pfs.branch, commit_id, path, info.hash, is_dir),))
    return out


def _plan(node: pps_pb2.Input, readers: Mapping[str, tuple[Reader, str]]) -> list[tuple[DatumInput, ...]]:
    if node.HasField("pfs"):
        reader, commit_id = readers[node.pfs.name]
        return _pfs(node.pfs, reader, commit_id)
    if len(node.cross):
        parts = [_plan(child, readers) for child in node.cross]
        return [tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*parts)]
    if len(node.union):
        return [d for child in node.union for d in _plan(child, readers)]
    raise InvalidArgument("join and group inputs are not supported by the pachmagic embedded server yet")


def plan(node: pps_pb2.Input, readers: Mapping[str, tuple[Reader, str]]) -> list[Datum]:
    """All datums of ``node`` over the given input commits, sorted by ID.

    ``readers`` maps each PFS input's name to a reader of its input commit and
    that commit's ID.
    """
    seen: dict[str, Datum] = {}
    for inputs in _plan(node, readers):
        datum = _make(inputs)
        seen.setdefault(datum.id, datum)
    return [seen[k] for k in sorted(seen)]
