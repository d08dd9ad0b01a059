"""Where to connect: address, TLS, token and project, and how they were chosen.

Resolution order for the address (first hit wins):

1. the ``address`` argument (the pachctl config is then not read at all: it may
   describe another cluster);
2. the ``PACHD_ADDRESS`` environment variable (as pachctl: it overrides the
   address of the active context, whose token, project and CAs still apply);
3. the active context of pachctl's config file (``PACH_CONFIG`` or
   ``~/.pachyderm/config.json``; ``PACH_CONTEXT`` overrides the active context
   name). A context without ``pachd_address`` means
   ``grpc://localhost:{port_forwarders.pachd or 30650}``;
4. ``localhost:30650``.

Token: the ``token`` argument, else ``PACH_PYTHON_AUTH_TOKEN`` (as the official
Python clients), else the context's ``session_token``. Project: the
``project`` argument, else the context's ``project``, else ``default``.

Schemes: ``grpc://`` and ``http://`` are plaintext, ``grpcs://`` and
``https://`` use TLS, no scheme means ``grpc://``; a missing port is 30650.
Server CAs from the config (``server_cas``, base64 PEM) also turn TLS on.

This module only reads files and the environment; it never opens a connection.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from pachmagic.client.refs import DEFAULT_PROJECT, InvalidRef, Repo
from pachmagic.errors import InvalidArgument

__all__ = ["Endpoint", "parse_address", "resolve_endpoint", "DEFAULT_PORT"]

DEFAULT_PORT = 30650
_SCHEMES = {"grpc": False, "http": False, "grpcs": True, "https": True}


@dataclass(frozen=True)
class Endpoint:
    """A resolved connection target.

    Attributes
    ----------
    target:
        ``host:port`` as given to gRPC.
    tls:
        Whether to use TLS.
    root_certs:
        PEM root certificates for TLS, or None for the system defaults.
    token:
        The auth token sent as ``authn-token`` metadata, or None.
    project:
        The default project for refs without one.
    source:
        How the address was chosen: ``argument``, ``PACHD_ADDRESS``,
        ``pachctl config context 'NAME' (PATH)`` or ``default``.
    """

    target: str
    tls: bool = False
    root_certs: bytes | None = None
    token: str | None = None
    project: str = DEFAULT_PROJECT
    source: str = "default"

    @property
    def hint(self) -> str:
        """A parenthetical for error messages saying where the address came from."""
        if self.source == "default":
            return "default address; set PACHD_ADDRESS or pass an address"
        if self.source == "argument":
            return "address given as argument"
        return f"from {self.source}"


def parse_address(address: str) -> tuple[str, bool]:
    """Parse a pachd address into a gRPC target and a TLS flag.

    Parameters
    ----------
    address:
        ``host[:port]`` or ``scheme://host[:port]`` with scheme ``grpc``,
        ``grpcs``, ``http`` or ``https``.

    Returns
    -------
    tuple[str, bool]
        ``("host:port", tls)``.

    Raises
    ------
    InvalidArgument
        For an unknown scheme, a path, query, user info, a bad port or no host.
    """
    text = address.strip()
    if not text:
        raise InvalidArgument("empty pachd address")
    if "://" not in text:
        text = "grpc://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise InvalidArgument(
            f"unsupported scheme {parts.scheme!r} in pachd address {address!r} "
            "(use grpc://, grpcs://, http:// or https://)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidArgument(f"invalid pachd address {address!r}: unexpected path or query")
    if parts.username is not None or parts.password is not None:
        raise InvalidArgument(f"invalid pachd address {address!r}: user info is not allowed")
    try:
        port = parts.port
    except ValueError:
        raise InvalidArgument(f"invalid port in pachd address {address!r}") from None
    host = parts.hostname
    if not host:
        raise InvalidArgument(f"missing host in pachd address {address!r}")
    if ":" in host:  # IPv6 literal: gRPC wants it bracketed
        host = f"[{host}]"
    return f"{host}:{port or DEFAULT_PORT}", _SCHEMES[scheme]


def _config_path(environ: Mapping[str, str], home: Path | None) -> Path:
    if environ.get("PACH_CONFIG"):
        return Path(environ["PACH_CONFIG"]).expanduser()
    return (home if home is not None else Path.home()) / ".pachyderm" / "config.json"


def _read_context(
    environ: Mapping[str, str], home: Path | None
) -> tuple[str, Path, dict[str, Any]] | None:
    """Return ``(context name, config path, context dict)`` or None without a config."""
    path = _config_path(environ, home)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"cannot read pachctl config {path}: {exc}") from None
    v2 = data.get("v2") if isinstance(data, dict) else None
    if not isinstance(v2, dict):
        return None
    contexts = v2.get("contexts") or {}
    name = environ.get("PACH_CONTEXT") or v2.get("active_context") or ""
    if not name:
        return None
    context = contexts.get(name) if isinstance(contexts, dict) else None
    if not isinstance(context, dict):
        origin = "PACH_CONTEXT" if environ.get("PACH_CONTEXT") else "active_context"
        raise InvalidArgument(f"pachctl config {path}: context {name!r} (from {origin}) does not exist")
    return name, path, context


def _context_address(context: Mapping[str, Any]) -> str:
    address = context.get("pachd_address")
    if isinstance(address, str) and address.strip():
        return address
    forwarders = context.get("port_forwarders") or {}
    port = forwarders.get("pachd") if isinstance(forwarders, dict) else None
    return f"grpc://localhost:{port or DEFAULT_PORT}"


def _context_certs(context: Mapping[str, Any], path: Path) -> bytes | None:
    cas = context.get("server_cas")
    if not cas:
        return None
    try:
        return base64.b64decode(cas, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidArgument(f"pachctl config {path}: server_cas is not valid base64") from None


def resolve_endpoint(
    address: str | None = None,
    *,
    token: str | None = None,
    project: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Endpoint:
    """Resolve where and how to connect (see the module docstring for the order).

    Parameters
    ----------
    address:
        An explicit pachd address; wins over everything else.
    token:
        An explicit auth token.
    project:
        An explicit default project.
    environ:
        The environment to read (``os.environ`` by default).
    home:
        The home directory for ``~/.pachyderm/config.json`` (tests).

    Returns
    -------
    Endpoint
        The target, TLS settings, token, project and the address' source.
    """
    env = os.environ if environ is None else environ
    context: tuple[str, Path, dict[str, Any]] | None = None
    if address is not None:
        chosen, source = address, "argument"
    else:
        context = _read_context(env, home)
        if env.get("PACHD_ADDRESS"):
            chosen, source = env["PACHD_ADDRESS"], "PACHD_ADDRESS"
        elif context is not None:
            name, path, ctx = context
            chosen, source = _context_address(ctx), f"pachctl config context {name!r} ({path})"
        else:
            chosen, source = f"localhost:{DEFAULT_PORT}", "default"
    target, tls = parse_address(chosen)
    certs = None
    ctx_token = ctx_project = None
    if context is not None:
        _, path, ctx = context
        certs = _context_certs(ctx, path)
        ctx_token = ctx.get("session_token") or None
        ctx_project = ctx.get("project") or None
    chosen_project = project or ctx_project or DEFAULT_PROJECT
    try:
        Repo("x", project=chosen_project)
    except InvalidRef as exc:
        raise InvalidArgument(str(exc)) from None
    return Endpoint(
        target=target,
        tls=tls or certs is not None,
        root_certs=certs,
        token=token or env.get("PACH_PYTHON_AUTH_TOKEN") or ctx_token,
        project=chosen_project,
        source=source,
    )
