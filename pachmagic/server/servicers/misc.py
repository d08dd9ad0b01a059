"""The small services clients touch besides PFS and PPS.

``versionpb_v2`` and ``admin_v2`` describe the server; ``auth_v2``,
``identity_v2``, ``license_v2`` and ``enterprise_v2`` answer as a pachd without
auth or enterprise does (python-pachyderm's ``delete_all()`` relies on the exact
"not activated" answer); ``transaction_v2`` supports ``DeleteAll`` and says
plainly that batched transactions are not supported.
"""

from __future__ import annotations

import inspect
import platform
from typing import Any

import grpc
from google.protobuf import empty_pb2

from ..._proto import (
    admin_pb2,
    admin_pb2_grpc,
    auth_pb2_grpc,
    enterprise_pb2,
    enterprise_pb2_grpc,
    identity_pb2_grpc,
    license_pb2_grpc,
    transaction_pb2,
    transaction_pb2_grpc,
    version_pb2,
    version_pb2_grpc,
)

__all__ = [
    "VERSION",
    "VersionServicer",
    "AdminServicer",
    "AuthServicer",
    "IdentityServicer",
    "LicenseServicer",
    "EnterpriseServicer",
    "TransactionServicer",
]

# The pachd version we emulate: the 2.12 API that pachyderm-sdk 2.12.2 speaks.
VERSION = (2, 12, 2)
AUTH_NOT_ACTIVATED = "the auth service is not activated"


class VersionServicer(version_pb2_grpc.APIServicer):
    def __init__(self, build: str) -> None:
        self.build = build

    async def GetVersion(self, request: empty_pb2.Empty, context: Any) -> version_pb2.Version:
        major, minor, micro = VERSION
        return version_pb2.Version(
            major=major, minor=minor, micro=micro, git_commit=self.build, platform=_go_arch()
        )


def _go_arch() -> str:
    """The machine in Go's words (pachd's Version.platform is its GOARCH)."""
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "i386": "386"}.get(machine, machine)


# pachd's warnings about the version a client sends (src/server/admin/server)
_NO_CLIENT_VERSION = (
    "WARNING: The client used to connect to Pachyderm did not send its version, which means that it is likely "
    "too old.  Please upgrade it."
)
_CLIENT_TOO_OLD = "WARNING: The client used to connect to Pachyderm is much older than the server; please upgrade the client."
_SERVER_TOO_OLD = (
    "WARNING: The client used to connect to Pachyderm is much newer than the server; please use a version of "
    "the client that matches the server."
)
_SCHEMA_URL = (
    "https://raw.githubusercontent.com/pachyderm/pachyderm/master/src/internal/jsonschema/pps_v2/"
    "CreatePipelineRequest.schema.json"
)


def version_warnings(request: admin_pb2.InspectClusterRequest) -> list[str]:
    """What pachd warns about the client's version: none sent, older or newer major.minor."""
    if not request.HasField("client_version"):
        return [_NO_CLIENT_VERSION]
    client = request.client_version
    if (client.major, client.minor, client.micro) == (0, 0, 0):  # a development build
        return []
    ours, theirs = VERSION[:2], (client.major, client.minor)
    if theirs < ours:
        return [_CLIENT_TOO_OLD]
    if theirs > ours:
        return [_SERVER_TOO_OLD]
    return []


class AdminServicer(admin_pb2_grpc.APIServicer):
    def __init__(self, cluster_id: str, build: str, metadata: dict[str, str] | None = None) -> None:
        self.cluster_id = cluster_id
        self.build = build
        self.metadata = dict(metadata or {})

    async def InspectCluster(self, request: admin_pb2.InspectClusterRequest, context: Any) -> admin_pb2.ClusterInfo:
        # warnings_ok keeps pachctl from printing its "server too old" warning; the
        # warnings and web resources are pachd's.
        return admin_pb2.ClusterInfo(
            id=self.cluster_id,
            deployment_id=self.cluster_id,
            warnings_ok=True,
            warnings=version_warnings(request),
            web_resources=admin_pb2.WebResource(
                archive_download_base_url="/archive/", create_pipeline_request_json_schema_url=_SCHEMA_URL
            ),
            metadata={"server": "pachmagic", "pachmagic_version": self.build, **self.metadata},
        )


def _refusing(base: type, code: grpc.StatusCode, message: str) -> type:
    """A servicer class whose every RPC fails with ``code``/``message``."""

    def make(name: str) -> Any:
        async def method(self: Any, request: Any, context: Any) -> Any:
            await context.abort(code, message)

        method.__name__ = name
        return method

    names = [n for n, v in inspect.getmembers(base, inspect.isfunction) if n[0].isupper()]
    return type(base.__name__.replace("APIServicer", "") + "Refusing", (base,), {n: make(n) for n in names})


AuthServicer = _refusing(auth_pb2_grpc.APIServicer, grpc.StatusCode.UNIMPLEMENTED, AUTH_NOT_ACTIVATED)
IdentityServicer = _refusing(identity_pb2_grpc.APIServicer, grpc.StatusCode.UNIMPLEMENTED, AUTH_NOT_ACTIVATED)
LicenseServicer = _refusing(license_pb2_grpc.APIServicer, grpc.StatusCode.UNIMPLEMENTED, AUTH_NOT_ACTIVATED)
_EnterpriseBase = _refusing(
    enterprise_pb2_grpc.APIServicer, grpc.StatusCode.UNIMPLEMENTED, "enterprise features are not activated"
)


class EnterpriseServicer(_EnterpriseBase):  # type: ignore[misc, valid-type]
    async def GetState(self, request: Any, context: Any) -> enterprise_pb2.GetStateResponse:
        return enterprise_pb2.GetStateResponse(state=enterprise_pb2.NONE)


_TransactionBase = _refusing(
    transaction_pb2_grpc.APIServicer,
    grpc.StatusCode.UNIMPLEMENTED,
    "transactions are not supported by the pachmagic embedded server",
)


class TransactionServicer(_TransactionBase):  # type: ignore[misc, valid-type]
    async def DeleteAll(self, request: Any, context: Any) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    async def ListTransaction(self, request: Any, context: Any) -> transaction_pb2.TransactionInfos:
        return transaction_pb2.TransactionInfos()

    async def InspectTransaction(self, request: Any, context: Any) -> Any:
        # None is ever started here, so every id is unknown: pachd's answer for one.
        await context.abort(grpc.StatusCode.NOT_FOUND, f"transactions {request.transaction.id} not found")

    async def DeleteTransaction(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.NOT_FOUND, f"transactions {request.transaction.id} not found")

