"""References to Pachyderm objects, parsed from and printed as pachctl URIs.

A ref names an object; it does not hold its state (that is a record, see
``records.py``). Refs are small frozen dataclasses that round-trip through
``str()`` and ``from_uri``::

    Repo.from_uri("images/photos.spec")        # project/repo.type
    Branch.from_uri("photos@master")
    Commit.from_uri("photos@master^2")         # ancestry is kept in ``id``
    File.from_uri("photos@master=<id>:/a.png")
    Job.from_uri("contour@<id>")

Grammar (pachctl's ``parseFile``): ``[project/]repo[.type][@ref][:path]`` where
``ref`` is ``branch``, ``branch=id`` or ``id``; the token after ``@`` is an id
when it is a 32-hex UUIDv4 or not a valid branch name (so ``master^2``,
``master.1`` and ``master~3`` are ids that the server resolves as ancestry).

A ref with ``project=None`` means "the client's current project"; the client
fills it in when it builds a request. This module must not import grpc or the
generated protos: conversion to the wire lives in ``_convert.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pachmagic.errors import InvalidArgument

__all__ = [
    "InvalidRef",
    "Repo",
    "Branch",
    "Commit",
    "File",
    "Pipeline",
    "Job",
    "is_commit_id",
    "DEFAULT_PROJECT",
]

DEFAULT_PROJECT = "default"

_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
_PROJECT_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
_UUID_RE = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{19}$")
# Ids are UUIDs or ancestry expressions over a branch or id (master^2, master.1, <id>~3).
_ID_RE = re.compile(r"^[a-zA-Z0-9_-]+(?:[.][0-9]+)?(?:\^+[0-9]*|~+[0-9]*)*$")


class InvalidRef(InvalidArgument, ValueError):
    """A malformed pachctl URI or ref component (an ``InvalidArgument`` and a ``ValueError``)."""


def is_commit_id(token: str) -> bool:
    """Return True when pachctl would read ``token`` (after ``@``) as a commit id.

    Parameters
    ----------
    token:
        The text between ``@`` and ``:`` in a URI.

    Returns
    -------
    bool
        True for a UUIDv4 hex id or anything that is not a valid branch name.
    """
    return bool(_UUID_RE.match(token)) or not _NAME_RE.match(token)


def _check_name(kind: str, value: str, uri: str | None = None) -> None:
    where = f" in {uri!r}" if uri is not None else ""
    if not value:
        raise InvalidRef(f"missing {kind} name{where}")
    regex = _PROJECT_RE if kind == "project" else _NAME_RE
    if not regex.match(value):
        extra = ", starting with a letter or digit" if kind == "project" else ""
        raise InvalidRef(
            f"invalid {kind} name {value!r}{where}: only letters, digits, underscores "
            f"and dashes are allowed{extra}"
        )


def _check_branch(value: str, uri: str | None = None) -> None:
    _check_name("branch", value, uri)
    if _UUID_RE.match(value):
        where = f" in {uri!r}" if uri is not None else ""
        raise InvalidRef(f"branch name {value!r}{where} is a commit id, not a branch")


def _check_id(value: str, uri: str | None = None) -> None:
    where = f" in {uri!r}" if uri is not None else ""
    if not value:
        raise InvalidRef(f"missing commit id{where}")
    if not _ID_RE.match(value):
        raise InvalidRef(
            f"invalid commit id {value!r}{where}: expected a commit id or an ancestry "
            "expression such as master^2, master~3 or master.1"
        )


@dataclass(frozen=True)
class Repo:
    """A repo: ``[project/]name[.type]`` (type ``user`` unless a system repo)."""

    name: str
    type: str = "user"
    project: str | None = None

    def __post_init__(self) -> None:
        _check_name("repo", self.name)
        _check_name("repo type", self.type)
        if self.project is not None:
            _check_name("project", self.project)

    @classmethod
    def from_uri(cls, uri: str) -> Repo:
        """Parse ``[project/]repo[.type]``.

        Parameters
        ----------
        uri:
            The text to parse, e.g. ``"photos"`` or ``"images/photos.spec"``.

        Returns
        -------
        Repo
            The parsed ref.
        """
        if "@" in uri:
            raise InvalidRef(f"unexpected '@' in repo {uri!r}: a repo is [project/]name[.type]")
        return _parse_repo(uri, uri)

    def branch(self, name: str) -> Branch:
        """Return the branch ``name`` of this repo."""
        return Branch(self, name)

    def __str__(self) -> str:
        text = self.name if self.type == "user" else f"{self.name}.{self.type}"
        return text if self.project is None else f"{self.project}/{text}"


@dataclass(frozen=True)
class Branch:
    """A branch of a repo: ``repo@branch``."""

    repo: Repo
    name: str

    def __post_init__(self) -> None:
        _check_branch(self.name)

    @classmethod
    def from_uri(cls, uri: str) -> Branch:
        """Parse ``[project/]repo[.type]@branch``.

        Parameters
        ----------
        uri:
            The text to parse, e.g. ``"photos@master"``.

        Returns
        -------
        Branch
            The parsed ref; an id after ``@`` is an error.
        """
        commit, path = _parse(uri, want="branch")
        if path is not None:
            raise InvalidRef(f"unexpected path in branch {uri!r}: a branch URI has no ':path'")
        if commit.branch is None or commit.id is not None:
            raise InvalidRef(f"{uri!r} names a commit, not a branch")
        return Branch(commit.repo, commit.branch)

    @property
    def head(self) -> Commit:
        """The commit at the head of this branch."""
        return Commit(self.repo, branch=self.name)

    def __str__(self) -> str:
        return f"{self.repo}@{self.name}"


@dataclass(frozen=True)
class Commit:
    """A commit: ``repo@branch`` (its head), ``repo@id`` or ``repo@branch=id``.

    ``id`` may carry ancestry (``master^2``, ``master~3``, ``master.1``), which
    the server resolves.
    """

    repo: Repo
    branch: str | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        if self.branch is None and self.id is None:
            raise InvalidRef(f"a commit of {self.repo} needs a branch or an id")
        if self.branch is not None:
            _check_branch(self.branch)
        if self.id is not None:
            _check_id(self.id)

    @classmethod
    def from_uri(cls, uri: str) -> Commit:
        """Parse ``[project/]repo[.type]@branch``, ``...@id`` or ``...@branch=id``.

        Parameters
        ----------
        uri:
            The text to parse, e.g. ``"photos@master^2"``.

        Returns
        -------
        Commit
            The parsed ref.
        """
        commit, path = _parse(uri, want="commit")
        if path is not None:
            raise InvalidRef(f"unexpected path in commit {uri!r}: a commit URI has no ':path'")
        return commit

    def file(self, path: str) -> File:
        """Return the file at ``path`` in this commit."""
        return File(self, path)

    def __str__(self) -> str:
        if self.branch is not None and self.id is not None:
            return f"{self.repo}@{self.branch}={self.id}"
        return f"{self.repo}@{self.branch if self.branch is not None else self.id}"


@dataclass(frozen=True)
class File:
    """A path in a commit: ``repo@ref:path`` (path ``/`` when omitted)."""

    commit: Commit
    path: str = "/"

    def __post_init__(self) -> None:
        if not self.path:
            object.__setattr__(self, "path", "/")

    @classmethod
    def from_uri(cls, uri: str) -> File:
        """Parse ``[project/]repo[.type]@ref[:path]``.

        Parameters
        ----------
        uri:
            The text to parse, e.g. ``"photos@master:/images/a.png"``.

        Returns
        -------
        File
            The parsed ref.
        """
        commit, path = _parse(uri, want="file")
        return File(commit, path or "/")

    def __str__(self) -> str:
        return f"{self.commit}:{self.path}"


@dataclass(frozen=True)
class Pipeline:
    """A pipeline: ``[project/]name``."""

    name: str
    project: str | None = None

    def __post_init__(self) -> None:
        _check_name("pipeline", self.name)
        if self.project is not None:
            _check_name("project", self.project)

    @classmethod
    def from_uri(cls, uri: str) -> Pipeline:
        """Parse ``[project/]pipeline``."""
        if "@" in uri:
            raise InvalidRef(f"unexpected '@' in pipeline {uri!r}: a pipeline is [project/]name")
        project, _, name = uri.rpartition("/")
        if project:
            _check_name("project", project, uri)
        _check_name("pipeline", name, uri)
        return Pipeline(name, project or None)

    def __str__(self) -> str:
        return self.name if self.project is None else f"{self.project}/{self.name}"


@dataclass(frozen=True)
class Job:
    """A job of a pipeline: ``[project/]pipeline@id``."""

    pipeline: Pipeline
    id: str

    def __post_init__(self) -> None:
        if not self.id or not _NAME_RE.match(self.id):
            raise InvalidRef(f"invalid job id {self.id!r}")

    @classmethod
    def from_uri(cls, uri: str) -> Job:
        """Parse ``[project/]pipeline@id``."""
        head, at, job_id = uri.partition("@")
        if not at:
            raise InvalidRef(f"missing '@<job id>' in job {uri!r}: a job is pipeline@id")
        if not job_id:
            raise InvalidRef(f"missing job id after '@' in {uri!r}")
        if not _NAME_RE.match(job_id):
            raise InvalidRef(f"invalid job id {job_id!r} in {uri!r}")
        return Job(Pipeline.from_uri(head), job_id)

    def __str__(self) -> str:
        return f"{self.pipeline}@{self.id}"


def _parse_repo(text: str, uri: str) -> Repo:
    project: str | None = None
    if "/" in text:
        project, text = text.split("/", 1)
        _check_name("project", project, uri)
    name, dot, repo_type = text.partition(".")
    _check_name("repo", name, uri)
    if dot:
        _check_name("repo type", repo_type, uri)
    return Repo(name, repo_type if dot else "user", project)


def _parse(uri: str, *, want: str) -> tuple[Commit, str | None]:
    """Split ``[project/]repo[.type]@ref[:path]`` into a commit and an optional path."""
    if not isinstance(uri, str):
        raise InvalidRef(f"expected a {want} URI string, got {type(uri).__name__}")
    head, at, tail = uri.partition("@")
    if not at:
        example = {"branch": "repo@branch", "commit": "repo@branch", "file": "repo@branch:/path"}
        raise InvalidRef(f"missing '@' in {want} {uri!r}: expected {example[want]}")
    repo = _parse_repo(head, uri)
    ref, colon, path = tail.partition(":")
    if not ref:
        raise InvalidRef(f"missing branch or commit after '@' in {uri!r}")
    branch: str | None
    commit_id: str | None
    if "=" in ref:
        branch, commit_id = ref.split("=", 1)
        _check_branch(branch, uri)
        _check_id(commit_id, uri)
    elif is_commit_id(ref):
        if not _ID_RE.match(ref):
            raise InvalidRef(
                f"invalid branch or commit {ref!r} in {uri!r}: expected a branch name "
                "(letters, digits, '_', '-'), a commit id or an ancestry expression (master^2)"
            )
        branch, commit_id = None, ref
    else:
        branch, commit_id = ref, None
    return Commit(repo, branch, commit_id), (path if colon else None)

