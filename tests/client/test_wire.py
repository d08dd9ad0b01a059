"""What the client puts on the wire, observed by a real (fake-behaviour) gRPC server."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import grpc
import pytest

from pachmagic._proto import pfs_pb2, pps_pb2
from pachmagic.client import Commit, Repo
from pachmagic.client._files import CHUNK_SIZE, Source
from pachmagic.errors import NotFound, Unimplemented
from tests.client._fakes import COMMIT_ID, FakeServer


def _bodies(messages: list[Any]) -> list[tuple[str, str, int]]:
    shape = []
    for m in messages:
        kind = m.WhichOneof("body")
        if kind == "set_commit":
            shape.append((kind, m.set_commit.id, 0))
        elif kind == "add_file":
            shape.append((kind, m.add_file.path, len(m.add_file.raw.value)))
        elif kind == "delete_file":
            shape.append((kind, m.delete_file.path, 0))
        else:
            shape.append((kind, m.copy_file.dst, 0))
    return shape


def test_put_files_is_one_stream_with_pachyderms_shape(fake: FakeServer) -> None:
    big = os.urandom(2 * CHUNK_SIZE + 10)
    progress: list[tuple[int, int]] = []
    files: dict[str, Source] = {"/big.bin": big, "/empty": b"", "/text.txt": "héllo"}
    with fake.client() as client:
        client.pfs.put_files(
            "photos@master",
            files,
            progress=lambda b, f: progress.append((b, f)),
        )
    (name, messages), = fake.rec.calls
    assert name == "ModifyFile"
    assert _bodies(messages) == [
        ("set_commit", "", 0),
        ("delete_file", "/big.bin", 0),
        ("add_file", "/big.bin", CHUNK_SIZE),
        ("add_file", "/big.bin", CHUNK_SIZE),
        ("add_file", "/big.bin", 10),
        ("delete_file", "/empty", 0),
        ("add_file", "/empty", 0),  # one empty add_file creates an empty file
        ("delete_file", "/text.txt", 0),
        ("add_file", "/text.txt", len("héllo".encode())),
    ]
    assert b"".join(m.add_file.raw.value for m in messages if m.add_file.path == "/big.bin") == big
    assert messages[-1].add_file.raw.value == "héllo".encode()
    assert progress[-1] == (len(big) + len("héllo".encode()), 3)
    assert CHUNK_SIZE <= 4 * 1024 * 1024


def test_set_commit_carries_both_repos_and_the_project(fake: FakeServer) -> None:
    with fake.client(project="images") as client:
        client.pfs.put_file(f"photos@master={COMMIT_ID}", "a", b"x", append=True)
    (_, messages), = fake.rec.calls
    commit = messages[0].set_commit
    assert (commit.id, commit.branch.name) == (COMMIT_ID, "master")
    assert commit.repo.name == commit.branch.repo.name == "photos"
    assert commit.repo.project.name == commit.branch.repo.project.name == "images"
    assert [m.WhichOneof("body") for m in messages] == ["set_commit", "add_file"]  # append: no delete


def test_auth_token_is_sent_on_every_kind_of_call(fake: FakeServer) -> None:
    with fake.client(token="s3cret") as client:
        client.version()
        client.pfs.list_repo()
        client.pfs.put_file("r@master", "/a", b"x")
    assert [md.get("authn-token") for md in fake.rec.metadata] == ["s3cret"] * 3
    with fake.client() as client:
        client.version()
    assert "authn-token" not in fake.rec.metadata[-1]


def test_commit_context_finishes_normally(fake: FakeServer) -> None:
    with fake.client() as client:
        with client.pfs.commit("photos@master", description="msg") as c:
            assert c.commit == Commit(Repo("photos", project="default"), "master", COMMIT_ID)
            c.put_file("/a", b"1")
            c.put_files([("/b", b"2"), ("/c", b"3")])
            c.delete_file("/old")
            c.copy_file("other@master:/x", "/y", append=True)
    # ... and the block ends once the commit is FINISHED (pachd finishes in the background).
    assert fake.rec.names() == ["StartCommit"] + ["ModifyFile"] * 4 + ["FinishCommit", "InspectCommit"]
    start = fake.rec.calls[0][1]
    assert (start.branch.name, start.description) == ("master", "msg")
    finish = fake.rec.calls[-2][1]
    assert (finish.commit.id, finish.error) == (COMMIT_ID, "")
    wait = fake.rec.calls[-1][1]
    assert (wait.commit.id, wait.wait) == (COMMIT_ID, pfs_pb2.FINISHED)
    copy = fake.rec.calls[4][1][1].copy_file
    assert (copy.dst, copy.src.path, copy.src.commit.repo.name, copy.append) == ("/y", "/x", "other", True)
    assert all(m[0].set_commit.id == COMMIT_ID for _, m in fake.rec.calls[1:5])


def test_commit_context_records_the_exception_as_commit_error(fake: FakeServer) -> None:
    with fake.client() as client:
        with pytest.raises(KeyError):
            with client.pfs.commit("photos@master") as c:
                c.put_file("/a", b"1")
                raise KeyError("boom")
    assert fake.rec.names()[-2:] == ["FinishCommit", "InspectCommit"]
    finish = fake.rec.calls[-2][1]
    assert finish.error == "KeyError: 'boom'"


def test_commit_context_keeps_the_users_exception_if_finish_fails(fake: FakeServer) -> None:
    with fake.client() as client:
        with pytest.raises(ValueError, match="mine"):
            with client.pfs.commit("photos@master"):
                fake.rec.error = (grpc.StatusCode.NOT_FOUND, "gone")
                raise ValueError("mine")


def test_create_pipeline_prefers_v2_json(fake: FakeServer) -> None:
    fake.rec.v2 = True
    spec = {"pipeline": {"name": "contour"}, "transform": {"image": "i", "cmd": ["python3"]},
            "input": {"pfs": {"repo": "photos", "glob": "/"}}}
    with fake.client() as client:
        created = client.pps.create_pipeline(json.dumps(spec), update=True)
    assert [str(p) for p in created] == ["default/contour"]
    (name, request), = fake.rec.calls
    assert name == "CreatePipelineV2" and request.update and not request.reprocess
    sent = json.loads(request.create_pipeline_request_json)
    assert sent["pipeline"] == {"name": "contour", "project": {"name": "default"}}
    assert sent["transform"] == {"image": "i", "cmd": ["python3"]}


def test_create_pipeline_falls_back_once_on_unimplemented(fake: FakeServer) -> None:
    text = "pipeline: {name: a}\ntransform: {image: i}\n---\npipeline: {name: b}\n"
    with fake.client() as client:
        client.pps.create_pipeline(text)
        client.pps.create_pipeline({"pipeline": {"name": "c"}}, reprocess=True)
    assert fake.rec.names() == ["CreatePipelineV2-unimplemented", "CreatePipeline", "CreatePipeline", "CreatePipeline"]
    first = fake.rec.calls[1][1]
    assert isinstance(first, pps_pb2.CreatePipelineRequest)
    assert (first.pipeline.name, first.pipeline.project.name, first.transform.image) == ("a", "default", "i")
    assert fake.rec.calls[-1][1].reprocess


def test_v2_unimplemented_after_success_is_an_error(fake: FakeServer) -> None:
    fake.rec.v2 = True
    with fake.client() as client:
        client.pps.create_pipeline({"pipeline": {"name": "a"}})
        fake.rec.error = (grpc.StatusCode.UNIMPLEMENTED, "the auth service is not activated")
        with pytest.raises(Unimplemented):
            client.pps.create_pipeline({"pipeline": {"name": "b"}})


def test_get_file_reads_and_offsets(fake: FakeServer, tmp_path: Path) -> None:
    with fake.client() as client:
        assert client.pfs.get_file("r@master:/f", offset=2) == b"AAABBBCCCDDD"
        assert fake.rec.calls[-1][1].offset == 2
        with client.pfs.open_file("r@master:/f") as handle:
            assert handle.read(4) == b"AAAB" and handle.read() == b"BBCCCDDD"
        seen: list[tuple[int, int]] = []
        out = client.pfs.get_file_to_path("r@master:/f", tmp_path / "sub" / "f.bin", progress=lambda b, f: seen.append((b, f)))
        assert out.read_bytes() == b"AAABBBCCCDDD" and seen[-1] == (12, 1)
        fake.rec.stream_error_after = 2
        with pytest.raises(Exception):
            client.pfs.get_file_to_path("r@master:/f", tmp_path / "broken.bin")
        assert not (tmp_path / "broken.bin").exists()
        assert [p.name for p in tmp_path.iterdir()] == ["sub"]  # no leftover .part file
        fake.rec.error = (grpc.StatusCode.NOT_FOUND, "file /x not found")
        with pytest.raises(NotFound):
            client.pfs.get_file("r@master:/x")


def test_local_file_upload_streams_in_constant_memory(fake: FakeServer, tmp_path: Path) -> None:
    size = 256 * 1024 * 1024
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(size)  # sparse: no disk cost
    with fake.client() as client:
        tracemalloc.start()
        try:
            client.pfs.put_file_from_path("r@master", "/big.bin", big)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert fake.rec.bytes_received == size
    assert peak < 10 * CHUNK_SIZE, f"peak {peak} bytes while uploading {size}"


def test_callers_request_is_not_modified(fake: FakeServer) -> None:
    request = pps_pb2.CreatePipelineRequest(pipeline=pps_pb2.Pipeline(name="mine"))
    with fake.client(project="images") as client:
        assert [str(p) for p in client.pps.create_pipeline(request, update=True)] == ["images/mine"]
    assert not request.HasField("pipeline") or not request.pipeline.HasField("project")
    assert not request.update
    sent = fake.rec.calls[-1][1]
    assert (sent.pipeline.project.name, sent.update) == ("images", True)


def test_closed_client_says_so(fake: FakeServer) -> None:
    client = fake.client()
    client.close()
    client.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        client.version()
    with pytest.raises(RuntimeError, match="closed"):
        client.pfs.list_repo()
