"""Branch triggers checked as pachd checks them when CreateBranch carries one.

pachd (``validateTrigger``) refuses a trigger without a branch, with a bad
branch name, an unparsable size or cron spec, a negative commit count, or one
that would form a loop through other branches' triggers; each with its text
and code UNKNOWN. This module only checks; storage keeps the trigger.
"""

from __future__ import annotations

from typing import Iterable

from ..._proto import pfs_pb2
from ...errors import Unknown
from ..storage.model import validate_name
from ..storage import human_size

__all__ = ["check_trigger"]



def _cron_problem(spec: str) -> str | None:
    """robfig/cron's standard parser's complaint about a spec's shape, if any."""
    if spec.startswith("@"):
        return None if spec.split()[0] in _DESCRIPTORS or spec.startswith("@every ") else f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"Expected exactly 5 fields, found {len(fields)}: {spec}"
    return None


_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def check_trigger(
    branch: str, trigger: pfs_pb2.Trigger, has_provenance: bool, triggers_of_repo: Iterable[tuple[str, str]]
) -> None:
    """Raise pachd's error for a trigger it would refuse on ``branch``.

    ``triggers_of_repo`` lists (branch, the branch its trigger follows) for the
    repo's branches that have a trigger.
    """
    if not trigger.branch:
        raise Unknown("triggers must specify a branch to trigger on")
    validate_name(trigger.branch)
    if trigger.rate_limit_spec and (problem := _cron_problem(trigger.rate_limit_spec)):
        raise Unknown(f"invalid trigger rate limit spec: {problem}")
    if trigger.size and human_size(trigger.size) is None:
        raise Unknown(f"invalid trigger size: invalid size: '{trigger.size}'")
    if trigger.commits < 0:
        raise Unknown("can't trigger on a negative number of commits")
    if trigger.cron_spec and (problem := _cron_problem(trigger.cron_spec)):
        raise Unknown(f"invalid trigger cron spec: {problem}")
    follows = dict(triggers_of_repo)
    current = trigger.branch
    seen = set()
    while current not in seen:
        if current == branch:
            raise Unknown("triggers cannot form a loop")
        seen.add(current)
        if current not in follows:
            break
        current = follows[current]
    if has_provenance:
        raise Unknown("a branch cannot have both provenance and a trigger")
