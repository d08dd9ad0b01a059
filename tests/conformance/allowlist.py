"""The differences from the reference pachd that we keep on purpose, each with its reason.

Every other difference the conformance corpus finds is a bug of ours. An entry
names where a difference may occur (glob patterns over the scenario, the call
label and the field path of ``compare.Difference``; optionally the two values)
and one line saying why it is right to differ there. "Simpler for us" is not a
reason. Keep the list short: the issue aims at no more than 15 entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Callable

from .compare import Difference


@dataclass(frozen=True)
class Allow:
    path: str  # glob over Difference.path ("response.*hash")
    reason: str
    call: str = "*"  # glob over the call label ("pfs.GetFile", "sdk.pfs.*")
    scenario: str = "*"
    ours: str = "*"  # glob over the rendered value on our side
    ref: str = "*"  # ... and on pachd's
    when: Callable[[Difference], bool] | None = None  # a rule over both values, where a glob cannot say it

    def matches(self, d: Difference) -> bool:
        return (
            (self.when is None or self.when(d))
            and fnmatchcase(d.path, self.path)
            and fnmatchcase(d.label, self.call)
            and fnmatchcase(d.scenario, self.scenario)
            and fnmatchcase(_text(d.ours), self.ours)
            and fnmatchcase(_text(d.ref), self.ref)
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _tail_of_pachds(d: Difference) -> bool:
    """Our message is the last part of pachd's, the part after one of its ``context: `` prefixes or lines."""
    ours, ref = d.ours, d.ref
    if not isinstance(ours, str) or not isinstance(ref, str) or not ours or not ref.endswith(ours):
        return False
    head = ref[: len(ref) - len(ours)]
    return head.endswith((": ", "\n"))


ALLOWED: list[Allow] = [
    Allow(
        "message",
        "pachd prefixes errors with its internal call chain ('pick commit tx: ', 'repo (id=0, ...) not found' lines); "
        "we send its final part, the canonical text clients match on",
        when=_tail_of_pachds,
    ),
    Allow(
        "response*worker_id",
        "a log line's worker id names the worker: pachd's is its pod (<project>-<pipeline>-v<N>-<5 random letters>, "
        "new with every pod); ours is its one local worker (<project>-<pipeline>-local)",
        call="pps.GetLogs*",
    ),
    Allow(
        "response*hash",
        "file and directory hashes: pachd hashes its own chunked file-set format; ours hashes content",
    ),
]


def allowed_by(d: Difference) -> Allow | None:
    for entry in ALLOWED:
        if entry.matches(d):
            return entry
    return None
