"""pachmagic.client: a typed client for the Pachyderm v2 gRPC API.

    >>> from pachmagic.client import connect, to_frame
    >>> client = connect()                       # doctest: +SKIP
    >>> to_frame(client.pfs.list_repo())         # doctest: +SKIP

``connect()`` resolves the address (argument, ``PACHD_ADDRESS``, pachctl's
config, ``localhost:30650``) without connecting. ``client.pfs``,
``client.pps`` and ``client.admin`` take refs (``Repo``, ``Branch``,
``Commit``, ``File``, ``Pipeline``, ``Job``) or pachctl URI strings, and
return records (``RepoInfo``, ``CommitInfo``...). ``to_frame`` turns a listing
into a DataFrame (a ``PachFrame``: sizes and durations shown for humans;
``human_size`` and ``human_duration`` format them as pachctl does), and
``is_commit_id`` tells a commit id from a branch name. Every failure is a ``pachmagic.errors.PachError``.
``Client(recorder=ReadRecorder())`` records every file read (ref, commit,
paths) and reads through a ``DataLock`` once ``recorder.use(lock)``.
Ctrl-C (Kernel > Interrupt) during a call cancels it and raises
KeyboardInterrupt with the client still usable; ``defer_interrupts()`` holds
SIGINT back around code that must not stop halfway (the magics' displays).

Everything outside this package (magics, widgets, ``pfs://``, the CLI) uses
only these names (``tests/client/test_exports.py`` forbids deeper imports).
This package imports only ``pachmagic._proto``, ``pachmagic.errors`` and
third-party libraries: never the server, magics or widgets.
"""

from __future__ import annotations

from pachmagic.client._interrupts import deferred as defer_interrupts
from pachmagic.client.client import Client, connect
from pachmagic.client.frames import PachFrame, to_frame
from pachmagic.client.lockfile import DataLock, LockFileError
from pachmagic.client.reads import ReadRecorder
from pachmagic.client.records import (
    BranchInfo,
    ClusterInfo,
    CommitInfo,
    DatumInfo,
    FileDiff,
    FileInfo,
    JobInfo,
    LogMessage,
    PipelineInfo,
    ProjectInfo,
    RecordList,
    RepoInfo,
    Version,
    human_duration,
    human_size,
)
from pachmagic.client.refs import Branch, Commit, File, Job, Pipeline, Repo, is_commit_id

__all__ = [
    "Client",
    "connect",
    "to_frame",
    "PachFrame",
    # reads and locks
    "ReadRecorder",
    "DataLock",
    "LockFileError",
    # refs
    "Repo",
    "Branch",
    "Commit",
    "File",
    "Pipeline",
    "Job",
    "is_commit_id",
    # records
    "RecordList",
    "ProjectInfo",
    "RepoInfo",
    "BranchInfo",
    "CommitInfo",
    "FileInfo",
    "FileDiff",
    "PipelineInfo",
    "JobInfo",
    "DatumInfo",
    "LogMessage",
    "Version",
    "ClusterInfo",
    # formatting, as pachctl prints
    "human_size",
    "human_duration",
    # Ctrl-C
    "defer_interrupts",
]
