"""Chapter 10 ``create-pipeline.py`` for python-pachyderm 7.6: contour and histogram.

The transforms name their scripts relatively (``python3 contour.py``), as the
book does: a cluster resolves them against the image's working directory, the
embedded server against its ``--workdir``.
"""

import os

import python_pachyderm
from python_pachyderm.service import pps_proto


def connect() -> python_pachyderm.Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return python_pachyderm.Client(host=host, port=int(port))


client = connect()
client.create_pipeline(
    pipeline_name="contour",
    transform=pps_proto.Transform(
        cmd=["python3", "contour.py"],
        image="svekars/contour-histogram:1.0",
    ),
    input=pps_proto.Input(pfs=pps_proto.PFSInput(glob="/", repo="photos")),
)
print("created pipeline contour")
client.create_pipeline(
    pipeline_name="histogram",
    transform=pps_proto.Transform(
        cmd=["python3", "histogram.py"],
        image="svekars/contour-histogram:1.0",
    ),
    input=pps_proto.Input(pfs=pps_proto.PFSInput(glob="/", repo="contour")),
)
print("created pipeline histogram")
for info in sorted(client.list_pipeline(), key=lambda i: i.pipeline.name):
    details = info.details
    print(
        "pipeline: {}/{} version={} input={} glob={} cmd={} image={} datum_tries={}".format(
            info.pipeline.project.name,
            info.pipeline.name,
            info.version,
            details.input.pfs.repo,
            details.input.pfs.glob,
            " ".join(details.transform.cmd),
            details.transform.image,
            details.datum_tries,
        )
    )
