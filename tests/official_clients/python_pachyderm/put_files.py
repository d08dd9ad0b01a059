"""Chapter 10 ``put-files.py`` for python-pachyderm 7.6: three photos in one commit.

The book downloads its photos with ``put_file_url``; these are the tutorial's
own photos (``$PHOTOS_DIR``, by default ``pachmagic/tutorial/photos``), sent
with ``put_file_bytes`` so that the test needs no network.
"""

import os
from pathlib import Path

import python_pachyderm
from python_pachyderm.service import pfs_proto

PHOTOS = ("landscape.png", "hand.png", "brown_vase.png")
PHOTOS_DIR = Path(
    os.environ.get("PHOTOS_DIR") or Path(__file__).resolve().parents[3] / "pachmagic" / "tutorial" / "photos"
)


def connect() -> python_pachyderm.Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return python_pachyderm.Client(host=host, port=int(port))


client = connect()
with client.commit("photos", "master") as c:
    for name in PHOTOS:
        client.put_file_bytes(c, name, (PHOTOS_DIR / name).read_bytes())
        print("put file photos@master:/{}".format(name))
print("finished commit {}".format(c.id))
for info in client.list_file(("photos", "master"), "/"):
    print(
        "file: {} type={} size={}".format(
            info.file.path, pfs_proto.FileType.Name(info.file_type), info.size_bytes
        )
    )
