"""Helpers of ``bench/pfs.py``: the bare-gRPC ceiling, peak RSS, the official clients.

The ceiling is a ``grpc.aio`` server in its own process with one generic
handler per direction that moves raw ``bytes`` messages of our client's chunk
size: what gRPC itself costs on this machine, with no protobuf, hashing or disk.
Two more handlers give the floor of the standard RPCs' shapes: ``Messages``
streams small pre-serialized messages (a listing: one message per file) and
``Call`` takes a short client stream (pachyderm-sdk's one ModifyFile per file);
the ceiling process's CPU per message and per call is what grpcio's Python
server costs before any work of ours. ``HintedMessages`` streams the same
messages as our listings write them (gRPC's buffer hint, ``servicers/_writes.py``),
and a ``pfs_v2.API/ModifyFile`` that reads and drops its requests is the floor of
pachyderm-sdk's small-file uploads: the SDK's own cost per call plus grpcio's.
``pfs_v2.API/ListFile`` streams ``WIDE_LISTING`` prebuilt FileInfos (as a
20,000-file listing looks on the wire) with buffer-hinted writes: the floor of
pachyderm-sdk's ``list_file``, the SDK's own parsing plus grpcio's cheapest send,
and (with the InspectCluster and GetVersion answers pachctl asks for first, and
``GlobFile`` sending the same) of ``pachctl list file`` and ``glob file``.
"""

from __future__ import annotations

import asyncio
import fcntl
import multiprocessing
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

REPO_ROOT = Path(__file__).resolve().parents[1]
CHUNK = 4 * 1024 * 1024 - 64 * 1024  # pachmagic.client._files.CHUNK_SIZE
SMALL_MESSAGE = 100  # about a FileInfo of a short path
WIDE_LISTING = 20_000  # bench/realpachd_peer.py's WIDE_FILES
OPTIONS = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
# The same location the official-client tests build (tests/official_clients/conftest.py).
PP_HOME = Path(os.environ.get("PACHMAGIC_PYTHON_PACHYDERM_VENV") or REPO_ROOT / ".venv-python-pachyderm")
PYTHON_PACHYDERM = "python-pachyderm==7.6.0"


async def _write_hinted(context: Any, messages: list[bytes]) -> None:
    """Send ``messages`` as our listings do: buffer-hinted writes, flushed every 1024 (Runtime.send's batches)."""
    from pachmagic.server.servicers import _writes

    if not messages:
        return
    await context.write(messages[0])  # the first goes with the initial metadata
    write = _writes.writer(context, asyncio.get_running_loop())
    last = len(messages) - 1
    for i in range(1, len(messages)):
        await write(messages[i], i % 1024 == 0 or i == last)


def _serve(port_queue: Any) -> None:
    payload = os.urandom(CHUNK)

    async def upload(requests: Any, context: Any) -> bytes:
        total = 0
        async for message in requests:
            total += len(message)
        return str(total).encode()

    async def download(request: bytes, context: Any) -> Any:
        left = int(request)
        while left > 0:
            yield payload if left >= CHUNK else payload[:left]
            left -= CHUNK

    small = b"\n" + os.urandom(SMALL_MESSAGE - 1)

    async def messages(request: bytes, context: Any) -> Any:
        for _ in range(int(request)):
            yield small

    async def hinted_messages(request: bytes, context: Any) -> None:
        await _write_hinted(context, [small] * int(request))

    async def call(requests: Any, context: Any) -> bytes:
        async for _ in requests:
            pass
        return b""

    infos = _wide_listing()
    cluster, version = _bootstrap_answers()

    async def inspect_cluster(request: bytes, context: Any) -> bytes:
        return cluster

    async def get_version(request: bytes, context: Any) -> bytes:
        return version

    async def list_file(request: bytes, context: Any) -> None:
        await _write_hinted(context, infos)

    async def main() -> None:
        server = grpc.aio.server(options=OPTIONS)
        handler = grpc.method_handlers_generic_handler(
            "bench.Raw",
            {
                "Upload": grpc.stream_unary_rpc_method_handler(upload),
                "Download": grpc.unary_stream_rpc_method_handler(download),
                "Messages": grpc.unary_stream_rpc_method_handler(messages),
                "HintedMessages": grpc.unary_stream_rpc_method_handler(hinted_messages),
                "Call": grpc.stream_unary_rpc_method_handler(call),
            },
        )
        modify = grpc.method_handlers_generic_handler(
            "pfs_v2.API", {
                "ModifyFile": grpc.stream_unary_rpc_method_handler(call),
                "ListFile": grpc.unary_stream_rpc_method_handler(list_file),
                "GlobFile": grpc.unary_stream_rpc_method_handler(list_file),  # "/**" of that flat directory
            }
        )
        bootstrap = (  # what pachctl asks before any command
            grpc.method_handlers_generic_handler(
                "admin_v2.API", {"InspectCluster": grpc.unary_unary_rpc_method_handler(inspect_cluster)}),
            grpc.method_handlers_generic_handler(
                "versionpb_v2.API", {"GetVersion": grpc.unary_unary_rpc_method_handler(get_version)}),
        )
        server.add_generic_rpc_handlers((handler, modify, *bootstrap))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        port_queue.put(port)
        await server.wait_for_termination()

    asyncio.run(main())


