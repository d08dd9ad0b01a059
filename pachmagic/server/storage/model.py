"""PFS value types and Pachyderm's rules for names, paths and commit references.

Keys (``RepoKey``, ``BranchKey``, ``CommitKey``) are small frozen values whose
``str()`` is the form Pachyderm 2.x puts in error messages (``default/photos``,
``default/photos.spec``, ``default/photos@master``). Records (``RepoInfo``, ...)
are what the storage layer hands out; the servicers turn them into protobufs.
No gRPC here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...errors import InvalidArgument
from ...pachyderm.paths import clean_path

__all__ = [
    "DEFAULT_PROJECT",
    "USER",
    "SPEC",
    "META",
    "ORIGIN_USER",
    "ORIGIN_AUTO",
    "ORIGIN_FSCK",
    "FILE",
    "DIR",
    "RepoKey",
    "BranchKey",
    "CommitKey",
    "ProjectInfo",
    "RepoInfo",
    "BranchInfo",
    "CommitInfo",
    "FileInfo",
    "validate_name",
    "validate_project_name",
    "validate_write_path",
    "is_commit_id",
    "parse_ancestry",
]

DEFAULT_PROJECT = "default"
USER, SPEC, META = "user", "spec", "meta"
REPO_TYPES = (USER, SPEC, META)
ORIGIN_USER, ORIGIN_AUTO, ORIGIN_FSCK = 1, 2, 3
FILE, DIR = 1, 2

_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
_COMMIT_ID_RE = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{19}$")
_GLOB_CHARS = "*?[]{}!()@+^"
PROJECT_NAME_MAX = 51


@dataclass(frozen=True, order=True)
class RepoKey:
    project: str
    name: str
    type: str = USER

    def __str__(self) -> str:
        suffix = "" if self.type == USER else f".{self.type}"
        return f"{self.project}/{self.name}{suffix}"


@dataclass(frozen=True, order=True)
class BranchKey:
    repo: RepoKey
    name: str

    def __str__(self) -> str:
        return f"{self.repo}@{self.name}"


@dataclass(frozen=True, order=True)
class CommitKey:
    repo: RepoKey
    id: str

    def __str__(self) -> str:
        return f"{self.repo}@{self.id}"


@dataclass
class ProjectInfo:
    name: str
    description: str
    created: float


@dataclass
class RepoInfo:
    key: RepoKey
    description: str
    created: float
    size_bytes: int
    branches: list[BranchKey] = field(default_factory=list)


@dataclass
class BranchInfo:
    key: BranchKey
    head: CommitKey | None
    direct_provenance: list[BranchKey] = field(default_factory=list)
    provenance: list[BranchKey] = field(default_factory=list)
    subvenance: list[BranchKey] = field(default_factory=list)
    trigger: str = ""
    created: float = 0.0


@dataclass
class CommitInfo:
    key: CommitKey
    branch: BranchKey | None
    parent: CommitKey | None
    children: list[CommitKey]
    origin: int
    description: str
    started: float
    finishing: float | None
    finished: float | None
    error: str
    size_bytes: int
    direct_provenance: list[CommitKey] = field(default_factory=list)
    direct_subvenance: list[CommitKey] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.finishing is None


@dataclass
class FileInfo:
    commit: CommitKey
    path: str  # cleaned; directories end with "/"
    type: int
    size: int
    hash: bytes
    committed: float | None
    datum: str = "default"
    # The branch the commit was made on (pachd reports it in FileInfo.file.commit.branch,
    # whatever the request named); None for commits without one.
    branch: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.type == DIR


def validate_name(name: str) -> None:
    """Raise InvalidArgument unless ``name`` is a valid repo/branch name."""
    if not _NAME_RE.match(name or ""):
        raise InvalidArgument(
            f"name ({name}) invalid: only alphanumeric characters, underscores, and dashes are allowed"
        )


def validate_project_name(name: str) -> None:
    validate_name(name)
    if not name[0].isalnum():
        raise InvalidArgument("project names must start with an alphanumeric character")
    if len(name) > PROJECT_NAME_MAX:
        raise InvalidArgument(
            f"project name {name!r} is {len(name) - PROJECT_NAME_MAX} characters longer "
            f"than the {PROJECT_NAME_MAX} max"
        )


def is_commit_id(text: str) -> bool:
    return bool(_COMMIT_ID_RE.match(text))


def validate_write_path(path: str) -> str:
    """Check a path given for writing against PFS's rules; return it cleaned."""
    if not path or any(not (" " <= ch <= "~") for ch in path):
        raise InvalidArgument(f"path ({path}) invalid: only printable ASCII characters allowed")
    for ch in _GLOB_CHARS:
        if ch in path:
            raise InvalidArgument(f"path ({path}) invalid: globbing character ({ch}) not allowed in path")
    if any(part in (".", "..") for part in path.split("/")):
        raise InvalidArgument(f"path ({path}) invalid: relative file paths are not allowed")
    cleaned = clean_path(path)
    if cleaned == "/":
        raise InvalidArgument(f"path ({path}) invalid: cannot write to the root directory")
    return cleaned


def parse_ancestry(ref: str) -> tuple[str, int, int | None]:
    """Split ``master^2`` / ``master~`` / ``master.3`` into (base, back, nth).

    Returns ``(base, back, nth)``: ``back`` generations up from ``base``'s head,
    or, when ``nth`` is set, the ``nth`` commit ever made on the branch (1-based).
    """
    carets = [i for i, ch in enumerate(ref) if ch in "^~"]
    if carets:
        base, suffix = ref[: carets[0]], ref[carets[0] :]
        if "^" in suffix and "~" in suffix:
            raise InvalidArgument(f"invalid ancestry syntax {ref!r}, cannot mix ^ and ~ characters")
        back = 0
        for part in re.findall(r"[\^~]\d*", suffix):
            back += int(part[1:]) if len(part) > 1 else 1
        if re.sub(r"[\^~]\d*", "", suffix):
            raise InvalidArgument(f"invalid ancestry syntax {ref!r}")
        return base, back, None
    match = re.match(r"^(.*)\.(\d+)$", ref)
    if match and match.group(1):
        nth = int(match.group(2))
        if nth < 1:
            raise InvalidArgument(f"invalid ancestry syntax {ref!r}: branch offsets start at 1")
        return match.group(1), 0, nth
    return ref, 0, None
