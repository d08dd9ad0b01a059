"""Datum planning: which files form which datum, their IDs, and their skip hashes.

A datum is one combination of input paths the transform runs on. A PFS input
yields one datum per path (file or directory) matching its glob; ``cross``
multiplies datum lists; ``union`` concatenates them; ``join`` pairs the files of
its inputs whose ``join_on`` keys are equal (``outer_join`` inputs keep unmatched
files); ``group`` puts all files with one ``group_by`` key into one datum; a cron
input is its repo with glob ``/*``. Inputs are visited in the order of the spec as
stored (pachd sorts it by given names when it takes it: ``inputs.sorted_input``);
within a join or group datum, each input's files come in the order of their own
single-input datum IDs, as pachd's datum file sets (keyed by datum ID) yield them.
IDs and hashes use Pachyderm's formulas (``common.DatumID`` /
``HashDatum``), so a datum keeps its ID while its paths stay the same and its hash
changes when their contents (or the pipeline's salt) change.

Planning reads each input commit through an ``InputSource`` (its glob matches):
the server's is a reader of a stored commit, the client's (``%pach preview
datums``) asks GlobFile, so both compute the same IDs. Pure functions.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Iterable, Mapping, NamedTuple, Protocol

from pachmagic._proto import pps_pb2
from pachmagic.errors import InvalidArgument

from .globs import KeyTemplate

__all__ = ["DatumInput", "Datum", "GlobMatch", "InputSource", "plan", "datum_id", "id_part", "CRON_GLOB"]

CRON_GLOB = "/*"


class DatumInput(NamedTuple):
    """One input's share of a datum: one matched path in one input commit.

    A named tuple, not a frozen dataclass: planning makes one per input file, and a
    frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost ten
    times as much to build. Immutable and compared by value all the same.
    """

    name: str
    project: str
    repo: str
    branch: str
    commit: str
    path: str  # as GlobFile returns it: directories end with "/", the root is "/"
    hash: bytes
    is_dir: bool
    size: int
    join_on: str = ""
    group_by: str = ""
    outer_join: bool = False
    empty_files: bool = False
    reference: bool = False
    repo_type: str = "user"
    id_part: bytes = b""  # this input's share of the datum ID's hash input (see ``datum_id``)
    datum: str = ""  # the file's datum tag in its commit (pachd reports it); "" for a directory


class Datum(NamedTuple):
    """One datum: its ID and its inputs' shares (a named tuple for the same reason as ``DatumInput``)."""

    id: str
    inputs: tuple[DatumInput, ...]

    def hash(self, salt: str) -> str:
        """The skip key: the ID, each non-reference input's content hash, and the salt."""
        inputs = self.inputs
        if len(inputs) == 1:  # the usual datum: one hashing call over the joined bytes
            item = inputs[0]
            data = self.id.encode() + (b"" if item.reference else item.hash) + salt.encode()
            return hashlib.blake2b(data, digest_size=32).hexdigest()
        h = hashlib.blake2b(self.id.encode(), digest_size=32)
        for item in inputs:
            if not item.reference:
                h.update(item.hash)
        h.update(salt.encode())
        return h.hexdigest()


class GlobMatch(Protocol):
    """One path a datum glob matched, as GlobFile describes it."""

    @property
    def path(self) -> str: ...  # directories end with "/", the root is "/"

    @property
    def is_dir(self) -> bool: ...

    @property
    def size(self) -> int: ...

    @property
    def hash(self) -> bytes: ...


class InputSource(Protocol):
    """One input name's commit: its ID (or branch) and its glob matches."""

    @property
    def commit(self) -> str: ...

    def glob(self, pattern: str) -> Iterable[GlobMatch]:
        """Every file and directory matching ``pattern``, in path order."""
        ...

    def is_empty(self) -> bool:
        """Whether the commit holds no file at all."""
        ...


def _field(text: str) -> bytes:
    data = text.encode()
    return data + len(data).to_bytes(8, "big")


def id_part(name: str, repo: str, branch: str, path: str) -> bytes:
    """What one input adds to its datum's ID hash: name, repo, branch, path, each with its length."""
    return _field(name) + _field(repo) + _field(branch) + _field(path)


def datum_id(inputs: tuple[DatumInput, ...]) -> str:
    """Pachyderm's datum ID: BLAKE2b-256 over each input's name, repo, branch and path."""
    data = b"".join(i.id_part or id_part(i.name, i.repo, i.branch, i.path) for i in inputs)
    return hashlib.blake2b(data, digest_size=32).hexdigest()


_Combo = tuple[DatumInput, ...]