def _bootstrap_answers() -> tuple[bytes, bytes]:
    """InspectCluster's and GetVersion's answers, serialized: enough for pachctl to go on to its command."""
    from pachmagic._proto import admin_pb2, version_pb2

    cluster = admin_pb2.ClusterInfo(id="ceiling", deployment_id="ceiling", warnings_ok=True)
    return cluster.SerializeToString(), version_pb2.Version(major=2, minor=12, micro=2).SerializeToString()


def _wide_listing() -> list[bytes]:
    """Serialized FileInfos of ``/f00000.txt`` ... of a one-byte-file directory, shaped as ours lists them (141 bytes)."""
    from pachmagic._proto import pfs_pb2

    commit = pfs_pb2.Commit(
        repo=pfs_pb2.Repo(name="peer-wide", type="user", project=pfs_pb2.Project(name="default")),
        id="0" * 32,
    )
    infos = []
    for i in range(WIDE_LISTING):
        info = pfs_pb2.FileInfo(
            file=pfs_pb2.File(commit=commit, path=f"/f{i:05d}.txt", datum="default"), file_type=pfs_pb2.FILE,
            size_bytes=1, hash=os.urandom(32),
        )
        info.committed.GetCurrentTime()
        infos.append(info.SerializeToString())
    return infos


@dataclass
class Ceiling:
    process: Any
    address: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


def ceiling_server() -> Ceiling:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_serve, args=(queue,), daemon=True)
    process.start()
    return Ceiling(process, f"127.0.0.1:{queue.get(timeout=60)}")


def raw_upload(address: str, size: int) -> float:
    """Seconds to stream ``size`` bytes to the ceiling server."""
    payload = os.urandom(CHUNK)
    with grpc.insecure_channel(address, options=OPTIONS) as channel:
        call = channel.stream_unary("/bench.Raw/Upload")

        def messages() -> Any:
            left = size
            while left > 0:
                yield payload if left >= CHUNK else payload[:left]
                left -= CHUNK

        start = time.perf_counter()
        assert int(call(messages())) == size
        return time.perf_counter() - start


def raw_download(address: str, size: int) -> float:
    with grpc.insecure_channel(address, options=OPTIONS) as channel:
        call = channel.unary_stream("/bench.Raw/Download")
        start = time.perf_counter()
        assert sum(len(m) for m in call(str(size).encode())) == size
        return time.perf_counter() - start


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def floor_stream_cpu_us(ceiling: Ceiling, count: int, repeat: int = 3, *, hinted: bool = False) -> float:
    """The ceiling server's CPU microseconds per small message it streams (best of ``repeat``).

    ``hinted``: written as our listings write them (gRPC's buffer hint).
    """
    figures = []
    with grpc.insecure_channel(ceiling.address, options=OPTIONS) as channel:
        call = channel.unary_stream("/bench.Raw/HintedMessages" if hinted else "/bench.Raw/Messages")
        for _ in range(repeat):
            before = process_cpu_s(ceiling.process.pid)
            assert sum(1 for _ in call(str(count).encode())) == count
            figures.append((process_cpu_s(ceiling.process.pid) - before) / count * 1e6)
    return min(figures)


