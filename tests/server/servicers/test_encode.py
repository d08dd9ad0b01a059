"""The bulk FileInfo encoder writes exactly what protobuf writes (``servicers/_encode.py``).

The standard listing RPCs send these bytes as they are: any difference from
``file_info_pb(info).SerializeToString()`` would be a different answer.
"""

from __future__ import annotations

import itertools
import random

import pytest

from pachmagic._proto import pfs_pb2
from pachmagic.server.servicers import _convert as cv
from pachmagic.server.servicers._encode import file_info, file_infos
from pachmagic.server.storage import CommitKey, RepoKey
from pachmagic.server.storage.model import DIR, FILE, FileInfo


def _infos() -> list[FileInfo]:
    rng = random.Random(7)
    commits = [
        CommitKey(RepoKey("default", "photos"), "a" * 32),
        CommitKey(RepoKey("my-project", "x" * 140, "spec"), "0123456789abcdef0123456789abcdef"),
    ]
    paths = ["/a", "/dir/", "/ünïcode/файл.txt", "/" + "p" * 300, "/", "/x y"]
    out = []
    for commit, path, kind, size, digest, committed, datum, branch in itertools.product(
        commits, paths, (FILE, DIR), (0, 1, 127, 128, 2**40), (b"", bytes(range(32))),
        (None, 0.0, 1_700_000_000.123456789, 12.5), ("default", "", "d" * 200), (None, "master"),
    ):
        if rng.random() < 0.25:  # a sample of the product keeps the test quick
            out.append(FileInfo(commit, path, kind, size, digest, committed, datum, branch))
    return out


def test_each_info_is_serialized_exactly_as_protobuf_does() -> None:
    infos = _infos()
    assert len(infos) > 1000
    for info in infos:
        assert file_info(info) == cv.file_info_pb(info).SerializeToString(), info


def test_a_listing_with_changing_commits_keeps_each_message_right() -> None:
    infos = _infos()
    random.Random(3).shuffle(infos)
    encoded = list(file_infos(infos))
    assert encoded == [cv.file_info_pb(i).SerializeToString() for i in infos]
    parsed = pfs_pb2.FileInfo.FromString(encoded[0])
    assert parsed == cv.file_info_pb(infos[0])


def test_add_raw_drops_only_the_named_serializers() -> None:
    from pachmagic._proto import pfs_pb2_grpc
    from pachmagic.server.servicers._base import add_raw

    class Server:
        def __init__(self) -> None:
            self.registered: dict[str, object] = {}

        def add_generic_rpc_handlers(self, handlers: object) -> None:
            self.generic = handlers

        def add_registered_method_handlers(self, service: str, handlers: dict[str, object]) -> None:
            self.service, self.registered = service, handlers

    server = Server()
    add_raw(pfs_pb2_grpc.add_APIServicer_to_server, pfs_pb2_grpc.APIServicer(), server, {"ListFile", "GlobFile"})
    assert server.service == "pfs_v2.API"
    assert server.registered["ListFile"].response_serializer is None  # type: ignore[attr-defined]
    assert server.registered["GlobFile"].response_serializer is None  # type: ignore[attr-defined]
    assert server.registered["WalkFile"].response_serializer is not None  # type: ignore[attr-defined]
    assert server.registered["InspectFile"].response_serializer is not None  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="NoSuchMethod"):
        add_raw(pfs_pb2_grpc.add_APIServicer_to_server, pfs_pb2_grpc.APIServicer(), Server(), {"NoSuchMethod"})
