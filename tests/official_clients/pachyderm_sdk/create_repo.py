"""Chapter 10 ``create-repo.py`` for pachyderm-sdk 2.12: create ``photos`` and list repos."""

import os

from pachyderm_sdk import Client
from pachyderm_sdk.api import pfs


def connect() -> Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return Client(host=host, port=int(port))


client = connect()
client.pfs.create_repo(repo=pfs.Repo(name="photos"))
print("created repo photos")
for info in client.pfs.list_repo():
    print("repo: {}/{} type={}".format(info.repo.project.name, info.repo.name, info.repo.type))
print("repo_exists photos: {}".format(client.pfs.repo_exists(pfs.Repo(name="photos"))))
print("repo_exists nothing-here: {}".format(client.pfs.repo_exists(pfs.Repo(name="nothing-here"))))
print("branch_exists photos@master: {}".format(client.pfs.branch_exists(pfs.Branch.from_uri("photos@master"))))
print("project_exists default: {}".format(client.pfs.project_exists(pfs.Project(name="default"))))
print("project_exists nowhere: {}".format(client.pfs.project_exists(pfs.Project(name="nowhere"))))