def floor_calls(ceiling: Ceiling, count: int, data: int = 4096) -> tuple[float, float]:
    """(calls per second, server CPU ms per call) of ``count`` short client streams of 4 messages."""
    payload = [b"\n" * 40, b"\n" * 20, b"\n" * 20, os.urandom(data)]
    with grpc.insecure_channel(ceiling.address, options=OPTIONS) as channel:
        call = channel.stream_unary("/bench.Raw/Call")
        before, start = process_cpu_s(ceiling.process.pid), time.perf_counter()
        for _ in range(count):
            call(iter(payload))
        took, cpu = time.perf_counter() - start, process_cpu_s(ceiling.process.pid) - before
    return count / took, cpu / count * 1e3


def _status(pid: int | str) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])  # kB
    return fields


class PeakRss:
    """Peak RSS growth of this process and of ``pid`` from now on (Linux)."""

    def __init__(self, pid: int) -> None:
        self.pids = {"client": "self", "server": pid}
        self.start: dict[str, int] = {}
        for name, p in self.pids.items():
            Path(f"/proc/{p}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.start[name] = _status(p)["VmRSS"]

    def growth_mb(self) -> dict[str, float]:
        return {name: (_status(p)["VmHWM"] - self.start[name]) / 1024 for name, p in self.pids.items()}


def sdk_upload(address: str, repo: str, files: list[tuple[str, bytes]]) -> float:
    """Seconds for pachyderm-sdk to put ``files`` in one commit (its documented way)."""
    from pachyderm_sdk import Client
    from pachyderm_sdk.api import pfs

    host, port = address.rsplit(":", 1)
    client = Client(host=host, port=int(port))
    try:
        start = time.perf_counter()
        with client.pfs.commit(branch=pfs.Branch.from_uri(f"{repo}@sdk")) as commit:
            for path, data in files:
                commit.put_file_from_bytes(path=path, data=data)
        return time.perf_counter() - start
    finally:
        client._channel.close()  # noqa: SLF001 - the SDK has no public close


def sdk_floor_calls(address: str, count: int, data: int = 4096) -> float:
    """pachyderm-sdk's ``put_file_from_bytes`` calls per second to the ceiling's do-nothing ModifyFile.

    What the SDK itself (betterproto + grpclib, one ModifyFile call per file)
    and grpcio's server cost per file, with no storage behind them.
    """
    from pachyderm_sdk import Client
    from pachyderm_sdk.api import pfs

    host, port = address.rsplit(":", 1)
    client = Client(host=host, port=int(port))
    commit = pfs.Commit.from_uri("floor@master=" + "0" * 32)
    payload = os.urandom(data)
    try:
        start = time.perf_counter()
        for i in range(count):
            client.pfs.put_file_from_bytes(commit=commit, path=f"/f{i:05d}", data=payload)
        return count / (time.perf_counter() - start)
    finally:
        client._channel.close()  # noqa: SLF001 - the SDK has no public close


def sdk_floor_list_s(address: str, rounds: int = 3) -> float:
    """Best seconds for pachyderm-sdk's ``list_file`` to receive the ceiling's prebuilt listing.

    What the SDK itself (grpclib + betterproto parsing each FileInfo) costs for
    ``WIDE_LISTING`` entries from the cheapest server grpcio allows.
    """
    from pachyderm_sdk import Client
    from pachyderm_sdk.api import pfs

    host, port = address.rsplit(":", 1)
    client = Client(host=host, port=int(port))
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            n = sum(1 for _ in client.pfs.list_file(file=pfs.File.from_uri("peer-wide@master:/")))
            times.append(time.perf_counter() - start)
            if n != WIDE_LISTING:
                raise RuntimeError(f"the SDK floor listed {n} files, expected {WIDE_LISTING}")
    finally:
        client._channel.close()  # noqa: SLF001 - the SDK has no public close
    return min(times)


def pachctl_floor(ceiling: Ceiling, pachctl_exe: Path, work: Path, rounds: int = 3) -> dict[str, float]:
    """pachctl's best seconds to list and to glob the ceiling's prebuilt listing, and the ceiling's CPU per message.

    A fast client (Go) takes each message as it comes, so grpc.aio wakes its event
    loop once per message; this is what that costs with no server work at all.
    """
    sys.path.insert(0, str(REPO_ROOT))  # tests/go holds the pachctl runner
    from tests.go import pachctl_runner

    pachctl = pachctl_runner.Pachctl(pachctl_exe, ceiling.address, work / "pachctl-ceiling", timeout=600)
    best: dict[str, float] = {}
    cpu_per_msg = []
    for _ in range(rounds):
        for op, args in (("list", ("list", "file", "peer-wide@master:/")), ("glob", ("glob", "file", "peer-wide@master:/**"))):
            cpu = process_cpu_s(ceiling.process.pid)
            start = time.perf_counter()
            lines = pachctl.run(*args).lines
            took = time.perf_counter() - start
            if len(lines) != WIDE_LISTING + 1:  # a header, then one line per file
                raise RuntimeError(f"pachctl {op} of the ceiling gave {len(lines) - 1} files, expected {WIDE_LISTING}")
            best[op] = min(best.get(op, took), took)
            cpu_per_msg.append((process_cpu_s(ceiling.process.pid) - cpu) / WIDE_LISTING * 1e6)
    return {"list_s": best["list"], "glob_s": best["glob"], "server_cpu_us_per_msg": min(cpu_per_msg)}


def fdatasync_ms(directory: Path, count: int = 200) -> float:
    """Median milliseconds to append 4 KiB and fdatasync in ``directory``: the disk's cost per durable small write."""
    path = directory / "bench-fdatasync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    took = []
    try:
        for _ in range(count):
            block = os.urandom(4096)
            start = time.perf_counter()
            os.write(fd, block)
            os.fdatasync(fd)
            took.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    return sorted(took)[len(took) // 2] * 1e3


def pack_read_cpu_s_per_gib(directory: Path, size: int, rounds: int = 3) -> float:
    """CPU seconds per GiB of a warm download's reads as our server does them (median of ``rounds``).

    The pack data is written and first read by the server's own pack code
    (``DiskPacks``: 4 MiB chunks appended with O_DIRECT, then brought into the
    page cache by ``advise`` + ``read`` as a first download does), then read
    again as a warm download reads it on the event loop (``read_cached``). This
    costs more per byte than reading a file written through the page cache
    (``read_cpu_s_per_gib``): the kernel's readahead fills the cache with 4 KiB
    pages, where buffered writes and plain reads use large folios, whose
    first fill costs several times more CPU on this machine.
    """
    import resource

    from pachmagic.server.storage.packs import DiskPacks

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    chunk = 4 * 1024 * 1024
    packs = DiskPacks(directory / "bench-pack-probe")
    try:
        block = memoryview(os.urandom(chunk))
        places = [packs.append_parts([block]) for _ in range(max(size // chunk, 1))]
        packs.sync(places)
        for i, (pack, offset) in enumerate(places):
            for ahead in places[i + 1 : i + 5] if i == 0 else places[i + 4 : i + 5]:
                packs.advise(*ahead, chunk)
            packs.read(pack, offset, chunk)
        figures = []
        for _ in range(rounds):
            before = cpu()
            for pack, offset in places:
                if packs.read_cached(pack, offset, chunk) is None:
                    packs.read(pack, offset, chunk)
            figures.append((cpu() - before) / (len(places) * chunk / (1 << 30)))
        return sorted(figures)[len(figures) // 2]
    finally:
        packs.close()
        for path in (directory / "bench-pack-probe").glob("*"):
            path.unlink()
        (directory / "bench-pack-probe").rmdir()


def python_pachyderm_python() -> Path:
    """The interpreter of the python-pachyderm 7.6 virtualenv, built once if missing."""
    env = PP_HOME / "env"
    python = env / "bin" / "python"
    PP_HOME.mkdir(parents=True, exist_ok=True)
    with open(PP_HOME / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ok = subprocess.run([str(python), "-c", "import python_pachyderm"], capture_output=True).returncode == 0 if python.exists() else False
        if not ok:
            for cmd in ([sys.executable, "-m", "venv", str(env)], [str(python), "-m", "pip", "install", "-q", PYTHON_PACHYDERM]):
                result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
                if result.returncode:
                    raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip()[-300:]}")
    return python
