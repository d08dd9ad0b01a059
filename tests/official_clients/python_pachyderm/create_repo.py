"""Chapter 10 ``create-repo.py`` for python-pachyderm 7.6: create ``photos`` and list repos."""

import os

import python_pachyderm


def connect() -> python_pachyderm.Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return python_pachyderm.Client(host=host, port=int(port))


client = connect()
client.create_repo("photos")
print("created repo photos")
for info in client.list_repo():
    print("repo: {}/{} type={}".format(info.repo.project.name, info.repo.name, info.repo.type))
