"""The file half of ``pfs_v2.API``: ModifyFile, GetFile(TAR), Inspect/List/Walk/Glob/DiffFile.

A mixin of ``PfsServicer`` (split out to keep modules readable); the
``pachmagic_ext`` service reuses ``apply_ops`` and the listing generators, so
both framings share one implementation of Pachyderm's semantics.

Over 400 lines because the streamed write (``ModifyFileStream``: batches,
cancellation, one atomic apply) and the listings' pachd rules (paging, reverse,
empty commits) are the two halves of one contract, tested together.
"""

from __future__ import annotations

import asyncio
import tarfile
import urllib.request
from typing import Any, AsyncIterator, Callable, Iterable, Iterator

from google.protobuf import empty_pb2, wrappers_pb2

from ...errors import InvalidArgument, NotFound, Unknown
from ...pachyderm.globs import has_glob
from ...pachyderm.paths import clean_path
from ...pachyderm.wire import bytes_value
from ..._proto import pfs_pb2
from ..storage import CommitRef, Storage
from ..storage.chunks import CHUNK_SIZE, Piece
from ..storage.files import WriteSession
from ..storage.model import FileInfo
from ..storage.tree import Entry
from . import _convert as cv
from . import _encode as encode
from . import _writes
from ._base import Runtime, rpc
from ._wire import Op

__all__ = ["FileRpcs", "RAW_RESPONSES", "ModifyFileStream", "ended_by_client", "list_infos", "walk_infos", "glob_infos",
           "send_file", "CHUNKS_PER_HOP"]

# A ModifyFile stream is handed to the thread pool in batches of this many
# messages or bytes: fewer hops, and memory stays bounded.
_BATCH_MESSAGES = 2048
_BATCH_BYTES = 4 * 1024 * 1024
# Pachyderm caps ListFile/WalkFile pages at this many entries.
_MAX_NUMBER = 100_000
# Methods of ``pfs_v2.API`` whose handlers write serialized messages (registered without a
# response serializer by ``add_to_server``).
RAW_RESPONSES = frozenset({"ListFile", "WalkFile", "GlobFile", "GetFile"})


