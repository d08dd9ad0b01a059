"""``pachmagic fsck``: a clean data directory passes, a damaged one fails with the damage named."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from pachmagic.cli import main
from pachmagic.server.storage import CommitRef, RepoKey, Storage


def make_store(path: Path) -> None:
    store = Storage(path)
    store.create_repo(RepoKey("default", "data"))
    session = store.write_session()
    session.add("/a.txt", b"hello")
    store.apply(CommitRef(RepoKey("default", "data"), "master"), session)
    store.close()


def test_fsck_clean(tmp_path: Path) -> None:
    make_store(tmp_path)
    result = CliRunner().invoke(main, ["fsck", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("ok: checked")


def test_fsck_reports_damage(tmp_path: Path) -> None:
    make_store(tmp_path)
    pack = next((tmp_path / "packs").glob("*.pack"))
    data = bytearray(pack.read_bytes())
    data[0] ^= 0xFF
    pack.write_bytes(bytes(data))
    result = CliRunner().invoke(main, ["fsck", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "DAMAGE: chunk" in result.output and "is corrupt" in result.output
    # Without reading data the corruption is invisible, the references are fine.
    assert CliRunner().invoke(main, ["fsck", "--data-dir", str(tmp_path), "--no-data"]).exit_code == 0


def test_fsck_missing_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fsck", "--data-dir", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "no pachmagic data" in result.output
