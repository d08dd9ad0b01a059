"""The PPS corpus of jobs that run: scenarios whose pipelines really run, on both servers.

The rest of the corpus (``scenarios/``) holds jobs, as a pachd without workers
does. These scenarios need the reference pachd's ``-workers`` mode
(tests/realpachd: Pachyderm's own worker and sidecar as local processes) and
our server running jobs; they compare what the pipeline engine decides: datum
ids and states, the skip rule, merged outputs, failures and retries, job
states and counters, ListDatum of finished jobs, and user code's logs.

A scenario is a function of one ``Run`` (``..harness``), registered here with
``@run_scenario(name)``; it calls through ``r.pfs``/``r.pps``/``r.sdk``
(recorded) and ``r.quiet`` (unrecorded setup and waits), and asserts nothing:
the reference pachd's answers are right, and ``test_runs.py`` compares.
"""

from __future__ import annotations

from typing import Callable

from ..harness import Run

Scenario = Callable[[Run], None]
RUN_SCENARIOS: dict[str, Scenario] = {}


def run_scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        if name in RUN_SCENARIOS:
            raise ValueError(f"two run scenarios named {name!r}")
        RUN_SCENARIOS[name] = fn
        return fn

    return register


def load_all() -> dict[str, Scenario]:
    """Import every scenario module (they register themselves)."""
    from . import commit_sets, failures, incremental, inputs, lifecycle, logs  # noqa: F401

    return RUN_SCENARIOS
