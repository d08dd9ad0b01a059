"""The embedded server's versioned file system (PFS): storage only, no gRPC.

``Storage`` is the entry point; keys and records are in ``model``.
"""

from __future__ import annotations

from .catalog import CommitRef, new_commit_id
from .catalog_base import db_repo_text
from .model import BranchKey, CommitKey, RepoKey
from .storage import Storage
from .triggers import human_size

__all__ = ["Storage", "CommitRef", "RepoKey", "BranchKey", "CommitKey", "new_commit_id", "db_repo_text", "human_size"]
