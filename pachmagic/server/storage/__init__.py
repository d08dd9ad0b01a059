"""The embedded server's versioned file system (PFS): storage only, no gRPC.

``Storage`` is the entry point; keys and records are in ``model``.
"""

from __future__ import annotations

from .catalog import CommitRef, new_commit_id
from .model import BranchKey, CommitKey, RepoKey
from .storage import Storage

__all__ = ["Storage", "CommitRef", "RepoKey", "BranchKey", "CommitKey", "new_commit_id"]
