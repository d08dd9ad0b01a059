"""The ``pachmagic_ext`` fast paths: used only when the server advertises them.

pachmagic's embedded server offers ``pachmagic_ext.API`` (see
``proto/pachmagic_ext.proto``): the same file RPCs as ``pfs_v2.API`` with many
files per message, because Python gRPC moves only ~15k messages per second.
``Ext.available()`` asks once per client (``InspectCluster`` metadata
``pachmagic_ext``); against a real pachd, or on any doubt, it answers False and
the client uses the standard RPCs, with identical results.

Listings arrive columnar and stay columnar in a ``FileInfoList`` until someone
looks at individual records, so ``list_file(...).to_frame()`` of 100,000 files
never builds 100,000 record objects.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Iterator

from google.protobuf import empty_pb2

from pachmagic._proto import admin_pb2, pachmagic_ext_pb2, pachmagic_ext_pb2_grpc, pfs_pb2
from pachmagic.client import _convert as cv
from pachmagic.client._encode import Encoded, batched_stream, prefetched
from pachmagic.client._transport import Transport
from pachmagic.client.records import FileInfo, RecordList
from pachmagic.errors import ConnectionFailed, PachError, Unavailable

__all__ = ["Ext", "FileInfoList"]

# An upload batch closes at this many payload bytes or operations: big enough
# that message overhead vanishes, small enough to keep memory flat.
BATCH_BYTES = 1024 * 1024
BATCH_OPS = 4096
# File chunks from this size on travel as bare messages (``data_follows``).
OUT_OF_LINE = 256 * 1024

_FILE_TYPES = {pfs_pb2.FILE: "file", pfs_pb2.DIR: "dir"}


class Ext:
    """Detects and calls the extension service of one transport."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self._available: bool | None = None
        self._lock = threading.Lock()
        self.stub = pachmagic_ext_pb2_grpc.APIStub(transport.channel)  # type: ignore[no-untyped-call]
        self.get_file_raw = transport.channel.unary_stream(
            "/pachmagic_ext.API/GetFile", request_serializer=pfs_pb2.GetFileRequest.SerializeToString,
            response_deserializer=None,
        )
        self._modify_file_raw = transport.channel.stream_unary(
            "/pachmagic_ext.API/ModifyFile", request_serializer=None, response_deserializer=empty_pb2.Empty.FromString
        )

    def available(self) -> bool:
        """Whether the server offers ``pachmagic_ext`` (asked once, then cached)."""
        if self._available is None:
            with self._lock:
                if self._available is None:
                    return self._probe()
        return self._available

    def _probe(self) -> bool:
        try:
            info = self._t.unary(self._t.admin.InspectCluster, admin_pb2.InspectClusterRequest())
        except (ConnectionFailed, Unavailable):
            return False  # no answer yet: ask again next time
        except PachError:
            self._available = False  # an answer: this server has no such service
            return False
        self._available = bool(info.metadata.get("pachmagic_ext") == "1")
        return self._available

    def list_stream(self, method: str, request: Any) -> "FileInfoList":
        """Call a batched listing (``ListFile``, ``WalkFile``, ``GlobFile``) into a ``FileInfoList``."""
        return FileInfoList.from_batches(self._t.stream(getattr(self.stub, method), request))

    def modify_file(self, requests: Iterable[Encoded]) -> None:
        """Send pre-encoded ModifyFile requests (``_encode.py``): many per message, large chunks bare."""
        messages = batched_stream(requests, BATCH_BYTES, BATCH_OPS, OUT_OF_LINE)
        self._t.client_stream(self._modify_file_raw, prefetched(messages))


