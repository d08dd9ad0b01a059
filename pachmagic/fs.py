"""``pfs://``: an fsspec filesystem over Pachyderm's PFS, so pandas and friends can read and write it.

URLs name a repo, a branch or commit, and a path::

    pfs://photos@master/hand.png              # repo in the client's current project
    pfs://images/photos@master/hand.png       # an explicit project: project/repo
    pfs://photos@master=<id>/hand.png         # a pinned commit on a branch
    pfs://photos@<id>/hand.png                # a commit id (read only)
    pfs://photos@master^2/hand.png            # ancestry, resolved by the server (read only)
    pfs://photos@master:/hand.png             # pachctl's own spelling also works

The first ``@`` separates ``[project/]repo[.type]`` from the ref; the path
starts at the first ``/`` (or ``:``) after it, so paths may contain ``@``.
``pfs://`` alone lists repos and ``pfs://photos`` lists the repo's branches.

Reads stream (``GetFile`` from an offset, pinned to the commit the file was
opened at, so a concurrent write to the branch never mixes versions). Writes go
to a branch: the data is spooled locally and each closed file becomes one
commit (one ``ModifyFile`` stream); a ``with`` block that raises commits
nothing (for a binary ``with fs.open(url, "wb")``; text wrappers cannot tell
fsspec about the exception). ``rm`` of several paths on one branch, ``cp`` and ``pipe`` are one
commit each too. PFS has no empty directories: ``mkdir`` does nothing.

The client comes from, in order: the ``client=`` storage option; the default
set by the magics (``set_default_client``, on ``%pach connect``); a client of
this filesystem's own from ``pachmagic.client.connect(address, token=,
project=)`` with the usual address resolution. This module imports only
``pachmagic.client`` and ``pachmagic.errors`` of ours; never the server.

Over 400 lines because fsspec's filesystem protocol is one class with many methods (``ls``,
``info``, ``open``, ``rm``, ``cp``...) that share URL parsing and commit pinning.
"""

from __future__ import annotations

import io
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from pachmagic.client import Client, Commit, File, FileInfo, Repo, connect
from pachmagic.errors import NotFound

__all__ = ["PfsFileSystem", "PfsFile", "PfsPath", "parse_url", "set_default_client", "get_default_client"]


_default_lock = threading.Lock()
_default: list[Client] = []  # the one place where the magics leave the active connection


def set_default_client(client: Client | None) -> None:
    """Make ``client`` the connection ``pfs://`` URLs use (None forgets it).

    ``%pach connect`` calls this, so ``pd.read_csv("pfs://...")`` reads from the
    server the notebook is connected to. Filesystems created with an explicit
    ``client=`` are not affected.
    """
    with _default_lock:
        _default[:] = [] if client is None else [client]


def get_default_client() -> Client | None:
    """The client set by ``set_default_client``, or None."""
    with _default_lock:
        return _default[0] if _default else None


@dataclass(frozen=True)
class PfsPath:
    """A parsed ``pfs://`` location.

    Attributes
    ----------
    prefix:
        ``[project/]repo[.type]@ref`` exactly as written, used to build the
        names that ``ls``/``find`` return (so globbing sees its own prefix).
    commit:
        The commit ref (a branch head, a commit id, or both).
    path:
        The absolute PFS path, ``/`` for the root.
    """

    prefix: str
    commit: Commit
    path: str

    @property
    def file(self) -> File:
        """The file ref."""
        return File(self.commit, self.path)

    def name(self, pfs_path: str) -> str:
        """The fsspec name (no protocol, no trailing slash) of a PFS path in this commit."""
        inner = pfs_path.strip("/")
        return f"{self.prefix}/{inner}" if inner else self.prefix


def parse_url(url: str) -> PfsPath | None:
    """Parse ``[pfs://][project/]repo[.type]@ref[/path]``; None when there is no ``@`` (repo level).

    Raises
    ------
    ValueError
        (``InvalidRef``) for malformed repo, branch or commit names.
    """
    text = PfsFileSystem._strip_protocol(url)
    head, at, tail = text.partition("@")
    if not at:
        return None
    cut = min((i for i in (tail.find("/"), tail.find(":")) if i >= 0), default=len(tail))
    ref, rest = tail[:cut], tail[cut:].lstrip(":")
    commit = Commit.from_uri(f"{head}@{ref}")
    path = "/" + rest.strip("/")
    return PfsPath(prefix=f"{head}@{ref}", commit=commit, path=path)


def _repo_name(name: str, repo_type: str, project: str | None) -> str:
    text = name if repo_type == "user" else f"{name}.{repo_type}"
    return text if project is None else f"{project}/{text}"


def _entry(loc: PfsPath, info: FileInfo) -> dict[str, Any]:
    is_dir = info.type == "dir" or info.path.endswith("/")
    return {
        "name": loc.name(info.path),
        "size": info.size_bytes,
        "type": "directory" if is_dir else "file",
        "hash": info.hash,
        "commit": info.commit_id,
        "committed": info.committed,
    }


class PfsFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """fsspec filesystem for ``pfs://[project/]repo@ref/path``.

    Parameters
    ----------
    client:
        A ``pachmagic.client.Client`` to use. Instances are cached by fsspec per
        storage options; a client is told apart by its address and project.
    address, token, project:
        For a client of this filesystem's own, used only when neither
        ``client`` nor a default client (``set_default_client``) is set.
    """

    protocol = "pfs"
    root_marker = ""

    def __init__(
        self,
        client: Client | None = None,
        *,
        address: str | None = None,
        token: str | None = None,
        project: str | None = None,
        **storage_options: Any,
    ) -> None:
        super().__init__(**storage_options)
        self._explicit = client
        self._connect_args = (address, token, project)
        self._own: Client | None = None
        self._own_lock = threading.Lock()

    @property
    def client(self) -> Client:
        """The client in use (explicit, else the magics' default, else one of our own)."""
        if self._explicit is not None:
            return self._explicit
        default = get_default_client()
        if default is not None:
            return default
        with self._own_lock:
            if self._own is None:
                address, token, project = self._connect_args
                self._own = connect(address, token=token, project=project)
            return self._own

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = str(path)
        if text.startswith("pfs://"):
            text = text[len("pfs://") :]
        elif text.startswith("pfs::"):
            text = text[len("pfs::") :]
        head, at, tail = text.partition("@")
        if at and ":" in tail:  # pachctl's repo@branch:/path
            ref, _, rest = tail.partition(":")
            if "/" not in ref:
                tail = ref + "/" + rest.lstrip("/")
        return (head + at + tail).rstrip("/")

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        return {}

    def _loc(self, path: str) -> PfsPath:
        loc = parse_url(path)
        if loc is None:
            raise ValueError(f"{path!r} names no branch or commit: expected pfs://repo@branch/path")
        return loc

    def _writable(self, path: str) -> PfsPath:
        loc = self._loc(path)
        if loc.commit.branch is None or loc.commit.id is not None:
            raise PermissionError(f"cannot write to {path!r}: writes go to a branch (pfs://repo@branch/path)")
        return loc

    # --- listing and metadata -------------------------------------------------

    def _ls_repo_level(self, path: str) -> list[dict[str, Any]]:
        if not path:
            project = self.client.project
            return [
                {"name": _repo_name(r.name, r.type, None if r.project == project else r.project), "size": r.size_bytes, "type": "directory"}
                for r in self.client.pfs.list_repo()
            ]
        repo = Repo.from_uri(path)
        return [
            {"name": f"{path}@{b.name}", "size": 0, "type": "directory", "head": b.head}
            for b in self.client.pfs.list_branch(repo)
        ]

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """List a directory (or return the file itself); ``""`` lists repos, ``repo`` its branches."""
        path = self._strip_protocol(path)
        loc = parse_url(path)
        try:
            if loc is None:
                entries = self._ls_repo_level(path)
            else:
                # a missing path raises NotFound (the client checks an empty listing)
                entries = [_entry(loc, info) for info in self.client.pfs.list_file(loc.file)]
        except NotFound as exc:
            raise FileNotFoundError(path) from exc
        entries.sort(key=lambda e: e["name"])
        return entries if detail else [e["name"] for e in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """Size, type (``file``/``directory``), hash, commit and commit time of a path."""
        path = self._strip_protocol(path)
        loc = parse_url(path)
        try:
            if loc is None:
                if not path:
                    return {"name": "", "size": 0, "type": "directory"}
                info = self.client.pfs.inspect_repo(Repo.from_uri(path))
                return {"name": path, "size": info.size_bytes, "type": "directory"}
            return _entry(loc, self.client.pfs.inspect_file(loc.file)) | {"name": path}
        except NotFound as exc:
            raise FileNotFoundError(path) from exc

    def find(
        self, path: str, maxdepth: int | None = None, withdirs: bool = False, detail: bool = False, **kwargs: Any
    ) -> Any:
        """Every file under ``path`` (one ``WalkFile`` call); directories too with ``withdirs``."""
        path = self._strip_protocol(path)
        loc = parse_url(path)
        if loc is None or maxdepth is not None:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        try:
            infos = list(self.client.pfs.walk_file(loc.file))
        except NotFound:
            infos = []
        found = {}
        for info in infos:
            entry = _entry(loc, info)
            if entry["name"] == path and entry["type"] == "directory" and not withdirs:
                continue
            if entry["type"] == "file" or withdirs:
                found[entry["name"]] = entry
        names = sorted(found)
        return {n: found[n] for n in names} if detail else names

    def created(self, path: str) -> datetime | None:
        """When the commit holding this version of the file was made."""
        committed: datetime | None = self.info(path).get("committed")
        return committed

    modified = created

    def ukey(self, path: str) -> str:
        """The content hash (changes exactly when the content does)."""
        return str(self.info(path).get("hash") or super().ukey(path))


    # --- reading --------------------------------------------------------------

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        """The bytes of a file (``start``/``end`` as in slicing, negatives from the end)."""
        loc = self._loc(self._strip_protocol(path))
        try:
            if start is not None and start < 0 or end is not None and end < 0:
                size = self.client.pfs.inspect_file(loc.file).size_bytes
                start = size + start if start is not None and start < 0 else start
                end = size + end if end is not None and end < 0 else end
            offset = max(start or 0, 0)
            if end is None:
                return self.client.pfs.get_file(loc.file, offset=offset)
            if end <= offset:
                return b""
            with self.client.pfs.open_file(loc.file, offset=offset) as reader:
                return reader.read(end - offset)
        except NotFound as exc:
            raise FileNotFoundError(path) from exc

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | str | None = "default",
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PfsFile:
        return PfsFile(self, path, mode=mode, block_size=block_size, autocommit=autocommit, cache_options=cache_options, **kwargs)

    # --- writing (one commit each) ----------------------------------------------

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Write ``value`` to a file in one commit."""
        loc = self._writable(self._strip_protocol(path))
        self.client.pfs.put_file(loc.commit, loc.path, bytes(value))

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy on the server (from any commit to a branch), in one commit."""
        src = self._loc(self._strip_protocol(path1))
        dst = self._writable(self._strip_protocol(path2))
        self.client.pfs.copy_file(src.file, dst.file)

    def rm(self, path: str | list[str], recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete files (directories with ``recursive``); one commit per branch touched."""
        paths = [path] if isinstance(path, str) else list(path)
        by_branch: dict[Commit, list[str]] = {}
        for item in paths:
            loc = self._writable(self._strip_protocol(item))
            kind = self.info(item)["type"]
            if kind == "directory":
                if not recursive:
                    raise IsADirectoryError(f"{item!r} is a directory: pass recursive=True")
                target = loc.path.rstrip("/") + "/"
            else:
                target = loc.path
            by_branch.setdefault(loc.commit, []).append(target)
        for commit, targets in by_branch.items():
            assert commit.branch is not None
            with self.client.pfs.commit(commit.repo.branch(commit.branch)) as open_commit:
                for target in targets:
                    open_commit.delete_file(target)

    def rm_file(self, path: str) -> None:
        """Delete one file in one commit."""
        self.rm(path)

    def _rm(self, path: str) -> None:
        self.rm(path, recursive=True)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """PFS has no empty directories: nothing to do."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """PFS has no empty directories: nothing to do."""

    def rmdir(self, path: str) -> None:
        """A directory disappears with its last file: nothing to do."""


class PfsFile(AbstractBufferedFile):  # type: ignore[misc]
    """A file opened through ``PfsFileSystem.open``.

    Reading is pinned to the commit the file had when opened and streams
    sequential reads over one ``GetFile`` call (a seek elsewhere starts another
    from that offset). Writing spools to a local temporary file (in memory up
    to 32 MiB) and uploads it as one commit on ``close()``; leaving a ``with``
    block by an exception uploads nothing.
    """

    DEFAULT_BLOCK_SIZE = 4 * 2**20
    SPOOL_MEMORY = 32 * 2**20

    def __init__(self, fs: PfsFileSystem, path: str, mode: str = "rb", **kwargs: Any) -> None:
        self._stream: io.BufferedReader | None = None
        self._stream_pos = 0
        self._spool: tempfile.SpooledTemporaryFile[bytes] | None = None
        path = fs._strip_protocol(path)
        self._pfs = fs._writable(path) if mode in ("wb", "ab", "xb") else fs._loc(path)
        if mode == "rb":
            details = fs.info(path)
            if details["type"] != "file":
                raise IsADirectoryError(path)
            kwargs.setdefault("size", details["size"])
            pinned = self._pfs.commit
            if details.get("commit"):
                pinned = Commit(pinned.repo, None, details["commit"])
            self._read_file = File(pinned, self._pfs.path)
            super().__init__(fs, path, mode=mode, **kwargs)
            self.details = details
        else:
            if mode == "xb" and fs.exists(path):
                raise FileExistsError(path)
            super().__init__(fs, path, mode=mode, **kwargs)

    # --- reading --------------------------------------------------------------

    def _fetch_range(self, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        if self._stream is None or self._stream_pos != start:
            self._close_stream()
            self._stream = self.fs.client.pfs.open_file(self._read_file, offset=start)
            self._stream_pos = start
        assert self._stream is not None
        data = self._stream.read(end - start)
        self._stream_pos += len(data)
        return data

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    # --- writing --------------------------------------------------------------

    def _initiate_upload(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=self.SPOOL_MEMORY, prefix="pachmagic-pfs-")

    def _upload_chunk(self, final: bool = False) -> bool:
        assert self._spool is not None
        self._spool.write(self.buffer.getvalue())
        if final and self.autocommit:
            self.commit()
        return True

    def commit(self) -> None:
        """Upload the spooled data as one commit on the branch."""
        if self._spool is None:
            return
        spool, self._spool = self._spool, None
        try:
            spool.seek(0)
            self.fs.client.pfs.put_file(self._pfs.commit, self._pfs.path, spool, append=self.mode == "ab")
        finally:
            spool.close()

    def discard(self) -> None:
        """Drop the spooled data; nothing is committed."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()
        finally:
            self._close_stream()
            self.discard()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and self.writable():
            self.forced = True  # do not upload a half-written file
            self.discard()
        self.close()

