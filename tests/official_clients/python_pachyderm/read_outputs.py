"""Between create-pipeline and cleanup: wait for both pipelines and read their outputs.

``wait_commit`` blocks until the head of each output branch is finished; the
jobs come from ``list_job``, what the user code printed from
``get_pipeline_logs`` and the outputs from ``get_file``.
"""

import hashlib
import os
import struct

import python_pachyderm
from python_pachyderm.service import pps_proto

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
for pipeline in ("contour", "histogram"):
    (info,) = client.wait_commit((pipeline, "master"))
    print("commit {}@master: finished={} error={!r}".format(pipeline, info.HasField("finished"), info.error))
    for job in client.list_job(pipeline):
        state = pps_proto.JobState.Name(job.state)
        print("job {}: state={} processed={} total={}".format(pipeline, state, job.data_processed, job.data_total))
    for message in client.get_pipeline_logs(pipeline):
        if message.user:
            print("log {}: {}".format(pipeline, message.message.rstrip("\n")))
    names = [i.file.path for i in client.list_file((pipeline, "master"), "/")]
    print("files {}@master: {}".format(pipeline, " ".join(names)))
    data = client.get_file((pipeline, "master"), "/landscape.png").read()
    digest = hashlib.sha256(data).hexdigest()
    print("{}@master:/landscape.png: PNG {} sha256={}".format(pipeline, png_size(data), digest))
