"""pachmagic's extension service as a ``Transfer``, and ``choose``: which transfer a server gets.

pachmagic's embedded server offers ``pachmagic_ext.API`` (see
``proto/pachmagic_ext.proto``): the same file RPCs as ``pfs_v2.API`` with many
requests or files per message, because Python gRPC moves only ~15k messages
per second. ``choose`` asks once per client (``InspectCluster`` metadata
``pachmagic_ext``); against a real pachd, or on any doubt, the client gets the
standard ``Transfer``, with identical results.

``ExtTransfer`` differs from ``Transfer`` only in framing: uploads go as
``ModifyFileBatch`` messages (large chunks as bare messages after their
header), listings arrive columnar and stay so in a ``ColumnarList``, and from
version 2 of the service GetFile's chunks arrive as bare messages
(``GetFileData``): the server sends the bytes it read, with no copy to frame
them. From version 3 a file of known size is announced once and all its
chunks follow bare (one message per chunk instead of two).

This module must not build requests (``_encode.py``) nor be consulted per call.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from pachmagic._proto import admin_pb2, pachmagic_ext_pb2_grpc, pfs_pb2
from pachmagic.client._columns import ColumnarList, FileColumns
from pachmagic.client._encode import Encoded, batched_stream
from pachmagic.client._transfer import Transfer
from pachmagic.client._transport import Transport
from pachmagic.client.records import FileInfo, RecordList
from pachmagic.errors import ConnectionFailed, PachError, Unavailable

__all__ = ["ExtTransfer", "choose"]

# An upload batch closes at this many payload bytes or operations: big enough
# that message overhead vanishes, small enough to keep memory flat.
BATCH_BYTES = 1024 * 1024
BATCH_OPS = 4096
# File chunks from this size on travel as bare messages (``data_follows``).
OUT_OF_LINE = 256 * 1024


class ExtTransfer(Transfer):
    """File transfers over ``pachmagic_ext.API`` (pachmagic's server only)."""

    service = "pachmagic_ext.API"

    def __init__(self, transport: Transport, version: int = 2) -> None:
        super().__init__(transport)
        self._stub = pachmagic_ext_pb2_grpc.APIStub(transport.channel)  # type: ignore[no-untyped-call]
        self._get_file_data = transport.channel.unary_stream(
            f"/{self.service}/GetFileData", request_serializer=pfs_pb2.GetFileRequest.SerializeToString,
            response_deserializer=None,
        ) if version >= 2 else None
        self._spans = version >= 3  # a known-size file's chunks follow one announcement

    def get_file(self, request: pfs_pb2.GetFileRequest) -> Iterator[memoryview]:
        """The file's chunks: bare messages from a version 2 server, else as ``Transfer``."""
        if self._get_file_data is None:
            return super().get_file(request)
        return self._chunks(self._get_file_data, request, memoryview)

    def frames(self, requests: Iterable[Encoded]) -> Iterator[bytes]:
        """``ModifyFileBatch`` messages of many requests each; large chunks bare."""
        return batched_stream(requests, BATCH_BYTES, BATCH_OPS, OUT_OF_LINE, self._spans)

    def list_files(self, method: str, request: Any) -> RecordList[FileInfo]:
        """A columnar listing: records are built only if someone looks at them."""
        batches = self._t.stream(getattr(self._stub, method), request)
        return ColumnarList(FileColumns(batches))


def choose(transport: Transport) -> Transfer | None:
    """The transfer for this server: ``ExtTransfer`` where advertised, else ``Transfer``.

    None while the server gives no answer (not reachable yet): ask again later.
    """
    try:
        info = transport.unary(transport.admin.InspectCluster, admin_pb2.InspectClusterRequest())
    except (ConnectionFailed, Unavailable):
        return None
    except PachError:
        return Transfer(transport)  # an answer: this server has no such service
    version = info.metadata.get("pachmagic_ext", "")
    if version.isdigit() and int(version) >= 1:
        return ExtTransfer(transport, int(version))
    return Transfer(transport)
