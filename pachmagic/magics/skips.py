"""``preview datums --pipeline NAME``: which datums the next job would skip, and which it would run.

For an existing pipeline, each planned datum (``preview.py``, by the server's
datum rules) is compared with the job the next one builds on — the base job:
the newest output commit of the pipeline's output branch that finished without
error and whose job succeeded, as the server picks it. A datum is

- ``skip``: the base job processed it (success, or itself skipped) with the
  same inputs (the same content hash for every non-reference input) and the
  same pipeline salt — it will not run;
- ``new``: the base job has no datum with this ID (or there is no base job);
- ``changed``: the base job had it, but it will run again: an input's content
  changed, it failed there, the pipeline was updated with ``--reprocess`` (a
  new salt), or ``reprocess_spec`` is ``every_job``.

Only public API calls (InspectPipeline, ListCommit, InspectJob, ListDatum), so
it works against a real pachd too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from IPython.core.error import UsageError

from pachmagic.client import Commit, DatumInfo, JobInfo, PachFrame
from pachmagic.errors import NotFound
from pachmagic.magics.display import ListingFrame

if TYPE_CHECKING:
    from pachmagic.client import Client
    from pachmagic.magics.preview import DatumFile

__all__ = ["SkipFrame", "BaseJob", "base_job", "statuses", "annotate", "at_commits"]

# How many output commits back to look for the base job.
HISTORY_LIMIT = 1000
STATUSES = ("skip", "new", "changed")


def at_commits(node: dict[str, Any], commits: list[str], project: str) -> dict[str, Any]:
    """The input spec with the inputs of each ``REPO@COMMIT`` reading that commit (``pfs.commit``)."""
    for text in commits:
        try:
            ref = Commit.from_uri(text)
        except ValueError as err:
            raise UsageError(f"%pach preview datums: --input-commit {text!r}: {err}") from None
        if ref.id is None:
            raise UsageError(f"%pach preview datums: --input-commit {text!r} names a branch; give REPO@COMMIT")
        hits = [p for p in _pfs_nodes(node)
                if p.get("repo") == ref.repo.name and (p.get("project") or project) == (ref.repo.project or project)]
        if not hits:
            raise UsageError(f"%pach preview datums: --input-commit {text}: the pipeline has no input from that repo")
        for pfs in hits:
            pfs["commit"] = ref.id
    return node


def _pfs_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    own = [node["pfs"]] if "pfs" in node else []
    kids = [c for kind in ("cross", "union", "join", "group") for c in node.get(kind) or []]
    return own + [p for child in kids for p in _pfs_nodes(child)]


@dataclass(frozen=True)
class BaseJob:
    """The job the next one builds on, and what it processed."""

    job: JobInfo
    datums: dict[str, DatumInfo]


def base_job(client: Client, project: str, pipeline: str, branch: str) -> BaseJob | None:
    """The newest successful job on the output branch's history (None: the next job builds on nothing)."""
    try:
        commits = client.pfs.list_commit(f"{project}/{pipeline}@{branch}", number=HISTORY_LIMIT)
    except NotFound:  # no output commit yet
        return None
    for commit in commits:
        if commit.error or commit.finished is None:
            continue
        try:
            job = client.pps.inspect_job(f"{project}/{pipeline}@{commit.id}", details=True)
        except NotFound:
            continue
        if job.state == "success":
            datums = {d.id: d for d in client.pps.list_datum(job.job)}
            return BaseJob(job, datums)
    return None


def _verdict(
    key: str, files: tuple[DatumFile, ...], base: BaseJob | None, salt: str, every_job: bool
) -> tuple[str, str]:
    if base is None:
        return "new", "no earlier successful job"
    short = base.job.id[:8]
    before = base.datums.get(key)
    if before is None:
        return "new", f"not in job {short}"
    if every_job:
        return "changed", "reprocess_spec is every_job: every datum runs"
    if base.job.salt and salt and base.job.salt != salt:
        return "changed", f"the pipeline was updated with reprocess since job {short}"
    if before.state not in ("success", "skipped"):
        return "changed", f"{before.state} in job {short}: runs again"
    for index, item in enumerate(files):
        old = before.hashes[index] if index < len(before.hashes) else None
        if item.hash and old is not None and item.hash != old:
            return "changed", f"{item.name}:{item.path} changed since job {short}"
    return "skip", f"processed by job {short} with the same inputs"


def statuses(
    client: Client, project: str, pipeline: str, datums: list[tuple[str, tuple[DatumFile, ...]]]
) -> tuple[dict[str, tuple[str, str]], BaseJob | None]:
    """Datum ID → (status, reason) for the planned ``datums`` of ``pipeline``, and the base job."""
    info = client.pps.inspect_pipeline(f"{project}/{pipeline}")
    every_job = str(info.spec.get("reprocess_spec") or info.spec.get("reprocessSpec") or "") == "every_job"
    base = base_job(client, project, pipeline, info.output_branch or "master")
    return {key: _verdict(key, files, base, info.salt, every_job) for key, files in datums}, base


class SkipFrame(ListingFrame):  # type: ignore[misc,unused-ignore]
    """A datum preview with a ``status`` per datum; its views start with the one-line counts."""

    @property
    def _constructor(self) -> Callable[..., PachFrame]:
        return PachFrame

    @property
    def summary(self) -> str:
        """``contour: 3 skip, 1 new, 0 changed (of 4 datums; base job 1a2b3c4d)``."""
        return str(self.attrs.get("summary", ""))

    @property
    def counts(self) -> dict[str, int]:
        """Datums per status."""
        return dict(self.attrs.get("counts", {}))

    def _repr_html_(self) -> str | None:
        import html

        return f"<p>{html.escape(self.summary)}</p>{super()._repr_html_() or ''}"

    def __repr__(self) -> str:
        return f"{self.summary}\n{super().__repr__()}"


def annotate(
    client: Client,
    project: str,
    pipeline: str,
    datums: list[tuple[str, tuple[DatumFile, ...]]],
    frame: pd.DataFrame,
    display_limit: int = 0,
) -> SkipFrame:
    """``frame`` (one row per datum input) with ``status`` and ``reason`` columns and the counts."""
    found, base = statuses(client, project, pipeline, datums)
    out = SkipFrame(frame.copy())
    out.attrs = dict(frame.attrs)
    out.attrs["display_limit"] = max(0, int(display_limit))
    out["status"] = pd.Series([found[k][0] for k in frame["datum_id"]], index=frame.index, dtype="str")
    out["reason"] = pd.Series([found[k][1] for k in frame["datum_id"]], index=frame.index, dtype="str")
    counts = {s: sum(1 for v in found.values() if v[0] == s) for s in STATUSES}
    where = f"base job {base.job.id}" if base is not None else "no earlier successful job"
    out.attrs["counts"] = counts
    out.attrs["summary"] = (
        f"{pipeline}: {counts['skip']} skip, {counts['new']} new, {counts['changed']} changed "
        f"(of {len(found)} datum{'' if len(found) == 1 else 's'}; {where})"
    )
    return out
