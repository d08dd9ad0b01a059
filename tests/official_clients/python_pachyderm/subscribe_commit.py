"""``subscribe_commit``: the commits of ``photos@master`` as a stream, oldest first.

The stream never ends by itself: take what is there (the two photo commits)
and cancel it.
"""

import os

import python_pachyderm


def connect() -> python_pachyderm.Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return python_pachyderm.Client(host=host, port=int(port))


client = connect()
listed = [info.commit.id for info in client.list_commit("photos")]  # newest first
stream = client.subscribe_commit("photos", "master")
ids = [next(stream).commit.id for _ in listed]
stream.cancel()
print("subscribe_commit photos@master: {} commits, oldest first: {}".format(len(ids), ids == listed[::-1]))
