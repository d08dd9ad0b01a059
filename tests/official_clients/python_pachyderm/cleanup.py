"""Chapter 10 ``cleanup.py`` for python-pachyderm 7.6, in the book's order.

The input repo goes first (``force``: the contour pipeline reads it), then both
pipelines (``force``: histogram reads contour's output), then list again.
"""

import os

import python_pachyderm


def connect() -> python_pachyderm.Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return python_pachyderm.Client(host=host, port=int(port))


client = connect()
client.delete_repo("photos", force=True)
print("deleted repo photos")
client.delete_pipeline("contour", force=True)
print("deleted pipeline contour")
client.delete_pipeline("histogram", force=True)
print("deleted pipeline histogram")
repos = [info.repo.name for info in client.list_repo()]
print("repos: {}".format(" ".join(repos) or "(none)"))
pipelines = [info.pipeline.name for info in client.list_pipeline()]
print("pipelines: {}".format(" ".join(pipelines) or "(none)"))
