"""Run one scenario against one server and record what every call answered.

A ``Side`` is one server seen through raw gRPC (our generated stubs in
``pachmagic._proto``) and through the official pachyderm-sdk client. A ``Run``
is one scenario on one side: scenario code calls ``run.pfs.InspectRepo(req)``
or ``run.sdk.pfs.inspect_repo(repo=...)`` as it would call the stub or the SDK,
and each call is recorded as an ``Outcome`` (status code, message, response as
plain data). The call returns the real response (or ``None`` after an error),
so a scenario can use ids it was given; the same scenario code runs on both
servers, and the two lists of outcomes are compared (``compare.py``).

This module records; it neither normalises nor compares.
"""

from __future__ import annotations

import io
import tarfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import betterproto
import grpc
from google.protobuf import descriptor_pool, empty_pb2, json_format, message, message_factory

from pachmagic._proto import (
    admin_pb2_grpc,
    auth_pb2_grpc,
    identity_pb2_grpc,
    license_pb2_grpc,
    pfs_pb2,
    pfs_pb2_grpc,
    pps_pb2_grpc,
    transaction_pb2_grpc,
    version_pb2_grpc,
)

# Long enough for pachd on a loaded machine; short enough that a call pachd
# never answers (see real-pachd.md) fails the scenario instead of the session.
CALL_TIMEOUT = 60.0

# The SDK's generated modules and the protobuf packages they mirror.
_SDK_PACKAGES = {
    "pfs": "pfs_v2",
    "pps": "pps_v2",
    "admin": "admin_v2",
    "versionpb": "versionpb_v2",
    "version": "versionpb_v2",
    "transaction": "transaction_v2",
    "auth": "auth_v2",
    "identity": "identity_v2",
    "license": "license_v2",
    "enterprise": "enterprise_v2",
    "taskapi": "taskapi",
}


@dataclass
class Outcome:
    """One recorded call."""

    index: int
    label: str  # "pfs.InspectCommit" (raw gRPC) or "sdk.pfs.inspect_commit"
    request: str  # a one-line rendering of the request, for failure messages
    code: str  # "OK", a gRPC status code name, or "PYTHON" for a client-side exception
    message: str = ""
    response: Any = None  # plain data: dict, list of dicts, scalar or None
    unordered: bool = False  # a stream whose order pachd does not define


def plain(value: Any) -> Any:
    """A response as JSON-like data (protobuf field names, enums by name)."""
    if isinstance(value, message.Message):
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    if isinstance(value, betterproto.Message):
        return plain(sdk_to_proto(value))
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return {"size": len(value), "head": value[:200].decode("utf-8", "replace")}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
    return value


def sdk_to_proto(msg: betterproto.Message) -> message.Message:
    """The betterproto message as our generated message of the same full name.

    The SDK's own subclasses (``OpenCommit`` of ``Commit``) map through their base.
    """
    for cls in type(msg).__mro__:
        module = cls.__module__.split(".")
        if module[0] != "pachyderm_sdk" and module[0] != "betterproto":
            continue
        if cls.__name__ == "Empty":
            return empty_pb2.Empty()
        package = _SDK_PACKAGES.get(module[-1]) or _SDK_PACKAGES.get(module[-2], module[-1])
        try:
            desc = descriptor_pool.Default().FindMessageTypeByName(f"{package}.{cls.__name__}")
        except KeyError:
            continue
        out = message_factory.GetMessageClass(desc)()
        out.ParseFromString(bytes(msg))
        return out
    raise TypeError(f"no protobuf message for the SDK's {type(msg).__qualname__}")


def _one_line(request: Any) -> str:
    if request is None:
        return ""
    if isinstance(request, message.Message):
        text = json_format.MessageToJson(request, preserving_proto_field_name=True, indent=None)
        return text if len(text) < 300 else text[:297] + "..."
    return "<stream>" if hasattr(request, "__next__") else repr(request)[:300]


class Side:
    """One server: its raw stubs, an SDK client, and a reset between scenarios."""

    def __init__(self, name: str, address: str) -> None:
        from pachyderm_sdk import Client

        self.name = name
        self.address = address
        self.channel = grpc.insecure_channel(
            address,
            options=[("grpc.max_receive_message_length", 20 << 20), ("grpc.max_send_message_length", 20 << 20)],
        )
        self.stubs: dict[str, Any] = {
            "pfs": pfs_pb2_grpc.APIStub(self.channel),
            "pps": pps_pb2_grpc.APIStub(self.channel),
            "admin": admin_pb2_grpc.APIStub(self.channel),
            "version": version_pb2_grpc.APIStub(self.channel),
            "transaction": transaction_pb2_grpc.APIStub(self.channel),
            "auth": auth_pb2_grpc.APIStub(self.channel),
            "identity": identity_pb2_grpc.APIStub(self.channel),
            "license": license_pb2_grpc.APIStub(self.channel),
        }
        host, port = address.rsplit(":", 1)
        self.sdk = Client(host=host, port=int(port))

    def reset(self) -> None:
        """Delete every pipeline, repo and project (pachd recreates ``default``)."""
        self.stubs["pps"].DeleteAll(empty_pb2.Empty(), timeout=CALL_TIMEOUT)
        self.stubs["pfs"].DeleteAll(empty_pb2.Empty(), timeout=CALL_TIMEOUT)
        # pachd's pfs DeleteAll keeps projects other than default
        for info in list(self.stubs["pfs"].ListProject(pfs_pb2.ListProjectRequest(), timeout=CALL_TIMEOUT)):
            if info.project.name != "default":
                self.stubs["pfs"].DeleteProject(
                    pfs_pb2.DeleteProjectRequest(project=info.project, force=True), timeout=CALL_TIMEOUT
                )

    def close(self) -> None:
        self.channel.close()
        self.sdk._channel.close()  # noqa: SLF001 - the SDK has no public close


