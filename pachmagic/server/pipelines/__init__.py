"""The embedded server's pipeline engine (PPS): pipelines, jobs, datums, execution.

No gRPC here; ``server/servicers/pps.py`` adapts ``Engine`` to ``pps_v2.API``.
"""

from __future__ import annotations

from .engine import Engine

__all__ = ["Engine"]
