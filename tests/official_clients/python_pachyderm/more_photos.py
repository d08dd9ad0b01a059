"""After the pipelines exist: one more photo, and wait for the whole commit set.

A commit to ``photos`` now starts jobs down the DAG under the same ID, so
``wait_commit(<id>)`` (``InspectCommitSet`` with ``wait``) returns every commit
of that set once all are finished; the new photo's outputs are then read at
that ID in both output repos (``(repo, id)`` tuples: a commit with no branch).
"""

import hashlib
import os
import struct
from pathlib import Path

import python_pachyderm

PHOTO = "red_vase.png"
PHOTOS_DIR = Path(
    os.environ.get("PHOTOS_DIR") or Path(__file__).resolve().parents[3] / "pachmagic" / "tutorial" / "photos"
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def connect() -> python_pachyderm.Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return python_pachyderm.Client(host=host, port=int(port))


def png_size(data: bytes) -> str:
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise SystemExit("not a PNG: {!r}".format(data[:16]))
    width, height = struct.unpack(">II", data[16:24])
    return "{}x{}".format(width, height)


client = connect()
with client.commit("photos", "master") as c:
    client.put_file_bytes(c, PHOTO, (PHOTOS_DIR / PHOTO).read_bytes())
print("put file photos@master:/{}".format(PHOTO))
infos = client.wait_commit(c.id)
# pachd 2.12 names a commit by repo and id (Commit.repo); its branch field is left empty.
for info in sorted(infos, key=lambda i: (i.commit.repo.name, i.commit.repo.type)):
    repo = info.commit.repo
    print(
        "commit set member: {}.{} same_id={} finished={} error={!r}".format(
            repo.name, repo.type, info.commit.id == c.id, info.HasField("finished"), info.error
        )
    )
for pipeline in ("contour", "histogram"):
    data = client.get_file((pipeline, c.id), "/" + PHOTO).read()
    digest = hashlib.sha256(data).hexdigest()
    print("{}@<set>:/{}: PNG {} sha256={}".format(pipeline, PHOTO, png_size(data), digest))
    names = [i.file.path for i in client.list_file((pipeline, c.id), "/")]
    print("files {}@<set>: {}".format(pipeline, " ".join(names)))
