"""``pachmagic_ext.API``: the same file RPCs as ``pfs_v2.API``, framed for speed.

Listings go out as columnar ``FileInfoBatch`` messages of up to ``BATCH``
files, and uploads come in as ``ModifyFileBatch`` messages of many ModifyFile
operations each: Python gRPC moves ~15k messages/s, so one message per file
would cap both (see ``proto/pachmagic_ext.proto``). The answers are built by
the very functions the standard RPCs use (``pfs_files``), so the two framings
cannot drift apart.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterable, Iterator

import grpc
from google.protobuf import empty_pb2

from ..._proto import pachmagic_ext_pb2 as ext_pb2
from ..._proto import pachmagic_ext_pb2_grpc as ext_pb2_grpc
from ..._proto import pfs_pb2
from ...errors import InvalidArgument
from ...pachyderm.wire import bytes_value
from ..storage import Storage
from ..storage.model import DIR, FileInfo
from . import _convert as cv
from ._base import Runtime, rpc
from ._wire import Op, read_batch
from .pfs_files import ModifyFileStream, glob_infos, list_infos, send_file, walk_infos

__all__ = ["ExtServicer", "add_to_server", "BATCH", "ADVERTISED"]

# Files per listing message: ~100 bytes each on the wire, far below the 20 MiB limit.
BATCH = 5000
# What the server puts in ClusterInfo.metadata["pachmagic_ext"]: the version of
# the service (2: GetFileData; 3: data_follows may span several messages; see
# ``proto/pachmagic_ext.proto``).
ADVERTISED = "3"


def batches(infos: Iterable[FileInfo], size: int = BATCH) -> Iterator[ext_pb2.FileInfoBatch]:
    """Group FileInfos into batches that share one commit and one commit time."""
    batch: ext_pb2.FileInfoBatch | None = None
    key: Any = None
    paths: list[str] = []
    types: list[Any] = []  # FileType values; ints extend fastest
    sizes: list[int] = []
    hashes: list[bytes] = []
    datums: list[str] = []

    def emit() -> ext_pb2.FileInfoBatch:
        assert batch is not None
        # One extend per column: far cheaper than appending field by field.
        batch.path.extend(paths)
        batch.file_type.extend(types)
        batch.size_bytes.extend(sizes)
        batch.hash.extend(hashes)
        batch.datum.extend(datums)
        for column in (paths, types, sizes, hashes, datums):
            column.clear()
        return batch

    for info in infos:
        if batch is None or (info.commit, info.committed) != key or len(paths) >= size:
            if batch is not None:
                yield emit()
            key = (info.commit, info.committed)
            batch = ext_pb2.FileInfoBatch(commit=cv.commit_pb(info.commit))
            committed = cv.timestamp(info.committed)
            if committed is not None:
                batch.committed.CopyFrom(committed)
        paths.append(info.path)
        types.append(info.type)
        sizes.append(info.size)
        hashes.append(info.hash)
        datums.append("" if info.type == DIR else info.datum)
    if batch is not None:
        yield emit()


class ExtServicer(ext_pb2_grpc.APIServicer):
    """The extension service over the same ``Storage`` as ``PfsServicer``."""

    def __init__(self, storage: Storage, runtime: Runtime) -> None:
        self.storage = storage
        self.rt = runtime

    async def _send(self, make: Any) -> AsyncIterator[ext_pb2.FileInfoBatch]:
        async for batch in self.rt.stream(lambda: batches(make()), batch=1):
            yield batch

    @rpc
    async def ListFile(self, request: pfs_pb2.ListFileRequest, context: Any) -> AsyncIterator[ext_pb2.FileInfoBatch]:
        async for batch in self._send(lambda: list_infos(self.storage, request)):
            yield batch

    @rpc
    async def WalkFile(self, request: pfs_pb2.WalkFileRequest, context: Any) -> AsyncIterator[ext_pb2.FileInfoBatch]:
        async for batch in self._send(lambda: walk_infos(self.storage, request)):
            yield batch

    @rpc
    async def GlobFile(self, request: pfs_pb2.GlobFileRequest, context: Any) -> AsyncIterator[ext_pb2.FileInfoBatch]:
        stop = self.rt.stopper(context)
        async for batch in self._send(lambda: glob_infos(self.storage, request, stop)):
            yield batch

    @rpc
    async def ModifyFile(self, request_iterator: Any, context: Any) -> empty_pb2.Empty:
        """Takes raw ``ModifyFileBatch`` bytes and bare data messages (see ``add_to_server``): no copies."""
        stream = ModifyFileStream(self.storage, self.rt)
        waiting: Op | None = None  # an add whose data are the next messages (data_follows)
        expected = 0  # bytes of it still to come
        try:
            async for message in request_iterator:
                if waiting is not None:
                    # Version 3: the announced bytes may come in several messages, each
                    # appended as its own add (as consecutive add_file requests are).
                    if not 0 < len(message) <= expected:
                        raise InvalidArgument(
                            f"ModifyFile: expected {expected} more bytes of file data, got a message of {len(message)}")
                    await stream.feed_op(waiting._replace(data=memoryview(message)))
                    expected -= len(message)
                    if not expected:
                        waiting = None
                    continue
                ops, expected = read_batch(message)
                if expected:
                    waiting = ops.pop()
                for op in ops:
                    await stream.feed_op(op)
            if waiting is not None:
                raise InvalidArgument(f"ModifyFile: the stream ended with {expected} announced bytes of file data still to come")
            await stream.finish(context)
        finally:
            await stream.abandon()
        return empty_pb2.Empty()

    @rpc
    async def GetFile(self, request: pfs_pb2.GetFileRequest, context: Any) -> None:
        """Each chunk as an encoded BytesValue (version 1 clients; see ``add_to_server``)."""
        await send_file(self.rt, self.storage, request, context, bytes_value)

    @rpc
    async def GetFileData(self, request: pfs_pb2.GetFileRequest, context: Any) -> None:
        """Each chunk as a bare message (version 2): the bytes as read, no copy to frame them."""
        await send_file(self.rt, self.storage, request, context, None)


def add_to_server(servicer: ExtServicer, server: Any) -> None:
    """Register ``pachmagic_ext.API`` with raw bytes for ModifyFile requests and GetFile(Data) responses."""
    handlers = {
        "ListFile": grpc.unary_stream_rpc_method_handler(
            servicer.ListFile, pfs_pb2.ListFileRequest.FromString, ext_pb2.FileInfoBatch.SerializeToString),
        "WalkFile": grpc.unary_stream_rpc_method_handler(
            servicer.WalkFile, pfs_pb2.WalkFileRequest.FromString, ext_pb2.FileInfoBatch.SerializeToString),
        "GlobFile": grpc.unary_stream_rpc_method_handler(
            servicer.GlobFile, pfs_pb2.GlobFileRequest.FromString, ext_pb2.FileInfoBatch.SerializeToString),
        "GetFile": grpc.unary_stream_rpc_method_handler(servicer.GetFile, pfs_pb2.GetFileRequest.FromString, None),
        "GetFileData": grpc.unary_stream_rpc_method_handler(
            servicer.GetFileData, pfs_pb2.GetFileRequest.FromString, None),
        "ModifyFile": grpc.stream_unary_rpc_method_handler(
            servicer.ModifyFile, None, empty_pb2.Empty.SerializeToString),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("pachmagic_ext.API", handlers),))

