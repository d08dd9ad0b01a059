"""pachctl's config file: where it is, reading it, replacing it safely.

The file is pachctl's (``PACH_CONFIG``, default ``~/.pachyderm/config.json``):
``{"user_id", "v2": {"active_context", "contexts": {NAME: {"pachd_address",
"session_token", "project", ...}}}}``. Writes keep every field the caller did
not touch, replace the file atomically and keep it private (mode 0600: it holds
tokens). Shared by the ``%pach config`` magics and the Jupyter server extension
(which must not import the magics); it imports nothing of pachmagic but errors.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from pachmagic.errors import InvalidArgument

__all__ = ["config_path", "read_config", "write_config"]


def config_path() -> Path:
    """pachctl's config file: ``PACH_CONFIG`` or ``~/.pachyderm/config.json``."""
    env = os.environ.get("PACH_CONFIG")
    return Path(env).expanduser() if env else Path.home() / ".pachyderm" / "config.json"


def read_config() -> dict[str, Any]:
    """The config file's content (a fresh skeleton when there is none)."""
    path = config_path()
    if not path.exists():
        return {"user_id": uuid.uuid4().hex, "v2": {"active_context": "", "contexts": {}, "metrics": True}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"cannot read pachctl config {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.setdefault("v2", {}), dict):
        raise InvalidArgument(f"pachctl config {path} is not a JSON object with a v2 object")
    v2 = data["v2"]
    if not isinstance(v2.setdefault("contexts", {}), dict):
        raise InvalidArgument(f"pachctl config {path}: v2.contexts is not an object")
    v2.setdefault("active_context", "")
    return data


def write_config(data: dict[str, Any]) -> Path:
    """Replace the config file atomically, readable only by its owner."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
