"""``--auth-token`` / ``PACHMAGIC_AUTH_TOKEN``: every call needs the token, and
serving beyond loopback needs one.

Every method of every service the server registers is called without a token
and with a wrong one (raw gRPC, so the message bodies do not matter): all of
them must answer UNAUTHENTICATED, before any servicer code runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import grpc
import pytest
from click.testing import CliRunner

from pachmagic._proto import (
    admin_pb2,
    auth_pb2,
    enterprise_pb2,
    identity_pb2,
    license_pb2,
    pachmagic_ext_pb2,
    pfs_pb2,
    pps_pb2,
    transaction_pb2,
    version_pb2,
)
from pachmagic.cli import main
from pachmagic.errors import InvalidArgument, Unauthenticated
from pachmagic.server import LocalServer
from pachmagic.server.app import ServerApp, is_loopback
from pachmagic.server.local import READY_PREFIX

TOKEN = "correct-horse-battery-staple"
MODULES = [admin_pb2, auth_pb2, enterprise_pb2, identity_pb2, license_pb2, pachmagic_ext_pb2, pfs_pb2,
           pps_pb2, transaction_pb2, version_pb2]


def all_methods() -> Iterator[tuple[str, bool, bool]]:
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield f"/{service.full_name}/{method.name}", method.client_streaming, method.server_streaming
    yield "/grpc.health.v1.Health/Check", False, False
    yield "/no.such.Service/Method", False, False


def call(channel: grpc.Channel, path: str, client_streaming: bool, server_streaming: bool, metadata: Any) -> None:
    if client_streaming and server_streaming:
        list(channel.stream_stream(path)(iter([b""]), metadata=metadata, timeout=10))
    elif client_streaming:
        channel.stream_unary(path)(iter([b""]), metadata=metadata, timeout=10)
    elif server_streaming:
        list(channel.unary_stream(path)(b"", metadata=metadata, timeout=10))
    else:
        channel.unary_unary(path)(b"", metadata=metadata, timeout=10)


@pytest.fixture
def secured(server_factory: Callable[..., LocalServer]) -> LocalServer:
    return server_factory(auth_token=TOKEN)


@pytest.mark.parametrize("metadata", [None, (("authn-token", "wrong"),), (("authn-token", ""),)], ids=["none", "wrong", "empty"])
def test_every_rpc_without_the_token_is_unauthenticated(secured: LocalServer, metadata: Any) -> None:
    methods = list(all_methods())
    assert len(methods) > 150
    with grpc.insecure_channel(secured.address) as channel:
        for path, client_streaming, server_streaming in methods:
            with pytest.raises(grpc.RpcError) as caught:
                call(channel, path, client_streaming, server_streaming, metadata)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, path  # type: ignore[attr-defined]


def test_the_right_token_works_with_our_client_and_the_sdk(secured: LocalServer) -> None:
    with secured.client() as client:  # LocalServer passes its token
        client.pfs.create_repo("data")
        client.pfs.put_file("data@master", "/a", b"x")
        assert client.pfs.get_file("data@master:/a") == b"x"
    with LocalServer.client(secured, token="nope") as wrong:
        with pytest.raises(Unauthenticated):
            wrong.pfs.list_repo()
    from pachyderm_sdk import Client

    host, port = secured.address.rsplit(":", 1)
    sdk = Client(host=host, port=int(port), auth_token=TOKEN)
    assert [r.repo.name for r in sdk.pfs.list_repo()] == ["data"]
    anonymous = Client(host=host, port=int(port))
    with pytest.raises(grpc.RpcError) as caught:
        list(anonymous.pfs.list_repo())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]


def test_token_from_the_environment_in_a_child_process(server_factory: Callable[..., LocalServer]) -> None:
    # LocalServer hands the token to ``pachmagic serve`` as PACHMAGIC_AUTH_TOKEN.
    child = server_factory(auth_token=TOKEN, in_process=False)
    with grpc.insecure_channel(child.address) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            call(channel, "/versionpb_v2.API/GetVersion", False, False, None)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        call(channel, "/versionpb_v2.API/GetVersion", False, False, (("authn-token", TOKEN),))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", ""])
def test_non_loopback_without_a_token_is_refused_at_start(tmp_path: Path, host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(InvalidArgument, match="needs an auth token"):
        ServerApp(tmp_path, host=host)
    result = CliRunner().invoke(main, ["serve", "--host", host or "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path)],
                                env={"PACHMAGIC_AUTH_TOKEN": ""})
    assert result.exit_code != 0 and "needs an auth token" in result.output


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))


def test_token_from_a_file_is_not_on_the_command_line(tmp_path: Path) -> None:
    """``--auth-token-file``: the token never appears in the process list (``/proc/PID/cmdline``)."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pachmagic", "serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
         "--auth-token-file", str(token_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PACHMAGIC_AUTH_TOKEN")},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(READY_PREFIX), line
        address = line[len(READY_PREFIX):].split()[0]
        if os.path.exists(f"/proc/{proc.pid}/cmdline"):
            assert TOKEN.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        with grpc.insecure_channel(address) as channel:
            with pytest.raises(grpc.RpcError) as caught:
                call(channel, "/versionpb_v2.API/GetVersion", False, False, None)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
            call(channel, "/versionpb_v2.API/GetVersion", False, False, (("authn-token", TOKEN),))
    finally:
        proc.terminate()
        proc.wait(30)


def test_token_file_problems_are_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for args, message in [
        (["--auth-token-file", str(empty)], "is empty"),
        (["--auth-token-file", str(tmp_path / "missing")], "cannot read the auth token file"),
        (["--auth-token-file", str(empty), "--auth-token", "x"], "give the token once"),
    ]:
        result = CliRunner().invoke(main, ["serve", "--port", "0", "--data-dir", str(tmp_path / "d"), *args],
                                    env={"PACHMAGIC_AUTH_TOKEN": "", "PACHMAGIC_AUTH_TOKEN_FILE": ""})
        assert result.exit_code != 0 and message in result.output, result.output
