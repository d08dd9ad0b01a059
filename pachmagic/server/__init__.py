"""The embedded Pachyderm-compatible server.

``LocalServer`` starts one; ``pachmagic serve`` runs one in the foreground.
Layers: ``servicers`` (gRPC only) over ``storage`` (PFS) and ``pipelines`` (PPS).
"""

from __future__ import annotations

from .local import LocalServer, default_data_dir

__all__ = ["LocalServer", "default_data_dir"]