class FileInfoList(RecordList[FileInfo]):
    """A listing of files kept as columns until individual records are needed.

    It is a ``RecordList[FileInfo]`` in every respect: iterating, indexing,
    ``len``, comparing all work (the records are built on first use). Only
    ``to_frame()`` (and ``frames.to_frame``) read the columns directly.
    """

    def __init__(self) -> None:
        super().__init__(FileInfo)
        self._columns: dict[str, list[Any]] | None = {
            "path": [], "type": [], "size": [], "hash": [], "commit": [], "committed": [],
        }

    @classmethod
    def from_batches(cls, batches: Iterable[pachmagic_ext_pb2.FileInfoBatch]) -> "FileInfoList":
        out = cls()
        cols = out._columns
        assert cols is not None
        for batch in batches:
            n = len(batch.path)
            commit = batch.commit
            repo = commit.repo if commit.repo.name else commit.branch.repo
            meta = (repo.project.name or "default", repo.name, repo.type or "user", commit.id or None,
                    commit.branch.name or None)
            cols["path"].extend(batch.path)
            cols["type"].extend(_FILE_TYPES.get(t, "unknown") for t in batch.file_type)
            cols["size"].extend(batch.size_bytes)
            cols["hash"].extend(batch.hash)
            cols["commit"].extend([meta] * n)
            cols["committed"].extend([cv.ts(batch, "committed")] * n)
        return out

    def frame_columns(self) -> dict[str, list[Any]] | None:
        """The ``to_frame`` columns (name, type, size) without building records."""
        if self._columns is None:
            return None
        return {"name": self._columns["path"], "type": self._columns["type"], "size": self._columns["size"]}

    def _materialize(self) -> None:
        cols = self._columns
        if cols is None:
            return
        self._columns = None
        new = object.__new__
        records = []
        for path, kind, size, digest, meta, committed in zip(
            cols["path"], cols["type"], cols["size"], cols["hash"], cols["commit"], cols["committed"]
        ):
            record = new(FileInfo)
            # Frozen dataclass: set the fields the way its own __init__ would.
            record.__dict__.update(
                project=meta[0], repo=meta[1], repo_type=meta[2], commit_id=meta[3], branch=meta[4],
                path=path, type=kind, size_bytes=size, hash=digest.hex(), committed=committed,
            )
            records.append(record)
        list.extend(self, records)

    # Every read of the list goes through _materialize first.
    def __len__(self) -> int:
        if self._columns is not None:
            return len(self._columns["path"])
        return list.__len__(self)

    def __iter__(self) -> Iterator[FileInfo]:
        self._materialize()
        return list.__iter__(self)

    def __reversed__(self) -> Iterator[FileInfo]:
        self._materialize()
        return list.__reversed__(self)

    def __getitem__(self, index: Any) -> Any:
        self._materialize()
        return list.__getitem__(self, index)

    def __contains__(self, item: object) -> bool:
        self._materialize()
        return list.__contains__(self, item)

    def __eq__(self, other: object) -> bool:
        self._materialize()
        if isinstance(other, FileInfoList):
            other._materialize()
        return list.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        self._materialize()
        return list.__repr__(self)

    def __add__(self, other: Any) -> Any:
        self._materialize()
        return list.__add__(self, other)

    def __getattribute__(self, name: str) -> Any:
        # Mutating and other list methods (append, sort, index, copy, ...) see records.
        if name in _LIST_METHODS:
            object.__getattribute__(self, "_materialize")()
        return object.__getattribute__(self, name)


_LIST_METHODS = frozenset(name for name in dir(list) if not name.startswith("_"))


def _materializing(name: str) -> Any:
    method = getattr(list, name)

    def wrapper(self: FileInfoList, *args: Any) -> Any:
        self._materialize()
        return method(self, *args)

    wrapper.__name__ = name
    return wrapper


# Operators are looked up on the type, past __getattribute__.
for _name in ("__iadd__", "__mul__", "__rmul__", "__imul__", "__setitem__", "__delitem__",
              "__lt__", "__le__", "__gt__", "__ge__", "__ne__"):
    setattr(FileInfoList, _name, _materializing(_name))
