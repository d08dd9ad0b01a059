"""Golden wire bytes observed from the official clients parse into the expected fields
and re-serialise to the same bytes with our generated classes.

The vectors are the exact requests python-pachyderm 7.6 and pachyderm-sdk 2.12
sent in the seed scripts (reference/pachyderm-wire.md, section 6).
"""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.message import Message

from pachmagic._proto import admin_pb2, pfs_pb2, pps_pb2

# python-pachyderm 7.6: repo{name:"photos" type:"user" project{}}
CREATE_REPO = "0a100a0670686f746f731204757365721a00"
# pachyderm-sdk 2.12: the same repo with project{name:"default"}
CREATE_REPO_SDK = "0a190a0670686f746f731204757365721a090a0764656661756c74"
LIST_REPO = "0a0475736572"
START_COMMIT = "1a1a0a100a0670686f746f731204757365721a0012066d6173746572"
DELETE_REPO = "0a100a0670686f746f731204757365721a001001"
CREATE_PIPELINE = (
    "0a0b0a07636f6e746f757212001a340a1d7376656b6172732f636f6e746f75722d686973746f6772616d3a312e30"
    "1207707974686f6e33120a636f6e746f75722e7079620d0a0b120670686f746f732a012fb80103"
)
DELETE_PIPELINE = "0a0b0a07636f6e746f757212001801"


def roundtrip(cls: type[Message], hex_bytes: str) -> Message:
    """Parse, check every byte landed in a known field, and check re-serialisation."""
    data = bytes.fromhex(hex_bytes)
    message = cls.FromString(data)
    assert message.SerializeToString() == data
    known_only = cls()
    known_only.CopyFrom(message)
    known_only.DiscardUnknownFields()  # recursive
    assert known_only.SerializeToString() == data, "some bytes parsed as unknown fields"
    return message


def test_create_repo() -> None:
    request = roundtrip(pfs_pb2.CreateRepoRequest, CREATE_REPO)
    assert request == pfs_pb2.CreateRepoRequest(
        repo=pfs_pb2.Repo(name="photos", type="user", project=pfs_pb2.Project())
    )
    assert request.repo.HasField("project")  # present but empty: means "default"
    assert not request.update and request.description == ""


def test_create_repo_sdk() -> None:
    request = roundtrip(pfs_pb2.CreateRepoRequest, CREATE_REPO_SDK)
    assert request.repo.project.name == "default"
    assert (request.repo.name, request.repo.type) == ("photos", "user")


def test_list_repo() -> None:
    assert roundtrip(pfs_pb2.ListRepoRequest, LIST_REPO) == pfs_pb2.ListRepoRequest(type="user")


def test_start_commit() -> None:
    request = roundtrip(pfs_pb2.StartCommitRequest, START_COMMIT)
    assert request.branch.name == "master"
    assert request.branch.repo.name == "photos"
    assert not request.HasField("parent")


def test_delete_repo() -> None:
    request = roundtrip(pfs_pb2.DeleteRepoRequest, DELETE_REPO)
    assert request == pfs_pb2.DeleteRepoRequest(
        repo=pfs_pb2.Repo(name="photos", type="user", project=pfs_pb2.Project()), force=True
    )
    # 2.12 answers with DeleteRepoResponse{deleted}; 2.7 clients read it as Empty.
    assert pfs_pb2.DeleteRepoResponse(deleted=True).SerializeToString() == b"\x08\x01"


def test_create_pipeline() -> None:
    request = roundtrip(pps_pb2.CreatePipelineRequest, CREATE_PIPELINE)
    assert request.pipeline.name == "contour"
    assert request.pipeline.HasField("project") and request.pipeline.project.name == ""
    assert request.transform.image == "svekars/contour-histogram:1.0"
    assert list(request.transform.cmd) == ["python3", "contour.py"]
    assert (request.input.pfs.repo, request.input.pfs.glob) == ("photos", "/")
    assert request.datum_tries == 3
    assert not request.update and not request.reprocess


def test_delete_pipeline() -> None:
    request = roundtrip(pps_pb2.DeletePipelineRequest, DELETE_PIPELINE)
    assert request.pipeline.name == "contour" and request.force
    assert not request.keep_repo


def test_inspect_cluster_request_may_be_empty() -> None:
    assert admin_pb2.InspectClusterRequest.FromString(b"") == admin_pb2.InspectClusterRequest()


def test_pipeline_spec_json_uses_pachyderm_names() -> None:
    """pachctl specs are protojson: both snake_case and lowerCamelCase names parse."""
    spec = """{
        "pipeline": {"name": "contour"},
        "transform": {"image": "svekars/contour-histogram:1.0", "cmd": ["python3", "contour.py"]},
        "input": {"pfs": {"repo": "photos", "glob": "/"}},
        "datumTries": 3,
        "parallelism_spec": {"constant": 2}
    }"""
    request = json_format.Parse(spec, pps_pb2.CreatePipelineRequest())
    assert request.datum_tries == 3 and request.parallelism_spec.constant == 2
    assert request.input.pfs.repo == "photos"
    listing = json_format.Parse('{"jqFilter": ".x", "history": "1"}', pps_pb2.ListPipelineRequest())
    assert listing.jqFilter == ".x"
    url = json_format.Parse('{"URL": "s3://b/k"}', pfs_pb2.AddFile.URLSource())
    assert getattr(url, "URL") == "s3://b/k"
