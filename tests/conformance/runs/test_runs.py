"""The run corpus against both servers: jobs run on each, every call compared field by field.

As ``../test_conformance.py``, with the two servers of ``conftest.py`` (both
run their jobs). A difference is fixed in our server or named in
``../allowlist.py`` with its reason.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ..allowlist import allowed_by
from ..compare import differences, normalised, report
from ..harness import Run, Side
from ..tally import Tally
from . import load_all

RUN_SCENARIOS = load_all()
def _run(side: Side, name: str) -> Run:
    side.reset()
    return Run(side).execute(RUN_SCENARIOS[name])


@pytest.mark.parametrize("name", sorted(RUN_SCENARIOS))
def test_run_scenario(name: str, running_sides: tuple[Side, Side], run_tally: Tally) -> None:
    # Both servers at once: most of a scenario is waiting for jobs, and the two never share state.
    with ThreadPoolExecutor(max_workers=2) as pool:
        ours, ref = pool.map(_run, running_sides, (name, name))
    found = differences(name, ours.outcomes, ref.outcomes)
    allowed = [(d, entry) for d in found if (entry := allowed_by(d)) is not None]
    unexplained = [d for d in found if allowed_by(d) is None]
    a, b = normalised(ours.outcomes, ref.outcomes)
    labelled = [
        [{"call": o.label, "request": o.request, **n} for o, n in zip(run.outcomes, norm)]
        for run, norm in ((ours, a), (ref, b))
    ]
    run_tally.add(name, len(ours.outcomes), unexplained, allowed, {"ours": labelled[0], "pachd": labelled[1]})
    if unexplained or ours.aborted or ref.aborted:
        pytest.fail(report(name, unexplained, aborted=(ours.aborted, ref.aborted)), pytrace=False)
