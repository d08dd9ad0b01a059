"""``pps_v2.API`` cluster and project defaults, as pachd keeps and answers them.

The cluster defaults start as a fresh pachd's (resource requests for the user
and sidecar containers) and are merged into every new pipeline's spec
(``pachyderm.spec_defaults``); ``SetClusterDefaults`` replaces them (a dry run only
checks them) and, like pachd, takes any JSON object. They live with the engine
for the life of the server. Project defaults are always ``{}`` here: setting
non-empty ones is refused as UNIMPLEMENTED with a plain reason.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..._proto import pps_pb2
from ...errors import InvalidArgument, Unimplemented
from ..storage import Storage
from ..storage.model import DEFAULT_PROJECT
from ._base import Runtime, rpc

if TYPE_CHECKING:
    from ..pipelines import Engine

__all__ = ["PpsDefaultsMixin"]

NO_DEFAULTS = "{}"


def _parse(text: str, what: str) -> Any:
    try:
        value = json.loads(text or NO_DEFAULTS)
    except json.JSONDecodeError:
        raise InvalidArgument(f"invalid {what} JSON") from None  # pachd's words
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {what} JSON")
    return value


class PpsDefaultsMixin:
    """Get/Set cluster and project defaults (mixed into ``PpsServicer``)."""

    storage: Storage
    rt: Runtime
    engine: "Engine"

    @rpc
    async def GetClusterDefaults(
        self, request: pps_pb2.GetClusterDefaultsRequest, context: Any
    ) -> pps_pb2.GetClusterDefaultsResponse:
        return pps_pb2.GetClusterDefaultsResponse(cluster_defaults_json=self.engine.cluster_defaults)

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
        _parse(request.cluster_defaults_json, "cluster defaults")
        if not request.dry_run:
            self.engine.cluster_defaults = request.cluster_defaults_json or NO_DEFAULTS
        return pps_pb2.SetClusterDefaultsResponse()

    @rpc
    async def SetProjectDefaults(
        self, request: pps_pb2.SetProjectDefaultsRequest, context: Any
    ) -> pps_pb2.SetProjectDefaultsResponse:
        await self.rt.blocking(self.storage.inspect_project, request.project.name or DEFAULT_PROJECT)
        if any(_parse(request.project_defaults_json, "project defaults").values()):
            raise Unimplemented("project defaults are not supported by the pachmagic embedded server")
        return pps_pb2.SetProjectDefaultsResponse()
