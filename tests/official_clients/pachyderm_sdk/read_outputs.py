"""Between create-pipeline and cleanup: wait for both pipelines and read their outputs.

``pfs.wait_commit`` blocks until the head of each output branch is finished;
the jobs come from ``pps.list_job``, what the user code printed from
``pps.get_logs`` and the outputs from ``pfs.pfs_file``.
"""

import hashlib
import os
import struct

from pachyderm_sdk import Client
from pachyderm_sdk.api import pfs, pps

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def connect() -> Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return Client(host=host, port=int(port))


def png_size(data: bytes) -> str:
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise SystemExit("not a PNG: {!r}".format(data[:16]))
    width, height = struct.unpack(">II", data[16:24])
    return "{}x{}".format(width, height)


client = connect()
for pipeline in ("contour", "histogram"):
    info = client.pfs.wait_commit(pfs.Commit.from_uri(pipeline + "@master"))
    print("commit {}@master: finished={} error={!r}".format(pipeline, info.finished is not None, info.error))
    for job in client.pps.list_job(pipeline=pps.Pipeline(name=pipeline)):
        state = pps.JobState(job.state).name
        print("job {}: state={} processed={} total={}".format(pipeline, state, job.data_processed, job.data_total))
        print("job_exists {}@<id>: {}".format(pipeline, client.pps.job_exists(job.job)))
    for message in client.pps.get_logs(pipeline=pps.Pipeline(name=pipeline)):
        if message.user:
            print("log {}: {}".format(pipeline, message.message.rstrip("\n")))
    names = [i.file.path for i in client.pfs.list_file(file=pfs.File.from_uri(pipeline + "@master:/"))]
    print("files {}@master: {}".format(pipeline, " ".join(names)))
    with client.pfs.pfs_file(file=pfs.File.from_uri(pipeline + "@master:/landscape.png")) as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    print("{}@master:/landscape.png: PNG {} sha256={}".format(pipeline, png_size(data), digest))
