"""The embedded server's pipeline engine (PPS): pipelines, jobs, datums, execution.

``Engine`` is the entry point (``engine.py``: which part owns what, and the lock
order); states are in ``states``, the records in ``server/storage/pipeline_records``.
No gRPC here; ``server/servicers/pps.py`` adapts ``Engine`` to ``pps_v2.API``.
"""

from __future__ import annotations

from .engine import Engine

__all__ = ["Engine"]
