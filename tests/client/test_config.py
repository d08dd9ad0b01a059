"""Address resolution: argument, PACHD_ADDRESS, pachctl config, default; schemes; bad addresses."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from pachmagic.client import Client
from pachmagic.client._config import parse_address, resolve_endpoint
from pachmagic.errors import InvalidArgument

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def write_config(path: Path, contexts: dict[str, Any], active: str | None = "local") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    v2: dict[str, Any] = {"contexts": contexts, "metrics": True}
    if active is not None:
        v2["active_context"] = active
    path.write_text(json.dumps({"user_id": "u", "v2": v2}))
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_default_when_nothing_is_configured(home: Path) -> None:
    ep = resolve_endpoint(environ={}, home=home)
    assert (ep.target, ep.tls, ep.token, ep.project, ep.source) == (
        "localhost:30650", False, None, "default", "default",
    )
    assert "set PACHD_ADDRESS" in ep.hint


def test_argument_wins_and_ignores_the_config(home: Path) -> None:
    write_config(home / ".pachyderm/config.json", {"local": {"pachd_address": "grpc://cfg:1", "session_token": "t", "project": "p"}})
    env = {"PACHD_ADDRESS": "env:2"}
    ep = resolve_endpoint("arg:3", environ=env, home=home)
    assert (ep.target, ep.source, ep.token, ep.project) == ("arg:3", "argument", None, "default")


def test_pachd_address_env_beats_config_but_keeps_its_token_and_project(home: Path) -> None:
    write_config(home / ".pachyderm/config.json", {"local": {"pachd_address": "grpc://cfg:1", "session_token": "t", "project": "p"}})
    ep = resolve_endpoint(environ={"PACHD_ADDRESS": "grpcs://env:2"}, home=home)
    assert (ep.target, ep.tls, ep.source, ep.token, ep.project) == ("env:2", True, "PACHD_ADDRESS", "t", "p")


def test_config_active_context(home: Path) -> None:
    cfg = write_config(
        home / ".pachyderm/config.json",
        {"local": {"pachd_address": "grpc://cfg:1234", "session_token": "secret", "project": "images"}},
    )
    ep = resolve_endpoint(environ={}, home=home)
    assert ep.target == "cfg:1234"
    assert ep.source == f"pachctl config context 'local' ({cfg})"
    assert (ep.token, ep.project, ep.tls) == ("secret", "images", False)


def test_pach_config_and_pach_context_env(tmp_path: Path, home: Path) -> None:
    cfg = write_config(
        tmp_path / "elsewhere.json",
        {"a": {"pachd_address": "a:1"}, "b": {"pachd_address": "b:2"}},
        active="a",
    )
    assert resolve_endpoint(environ={"PACH_CONFIG": str(cfg)}, home=home).target == "a:1"
    ep = resolve_endpoint(environ={"PACH_CONFIG": str(cfg), "PACH_CONTEXT": "b"}, home=home)
    assert ep.target == "b:2" and ep.source == f"pachctl config context 'b' ({cfg})"


def test_context_without_address_uses_port_forwarder(home: Path) -> None:
    write_config(home / ".pachyderm/config.json", {"local": {"port_forwarders": {"pachd": 31000}}})
    assert resolve_endpoint(environ={}, home=home).target == "localhost:31000"
    write_config(home / ".pachyderm/config.json", {"local": {"pachd_address": ""}})
    assert resolve_endpoint(environ={}, home=home).target == "localhost:30650"


def test_server_cas_turn_tls_on(home: Path) -> None:
    cas = base64.b64encode(PEM).decode()
    write_config(home / ".pachyderm/config.json", {"local": {"pachd_address": "grpc://h:1", "server_cas": cas}})
    ep = resolve_endpoint(environ={}, home=home)
    assert ep.tls and ep.root_certs == PEM


def test_token_precedence(home: Path) -> None:
    write_config(home / ".pachyderm/config.json", {"local": {"pachd_address": "h:1", "session_token": "ctx"}})
    assert resolve_endpoint(environ={}, home=home).token == "ctx"
    env = {"PACH_PYTHON_AUTH_TOKEN": "env"}
    assert resolve_endpoint(environ=env, home=home).token == "env"
    assert resolve_endpoint(token="arg", environ=env, home=home).token == "arg"
    assert resolve_endpoint("x:1", environ=env, home=home).token == "env"


def test_project_argument_wins(home: Path) -> None:
    write_config(home / ".pachyderm/config.json", {"local": {"pachd_address": "h:1", "project": "ctx"}})
    assert resolve_endpoint(project="mine", environ={}, home=home).project == "mine"
    with pytest.raises(InvalidArgument, match="project"):
        resolve_endpoint(project="bad/name", environ={}, home=home)


def test_config_without_active_context_is_ignored(home: Path) -> None:
    write_config(home / ".pachyderm/config.json", {}, active=None)
    assert resolve_endpoint(environ={}, home=home).source == "default"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "cannot read pachctl config"),
        (json.dumps({"v2": {"active_context": "gone", "contexts": {}}}), "context 'gone'"),
        (json.dumps({"v2": {"active_context": "c", "contexts": {"c": {"server_cas": "!!"}}}}), "server_cas"),
    ],
)
def test_broken_config_is_a_clear_error(home: Path, content: str, message: str) -> None:
    path = home / ".pachyderm/config.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(InvalidArgument, match=message) as info:
        resolve_endpoint(environ={}, home=home)
    assert str(path) in str(info.value)


def test_missing_pach_context_names_it(home: Path) -> None:
    write_config(home / ".pachyderm/config.json", {"local": {}})
    with pytest.raises(InvalidArgument, match="'other' \\(from PACH_CONTEXT\\)"):
        resolve_endpoint(environ={"PACH_CONTEXT": "other"}, home=home)


@pytest.mark.parametrize(
    "address, target, tls",
    [
        ("localhost", "localhost:30650", False),
        ("localhost:650", "localhost:650", False),
        ("grpc://h:1", "h:1", False),
        ("http://h:1", "h:1", False),
        ("grpcs://h:1", "h:1", True),
        ("https://h", "h:30650", True),
        ("GRPC://H:1/", "h:1", False),
        ("  10.0.0.1:80 ", "10.0.0.1:80", False),
        ("[::1]:5", "[::1]:5", False),
        ("grpc://[::1]", "[::1]:30650", False),
    ],
)
def test_parse_address(address: str, target: str, tls: bool) -> None:
    assert parse_address(address) == (target, tls)


@pytest.mark.parametrize(
    "address, message",
    [
        ("", "empty"),
        ("ftp://h:1", "unsupported scheme 'ftp'"),
        ("grpc://h:1/path", "unexpected path"),
        ("grpc://h:1?x=1", "unexpected path"),
        ("grpc://user:pw@h:1", "user info"),
        ("h:notaport", "invalid port"),
        ("h:99999", "invalid port"),
        ("grpc://:1", "missing host"),
    ],
)
def test_bad_addresses(address: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_address(address)


def test_client_reports_how_the_address_was_chosen(home: Path) -> None:
    cfg = write_config(home / ".pachyderm/config.json", {"local": {"pachd_address": "grpc://cfg:7"}})
    with Client(environ={}, home=home) as client:
        assert client.address == "cfg:7"
        assert client.address_source == f"pachctl config context 'local' ({cfg})"
        assert "cfg:7" in repr(client)
    with Client(environ={"PACHD_ADDRESS": "e:1"}, home=home) as client:
        assert client.address_source == "PACHD_ADDRESS"
    with Client("a:1", environ={}, home=home) as client:
        assert (client.address_source, client.project, client.authenticated) == ("argument", "default", False)


def test_connect_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    from pachmagic.client import connect

    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("PACH_CONFIG", raising=False)
    monkeypatch.delenv("PACH_CONTEXT", raising=False)
    monkeypatch.setenv("PACHD_ADDRESS", "grpcs://from-env:9")
    monkeypatch.setenv("PACH_PYTHON_AUTH_TOKEN", "tok")
    with connect() as client:
        assert (client.address, client.address_source, client.tls, client.authenticated) == (
            "from-env:9", "PACHD_ADDRESS", True, True,
        )


def test_project_is_assignable_and_validated() -> None:
    with Client("h:1", environ={}) as client:
        client.project = "images"
        assert client.project == "images"
        with pytest.raises(InvalidArgument):
            client.project = "no good"
