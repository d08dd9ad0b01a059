"""``pfs.subscribe_commit``: the commits of ``photos@master`` as a stream, oldest first.

The stream never ends by itself: take what is there (the two photo commits)
and stop reading.
"""

import os

from pachyderm_sdk import Client
from pachyderm_sdk.api import pfs


def connect() -> Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return Client(host=host, port=int(port))


client = connect()
photos = pfs.Repo(name="photos")
listed = [info.commit.id for info in client.pfs.list_commit(repo=photos)]  # newest first
stream = client.pfs.subscribe_commit(repo=photos, branch="master")
ids = [next(stream).commit.id for _ in listed]
stream.close()
print("subscribe_commit photos@master: {} commits, oldest first: {}".format(len(ids), ids == listed[::-1]))
