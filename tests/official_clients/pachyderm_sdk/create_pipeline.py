"""Chapter 10 ``create-pipeline.py`` for pachyderm-sdk 2.12: contour and histogram.

The transforms name their scripts relatively (``python3 contour.py``), as the
book does: a cluster resolves them against the image's working directory, the
embedded server against its ``--workdir``.
"""

import os

from pachyderm_sdk import Client
from pachyderm_sdk.api import pps


def connect() -> Client:
    address = os.environ["PACHD_ADDRESS"]
    address = address.split("://", 1)[-1]
    host, port = address.rsplit(":", 1)
    return Client(host=host, port=int(port))


client = connect()
client.pps.create_pipeline(
    pipeline=pps.Pipeline(name="contour"),
    transform=pps.Transform(
        cmd=["python3", "contour.py"],
        image="svekars/contour-histogram:1.0",
    ),
    input=pps.Input(pfs=pps.PfsInput(glob="/", repo="photos")),
)
print("created pipeline contour")
client.pps.create_pipeline(
    pipeline=pps.Pipeline(name="histogram"),
    transform=pps.Transform(
        cmd=["python3", "histogram.py"],
        image="svekars/contour-histogram:1.0",
    ),
    input=pps.Input(pfs=pps.PfsInput(glob="/", repo="contour")),
)
print("created pipeline histogram")
for info in sorted(client.pps.list_pipeline(), key=lambda i: i.pipeline.name):
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
print("pipeline_exists contour: {}".format(client.pps.pipeline_exists(pps.Pipeline(name="contour"))))
print("pipeline_exists nothing-here: {}".format(client.pps.pipeline_exists(pps.Pipeline(name="nothing-here"))))
