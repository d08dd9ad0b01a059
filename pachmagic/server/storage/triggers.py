"""Branch triggers: when a commit finishes, move the branches that follow it, as pachd does.

A branch with a trigger (``Trigger{branch, size, commits, all, ...}``) gets its
head moved to the followed branch's new head once the condition holds: enough
bytes added since its own head (``size``), enough commits since its own head
(``commits``), all of them or any (``all``). Chains of triggers move in one go.
Cron triggers and rate limits are pachd's background timers and are not fired
here. Runs inside the finishing transaction. No gRPC here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..._proto import pfs_pb2
from .model import ORIGIN_AUTO

if TYPE_CHECKING:
    from .catalog_base import CatalogBase, CommitRow

__all__ = ["fire_triggers", "human_size"]

_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")


def human_size(text: str) -> int | None:
    """docker/go-units' FromHumanSize (decimal units), as pachd reads trigger sizes."""
    match = _SIZE_RE.match(text)
    if match is None:
        return None
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def fire_triggers(catalog: "CatalogBase", finished: "CommitRow") -> None:
    """Move every branch of the repo whose trigger now holds, following chains."""
    db = catalog.db
    branches: dict[str, tuple[int, int | None, str]] = {
        name: (bid, head, trigger)
        for bid, name, head, trigger in db.all(
            "SELECT id, name, head_seq, trigger FROM branches WHERE repo_id = ?", (finished.repo_id,)
        )
    }
    new_heads: dict[str, int | None] = {}
    if finished.branch:
        new_heads[finished.branch] = finished.seq

    def move(name: str) -> int | None:
        if name in new_heads:
            return new_heads[name]
        new_heads[name] = None
        branch_id, head, trigger_hex = branches[name]
        if not trigger_hex:
            return None
        trigger = pfs_pb2.Trigger()
        trigger.ParseFromString(bytes.fromhex(trigger_hex))
        if trigger.cron_spec or trigger.branch not in branches:
            return None
        new_head = move(trigger.branch)
        if new_head is None or new_head == head:
            return None
        if not _holds(catalog, trigger, head, new_head):
            return None
        db.execute("UPDATE branches SET head_seq = ? WHERE id = ?", (new_head, branch_id))
        new_heads[name] = new_head
        return new_head

    for name in sorted(branches):
        move(name)


def _holds(catalog: "CatalogBase", trigger: pfs_pb2.Trigger, old_seq: int | None, new_seq: int) -> bool:
    result = trigger.all
    conditions: list[bool] = []
    new = catalog.commit_row(new_seq)
    old = catalog.commit_row(old_seq) if old_seq is not None else None
    if trigger.size:
        size = human_size(trigger.size)
        conditions.append(size is not None and new.size_bytes - (old.size_bytes if old else 0) >= size)
    if trigger.commits:
        row, commits = new, 0
        while commits < trigger.commits:
            if row.parent_seq is None:
                if row.origin != ORIGIN_AUTO:
                    commits += 1
                break
            if old is not None and old.id == row.id:
                break
            row = catalog.commit_row(row.parent_seq)
            commits += 1
        conditions.append(commits == trigger.commits)
    for cond in conditions:
        result = (result and cond) if trigger.all else (result or cond)
    return result
