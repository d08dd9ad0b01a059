"""``pps_v2.API`` cluster and project defaults, as a pachd on which none were set answers.

pachctl 2.12 reads them (``pachctl inspect defaults``; the console and
``pachctl edit pipeline`` too): pachd answers ``"{}"`` while none are stored.
The embedded server has no defaults to merge into pipeline specs, so setting
non-empty ones is refused as UNIMPLEMENTED with a plain reason; setting ``{}``
(what ``pachctl delete defaults`` sends) is the no-op it is.
"""

from __future__ import annotations

import json
from typing import Any

from ..._proto import pps_pb2
from ...errors import InvalidArgument, Unimplemented
from ..storage import Storage
from ..storage.model import DEFAULT_PROJECT
from ._base import Runtime, rpc

__all__ = ["PpsDefaultsMixin"]

NO_DEFAULTS = "{}"


def _check_empty(text: str, what: str) -> None:
    try:
        value = json.loads(text or NO_DEFAULTS)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"invalid {what} JSON: {err}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {what} JSON: not an object")
    if any(value.values()):
        raise Unimplemented(f"{what} are not supported by the pachmagic embedded server (pipelines use their own specs)")


class PpsDefaultsMixin:
    """Get/Set cluster and project defaults (mixed into ``PpsServicer``)."""

    storage: Storage
    rt: Runtime

    @rpc
    async def GetClusterDefaults(
        self, request: pps_pb2.GetClusterDefaultsRequest, context: Any
    ) -> pps_pb2.GetClusterDefaultsResponse:
        return pps_pb2.GetClusterDefaultsResponse(cluster_defaults_json=NO_DEFAULTS)

    @rpc
    async def GetProjectDefaults(
        self, request: pps_pb2.GetProjectDefaultsRequest, context: Any
    ) -> pps_pb2.GetProjectDefaultsResponse:
        # As pachd: the project must exist (NOT_FOUND otherwise).
        await self.rt.blocking(self.storage.inspect_project, request.project.name or DEFAULT_PROJECT)
        return pps_pb2.GetProjectDefaultsResponse(project_defaults_json=NO_DEFAULTS)

    @rpc
    async def SetClusterDefaults(
        self, request: pps_pb2.SetClusterDefaultsRequest, context: Any
    ) -> pps_pb2.SetClusterDefaultsResponse:
        _check_empty(request.cluster_defaults_json, "cluster defaults")
        return pps_pb2.SetClusterDefaultsResponse()

    @rpc
    async def SetProjectDefaults(
        self, request: pps_pb2.SetProjectDefaultsRequest, context: Any
    ) -> pps_pb2.SetProjectDefaultsResponse:
        await self.rt.blocking(self.storage.inspect_project, request.project.name or DEFAULT_PROJECT)
        _check_empty(request.project_defaults_json, "project defaults")
        return pps_pb2.SetProjectDefaultsResponse()
