"""The lock file format (``pachmagic.client.lockfile``): stable text, strict reading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pachmagic.client.lockfile import DataLock, LockEntry, LockFileError, RefKey
from pachmagic.client.refs import Commit

A = "1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d"
B = "9f8e7d6c5b4a4f3e8d2c1b0a9f8e7d6c"


def _lock() -> DataLock:
    return DataLock.from_entries([
        LockEntry(RefKey("default", "photos", "user", "master"), A, ("/b.png", "/a.png")),
        LockEntry(RefKey("images", "contour", "user", "master^2"), B, ("/*.png",), (A,)),
        LockEntry(RefKey("default", "histogram", "meta", A), A, ()),
    ])


def test_text_is_sorted_indented_and_round_trips(tmp_path: Path) -> None:
    lock = _lock()
    text = lock.dumps()
    assert text == (
        "{\n"
        '  "format": "pachmagic-lock",\n'
        '  "refs": {\n'
        f'    "default/histogram.meta@{A}": {{\n'
        f'      "commit": "{A}",\n'
        '      "paths": []\n'
        "    },\n"
        '    "default/photos@master": {\n'
        f'      "commit": "{A}",\n'
        '      "paths": [\n'
        '        "/a.png",\n'
        '        "/b.png"\n'
        "      ]\n"
        "    },\n"
        '    "images/contour@master^2": {\n'
        f'      "commit": "{B}",\n'
        '      "later_commits": [\n'
        f'        "{A}"\n'
        "      ],\n"
        '      "paths": [\n'
        '        "/*.png"\n'
        "      ]\n"
        "    }\n"
        "  },\n"
        '  "version": 1\n'
        "}\n"
    )
    path = lock.save(tmp_path / "x.pachlock.json")
    again = DataLock.load(path)
    assert again.dumps() == text
    assert again.source == str(path)
    assert not list(tmp_path.glob(".*partial"))


def test_saving_the_same_reads_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    one = _lock().save(tmp_path / "one.json").read_bytes()
    reordered = DataLock.from_entries(reversed(list(_lock().entries.values())))
    assert reordered.save(tmp_path / "two.json").read_bytes() == one


def test_keys() -> None:
    key = RefKey.of(Commit.from_uri("photos@master"), "images")
    assert str(key) == "images/photos@master" and not key.pinned
    assert RefKey.parse("photos@master") == RefKey("default", "photos", "user", "master")
    assert RefKey.parse(f"p/r.spec@{A}").pinned
    assert RefKey.parse(f"r@master={A}").pinned
    assert not RefKey.parse("r@master^2").pinned
    assert key.commit(B) == Commit(key.repo_ref, None, B)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "is not a pachmagic lock file: Expecting property name"),
        ("[]", "is not a pachmagic lock file (no \"format\""),
        ('{"format": "other", "version": 1, "refs": {}}', "is not a pachmagic lock file"),
        ('{"format": "pachmagic-lock", "version": 2, "refs": {}}', "version 2, written by a newer pachmagic"),
        ('{"format": "pachmagic-lock", "version": "1", "refs": {}}', '"version" must be an integer'),
        ('{"format": "pachmagic-lock", "version": 1, "refs": {}, "when": 3}', "unknown field 'when'"),
        ('{"format": "pachmagic-lock", "version": 1, "refs": []}', '"refs" must be an object'),
        ('{"format": "pachmagic-lock", "version": 1, "refs": {"bad ref": {}}}', "bad ref 'bad ref'"),
        ('{"format": "pachmagic-lock", "version": 1, "refs": {"r@master": {"commit": "xyz"}}}',
         'r@master: "commit" must be a 32-hex commit id'),
        ('{"format": "pachmagic-lock", "version": 1, "refs": {"r@master": {"commit": "%s", "paths": "/a"}}}' % A,
         '"paths" must be a list of strings'),
        ('{"format": "pachmagic-lock", "version": 1, "refs": {"r@master": {"commit": "%s", "extra": 1}}}' % A,
         "r@master: unknown field 'extra'"),
        ('{"format": "pachmagic-lock", "version": 1, "refs": {"r@master": {"commit": "%s", "later_commits": [1]}}}' % A,
         '"later_commits" must be a list of commit ids'),
    ],
)
def test_malformed_locks_are_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(LockFileError) as info:
        DataLock.loads(text, "my.pachlock.json")
    assert message in str(info.value)
    assert str(info.value).startswith("my.pachlock.json")
    assert info.value.code == "INVALID_ARGUMENT" and isinstance(info.value, ValueError)


def test_a_minimal_hand_written_lock_reads() -> None:
    doc = {"format": "pachmagic-lock", "version": 1, "refs": {"photos@master": {"commit": A}}}
    lock = DataLock.loads(json.dumps(doc))
    entry = lock.get(RefKey("default", "photos", "user", "master"))
    assert entry is not None and entry.commit == A and entry.paths == ()
