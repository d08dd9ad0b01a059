"""``client.admin``: cluster information (``admin_v2.API``).

``InspectCluster`` is what pachctl calls on every connection; the client does
not call it eagerly (no RPC happens before the user's first call).
"""

from __future__ import annotations

from pachmagic._proto import admin_pb2, version_pb2
from pachmagic.client import _convert as cv
from pachmagic.client._transport import Transport
from pachmagic.client.records import ClusterInfo

__all__ = ["Admin", "CLIENT_VERSION"]

# The API version this client is written against (sent as client_version, like pachyderm-sdk).
CLIENT_VERSION = (2, 12, 2)


class Admin:
    """The admin API of a client (``client.admin``).

    Parameters
    ----------
    transport:
        The client's transport.
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def inspect_cluster(self) -> ClusterInfo:
        """Return the cluster's id, deployment id and version warnings."""
        major, minor, micro = CLIENT_VERSION
        request = admin_pb2.InspectClusterRequest(
            client_version=version_pb2.Version(major=major, minor=minor, micro=micro)
        )
        return cv.cluster_info(self._t.unary(self._t.admin.InspectCluster, request))