class ModifyFileStream:
    """The state of one ModifyFile stream: the target commit and the open session.

    Nothing reaches the store until ``finish``, and ``finish`` applies only a
    stream its client ended itself (see ``ended_by_client``): a stream that is
    cancelled, runs out of time, loses its client or meets an error applies
    nothing. As in pachd, ``set_commit`` is the first message and only that one.
    """

    def __init__(self, storage: Storage, rt: Runtime) -> None:
        self.storage = storage
        self.rt = rt
        self.ref: CommitRef | None = None
        self.session: WriteSession | None = None
        self.batch: list[Op] = []
        self.size = 0
        # The batch being recorded on the thread pool while the next one arrives:
        # receiving and hashing/writing overlap, with at most two batches in memory.
        self.inflight: asyncio.Future[None] | None = None
        # set_commit's check (repo exists, commit open) runs on the pool with the first
        # batch, before it: one thread hop per small stream instead of three (pachyderm-sdk
        # sends one short stream per file). A wrong commit still fails before any data is
        # recorded, though up to one batch later than set_commit itself.
        self.unchecked = False

    async def feed(self, req: pfs_pb2.ModifyFileRequest) -> None:
        """Take one standard ModifyFile message."""
        body = req.WhichOneof("body")
        if body == "add_file" and req.add_file.WhichOneof("source") != "url":
            add = req.add_file
            await self.feed_op(Op(None, add.path, add.datum, memoryview(add.raw.value)))  # the one copy
        else:
            await self.feed_op(Op(req))

    async def feed_op(self, op: Op) -> None:
        """Take one operation (a parsed message, or a raw add from ``_wire``)."""
        req = op.request
        if req is not None and req.WhichOneof("body") == "set_commit":
            if self.ref is not None:
                # pachd's words and code: one stream writes to one commit.
                raise Unknown("cannot set commit")
            self.ref = cv.commit_ref(req.set_commit)
            self.unchecked = True
            self.session = self.storage.write_session()
            return
        if self.session is None:
            raise Unknown("first message must be a commit")
        if req is not None and req.WhichOneof("body") is None:
            raise Unknown("unrecognized message type")
        self.batch.append(op)
        self.size += len(op.path) + (len(op.data) if op.data is not None else 0)
        if len(self.batch) >= _BATCH_MESSAGES or self.size >= _BATCH_BYTES:
            await self.flush()

    async def flush(self, *, wait: bool = False) -> None:
        if self.inflight is not None:
            inflight, self.inflight = self.inflight, None
            await inflight
        if self.batch and self.session is not None:
            batch, self.batch, self.size = self.batch, [], 0
            loop = asyncio.get_running_loop()
            self.inflight = loop.run_in_executor(self.rt.pool, self._record, self.session, batch)
        if wait and self.inflight is not None:
            inflight, self.inflight = self.inflight, None
            await inflight

    def _record(self, session: WriteSession, batch: list[Op]) -> None:
        """On the pool: the pending set_commit check, then ``batch``."""
        self._check()
        apply_ops(self.storage, session, batch)

    def _check(self) -> None:
        if self.unchecked and self.ref is not None:
            check_writable(self.storage, self.ref)
            self.unchecked = False

    async def abandon(self) -> None:
        """The stream broke off: let the batch in flight finish, keep nothing."""
        if self.inflight is not None:
            try:
                await self.inflight
            except Exception:  # noqa: BLE001 - the stream's own error is the one reported
                pass
            self.inflight = None

    async def finish(self, context: Any) -> None:
        """Apply the stream atomically, if its client ended it (else raise CancelledError)."""
        if self.ref is None or self.session is None:
            raise InvalidArgument("ModifyFile: the stream had no set_commit")
        if self.inflight is not None:
            inflight, self.inflight = self.inflight, None
            await inflight
        await ended_by_client(context)
        session, self.session = self.session, None
        batch, self.batch, self.size = self.batch, [], 0
        ref = self.ref

        def record_and_apply() -> None:  # one hop: the check, the last batch, the apply
            self._record(session, batch)
            self.storage.apply(ref, session)

        # From here on the change is the client's: it closed its side of the stream,
        # so a cancel that arrives during the apply does not undo it (as in pachd).
        await self.rt.blocking(record_and_apply)


async def ended_by_client(context: Any) -> None:
    """Return if the client closed its side of the stream; raise CancelledError if the stream was cut.

    grpc.aio reports a stream cut by a cancel, a deadline or a lost connection
    exactly like a normal end (its receive merges both into end-of-stream), and
    tells the handler of the cut a moment later. Two checks close that gap: a
    passed deadline is visible at once, and a cut call refuses to send headers
    (or the cancellation, queued before our send completes, reaches this task
    while it waits). A stream that ended normally sends its headers here.
    """
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise asyncio.CancelledError("the deadline passed before the stream ended")
    try:
        await context.send_initial_metadata(())
    except asyncio.CancelledError:
        raise
    except Exception as err:  # noqa: BLE001 - grpc's internal ExecuteBatchError: the call is gone
        raise asyncio.CancelledError(f"the stream was cut: {type(err).__name__}") from err
    if context.cancelled():
        raise asyncio.CancelledError("the stream was cancelled")


def check_writable(storage: Storage, ref: CommitRef) -> None:
    """Fail fast, before any data arrives, on a missing repo or finished commit."""
    storage.inspect_repo(ref.repo)
    if ref.id:
        info = storage.inspect_commit(ref)
        if info.finishing is not None:
            raise Unknown(f"commit {info.key} has already finished")


