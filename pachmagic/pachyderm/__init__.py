"""Pachyderm's rules, written once: what the client and the embedded server must agree on.

- ``spec``: the pipeline spec codec (pachctl's JSON/YAML to ``CreatePipelineRequest`` and back);
- ``inputs``: walking and ordering input trees (pachd's ``SortInput``);
- ``datums``: datum IDs, skip hashes and planning (cross, union, join, group, cron);
- ``globs``: glob patterns (ohmyglob's rules) and the join/group keys over their captures;
- ``paths``: path cleaning and the ``/pfs`` layout a transform sees;
- ``wire``: protobuf varints and length-delimited fields for the hand-written fast paths.

This package imports only ``pachmagic._proto``, ``pachmagic.errors`` and third-party
libraries (``tests/test_layering.py``): no client, no server, no gRPC. It holds rules,
not state: pure functions and small value types.
"""

from __future__ import annotations
