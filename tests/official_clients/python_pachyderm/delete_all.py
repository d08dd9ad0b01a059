"""python-pachyderm's ``delete_all()``: reset the server, then list what is left.

``delete_all`` calls identity ``DeleteAll``, auth ``Deactivate`` and license
``DeleteAll`` (each may answer "the auth service is not activated"), then
pps, pfs and transaction ``DeleteAll``.
"""

import os

import python_pachyderm


def connect() -> python_pachyderm.Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return python_pachyderm.Client(host=host, port=int(port))


client = connect()
client.delete_all()
print("delete_all: done")
repos = [info.repo.name for info in client.list_repo(type="")]
print("repos: {}".format(" ".join(repos) or "(none)"))
pipelines = [info.pipeline.name for info in client.list_pipeline()]
print("pipelines: {}".format(" ".join(pipelines) or "(none)"))
