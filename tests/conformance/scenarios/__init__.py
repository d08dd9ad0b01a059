"""The corpus: scenarios registered by name, each a function of one ``Run``.

A scenario starts on an empty server (the runner resets both before it) and
makes its calls through ``run.pfs``/``run.pps``/... (raw gRPC) and ``run.sdk``
(pachyderm-sdk). It asserts nothing: what the reference pachd answers is right,
and the runner compares. Setup whose answers are not the point goes through
``run.quiet``. Scenario code must behave identically on both servers given the
answers it gets, so it may branch on an answer only through what it records.
"""

from __future__ import annotations

from typing import Callable

from ..harness import Run

Scenario = Callable[[Run], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        if name in SCENARIOS:
            raise ValueError(f"two scenarios named {name!r}")
        SCENARIOS[name] = fn
        return fn

    return register


def load_all() -> dict[str, Scenario]:
    """Import every scenario module (they register themselves)."""
    from . import admin, pfs_branches, pfs_commits, pfs_files, pfs_repos, pfs_sets, pps_jobs, pps_pipelines  # noqa: F401

    return SCENARIOS
