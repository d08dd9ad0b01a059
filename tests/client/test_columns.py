"""``ColumnarList``: a listing kept as columns is a ``RecordList`` in every respect.

The columns come from real ``FileInfoBatch`` messages (what ``pachmagic_ext``
sends); each check compares with the same records built the ordinary way.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pandas as pd

from pachmagic._proto import pachmagic_ext_pb2, pfs_pb2
from pachmagic.client import FileInfo, RecordList, to_frame
from pachmagic.client._columns import ColumnarList, FileColumns

COMMIT = pfs_pb2.Commit(id="c" * 32, branch=pfs_pb2.Branch(repo=pfs_pb2.Repo(name="r", type="user"), name="master"))


def listing(n: int = 5) -> ColumnarList[FileInfo]:
    batch = pachmagic_ext_pb2.FileInfoBatch(
        commit=COMMIT, path=[f"/f{i}" for i in range(n)], file_type=[pfs_pb2.FILE] * n,
        size_bytes=list(range(n)), hash=[bytes([i]) * 4 for i in range(n)],
    )
    return ColumnarList(FileColumns([batch]))


def built(n: int = 5) -> RecordList[FileInfo]:
    return RecordList(FileInfo, [
        FileInfo(project="default", repo="r", commit_id="c" * 32, branch="master", path=f"/f{i}",
                 size_bytes=i, hash=(bytes([i]) * 4).hex())
        for i in range(n)
    ])


def test_len_and_frame_do_not_build_records() -> None:
    got = listing()
    assert len(got) == 5 and bool(got)
    frame = got.to_frame()
    assert got.frame_columns() is not None  # still columns
    assert frame.equals(to_frame(built()))


def test_reads_see_the_records() -> None:
    expected = built()
    assert listing() == expected and expected == listing() and not listing() != expected
    assert listing()[1] == expected[1] and listing()[1:3] == expected[1:3]
    assert list(listing()) == list(expected) and list(reversed(listing())) == list(reversed(expected))
    assert expected[2] in listing() and listing().index(expected[3]) == 3 and listing().count(expected[0]) == 1
    assert repr(listing()) == repr(expected) and str(listing()) == str(expected)
    assert listing() < built(6) and sorted(listing(), key=lambda r: -r.size_bytes)[0] == expected[-1]
    assert listing() == listing()  # two columnar lists compare by their records


def test_concatenation_either_side() -> None:
    extra = built(1)[0]
    assert [extra] + listing() == [extra] + list(built())  # list.__add__ alone would see no items
    assert listing() + [extra] == list(built()) + [extra]
    assert listing() + listing() == list(built()) * 2
    assert listing() * 2 == list(built()) * 2 and 2 * listing() == list(built()) * 2
    plain: list[Any] = [extra]
    plain += listing()
    plain.extend(listing())
    assert plain == [extra] + list(built()) * 2


def test_mutations_act_on_the_records() -> None:
    got, expected, ref = listing(), built(), built()
    for items in (got, expected):
        items.append(ref[0])
        items.sort(key=lambda r: r.size_bytes)
        del items[-1]
        items[0] = ref[4]
        items.insert(1, items.pop())
        items.reverse()
    assert got == expected and len(got) == len(expected)
    got += [ref[2]]
    got *= 2
    assert len(got) == 12 and got.frame_columns() is None  # records now: to_frame reads them
    assert got.to_frame()["name"].tolist() == [r.path for r in got]


def test_copies_and_pickles_are_record_lists() -> None:
    for clone in (copy.copy(listing()), copy.deepcopy(listing()), pickle.loads(pickle.dumps(listing()))):
        assert type(clone) is RecordList and clone.record_type is FileInfo
        assert clone == built() and len(clone) == 5
    assert listing().copy() == built()


def test_consumers_written_in_c_see_every_record() -> None:
    assert pd.DataFrame(listing()).shape == (5, 10)
    assert ",".join(r.path for r in listing()) == "/f0,/f1,/f2,/f3,/f4"
    assert tuple(listing()) == tuple(built()) and set(listing()) == set(built())


def test_frame_columns_match_the_records_with_or_without_arrow(monkeypatch: Any) -> None:
    from pachmagic.client import _columns

    batch = pachmagic_ext_pb2.FileInfoBatch(
        commit=COMMIT, path=["/d/", "/f", "/odd"], size_bytes=[0, 5, 7], hash=[b"", b"\x01", b"\x02"])
    batch.file_type.extend([pfs_pb2.DIR, pfs_pb2.FILE, 7])  # 7: a type this client does not know
    second = pachmagic_ext_pb2.FileInfoBatch(commit=COMMIT, path=["/z"], file_type=[pfs_pb2.FILE], size_bytes=[1])
    expected = to_frame(RecordList(FileInfo, list(ColumnarList(FileColumns([batch, second])))))
    assert expected["type"].tolist() == ["dir", "file", "unknown", "file"]
    assert ColumnarList(FileColumns([batch, second])).to_frame().equals(expected)
    monkeypatch.setattr(_columns, "_arrow_text", lambda: None)  # as where pandas keeps text as objects
    assert ColumnarList(FileColumns([batch, second])).to_frame().equals(expected)
    assert ColumnarList(FileColumns([])).to_frame().equals(to_frame(RecordList(FileInfo)))
