"""File operations of ``client.pfs`` and the open-commit object of ``pfs.commit()``.

Split from ``pfs.py`` to keep modules readable: ``Pfs`` inherits these
methods. Writes are ModifyFile streams (``_files.modify_file_requests``); reads
stream GetFile chunks, so ``open_file`` and ``get_file_to_path`` never hold a
whole file in memory.

Every read names its commit through ``_pin``, the one seam where a client given
a ``ReadRecorder`` records the read and resolves the ref (through the lock in
use, if any; ``reads.py``). A client without a recorder reads the ref as given.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Union

from google.protobuf import empty_pb2

from pachmagic._proto import pfs_pb2
from pachmagic.client import _convert as cv
from pachmagic.client._encode import encoded_requests, plain_stream, prefetched
from pachmagic.client._ext import Ext
from pachmagic.client._files import ChunkReader, Progress, Source, modify_file_requests
from pachmagic.client._transport import Transport
from pachmagic.client.lockfile import DataLock, RefKey
from pachmagic.client.reads import LockDrift, ReadRecorder, check_lock
from pachmagic.client.records import FileDiff, FileInfo, RecordList
from pachmagic.client._coerce import to_commit, to_file
from pachmagic.client.refs import Branch, Commit, File
from pachmagic.pachyderm.wire import bytes_value_payload

__all__ = ["FileOps", "OpenCommit", "CommitLike"]

CommitLike = Union[Commit, Branch, str, "OpenCommit"]
"""Where a commit is expected: a ``Commit``, a ``Branch`` (its head), ``repo@ref`` or an open commit."""


def _umask() -> int:
    """The process's umask: from /proc on Linux, else by setting it and putting it back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