def _pfs(pfs: pps_pb2.PFSInput, source: InputSource) -> list[_Combo]:
    join = KeyTemplate(pfs.glob, pfs.join_on) if pfs.join_on else None
    group = KeyTemplate(pfs.glob, pfs.group_by) if pfs.group_by else None
    out: list[_Combo] = []
    prefix = _field(pfs.name) + _field(pfs.repo) + _field(pfs.branch)  # the same for every path
    name, project, repo, branch, commit = pfs.name, pfs.project, pfs.repo, pfs.branch, source.commit
    outer, empty, reference, repo_type = pfs.outer_join, pfs.empty_files, pfs.reference, pfs.repo_type or "user"
    for info in source.glob(pfs.glob):  # Pachyderm's glob rules (globs.py)
        path = info.path
        is_dir = info.is_dir
        if is_dir and path == "/" and info.size == 0 and source.is_empty():
            continue  # the root of an empty commit is no datum, even for glob "/"
        raw = path.encode()
        out.append((
            DatumInput(
                name, project, repo, branch, commit, path, info.hash, is_dir, info.size,
                join(path) if join else "", group(path) if group else "", outer, empty, reference, repo_type,
                prefix + raw + len(raw).to_bytes(8, "big"),  # + _field(path)
                "" if is_dir else getattr(info, "datum", "") or "default",
            ),
        ))
    return out


def _by_own_id(items: list[DatumInput]) -> list[DatumInput]:
    """One input's files in the order pachd's datum file set holds them: by their datum IDs."""
    return sorted(items, key=lambda item: datum_id((item,)))


def _keyed(children: list[list[_Combo]], key: str) -> dict[str, list[list[DatumInput]]]:
    """Each key's files, per child input (in the children's order), each child's by datum ID."""
    by_key: dict[str, list[list[DatumInput]]] = {}
    for index, combos in enumerate(children):
        for combo in combos:
            for item in combo:
                by_key.setdefault(getattr(item, key), [[] for _ in children])[index].append(item)
    return {k: [_by_own_id(items) for items in lists] for k, lists in by_key.items()}


def _join(children: list[list[_Combo]]) -> list[_Combo]:
    out: list[_Combo] = []
    for lists in _keyed(children, "join_on").values():
        present = [items for items in lists if items]
        for combo in itertools.product(*present):
            if len(present) == len(children):
                out.append(combo)
                continue
            # As pachd's join merge: an incomplete match keeps only its outer-join inputs.
            kept = tuple(item for item in combo if item.outer_join)
            if kept:
                out.append(kept)
    return out


def _group(children: list[list[_Combo]]) -> list[_Combo]:
    return [tuple(itertools.chain.from_iterable(lists)) for lists in _keyed(children, "group_by").values()]


def _plan(node: pps_pb2.Input, sources: Mapping[str, InputSource]) -> list[_Combo]:
    if node.HasField("pfs"):
        return _pfs(node.pfs, sources[node.pfs.name])
    if node.HasField("cron"):
        cron = node.cron
        pfs = pps_pb2.PFSInput(name=cron.name, project=cron.project, repo=cron.repo, branch="master", glob=CRON_GLOB)
        return _pfs(pfs, sources[cron.name])
    if len(node.cross):
        parts = [_plan(child, sources) for child in node.cross]
        return [tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*parts)]
    if len(node.union):
        return [combo for child in node.union for combo in _plan(child, sources)]
    if len(node.join):
        return _join([_plan(child, sources) for child in node.join])
    if len(node.group):
        return _group([_plan(child, sources) for child in node.group])
    raise InvalidArgument("no input set")


def plan(node: pps_pb2.Input, sources: Mapping[str, InputSource]) -> list[Datum]:
    """All datums of ``node`` over the given input commits, sorted by ID.

    ``node`` is an input tree as pachd stores it: sorted by given names, then
    defaulted (``inputs.sorted_input`` before the names are filled in). ``sources`` maps each PFS or cron input's name to its input commit. A datum
    produced twice (a union of overlapping inputs) is kept once, as pachd's merge
    by datum ID does.
    """
    seen: dict[str, Datum] = {}
    blake2b = hashlib.blake2b
    for combo in _plan(node, sources):
        # One input (the usual datum): its id_part is the whole hash input.
        ident = blake2b(combo[0].id_part, digest_size=32).hexdigest() if len(combo) == 1 and combo[0].id_part \
            else datum_id(combo)
        if ident not in seen:
            seen[ident] = Datum(ident, combo)
    return [seen[k] for k in sorted(seen)]
