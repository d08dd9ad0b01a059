"""How file data crosses the wire: a ``Transfer``, chosen once per client.

As httpx picks a transport once and every request goes through it, the file
operations (``_pfs_files.py``) ask ``_ext.choose`` once which ``Transfer``
this server gets and never ask again. Writes are the requests of
``_encode.py``; a transfer only frames them into messages. Reads hand back
GetFile chunks and listings.

``Transfer`` itself speaks the standard ``pfs_v2.API`` that every Pachyderm
serves, without protobuf copies: requests go pre-encoded (identity serializer),
and GetFile answers, plain ``BytesValue`` messages, are read in place
(``bytes_value_payload``), so each chunk is a view into the received bytes.
``_ext.ExtTransfer`` is the same with pachmagic's extension service: many
requests per message, columnar listings.

This module must not decide which service a server gets (``_ext.choose``
does) nor build requests (``_encode.py`` does).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from google.protobuf import empty_pb2

from pachmagic._proto import pfs_pb2
from pachmagic.client import _convert as cv
from pachmagic.client._encode import Encoded, plain_stream
from pachmagic.client._transport import Transport
from pachmagic.client.records import FileInfo, RecordList
from pachmagic.pachyderm.wire import bytes_value_payload

__all__ = ["Transfer", "LISTINGS"]

LISTINGS = ("ListFile", "WalkFile", "GlobFile")
"""The listing methods ``Transfer.list_files`` takes (same request types in both services)."""


class Transfer:
    """File transfers over the standard ``pfs_v2.API`` (any Pachyderm).

    Parameters
    ----------
    transport:
        The client's transport (channel, auth metadata, error translation).
    """

    service = "pfs_v2.API"

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        channel = transport.channel
        self._modify_file = channel.stream_unary(
            f"/{self.service}/ModifyFile", request_serializer=None, response_deserializer=empty_pb2.Empty.FromString
        )
        self._get_file = channel.unary_stream(
            f"/{self.service}/GetFile", request_serializer=pfs_pb2.GetFileRequest.SerializeToString,
            response_deserializer=None,
        )

    def frames(self, requests: Iterable[Encoded]) -> Iterator[bytes]:
        """The messages that carry ``requests``: one serialized ModifyFileRequest each."""
        return plain_stream(requests)

    def modify_file(self, requests: Iterable[Encoded]) -> None:
        """Send one ModifyFile stream (``set_commit`` first; see ``_encode.py``)."""
        # gRPC's own sending thread pulls each message, reading the file as it goes: no
        # helper thread. A reader thread handing chunks over through a queue cost more
        # CPU (a GIL and futex hand-off per message) than its overlap saved: measured
        # 0.69 -> 0.56 client CPU-s and 2.5 -> 1.6 s per GiB uploaded (#19, session 6).
        self._t.client_stream(self._modify_file, self.frames(requests))

    def get_file(self, request: pfs_pb2.GetFileRequest) -> Iterator[memoryview]:
        """The file's chunks, each a view into its received message (valid until the next one)."""
        return self._chunks(self._get_file, request, bytes_value_payload)

    def _chunks(self, method: Any, request: pfs_pb2.GetFileRequest,
                payload: Callable[[bytes], memoryview]) -> Iterator[memoryview]:
        """Each message of a GetFile-shaped call, as ``payload`` views it (subclasses' framings too)."""
        stream = self._t.stream(method, request)
        try:
            for message in stream:
                yield payload(message)
        finally:
            stream.close()  # cancels the call if the reader stopped early

    def list_files(self, method: str, request: Any) -> RecordList[FileInfo]:
        """Call a listing (one of ``LISTINGS``) and return its records."""
        stream = self._t.stream(getattr(self._t.pfs, method), request)
        return RecordList(FileInfo, (cv.file_info(pb) for pb in stream))
