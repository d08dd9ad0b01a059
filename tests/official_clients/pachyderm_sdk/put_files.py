"""Chapter 10 ``put-files.py`` for pachyderm-sdk 2.12: three photos in one commit.

The book downloads its photos; these are the tutorial's own photos
(``$PHOTOS_DIR``, by default ``pachmagic/tutorial/photos``), sent with
``put_file_from_bytes`` so that the test needs no network.
"""

import os
from pathlib import Path

from pachyderm_sdk import Client
from pachyderm_sdk.api import pfs

PHOTOS = ("landscape.png", "hand.png", "brown_vase.png")
PHOTOS_DIR = Path(
    os.environ.get("PHOTOS_DIR") or Path(__file__).resolve().parents[3] / "pachmagic" / "tutorial" / "photos"
)


def connect() -> Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return Client(host=host, port=int(port))


client = connect()
with client.pfs.commit(branch=pfs.Branch.from_uri("photos@master")) as c:
    for name in PHOTOS:
        c.put_file_from_bytes(path=name, data=(PHOTOS_DIR / name).read_bytes())
        print("put file photos@master:/{}".format(name))
print("finished commit {}".format(c.id))
for info in client.pfs.list_file(file=pfs.File.from_uri("photos@master:/")):
    print("file: {} type={} size={}".format(info.file.path, pfs.FileType(info.file_type).name, info.size_bytes))
print("commit_exists photos@{}: {}".format(c.id, client.pfs.commit_exists(pfs.Commit.from_uri("photos@" + c.id))))
print("path_exists photos@master:/hand.png: {}".format(client.pfs.path_exists(pfs.File.from_uri("photos@master:/hand.png"))))
print("path_exists photos@master:/nope.png: {}".format(client.pfs.path_exists(pfs.File.from_uri("photos@master:/nope.png"))))
