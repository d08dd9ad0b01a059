"""Chapter 10 ``access.py`` for python-pachyderm 7.6: who is the server?

Connects to ``$PACHD_ADDRESS`` (``host:port``) and prints the server's version,
its gRPC health status and its cluster id.
"""

import os

import python_pachyderm


def connect() -> python_pachyderm.Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return python_pachyderm.Client(host=host, port=int(port))


client = connect()
version = client.get_remote_version()
print("version: {}.{}.{}".format(version.major, version.minor, version.micro))
health = client.health_check()
print("health: {}".format(health.ServingStatus.Name(health.status)))
cluster = client.inspect_cluster()
print("cluster id: {}".format(cluster.id))
