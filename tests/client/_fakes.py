"""A tiny real gRPC server with recording, fail-on-demand servicers (no mocks).

Used by the ``fake`` fixture (``conftest.py``) for wire-shape and
error-translation tests that must not depend on the embedded server.
"""

from __future__ import annotations

import socket
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Iterator

import grpc
from google.protobuf import empty_pb2

from pachmagic._proto import (
    pfs_pb2,
    pfs_pb2_grpc,
    pps_pb2,
    pps_pb2_grpc,
    version_pb2,
    version_pb2_grpc,
)
from pachmagic.client import Client, connect

__all__ = ["COMMIT_ID", "FakeServer", "Recorded", "free_port", "start_fake_server"]

COMMIT_ID = "0123456789ab4def0123456789abcdef"


@dataclass
class Recorded:
    """What the fake server saw and how it should fail next."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)
    error: tuple[grpc.StatusCode, str] | None = None  # abort the next call with this
    stream_error_after: int | None = None  # abort streams after this many messages
    bytes_received: int = 0
    v2: bool = False  # whether CreatePipelineV2 is implemented

    def note(self, name: str, request: Any, context: grpc.ServicerContext) -> None:
        self.calls.append((name, request))
        self.metadata.append({k: v for k, v in context.invocation_metadata() if isinstance(v, str)})
        if self.error is not None:
            code, details = self.error
            context.abort(code, details)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class FakeVersion(version_pb2_grpc.APIServicer):
    def __init__(self, rec: Recorded) -> None:
        self.rec = rec

    def GetVersion(self, request: Any, context: grpc.ServicerContext) -> version_pb2.Version:
        self.rec.note("GetVersion", request, context)
        return version_pb2.Version(major=2, minor=12, micro=2, additional="-fake")


class FakePfs(pfs_pb2_grpc.APIServicer):
    def __init__(self, rec: Recorded) -> None:
        self.rec = rec

    def ModifyFile(self, request_iterator: Iterator[pfs_pb2.ModifyFileRequest], context: grpc.ServicerContext) -> Any:
        kept: list[pfs_pb2.ModifyFileRequest] = []
        for message in request_iterator:
            if message.HasField("add_file"):
                self.rec.bytes_received += len(message.add_file.raw.value)
                if len(kept) < 64:  # keep the shape, not gigabytes of payload
                    kept.append(message)
            else:
                kept.append(message)
        self.rec.note("ModifyFile", kept, context)
        return empty_pb2.Empty()

    def StartCommit(self, request: pfs_pb2.StartCommitRequest, context: grpc.ServicerContext) -> pfs_pb2.Commit:
        self.rec.note("StartCommit", request, context)
        return pfs_pb2.Commit(branch=request.branch, repo=request.branch.repo, id=COMMIT_ID)

    def FinishCommit(self, request: pfs_pb2.FinishCommitRequest, context: grpc.ServicerContext) -> Any:
        self.rec.note("FinishCommit", request, context)
        return empty_pb2.Empty()

    def InspectCommit(self, request: pfs_pb2.InspectCommitRequest, context: grpc.ServicerContext) -> Any:
        self.rec.note("InspectCommit", request, context)
        info = pfs_pb2.CommitInfo(commit=request.commit)
        info.finished.GetCurrentTime()
        return info

    def InspectRepo(self, request: pfs_pb2.InspectRepoRequest, context: grpc.ServicerContext) -> Any:
        self.rec.note("InspectRepo", request, context)
        return pfs_pb2.RepoInfo(repo=request.repo)

    def ListRepo(self, request: pfs_pb2.ListRepoRequest, context: grpc.ServicerContext) -> Iterator[Any]:
        self.rec.note("ListRepo", request, context)
        for i in range(3):
            if self.rec.stream_error_after is not None and i == self.rec.stream_error_after:
                context.abort(grpc.StatusCode.NOT_FOUND, "repo default/gone not found")
            yield pfs_pb2.RepoInfo(repo=pfs_pb2.Repo(name=f"r{i}", type="user"))

    def GetFile(self, request: pfs_pb2.GetFileRequest, context: grpc.ServicerContext) -> Iterator[Any]:
        from google.protobuf import wrappers_pb2

        self.rec.note("GetFile", request, context)
        for i in range(4):
            if self.rec.stream_error_after is not None and i == self.rec.stream_error_after:
                context.abort(grpc.StatusCode.DATA_LOSS, "chunk lost")
            yield wrappers_pb2.BytesValue(value=bytes([65 + i]) * 3)


class FakePps(pps_pb2_grpc.APIServicer):
    def __init__(self, rec: Recorded) -> None:
        self.rec = rec

    def CreatePipeline(self, request: pps_pb2.CreatePipelineRequest, context: grpc.ServicerContext) -> Any:
        self.rec.note("CreatePipeline", request, context)
        return empty_pb2.Empty()

    def CreatePipelineV2(self, request: pps_pb2.CreatePipelineV2Request, context: grpc.ServicerContext) -> Any:
        if not self.rec.v2:
            self.rec.calls.append(("CreatePipelineV2-unimplemented", request))
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        self.rec.note("CreatePipelineV2", request, context)
        return pps_pb2.CreatePipelineV2Response()

    def GetLogs(self, request: pps_pb2.GetLogsRequest, context: grpc.ServicerContext) -> Iterator[Any]:
        self.rec.note("GetLogs", request, context)
        for i in range(3):
            if self.rec.stream_error_after is not None and i == self.rec.stream_error_after:
                context.abort(grpc.StatusCode.INTERNAL, "log backend broke")
            yield pps_pb2.LogMessage(pipeline_name="p", message=f"line {i}", user=True)


@dataclass
class FakeServer:
    address: str
    rec: Recorded

    def client(self, **kwargs: Any) -> Client:
        return connect(self.address, **kwargs)


def start_fake_server() -> tuple[grpc.Server, FakeServer]:
    """Start the fake on 127.0.0.1 (port 0); the caller stops the returned server."""
    rec = Recorded()
    limit = 32 * 1024 * 1024
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)],
    )
    version_pb2_grpc.add_APIServicer_to_server(FakeVersion(rec), server)  # type: ignore[no-untyped-call,unused-ignore]
    pfs_pb2_grpc.add_APIServicer_to_server(FakePfs(rec), server)  # type: ignore[no-untyped-call,unused-ignore]
    pps_pb2_grpc.add_APIServicer_to_server(FakePps(rec), server)  # type: ignore[no-untyped-call,unused-ignore]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, FakeServer(f"127.0.0.1:{port}", rec)


def free_port() -> int:
    """A TCP port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
