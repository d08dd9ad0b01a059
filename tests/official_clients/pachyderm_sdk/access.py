"""Chapter 10 ``access.py`` for pachyderm-sdk 2.12: who is the server?

Connects to ``$PACHD_ADDRESS`` (``host:port``) and prints the server's version
and what ``admin.inspect_cluster()`` says about it.
"""

import os

from pachyderm_sdk import Client


def connect() -> Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return Client(host=host, port=int(port))


client = connect()
version = client.get_version()
print("version: {}.{}.{}".format(version.major, version.minor, version.micro))
cluster = client.admin.inspect_cluster()
print("cluster id: {}".format(cluster.id))
print("cluster deployment id: {}".format(cluster.deployment_id))
print("cluster warnings ok: {}".format(cluster.warnings_ok))
