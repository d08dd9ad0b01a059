"""Serialized ``pfs_v2.FileInfo`` messages, written in bulk for the standard listing RPCs.

ListFile, WalkFile and GlobFile answer one ``FileInfo`` per file. Building a
protobuf object per file (``_convert.file_info_pb``: a File, a Commit, a Branch,
two Repos, two Projects and a Timestamp) and serializing it cost more than gRPC
itself. Every file of one listing shares its commit, branch and commit time, so
those fields are serialized once, by protobuf, and each file adds only its path,
datum, type, size and hash around them.

The bytes are exactly ``file_info_pb(info).SerializeToString()`` (fields in
number order, defaults left out, as protobuf writes them): any client parses
them as ordinary messages, and ``tests/server/servicers/test_encode.py`` checks
the equality over every kind of entry. Pure functions; no gRPC, no I/O.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from ..._proto import pfs_pb2
from ...pachyderm.wire import varint
from ..storage import BranchKey
from ..storage.model import FILE, FileInfo
from . import _convert as cv

__all__ = ["file_infos", "file_info"]

# Varints below 128 are one byte: most lengths, every file type.
_SMALL = [bytes((i,)) for i in range(128)]


def _varint(value: int) -> bytes:
    return _SMALL[value] if value < 128 else varint(value)


def _shared(info: FileInfo) -> tuple[bytes, bytes]:
    """(File.commit field, FileInfo.committed field) of ``info``, serialized by protobuf."""
    branch = BranchKey(info.commit.repo, info.branch) if info.branch else None
    commit = pfs_pb2.File(commit=cv.commit_pb(info.commit, branch)).SerializeToString()
    committed = b""
    stamp = cv.timestamp(info.committed)
    if stamp is not None:
        body = stamp.SerializeToString()
        committed = b"\x1a" + _varint(len(body)) + body
    return commit, committed


def file_infos(infos: Iterable[FileInfo]) -> Iterator[bytes]:
    """Each ``FileInfo`` of ``infos`` as a serialized ``pfs_v2.FileInfo``."""
    key: object = None
    commit = committed = b""
    for info in infos:
        if (info.commit, info.branch, info.committed) != key:
            key = (info.commit, info.branch, info.committed)
            commit, committed = _shared(info)
        path = info.path.encode()
        parts = [commit, b"\x12", _varint(len(path)), path]  # File: commit = 1, path = 2
        if info.type == FILE and info.datum:
            datum = info.datum.encode()
            parts += (b"\x1a", _varint(len(datum)), datum)  # File.datum = 3 (files only, as file_info_pb)
        file = b"".join(parts)
        out = [b"\x0a", _varint(len(file)), file]  # FileInfo.file = 1
        if info.type:
            out += (b"\x10", _varint(info.type))  # file_type = 2
        if committed:
            out.append(committed)  # committed = 3
        if info.size:
            out += (b"\x20", _varint(info.size))  # size_bytes = 4
        if info.hash:
            out += (b"\x2a", _varint(len(info.hash)), info.hash)  # hash = 5
        yield b"".join(out)


def file_info(info: FileInfo) -> bytes:
    """One serialized ``pfs_v2.FileInfo``."""
    return next(file_infos((info,)))