@dataclass
class Run:
    """One scenario on one side; scenario code calls through ``pfs``, ``pps``, ``sdk``, ..."""

    side: Side
    outcomes: list[Outcome] = field(default_factory=list)
    aborted: str = ""  # the Python error that stopped the scenario, if any
    seconds: float = 0.0

    def __getattr__(self, service: str) -> "_Service":
        side = self.__dict__.get("side")
        if side is not None and service in side.stubs:
            return _Service(self, service, side.stubs[service])
        raise AttributeError(service)

    @property
    def sdk(self) -> "_SdkProxy":
        return _SdkProxy(self, self.side.sdk, "sdk")

    @property
    def quiet(self) -> "_Quiet":
        """The same stubs, unrecorded: setup and waits whose answers are not the point."""
        return _Quiet(self.side)

    def record(self, label: str, request: Any, fn: Callable[[], Any], *, unordered: bool = False) -> Any:
        """Call ``fn`` and record its outcome; return its result, or None after an error."""
        outcome = Outcome(len(self.outcomes), label, _one_line(request), "OK", unordered=unordered)
        result: Any = None
        try:
            result = fn()
            if not isinstance(result, (message.Message, betterproto.Message)) and hasattr(result, "__next__"):
                result = list(result)
            outcome.response = plain(result)
        except grpc.RpcError as err:
            outcome.code = err.code().name  # type: ignore[attr-defined]
            outcome.message = err.details() or ""  # type: ignore[attr-defined]
            result = None
        except Exception as err:  # noqa: BLE001 - a client-side refusal is an outcome too
            outcome.code = "PYTHON"
            outcome.message = f"{type(err).__name__}: {err}"
            result = None
        self.outcomes.append(outcome)
        return result

    def do(self, label: str, fn: Callable[[], Any], *, unordered: bool = False) -> Any:
        """Record a multi-call helper (an SDK context manager, a put through a commit object)."""
        return self.record(label, None, fn, unordered=unordered)

    def execute(self, scenario: Callable[["Run"], None]) -> "Run":
        start = time.monotonic()
        try:
            scenario(self)
        except Exception:  # noqa: BLE001 - reported as a difference, with the traceback
            self.aborted = traceback.format_exc(limit=4)
        self.seconds = time.monotonic() - start
        return self


class _Service:
    def __init__(self, run: Run, name: str, stub: Any) -> None:
        self._run, self._name, self._stub = run, name, stub

    def __getattr__(self, method: str) -> Callable[..., Any]:
        fn = getattr(self._stub, method)

        def call(
            request: Any = None, *, unordered: bool = False, timeout: float = CALL_TIMEOUT, take: int = 0, join: bool = False,
            tar: bool = False,
        ) -> Any:
            """``take``: stop a stream after so many messages (SubscribeCommit never ends);
            ``join``: a BytesValue stream as one byte string (chunking differs); ``tar``: as its members."""
            req = empty_pb2.Empty() if request is None else request

            def invoke() -> Any:
                result = fn(req, timeout=timeout)
                if isinstance(result, message.Message):
                    return result
                if take:
                    out = [m for _, m in zip(range(take), result)]
                    result.cancel()
                    return out
                if join or tar:
                    data = b"".join(m.value for m in result)
                    return tar_members(data) if tar else data
                return list(result)

            return self._run.record(f"{self._name}.{method}", req, invoke, unordered=unordered)

        return call


class _SdkProxy:
    """Attribute chains of the SDK client (``sdk.pfs.inspect_repo``), each method call recorded."""

    def __init__(self, run: Run, obj: Any, path: str) -> None:
        self._run, self._obj, self._path = run, obj, path

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._obj, name)
        label = f"{self._path}.{name}"
        if callable(attr) and not isinstance(attr, type):

            def call(*args: Any, unordered: bool = False, **kwargs: Any) -> Any:
                shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
                return self._run.record(label, shown[:300], lambda: attr(*args, **kwargs), unordered=unordered)

            return call
        return _SdkProxy(self._run, attr, label)


class _Quiet:
    def __init__(self, side: Side) -> None:
        self._side = side

    def __getattr__(self, service: str) -> Any:
        return _QuietService(self._side.stubs[service])

    @property
    def sdk(self) -> Any:
        return self._side.sdk


class _QuietService:
    def __init__(self, stub: Any) -> None:
        self._stub = stub

    def __getattr__(self, method: str) -> Callable[..., Any]:
        fn = getattr(self._stub, method)

        def call(request: Any = None, *, timeout: float = CALL_TIMEOUT) -> Any:
            result = fn(empty_pb2.Empty() if request is None else request, timeout=timeout)
            return result if isinstance(result, message.Message) else list(result)

        return call


def tar_members(data: bytes) -> list[dict[str, Any]]:
    """A tar stream's entries: name, type, size, mode and the head of each file's content."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as archive:
        for member in archive:
            entry: dict[str, Any] = {"name": member.name, "type": member.type.decode(), "size": member.size, "mode": oct(member.mode)}
            if member.isfile():
                f = archive.extractfile(member)
                entry["head"] = (f.read() if f else b"")[:200].decode("utf-8", "replace")
            out.append(entry)
    return out


def stream(*messages: Any) -> Iterator[Any]:
    """A client stream (ModifyFile) from messages."""
    yield from messages
