"""What API methods accept where a ref is expected: the ref, or a pachctl URI string.

``to_commit`` also takes a ``Branch`` (its head) and anything with a ``commit``
attribute holding a ``Commit`` (the open commit of ``pfs.commit()``). Wrong
types are a ``TypeError``; malformed strings an ``InvalidRef``.
"""

from __future__ import annotations

from pachmagic.client.refs import Branch, Commit, File, Job, Pipeline, Repo

__all__ = ["to_repo", "to_branch", "to_commit", "to_file", "to_pipeline", "to_job"]



def _type_error(kind: str, value: object) -> TypeError:
    return TypeError(f"expected a {kind} or a pachctl URI string, got {type(value).__name__}")


def to_repo(value: Repo | str) -> Repo:
    """A ``Repo`` from a ref or ``[project/]repo[.type]``."""
    if isinstance(value, Repo):
        return value
    if isinstance(value, str):
        return Repo.from_uri(value)
    raise _type_error("Repo", value)


def to_branch(value: Branch | str) -> Branch:
    """A ``Branch`` from a ref or ``repo@branch``."""
    if isinstance(value, Branch):
        return value
    if isinstance(value, str):
        return Branch.from_uri(value)
    raise _type_error("Branch", value)


def to_commit(value: Commit | Branch | str | object) -> Commit:
    """A ``Commit`` from a ref, a branch (its head), ``repo@ref`` or an open commit."""
    if isinstance(value, Commit):
        return value
    if isinstance(value, Branch):
        return value.head
    if isinstance(value, str):
        return Commit.from_uri(value)
    inner = getattr(value, "commit", None)
    if isinstance(inner, Commit) and not isinstance(value, File):
        return inner
    raise _type_error("Commit", value)


def to_file(value: File | str) -> File:
    """A ``File`` from a ref or ``repo@ref[:path]``."""
    if isinstance(value, File):
        return value
    if isinstance(value, str):
        return File.from_uri(value)
    raise _type_error("File", value)


def to_pipeline(value: Pipeline | str) -> Pipeline:
    """A ``Pipeline`` from a ref or ``[project/]name``."""
    if isinstance(value, Pipeline):
        return value
    if isinstance(value, str):
        return Pipeline.from_uri(value)
    raise _type_error("Pipeline", value)


def to_job(value: Job | str | tuple[str, str]) -> Job:
    """A ``Job`` from a ref, ``pipeline@id`` or a ``(pipeline, id)`` pair."""
    if isinstance(value, Job):
        return value
    if isinstance(value, str):
        return Job.from_uri(value)
    if isinstance(value, tuple) and len(value) == 2:
        pipeline, job_id = value
        return Job(to_pipeline(pipeline), job_id)
    raise _type_error("Job", value)
