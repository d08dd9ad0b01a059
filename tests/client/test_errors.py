"""The error seam: every status code from a real gRPC server becomes its PachError class.

No mocks: a tiny in-process gRPC server (``fake`` fixture) aborts with each
code, on unary calls and in the middle of streams; an unreachable address
gives ``ConnectionFailed`` naming the address and how it was chosen.
"""

from __future__ import annotations

import ast
import io
import socket
from pathlib import Path

import grpc
import pytest

from pachmagic import errors
from pachmagic.client import Client, connect
from tests.client._fakes import FakeServer, free_port

CODES = [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK]


@pytest.mark.parametrize("code", CODES, ids=lambda c: c.name)
def test_each_status_code_maps_to_its_class(fake: FakeServer, code: grpc.StatusCode) -> None:
    fake.rec.error = (code, f"details for {code.name}")
    with fake.client() as client, pytest.raises(errors.PachError) as info:
        client.version()
    error = info.value
    assert type(error) is errors.error_class_for_code(code.name)
    assert error.code == code.name
    assert error.details == str(error) == f"details for {code.name}"
    assert isinstance(error.__cause__, grpc.RpcError)


def test_server_unavailable_is_not_a_connection_failure(fake: FakeServer) -> None:
    fake.rec.error = (grpc.StatusCode.UNAVAILABLE, "commit default/photos@x not finished")
    with fake.client() as client, pytest.raises(errors.Unavailable) as info:
        client.pfs.inspect_repo("photos")
    assert not isinstance(info.value, errors.ConnectionFailed)


def test_errors_on_streams_are_translated_mid_stream(fake: FakeServer) -> None:
    fake.rec.stream_error_after = 2
    with fake.client() as client:
        with pytest.raises(errors.NotFound, match="repo default/gone not found"):
            client.pfs.list_repo()
        logs = client.pps.get_logs(pipeline="p")
        assert next(logs).message == "line 0"
        assert next(logs).message == "line 1"
        with pytest.raises(errors.Internal, match="log backend broke"):
            next(logs)
        reader = client.pfs.open_file("r@master:/f")
        assert reader.read(6) == b"AAABBB"
        with pytest.raises(errors.DataLoss):
            reader.read()


def test_streams_are_lazy_until_iterated(fake: FakeServer) -> None:
    with fake.client() as client:
        logs = client.pps.get_logs(pipeline="p", follow=True)
        assert "GetLogs" not in fake.rec.names()
        assert next(logs).message == "line 0"
        logs.close()  # cancels the call
        assert fake.rec.names() == ["GetLogs"]


def test_open_file_raises_at_open(fake: FakeServer) -> None:
    fake.rec.error = (grpc.StatusCode.NOT_FOUND, "file /nope not found in repo default/r at commit ")
    with fake.client() as client, pytest.raises(errors.NotFound):
        client.pfs.open_file("r@master:/nope")


def test_unreachable_address_names_it_and_its_source() -> None:
    port = free_port()
    with connect(f"127.0.0.1:{port}") as client:
        with pytest.raises(errors.ConnectionFailed) as info:
            client.version()
        assert str(info.value) == f"could not reach pachd at 127.0.0.1:{port} (address given as argument)"
        assert info.value.code == "UNAVAILABLE" and isinstance(info.value, errors.Unavailable)
        with pytest.raises(errors.ConnectionFailed):
            client.pfs.list_repo()  # streams too
        with pytest.raises(errors.ConnectionFailed):
            client.pfs.put_file("r@master", "/a", b"x")  # and client streams


def test_unreachable_from_env_and_config(tmp_path: Path) -> None:
    port = free_port()
    with Client(environ={"PACHD_ADDRESS": f"localhost:{port}"}, home=tmp_path) as client:
        with pytest.raises(errors.ConnectionFailed, match=rf"localhost:{port} \(from PACHD_ADDRESS\)"):
            client.version()
    cfg = tmp_path / ".pachyderm" / "config.json"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(f'{{"v2": {{"active_context": "local", "contexts": {{"local": {{"pachd_address": "grpc://127.0.0.1:{port}"}}}}}}}}')
    with Client(environ={}, home=tmp_path) as client, pytest.raises(errors.ConnectionFailed) as info:
        client.version()
    assert f"from pachctl config context 'local' ({cfg})" in str(info.value)


def test_unreachable_default_address_suggests_pachd_address(tmp_path: Path) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 30650)) == 0:
            pytest.skip("something listens on localhost:30650")
    with Client(environ={}, home=tmp_path) as client, pytest.raises(errors.ConnectionFailed) as info:
        client.version()
    assert str(info.value) == (
        "could not reach pachd at localhost:30650 (default address; set PACHD_ADDRESS or pass an address)"
    )


def test_unresolvable_host_is_a_connection_failure() -> None:
    with connect("no-such-host.invalid:30650") as client, pytest.raises(errors.ConnectionFailed):
        client.version()


def test_local_upload_errors_surface_as_themselves(fake: FakeServer) -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            raise OSError("disk on fire")

    with fake.client() as client, pytest.raises(OSError, match="disk on fire"):
        client.pfs.put_files("r@master", [("/a", b"ok"), ("/b", Broken())])


def test_only_errors_module_catches_rpc_errors() -> None:
    """The single seam: no other client module mentions grpc.RpcError or StatusCode."""
    package = Path(__file__).resolve().parents[2] / "pachmagic" / "client"
    offenders = []
    for path in package.glob("*.py"):
        if path.name == "_errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("RpcError", "StatusCode"):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders
