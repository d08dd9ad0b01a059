"""``pfs://`` through fsspec and pandas, against both servers (embedded and reference pachd).

Checks the URL grammar (pure), then reads and writes through pandas, ``open``,
``ls``/``glob``/``find``/``info``/``cat``, ``rm`` and ``cp`` — counting commits to
prove that each closed file is exactly one commit.
"""

from __future__ import annotations

from typing import Any, Iterator

import fsspec
import pandas as pd
import pytest

from pachmagic.client import Client
from pachmagic.fs import PfsFileSystem, get_default_client, parse_url, set_default_client


@pytest.fixture
def client(any_server: Any) -> Iterator[Client]:
    client = any_server.client()
    client.pfs.create_repo("data")
    set_default_client(client)
    yield client
    set_default_client(None)
    client.close()


def commits(client: Client, repo: str = "data") -> int:
    return len(client.pfs.list_commit(repo))


# --- URL grammar (no server) ---------------------------------------------------


@pytest.mark.parametrize(
    "url, prefix, project, repo, branch, commit_id, path",
    [
        ("pfs://photos@master/a/b.csv", "photos@master", None, "photos", "master", None, "/a/b.csv"),
        ("pfs://images/photos@master/b.csv", "images/photos@master", "images", "photos", "master", None, "/b.csv"),
        ("pfs://photos@master:/a.csv", "photos@master", None, "photos", "master", None, "/a.csv"),
        ("photos@master", "photos@master", None, "photos", "master", None, "/"),
        ("pfs://photos@master^2/x", "photos@master^2", None, "photos", None, "master^2", "/x"),
        ("pfs://photos@master/dir/a@b.txt", "photos@master", None, "photos", "master", None, "/dir/a@b.txt"),
        (
            "pfs://photos@master=0123456789ab4def0123456789abcdef/x",
            "photos@master=0123456789ab4def0123456789abcdef",
            None, "photos", "master", "0123456789ab4def0123456789abcdef", "/x",
        ),
    ],
)
def test_parse_url(url: str, prefix: str, project: str | None, repo: str, branch: str | None, commit_id: str | None, path: str) -> None:
    loc = parse_url(url)
    assert loc is not None
    assert (loc.prefix, loc.commit.repo.project, loc.commit.repo.name) == (prefix, project, repo)
    assert (loc.commit.branch, loc.commit.id, loc.path) == (branch, commit_id, path)
    assert loc.name(path) == (prefix + path if path != "/" else prefix)


def test_parse_url_repo_level_and_errors() -> None:
    assert parse_url("pfs://") is None
    assert parse_url("pfs://photos") is None
    with pytest.raises(ValueError):
        parse_url("pfs://bad name@master/x")


def test_registry_and_entry_point(any_server: Any) -> None:
    server = any_server
    assert fsspec.get_filesystem_class("pfs") is PfsFileSystem
    client = server.client()
    try:
        set_default_client(client)
        assert get_default_client() is client
        assert PfsFileSystem(skip_instance_cache=True).client is client
        set_default_client(None)
        own = PfsFileSystem(address=server.address, skip_instance_cache=True)
        assert own.client is not client and own.client.address == server.address
    finally:
        set_default_client(None)
        client.close()


# --- pandas ----------------------------------------------------------------------


def test_pandas_csv_round_trip_one_commit_per_file(client: Client) -> None:
    df = pd.DataFrame({"name": ["a", "b", "c"], "value": [1, 2, 3]})
    before = commits(client)
    df.to_csv("pfs://data@master/tables/values.csv", index=False)
    assert commits(client) == before + 1
    df.to_csv("pfs://data@master/tables/again.csv", index=False)
    assert commits(client) == before + 2
    back = pd.read_csv("pfs://data@master/tables/values.csv")
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert client.pfs.get_file("data@master:/tables/values.csv") == df.to_csv(index=False).encode()


def test_pandas_parquet_round_trip(client: Client) -> None:
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"x": range(1000), "y": [f"row{i}" for i in range(1000)]})
    before = commits(client)
    df.to_parquet("pfs://default/data@master/t.parquet")
    assert commits(client) == before + 1
    back = pd.read_parquet("pfs://data@master/t.parquet")
    assert back["x"].tolist() == list(range(1000)) and back["y"].iloc[-1] == "row999"


def test_explicit_client_storage_option(any_server: Any) -> None:
    client = any_server.client()
    client.pfs.create_repo("other")
    client.pfs.put_file("other@master", "/a.csv", "k,v\n1,2\n")
    frame = pd.read_csv("pfs://other@master/a.csv", storage_options={"client": client})
    assert frame.to_dict("records") == [{"k": 1, "v": 2}]
    client.close()


# --- filesystem API ---------------------------------------------------------------