def apply_ops(storage: Storage, session: WriteSession, ops: Iterable[Op]) -> None:
    """Record ModifyFile operations (not set_commit) in ``session``."""
    for op in ops:
        req = op.request
        if req is None:
            session.add(op.path, op.data if op.data is not None else b"", op.datum)
            continue
        body = req.WhichOneof("body")
        if body == "add_file":
            add = req.add_file
            source = add.WhichOneof("source")
            if source == "url":
                add_url(session, add.path, add.url.URL, add.datum)
            else:
                session.add(add.path, add.raw.value, add.datum)
        elif body == "delete_file":
            session.delete(req.delete_file.path)
        elif body == "copy_file":
            copy = req.copy_file
            src_ref, src_path = cv.file_ref(copy.src)
            reader = storage.reader(src_ref)
            try:
                reader.inspect(src_path)
            except NotFound:  # as pachd: copying nothing is no error
                continue
            session.copy(reader.tree, src_path, copy.dst, append=copy.append, datum=copy.datum)
        elif body == "set_commit":
            raise InvalidArgument("ModifyFile: set_commit inside a batch of operations")
        else:
            raise InvalidArgument("ModifyFile: empty request (no add_file, delete_file or copy_file)")


def add_url(session: WriteSession, path: str, url: str, datum: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise InvalidArgument(f"unsupported URL {url!r}: only http and https sources are supported")
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - scheme checked above
            session.add(path, b"", datum)
            while True:
                data = response.read(CHUNK_SIZE)
                if not data:
                    break
                session.add(path, data, datum)
    except OSError as err:
        raise InvalidArgument(f"could not download {url}: {err}") from err


def get_file_entry(storage: Storage, request: pfs_pb2.GetFileRequest,
                   stop: Callable[[], None] | None = None) -> Entry | None:
    """The file GetFile sends, or None when nothing is left to send after the offset."""
    if request.URL:
        raise InvalidArgument("GetFile with URL (writing to object storage) is not supported by the embedded server")
    if request.offset < 0:
        raise InvalidArgument(f"offset must not be negative (got {request.offset})")
    ref, path = cv.request_file(request)
    entry = storage.reader(ref).get_entry(path, stop)
    return None if entry.size == 0 or request.offset >= entry.size else entry


# Chunks read per hop to the thread pool (when they must come from the disk): one
# 4 MiB chunk per hop cost a thread switch and an event-loop wake-up per chunk; four
# keep two hops' worth (32 MiB) in memory at most while the next is read during the
# sending of the current.
CHUNKS_PER_HOP = 4


async def send_file(rt: Runtime, storage: Storage, request: pfs_pb2.GetFileRequest, context: Any,
                    frame: Callable[[bytes], bytes] | None) -> None:
    """Write GetFile's answer to ``context``: each chunk through ``frame``, or bare when None.

    The handler must be registered without a response serializer. A file with
    nothing to send after the offset gets one ``frame(b"")`` message (pachd's
    empty BytesValue), or none when bare.

    Chunks whose bytes are in memory (verified before, in the page cache) are read
    on the event loop, one kernel copy each and no thread hop (``Storage.read_piece_cached``
    never waits for the disk); the others are read on the pool ``CHUNKS_PER_HOP`` at a
    time (chunks not verified yet: the next batch while the current one is sent), and
    the disk is asked for the batch after it. Measured on a warm 1 GiB download: the pool hops (two thread
    switches and an event-loop wake-up per hop) cost about a quarter of the server's CPU.
    """
    stop = rt.stopper(context)

    def plan() -> list[Piece]:
        entry = get_file_entry(storage, request, stop)
        return [] if entry is None else storage.file_pieces(entry.chunks, request.offset)

    pieces = await rt.blocking(plan)
    if not pieces:
        if frame is not None:
            await context.write(frame(b""))
        return

    def framed(data: bytes) -> bytes:
        return data if frame is None else frame(data)

    def read_from(start: int) -> list[bytes]:
        # On the pool thread: reading (and framing) what is not in memory stays off the event loop.
        end = start + CHUNKS_PER_HOP
        storage.advise(pieces[end : end + CHUNKS_PER_HOP])
        return [framed(storage.read_piece(piece)) for piece in pieces[start:end]]

    loop = asyncio.get_running_loop()
    write: _writes.Write | None = None
    pending: asyncio.Future[list[bytes]] | None = None
    index = 0
    try:
        while index < len(pieces):
            data = None if pending is not None else storage.read_piece_cached(pieces[index])
            if data is not None:
                items, index = [framed(data)], index + 1
            else:
                if pending is None:
                    pending = loop.run_in_executor(rt.pool, read_from, index)
                items = await pending
                index += len(items)
                # Chunks never read in this process (a first download) are likely on the disk
                # too, and must be hashed: read them while these are sent. Others (a chunk
                # that left the page cache) are tried from memory again first.
                more = index < len(pieces) and not storage.verified(pieces[index])
                pending = loop.run_in_executor(rt.pool, read_from, index) if more else None
            for item in items:
                if write is None:  # the first message goes with the initial metadata
                    await context.write(item)
                    write = _writes.writer(context, loop)
                else:
                    await write(item, True)
    finally:
        if pending is not None and not pending.done():
            pending.cancel()


def _check_number(number: int, reverse: bool) -> None:
    if reverse and number <= 0:  # pachd's text (a negative number otherwise means all)
        raise Unknown("number must be > 0 when reverse is true")


def list_infos(storage: Storage, request: pfs_pb2.ListFileRequest) -> Iterator[FileInfo]:
    """ListFile's answer: children in path order, after the marker, at most ``number``.

    As pachd: a path that does not exist lists nothing (no error).
    """
    ref, path = cv.request_file(request)
    _check_number(request.number, request.reverse)
    marker = request.paginationMarker.path if request.HasField("paginationMarker") else ""
    reader = storage.reader(ref)
    try:
        reader.inspect(path)
    except NotFound:
        return
    if request.reverse:
        items: Iterable[FileInfo] = reversed(list(reader.children(path)))
        if marker:
            items = (i for i in items if i.path < marker)
    else:
        items = reader.children(path, after=marker)
    yield from _limit(items, request.number)


def walk_infos(storage: Storage, request: pfs_pb2.WalkFileRequest) -> Iterator[FileInfo]:
    ref, path = cv.request_file(request)
    _check_number(request.number, request.reverse)
    marker = request.paginationMarker.path if request.HasField("paginationMarker") else ""
    reader = storage.reader(ref)
    try:
        reader.inspect(path)
    except NotFound:  # pachd's text for a walk from nowhere (from the root of an empty commit: nothing)
        if clean_path(path) == "/":
            return
        raise NotFound(f"commit/{reader.commit.id} does not contain item: ({clean_path(path)})") from None
    items: Iterable[FileInfo] = reader.walk(path)
    if request.reverse:
        items = reversed(list(items))
        if marker:
            items = (i for i in items if i.path < marker)
    elif marker:
        items = (i for i in items if i.path > marker)
    yield from _limit(items, request.number)


def glob_infos(storage: Storage, request: pfs_pb2.GlobFileRequest,
               stop: Callable[[], None] | None = None) -> Iterator[FileInfo]:
    cv.require(request, "commit")
    ref = cv.commit_ref(request.commit)
    return storage.reader(ref).glob(request.pattern, stop)


def _limit(items: Iterable[FileInfo], number: int) -> Iterator[FileInfo]:
    if number <= 0:
        yield from items
        return
    for count, info in enumerate(items, 1):
        yield info
        if count >= min(number, _MAX_NUMBER):
            return


class FileRpcs:
    """File RPCs of ``pfs_v2.API`` (mixed into ``PfsServicer``)."""

    storage: Storage
    rt: Runtime

    @rpc
    async def ModifyFile(self, request_iterator: Any, context: Any) -> empty_pb2.Empty:
        stream = ModifyFileStream(self.storage, self.rt)
        try:
            async for req in request_iterator:
                await stream.feed(req)
            await stream.finish(context)
        finally:
            await stream.abandon()
        return empty_pb2.Empty()

    @rpc
    async def GetFile(self, request: pfs_pb2.GetFileRequest, context: Any) -> None:
        """Each chunk as a serialized BytesValue (``RAW_RESPONSES``): one copy, no protobuf object."""
        await send_file(self.rt, self.storage, request, context, bytes_value)

    @rpc
    async def GetFileTAR(self, request: pfs_pb2.GetFileRequest, context: Any) -> AsyncIterator[wrappers_pb2.BytesValue]:
        ref, path = cv.request_file(request)

        def pieces() -> Iterator[bytes]:
            # As pachd: every directory and file at or below the path (a glob
            # allowed), directories included, with absolute names (pachctl's
            # `get file -r` strips the inspected path from them) and mode 0.
            reader = self.storage.reader(ref)
            if has_glob(clean_path(path)):
                roots = [info.path for info in reader.glob(path)]
            else:
                roots = [reader.inspect(path).path]
            for root in roots:
                for item in reader.walk(root):
                    info = tarfile.TarInfo(item.path.rstrip("/"))
                    info.mode = 0
                    info.mtime = int(reader.committed or 0)
                    if item.is_dir:
                        info.type = tarfile.DIRTYPE
                        yield info.tobuf(format=tarfile.PAX_FORMAT)
                        continue
                    entry = reader.tree.get(item.path)
                    assert entry is not None
                    info.size = entry.size
                    yield info.tobuf(format=tarfile.PAX_FORMAT)
                    yield from self.storage.read_chunks(entry.chunks)
                    if entry.size % 512:
                        yield b"\0" * (512 - entry.size % 512)
            yield b"\0" * 1024

        async for data in self.rt.stream(pieces, batch=1, prefetch=True):
            yield wrappers_pb2.BytesValue(value=data)

    @rpc
    async def InspectFile(self, request: pfs_pb2.InspectFileRequest, context: Any) -> pfs_pb2.FileInfo:
        ref, path = cv.request_file(request)
        info = await self.rt.blocking(lambda: self.storage.reader(ref).inspect(path))
        return cv.file_info_pb(info)

    # The listings answer with messages serialized in bulk (``_encode.py``): see ``RAW_RESPONSES``.
    @rpc
    async def ListFile(self, request: pfs_pb2.ListFileRequest, context: Any) -> None:
        await self.rt.send(context, lambda: encode.file_infos(list_infos(self.storage, request)))

    @rpc
    async def WalkFile(self, request: pfs_pb2.WalkFileRequest, context: Any) -> None:
        await self.rt.send(context, lambda: encode.file_infos(walk_infos(self.storage, request)))

    @rpc
    async def GlobFile(self, request: pfs_pb2.GlobFileRequest, context: Any) -> None:
        stop = self.rt.stopper(context)
        await self.rt.send(context, lambda: encode.file_infos(glob_infos(self.storage, request, stop)))

    @rpc
    async def DiffFile(self, request: pfs_pb2.DiffFileRequest, context: Any) -> AsyncIterator[pfs_pb2.DiffFileResponse]:
        new_ref, new_path = cv.request_file(request, "new_file")
        old_ref = old_path = None
        if request.HasField("old_file") and (request.old_file.commit.id or request.old_file.commit.branch.name):
            old_ref, old_path = cv.file_ref(request.old_file)

        def pairs() -> Iterator[pfs_pb2.DiffFileResponse]:
            for new, old in self.storage.diff(new_ref, new_path, old_ref, old_path):
                msg = pfs_pb2.DiffFileResponse()
                if new is not None:
                    msg.new_file.CopyFrom(cv.file_info_pb(new))
                if old is not None:
                    msg.old_file.CopyFrom(cv.file_info_pb(old))
                yield msg

        async for msg in self.rt.stream(pairs):
            yield msg
