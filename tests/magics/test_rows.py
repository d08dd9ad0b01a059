"""``%pach diff file NEW OLD --rows``: a row diff of a table between two commits.

Run against the embedded server and against the reference pachd (a row diff
needs only PFS): the same cells give the same answers on both.
"""

from __future__ import annotations

import pytest

from pachmagic.client import Client, connect
from pachmagic.magics._testing import TestingShell

OLD = "id,city,amount\n1,Paris,10\n2,Lyon,20\n3,Nice,30\n"
NEW = "id,city,amount\n1,Paris,10\n2,Lyon,25\n4,Brest,40\n"


@pytest.fixture(params=["embedded", "reference"])
def address(request: pytest.FixtureRequest) -> str:
    """The address of a server: our embedded one, or a genuine pachd 2.12.2."""
    if request.param == "embedded":
        return str(request.getfixturevalue("pach_server").address)
    return str(request.getfixturevalue("real_pachd").address)


@pytest.fixture
def sales(shell: TestingShell, address: str) -> tuple[TestingShell, str, str]:
    """A shell connected to ``address`` with two commits of ``sales@master:/t.csv``; returns their ids."""
    shell.run_cell(f"%pach connect {address}")
    shell.run_cell("%config PachMagic.progress = False")
    with connect(address) as client:
        client.pfs.create_repo("sales")
        ids = []
        for text in (OLD, NEW):
            with client.pfs.commit("sales@master") as c:
                c.put_file("/t.csv", text.encode())
            client.pfs.wait_commit(f"sales@{c.id}")  # pachd finishes commits asynchronously
            ids.append(c.id)
    return shell, ids[0], ids[1]


def test_rows_between_two_commits(sales: tuple[TestingShell, str, str]) -> None:
    ip, first, second = sales
    result = ip.value(f"%pach diff file sales@master:/t.csv sales@{first}:/t.csv --rows --key id")
    assert result.summary == (
        f"1 added, 1 removed, 1 changed, 1 unchanged rows (key: id); "
        f"sales@{first}:/t.csv → sales@master:/t.csv"
    )
    frame = result.frame
    assert frame["change"].tolist() == ["removed", "changed", "added"]
    assert frame["id"].tolist() == [3, 2, 4]
    assert frame.loc[1, "changed_columns"] == ("amount",) and frame.loc[1, "amount_old"] == 20
    # OLD defaults to the same path in NEW's parent commit.
    again = ip.value("%pach diff file sales@master:/t.csv --rows --key id")
    assert again.frame.equals(frame)
    assert (again.added, again.removed, again.changed) == (1, 1, 1)
    # Whole rows without a key.
    whole = ip.value(f"%pach diff file sales@{second}:/t.csv sales@{first}:/t.csv --rows")
    assert (whole.added, whole.removed, whole.unchanged) == (2, 2, 1)


def test_the_function_reads_pfs_through_a_client(sales: tuple[TestingShell, str, str], address: str) -> None:
    import pachmagic

    _, first, second = sales
    with connect(address) as client:
        result = pachmagic.diff_rows(f"sales@{first}:/t.csv", f"pfs://sales@{second}/t.csv", key="id", client=client)
    assert (result.added, result.removed, result.changed, result.unchanged) == (1, 1, 1, 1)


@pytest.mark.parametrize(
    "args, line",
    [
        ("sales@master:/t.csv --rows --key nope",
         "UsageError: %pach diff file: key column 'nope' is not in sales@FIRST^:/t.csv (its columns: id, city, amount)"),
        ("sales@master:/t.csv --key id", "UsageError: %pach diff file: --key and --format go with --rows"),
        ("sales@master:/t.csv --rows --name-only",
         "UsageError: %pach diff file: --shallow and --name-only do not go with --rows"),
    ],
)
def test_bad_input_is_one_line(sales: tuple[TestingShell, str, str], args: str, line: str) -> None:
    ip, first, second = sales
    shown = ip.fail(f"%pach diff file {args}").lines
    assert shown == [line.replace("FIRST", second)]


def test_unsupported_format_is_one_line(shell: TestingShell, pach_server: object, pach_client: Client) -> None:
    pach_client.pfs.create_repo("docs")
    pach_client.pfs.put_files("docs@master", {"/a.xlsx": b"x"})
    shell.run_cell(f"%pach connect {pach_client.address}")
    assert shell.fail("%pach diff file docs@master:/a.xlsx docs@master:/a.xlsx --rows").lines == [
        "UsageError: %pach diff file: cannot tell the format of 'docs@master:/a.xlsx': give one of csv, tsv, "
        "parquet, jsonl"
    ]
    assert shell.fail("%pach diff file docs@master:/a.xlsx docs@master:/a.xlsx --rows --format xml").lines[0].startswith(
        "UsageError: %pach diff file: argument --format: invalid choice: 'xml'"
    )


def _tables() -> dict[str, tuple[bytes, bytes]]:
    """OLD and NEW in every format the diff reads, as stored in PFS."""
    import gzip
    import io

    import pandas as pd

    frames = [pd.read_csv(io.StringIO(text)) for text in (OLD, NEW)]

    def parquet(frame: pd.DataFrame) -> bytes:
        out = io.BytesIO()
        frame.to_parquet(out, index=False, row_group_size=1)  # several row groups: read in parts
        return out.getvalue()

    return {
        "t.tsv": (OLD.replace(",", "\t").encode(), NEW.replace(",", "\t").encode()),
        "t.parquet": (parquet(frames[0]), parquet(frames[1])),
        "t.jsonl": tuple(f.to_json(orient="records", lines=True).encode() for f in frames),  # type: ignore[dict-item]
        "t.csv.gz": (gzip.compress(OLD.encode()), gzip.compress(NEW.encode())),
    }


@pytest.mark.parametrize("name", ["t.tsv", "t.parquet", "t.jsonl", "t.csv.gz"])
def test_every_format_between_two_commits(shell: TestingShell, address: str, name: str) -> None:
    old, new = _tables()[name]
    with connect(address) as client:
        client.pfs.create_repo("sales")
        ids = []
        for data in (old, new):
            with client.pfs.commit("sales@master") as c:
                c.put_file(f"/{name}", data)
            client.pfs.wait_commit(f"sales@{c.id}")
            ids.append(c.id)
    shell.run_cell(f"%pach connect {address}")
    result = shell.value(f"%pach diff file sales@master:/{name} --rows --key id")
    assert result.summary == (
        f"1 added, 1 removed, 1 changed, 1 unchanged rows (key: id); sales@{ids[1]}^:/{name} → sales@master:/{name}"
    )
    frame = result.frame
    assert frame["change"].tolist() == ["removed", "changed", "added"]
    assert [int(v) for v in frame["id"]] == [3, 2, 4]
    assert frame.loc[1, "changed_columns"] == ("amount",)
    assert str(frame.loc[1, "amount_old"]) in ("20", "20.0")
