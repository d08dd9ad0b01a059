"""Chapter 10 ``cleanup.py`` for pachyderm-sdk 2.12, in the book's order.

The input repo goes first (``force``: the contour pipeline reads it), then both
pipelines (``force``: histogram reads contour's output), then list again.
"""

import os

from pachyderm_sdk import Client
from pachyderm_sdk.api import pfs, pps


def connect() -> Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return Client(host=host, port=int(port))


client = connect()
client.pfs.delete_repo(repo=pfs.Repo(name="photos"), force=True)
print("deleted repo photos")
client.pps.delete_pipeline(pipeline=pps.Pipeline(name="contour"), force=True, keep_repo=False)
print("deleted pipeline contour")
client.pps.delete_pipeline(pipeline=pps.Pipeline(name="histogram"), force=True, keep_repo=False)
print("deleted pipeline histogram")
repos = ["{}.{}".format(info.repo.name, info.repo.type) for info in client.pfs.list_repo()]
print("repos: {}".format(" ".join(repos) or "(none)"))
pipelines = [info.pipeline.name for info in client.pps.list_pipeline()]
print("pipelines: {}".format(" ".join(pipelines) or "(none)"))
for name in ("photos", "contour", "histogram"):
    print("repo_exists {}: {}".format(name, client.pfs.repo_exists(pfs.Repo(name=name))))
for name in ("contour", "histogram"):
    print("pipeline_exists {}: {}".format(name, client.pps.pipeline_exists(pps.Pipeline(name=name))))