def test_ls_glob_find_info_cat(client: Client) -> None:
    client.pfs.put_files("data@master", {"/a.csv": "1\n", "/dir/b.txt": "hello world", "/dir/sub/c.txt": "c"})
    fs = PfsFileSystem(skip_instance_cache=True)
    assert fs.ls("pfs://data@master", detail=False) == ["data@master/a.csv", "data@master/dir"]
    assert [e["type"] for e in fs.ls("pfs://data@master")] == ["file", "directory"]
    assert fs.ls("pfs://", detail=False) == ["data"]
    assert fs.ls("pfs://data", detail=False) == ["data@master"]
    assert fs.glob("pfs://data@master/**/*.txt") == ["data@master/dir/b.txt", "data@master/dir/sub/c.txt"]
    assert fs.glob("pfs://data@master/*.csv") == ["data@master/a.csv"]
    assert fs.find("pfs://data@master") == ["data@master/a.csv", "data@master/dir/b.txt", "data@master/dir/sub/c.txt"]
    info = fs.info("pfs://data@master/dir/b.txt")
    assert info["type"] == "file" and info["size"] == 11 and len(info["hash"]) == 64
    assert fs.info("pfs://data@master/dir")["type"] == "directory"
    assert fs.isdir("data@master/dir") and fs.isfile("data@master/a.csv")
    assert not fs.exists("data@master/nope")
    assert fs.cat("pfs://data@master/dir/b.txt") == b"hello world"
    assert fs.cat_file("pfs://data@master:/dir/b.txt", start=6) == b"world"
    assert fs.cat_file("pfs://data@master/dir/b.txt", start=0, end=5) == b"hello"
    assert fs.cat_file("pfs://data@master/dir/b.txt", start=-5) == b"world"
    assert fs.ukey("data@master/a.csv") == fs.info("data@master/a.csv")["hash"]
    with pytest.raises(FileNotFoundError):
        fs.cat("pfs://data@master/missing.txt")
    with pytest.raises(FileNotFoundError):
        fs.open("pfs://data@master/missing.txt", "rb")
    with pytest.raises(FileNotFoundError):
        fs.ls("pfs://data@master/missing")
    with pytest.raises(IsADirectoryError):
        fs.open("pfs://data@master/dir", "rb")
    assert fs.info("pfs://data")["type"] == "directory" and fs.info("pfs://")["type"] == "directory"
    with pytest.raises(ValueError):
        fs.cat("pfs://data")  # no branch or commit


def test_open_streams_and_seeks_pinned_to_commit(client: Client) -> None:
    data = bytes(range(256)) * 40_000  # ~10 MiB: several blocks
    client.pfs.put_file("data@master", "/big.bin", data)
    fs = PfsFileSystem(skip_instance_cache=True)
    with fs.open("pfs://data@master/big.bin", "rb", block_size=1 << 20) as handle:
        assert handle.read(10) == data[:10]
        handle.seek(5_000_000)
        assert handle.read(100) == data[5_000_000:5_000_100]
        client.pfs.put_file("data@master", "/big.bin", b"changed")  # a new head does not disturb the reader
        handle.seek(0)
        assert handle.read() == data


def test_writes_one_commit_per_closed_file_and_none_on_error(client: Client) -> None:
    fs = PfsFileSystem(skip_instance_cache=True)
    before = commits(client)
    with fs.open("pfs://data@master/out/a.txt", "wb", block_size=1024) as handle:
        for _ in range(10):
            handle.write(b"x" * 1000)  # beyond the block size: still one commit
    assert commits(client) == before + 1
    with fs.open("pfs://data@master/out/a.txt", "ab") as handle:
        handle.write(b"tail")
    assert commits(client) == before + 2
    assert fs.cat("data@master/out/a.txt") == b"x" * 10_000 + b"tail"
    with fsspec.open("pfs://data@master/out/t.txt", "w") as text:
        text.write("héllo")
    assert fs.cat("data@master/out/t.txt").decode() == "héllo"
    count = commits(client)
    with pytest.raises(RuntimeError):
        with fs.open("pfs://data@master/out/broken.txt", "wb") as handle:
            handle.write(b"half")
            raise RuntimeError("boom")
    assert commits(client) == count and not fs.exists("data@master/out/broken.txt")
    fs.pipe("pfs://data@master/p.txt", b"piped")
    assert fs.cat("data@master/p.txt") == b"piped" and commits(client) == count + 1


def test_rm_cp_and_read_only_refs(client: Client) -> None:
    client.pfs.put_files("data@master", {"/a.txt": "a", "/d/b.txt": "b", "/d/c.txt": "c"})
    fs = PfsFileSystem(skip_instance_cache=True)
    before = commits(client)
    fs.cp("pfs://data@master/a.txt", "pfs://data@master/copy.txt")
    assert fs.cat("data@master/copy.txt") == b"a" and commits(client) == before + 1
    with pytest.raises(IsADirectoryError):
        fs.rm("pfs://data@master/d")
    fs.rm(["pfs://data@master/d", "pfs://data@master/a.txt"], recursive=True)
    assert commits(client) == before + 2
    assert fs.find("data@master") == ["data@master/copy.txt"]
    head = client.pfs.inspect_commit("data@master").id
    with pytest.raises(PermissionError):
        fs.pipe(f"pfs://data@{head}/x.txt", b"no")
    assert fs.cat(f"pfs://data@{head}/copy.txt") == b"a"
    assert fs.cat("pfs://data@master^1/a.txt") == b"a"  # ancestry resolves on the server
