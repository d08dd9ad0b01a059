"""The differences from the reference pachd that we keep on purpose, each with its reason.

Every other difference the conformance corpus finds is a bug of ours. An entry
names where a difference may occur (glob patterns over the scenario, the call
label and the field path of ``compare.Difference``; optionally the two values)
and one line saying why it is right to differ there. "Simpler for us" is not a
reason. Keep the list short: the issue aims at no more than 15 entries.
"""

from __future__ import annotations

import json
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
            fnmatchcase(d.path, self.path)
            and fnmatchcase(d.label, self.call)
            and fnmatchcase(d.scenario, self.scenario)
            and fnmatchcase(_text(d.ours), self.ours)
            and fnmatchcase(_text(d.ref), self.ref)
            and (self.when is None or self.when(d))
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _tail_of_pachds(d: Difference) -> bool:
    """Our message is the last part of pachd's, the part after one of its ``context: `` prefixes or a
    wrapped gRPC error's ``desc = ``; or, of a joined error (several lines), one of its lines or the
    last part of one."""
    ours, ref = d.ours, d.ref
    if not isinstance(ours, str) or not isinstance(ref, str) or not ours:
        return False
    if ref.endswith(ours) and ref[: len(ref) - len(ours)].endswith((": ", "\n", " desc = ")):
        return True
    return "\n" not in ours and any(
        line == ours or (line.endswith(ours) and line[: len(line) - len(ours)].endswith((": ", " desc = ")))
        for line in ref.split("\n")
    )


def _listed_meta_commit(d: Difference) -> bool:
    """The difference lies in a listed CommitInfo (InspectCommitSet's, ListCommit's) of a meta repo."""
    if not d.ours_item:
        return False
    node: Any = json.loads(d.ours_item)
    for part in d.path.split(".")[2:]:
        if isinstance(node, dict) and "commit" in node and part == "details":
            break
        node = node[int(part)] if isinstance(node, list) else node.get(part) if isinstance(node, dict) else None
    return isinstance(node, dict) and node.get("commit", {}).get("repo", {}).get("type") == "meta"


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
    Allow(
        "*",
        "pachd crashes on these requests (a Go panic, ABORTED with its stack); ours answers them",
        when=lambda d: d.ref_outcome.startswith("ABORTED panic:"),
    ),
    Allow(
        "*",
        "pachd's database refuses these inputs with an SQL error (SQLSTATE ...); ours names the rule or serves them",
        when=lambda d: "SQLSTATE" in d.ref_outcome,
    ),
    Allow(
        "message",
        "the reference is pachd.NewFull, which registers no identity service; a deployed pachd answers as ours",
        call="identity.*",
        ref="unknown service identity_v2.API",
    ),
    Allow(
        "response.*",
        "build strings: ours names pachmagic's version, pachd its Go toolchain",
        call="*.[Gg]et*[Vv]ersion",
        when=lambda d: d.path.split(".")[-1] in ("git_commit", "go_version"),
    ),
    Allow(
        "response.*",
        "cluster identity: the reference is a test build ('mockPachd', no deployment id); ours has a per-data-dir id "
        "and advertises its extension service in metadata",
        call="*nspect*luster",
        when=lambda d: d.path.split(".")[1] in ("id", "deployment_id", "metadata"),
    ),
    Allow(
        "*",
        "logs: the reference has no worker pods and no Loki to read logs from; ours has its workers' logs",
        call="pps.GetLogs",
        when=lambda d: d.ref_outcome.startswith("UNKNOWN no pods belonging to the rc"),
    ),
    Allow(
        "*",
        "a malformed glob in a pipeline input: pachd takes the spec and fails every job; ours refuses it when "
        "created, with pachd's words for the glob (rel, issue #15)",
        call="pps.CreatePipelineV2",
        when=lambda d: d.ref_outcome == "OK " and "invalid glob" in d.ours_outcome,
    ),
    Allow(
        "response.*",
        "a pipeline without cmd: a cluster runs the image's entrypoint; the embedded server pulls no images, so "
        "the pipeline fails, saying why",
        call="pps.ListPipeline",
        when=lambda d: "the transform has no cmd" in d.ours_item,
    ),
    Allow(
        "response.*details.size_bytes",
        "a meta commit's size: the meta repo holds each server's own record of a datum (pachd: its protobuf meta "
        "and the datum's .env file; ours: its meta and its logs)",
        when=_listed_meta_commit,
    ),
    Allow(
        "response*.details.workers_available",
        "running workers: the reference has no worker pods to count; ours counts the workers it runs",
    ),
]


def allowed_by(d: Difference) -> Allow | None:
    for entry in ALLOWED:
        if entry.matches(d):
            return entry
    return None
