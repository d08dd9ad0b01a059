"""File operations of ``client.pfs`` and the open-commit object of ``pfs.commit()``.

Split from ``pfs.py`` to keep modules readable: ``Pfs`` inherits these
methods. Every write is one ModifyFile stream of requests from ``_encode.py``;
reads stream GetFile chunks, so ``open_file`` and ``get_file_to_path`` never
hold a whole file in memory. How both cross the wire is the ``Transfer``
chosen once for the server (``_wire``; ``_transfer.py``, ``_ext.py``): no
method here asks which service the server offers.

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

from pachmagic._proto import pfs_pb2
from pachmagic.client import _convert as cv
from pachmagic.client import _encode as enc
from pachmagic.client._ext import choose
from pachmagic.client._files import ChunkReader, Progress, Source
from pachmagic.client._transfer import Transfer
from pachmagic.client._transport import Transport
from pachmagic.client.lockfile import DataLock, RefKey
from pachmagic.client.reads import LockDrift, ReadRecorder, check_lock
from pachmagic.client.records import FileDiff, FileInfo, RecordList
from pachmagic.client._coerce import to_commit, to_file
from pachmagic.client.refs import Branch, Commit, File

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
        self._transfer: Transfer | None = None  # chosen on first use (``_wire``)

    def _wire(self) -> Transfer:
        """The transfer for this server: chosen once, on the first answer from the server."""
        chosen = self._transfer
        if chosen is None:
            chosen = choose(self._t)
            if chosen is None:  # no answer yet: the standard RPCs, and ask again next time
                return Transfer(self._t)
            self._transfer = chosen
        return chosen

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
        self._wire().modify_file(enc.encoded_requests(self._commit_pb(commit), files, append=append, progress=progress))

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
        self._wire().modify_file([enc.set_commit(self._commit_pb(commit)), enc.delete_file(path)])

    def copy_file(self, src: File | str, dst: File | str, *, append: bool = False) -> None:
        """Copy a file or directory (from any commit) to ``dst``, replacing it unless ``append``."""
        target = to_file(dst)
        source = self._read_file_pb(src, "copy")
        self._wire().modify_file([enc.set_commit(self._commit_pb(target.commit)),
                                  enc.copy_file(target.path, source, append=append)])

    # --- reads --------------------------------------------------------------

    def _chunks(self, file: File | str, offset: int) -> Iterator[memoryview]:
        # A generator: nothing is resolved or called before the first chunk is asked for.
        request = pfs_pb2.GetFileRequest(file=self._read_file_pb(file, "get"), offset=offset)
        yield from self._wire().get_file(request)

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
        """List a directory's children (or the file itself); ``"repo@branch"`` lists ``/``.

        A path that is not there raises ``NotFound``. pachd lists such a path as empty;
        PFS keeps no empty directories, so an empty listing of any path but ``/`` is
        checked with InspectFile, whose NOT_FOUND is raised.
        """
        request = pfs_pb2.ListFileRequest(file=self._read_file_pb(file, "list"))
        records = self._wire().list_files("ListFile", request)
        if len(records) == 0 and request.file.path.strip("/"):
            self._t.unary(self._t.pfs.InspectFile, pfs_pb2.InspectFileRequest(file=request.file))
        return records

    def walk_file(self, file: File | str) -> RecordList[FileInfo]:
        """List a directory recursively (directories included)."""
        request = pfs_pb2.WalkFileRequest(file=self._read_file_pb(file, "walk"))
        return self._wire().list_files("WalkFile", request)

    def glob_file(self, commit: CommitLike, pattern: str) -> RecordList[FileInfo]:
        """List the paths of a commit that match a glob pattern (``/*.png``, ``/**``)."""
        pinned = self._pin(to_commit(commit), pattern, "glob")
        request = pfs_pb2.GlobFileRequest(commit=cv.commit_pb(pinned, self._project()), pattern=pattern)
        return self._wire().list_files("GlobFile", request)

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