class FileOps:
    """Reading and writing files (base of ``Pfs``).

    Parameters
    ----------
    transport:
        The client's transport.
    project:
        Returns the client's current project.
    recorder:
        Records reads and resolves refs through a lock (None: reads are not recorded).
    """

    def __init__(
        self, transport: Transport, project: Callable[[], str], recorder: ReadRecorder | None = None
    ) -> None:
        self._t = transport
        self._project = project
        self._recorder = recorder
        self._ext = Ext(transport)
        # ModifyFile taking pre-encoded requests (``_encode.py``): no protobuf copies of the data.
        self._modify_file_raw = transport.channel.stream_unary(
            "/pfs_v2.API/ModifyFile", request_serializer=None, response_deserializer=empty_pb2.Empty.FromString
        )

    def _commit_pb(self, commit: CommitLike) -> pfs_pb2.Commit:
        return cv.commit_pb(to_commit(commit), self._project())

    def _file_pb(self, file: File | str) -> pfs_pb2.File:
        return cv.file_pb(to_file(file), self._project())

    # --- the read seam ------------------------------------------------------

    def _pin(self, commit: Commit, path: str, op: str) -> Commit:
        """The commit a read of ``commit`` uses: recorded, and resolved through the lock in use."""
        if self._recorder is None:
            return commit
        commit_id = self._recorder.resolve(
            commit, self._project(), path, op, current=self._current_id, ancestors=self._ancestor_ids
        )
        return Commit(commit.repo, None, commit_id)

    def _read_file_pb(self, file: File | str, op: str) -> pfs_pb2.File:
        ref = to_file(file)
        return cv.file_pb(File(self._pin(ref.commit, ref.path, op), ref.path), self._project())

    def check_lock(self, lock: DataLock) -> list[LockDrift]:
        """How each ref a lock pins compares with the commit it resolves to now.

        Asking is not reading: nothing is recorded. See ``reads.LockDrift``
        (``status``: same, ahead, diverged, missing, pinned).
        """
        return check_lock(lock, self._current_id, self._ancestor_ids)

    def _current_id(self, commit: Commit) -> str:
        request = pfs_pb2.InspectCommitRequest(commit=cv.commit_pb(commit, self._project()))
        return str(self._t.unary(self._t.pfs.InspectCommit, request).commit.id)

    def _ancestor_ids(self, key: RefKey, commit_id: str) -> Iterator[str]:
        commit = key.commit(commit_id)
        request = pfs_pb2.ListCommitRequest(repo=cv.repo_pb(commit.repo, self._project()), all=True)
        getattr(request, "to").CopyFrom(cv.commit_pb(commit, self._project()))
        stream = self._t.stream(self._t.pfs.ListCommit, request)
        try:
            for info in stream:
                yield str(info.commit.id)
        finally:
            stream.close()  # stop walking the ancestry once the caller has found its commit

    # --- writes -------------------------------------------------------------

    def put_files(
        self,
        commit: CommitLike,
        files: Mapping[str, Source] | Iterable[tuple[str, Source]],
        *,
        append: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Write many files in one ModifyFile stream (one commit).

        Parameters
        ----------
        commit:
            An open commit, or a branch: writing to a branch whose head is
            finished makes one new commit containing all the files.
        files:
            ``{path: source}`` or ``[(path, source), ...]``; a source is bytes,
            text (UTF-8), a ``pathlib.Path`` of a local file (streamed) or a
            binary/text file object.
        append:
            Append to existing files instead of replacing them.
        progress:
            ``progress(bytes_done, files_done)``, called from gRPC's sending thread.
        """
        requests = encoded_requests(self._commit_pb(commit), files, append=append, progress=progress)
        if self._ext.available():
            self._ext.modify_file(requests)  # many files per message (pachmagic's server)
        else:
            self._t.client_stream(self._modify_file_raw, prefetched(plain_stream(requests)))

    def put_file(
        self,
        commit: CommitLike,
        path: str,
        data: Source,
        *,
        append: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Write one file; ``data`` is bytes, text, a ``pathlib.Path`` or a file object."""
        self.put_files(commit, [(path, data)], append=append, progress=progress)

    def put_file_from_path(
        self,
        commit: CommitLike,
        path: str,
        local_path: str | os.PathLike[str],
        *,
        append: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Upload a local file, streaming it (constant memory whatever its size)."""
        self.put_files(commit, [(path, Path(local_path))], append=append, progress=progress)

    def delete_file(self, commit: CommitLike, path: str) -> None:
        """Delete a file; a path ending in ``/`` deletes a whole directory."""
        requests = [
            pfs_pb2.ModifyFileRequest(set_commit=self._commit_pb(commit)),
            pfs_pb2.ModifyFileRequest(delete_file=pfs_pb2.DeleteFile(path=path)),
        ]
        self._t.client_stream(self._t.pfs.ModifyFile, requests)

    def copy_file(self, src: File | str, dst: File | str, *, append: bool = False) -> None:
        """Copy a file or directory (from any commit) to ``dst``, replacing it unless ``append``."""
        target = to_file(dst)
        requests = [
            pfs_pb2.ModifyFileRequest(set_commit=self._commit_pb(target.commit)),
            pfs_pb2.ModifyFileRequest(
                copy_file=pfs_pb2.CopyFile(dst=target.path, src=self._read_file_pb(src, "copy"), append=append)
            ),
        ]
        self._t.client_stream(self._t.pfs.ModifyFile, requests)

    # --- reads --------------------------------------------------------------

    def _chunks(self, file: File | str, offset: int) -> Iterator[bytes]:
        request = pfs_pb2.GetFileRequest(file=self._read_file_pb(file, "get"), offset=offset)
        if self._ext.available():
            # Raw messages: the chunk is a view into the received bytes, never copied.
            raw = self._t.stream(self._ext.get_file_raw, request)
            try:
                for message in raw:
                    yield bytes_value_payload(message)  # type: ignore[misc]
            finally:
                raw.close()
            return
        stream = self._t.stream(self._t.pfs.GetFile, request)
        try:
            for message in stream:
                yield message.value
        finally:
            stream.close()  # cancels the call if the reader stopped early

    def get_file(self, file: File | str, *, offset: int = 0) -> bytes:
        """Return a file's content (from byte ``offset``); use ``open_file`` for big files."""
        return b"".join(self._chunks(file, offset))

    def iter_file(self, file: File | str, *, offset: int = 0) -> Iterator[bytes | memoryview]:
        """Yield a file's content chunk by chunk (up to 4 MiB each), without copying.

        The fastest way to stream a file: chunks are views into the received
        messages (valid until the next one arrives). Closing the iterator
        (or leaving a ``for`` loop early) cancels the download.
        """
        return self._chunks(file, offset)

    def open_file(self, file: File | str, *, offset: int = 0) -> io.BufferedReader:
        """Open a file for streaming reads (``NotFound`` is raised here, not on read).

        Returns
        -------
        io.BufferedReader
            A binary stream; close it (or use ``with``) to cancel the download.
        """
        return io.BufferedReader(ChunkReader(self._chunks(file, offset)), buffer_size=1024 * 1024)

    def get_file_to_path(
        self,
        file: File | str,
        local_path: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
    ) -> Path:
        """Download a file to a local path, streaming (constant memory).

        The data goes to a temporary file next to ``local_path`` that replaces it
        only once complete, so a failed download never leaves a truncated file.
        ``progress(bytes_done, files_done)`` is called after every chunk.

        Returns
        -------
        Path
            ``local_path``.
        """
        target = Path(local_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
        )
        done = 0
        try:
            with handle:
                for chunk in self._chunks(file, 0):
                    handle.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, 0)
            # a temporary file is private (0600); the file it becomes gets the usual mode (umask)
            os.chmod(handle.name, 0o666 & ~_umask())
            os.replace(handle.name, target)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        if progress is not None:
            progress(done, 1)
        return target

    def inspect_file(self, file: File | str) -> FileInfo:
        """Return the info of one file or directory."""
        request = pfs_pb2.InspectFileRequest(file=self._read_file_pb(file, "inspect"))
        return cv.file_info(self._t.unary(self._t.pfs.InspectFile, request))

    def list_file(self, file: File | str) -> RecordList[FileInfo]:
        """List a directory's children (or the file itself); ``"repo@branch"`` lists ``/``."""
        request = pfs_pb2.ListFileRequest(file=self._read_file_pb(file, "list"))
        if self._ext.available():
            return self._ext.list_stream("ListFile", request)
        stream = self._t.stream(self._t.pfs.ListFile, request)
        return RecordList(FileInfo, (cv.file_info(pb) for pb in stream))

    def walk_file(self, file: File | str) -> RecordList[FileInfo]:
        """List a directory recursively (directories included)."""
        request = pfs_pb2.WalkFileRequest(file=self._read_file_pb(file, "walk"))
        if self._ext.available():
            return self._ext.list_stream("WalkFile", request)
        stream = self._t.stream(self._t.pfs.WalkFile, request)
        return RecordList(FileInfo, (cv.file_info(pb) for pb in stream))

    def glob_file(self, commit: CommitLike, pattern: str) -> RecordList[FileInfo]:
        """List the paths of a commit that match a glob pattern (``/*.png``, ``/**``)."""
        pinned = self._pin(to_commit(commit), pattern, "glob")
        request = pfs_pb2.GlobFileRequest(commit=cv.commit_pb(pinned, self._project()), pattern=pattern)
        if self._ext.available():
            return self._ext.list_stream("GlobFile", request)
        stream = self._t.stream(self._t.pfs.GlobFile, request)
        return RecordList(FileInfo, (cv.file_info(pb) for pb in stream))

    def diff_file(
        self, new: File | str, old: File | str | None = None, *, shallow: bool = False
    ) -> RecordList[FileDiff]:
        """Compare ``new`` with ``old`` (default: the same path in the parent commit)."""
        request = pfs_pb2.DiffFileRequest(new_file=self._read_file_pb(new, "diff"), shallow=shallow)
        if old is not None:
            request.old_file.CopyFrom(self._read_file_pb(old, "diff"))
        stream = self._t.stream(self._t.pfs.DiffFile, request)
        return RecordList(FileDiff, (cv.file_diff(pb) for pb in stream))


class OpenCommit:
    """An open commit inside ``with client.pfs.commit(...) as c:``.

    Attributes
    ----------
    commit:
        The commit's ref (branch and id); pass ``c`` wherever a commit is expected.
    """

    def __init__(self, pfs: FileOps, commit: Commit) -> None:
        self._pfs = pfs
        self.commit = commit

    @property
    def id(self) -> str:
        """The commit id."""
        return self.commit.id or ""

    def put_file(self, path: str, data: Source, *, append: bool = False) -> None:
        """Write one file: bytes, text, a ``pathlib.Path`` or a file object."""
        self._pfs.put_files(self.commit, [(path, data)], append=append)

    def put_file_from_path(self, path: str, local_path: str | os.PathLike[str], *, append: bool = False) -> None:
        """Upload a local file, streaming it."""
        self._pfs.put_files(self.commit, [(path, Path(local_path))], append=append)

    def put_files(
        self,
        files: Mapping[str, Source] | Iterable[tuple[str, Source]],
        *,
        append: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Write many files in one stream (see ``Pfs.put_files``)."""
        self._pfs.put_files(self.commit, files, append=append, progress=progress)

    def delete_file(self, path: str) -> None:
        """Delete a file (a path ending in ``/`` deletes a directory)."""
        self._pfs.delete_file(self.commit, path)

    def copy_file(self, src: File | str, dst_path: str, *, append: bool = False) -> None:
        """Copy ``src`` (any commit) to ``dst_path`` in this commit."""
        self._pfs.copy_file(src, File(self.commit, dst_path), append=append)

    def __repr__(self) -> str:
        return f"OpenCommit({self.commit})"
