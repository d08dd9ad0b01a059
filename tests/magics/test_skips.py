"""``%pach preview datums --pipeline NAME``: skip, new or changed per datum — and the job agrees.

Each preview is checked against what the next job then really does (its
skipped and processed counts), on the embedded server and on the reference
pachd with its own workers. On the reference pachd without workers, the
preview of a pipeline that never ran says every datum is new."""

from __future__ import annotations

from typing import Any

import pytest

from pachmagic.client import connect
from pachmagic.magics._testing import TestingShell

SPEC = """
pipeline: {name: copy}
transform:
  image: busybox
  cmd: [sh, -c, "cp /pfs/photos/* /pfs/out/ && test ! -e /pfs/photos/bad"]
input: {pfs: {repo: photos, glob: "/*"}}
"""


@pytest.fixture
def copy(ip: TestingShell) -> TestingShell:
    ip.run_cell("%pach create repo photos")
    ip.run_cell("%%pach put file photos@master:/a.png\nA")
    ip.run_cell("%%pach put file photos@master:/b.png\nB")
    ip.run_cell("%%pach create pipeline\n" + SPEC)
    ip.run_cell("%pach wait commit copy@master")
    return ip


def _statuses(frame: Any) -> dict[str, str]:
    return dict(zip(frame["path"], frame["status"]))


def _next_job(ip: TestingShell) -> Any:
    ip.run_cell("%pach wait commit copy@master")
    return ip.value("%pach list job -p copy").iloc[0]


def _pipeline_over(shell: TestingShell, address: str, files: dict[str, dict[str, bytes]], spec: str, output: str) -> None:
    """Fill the input repos (``{repo: {path: bytes}}``), then create ``spec`` through ``shell`` and wait for its output."""
    with connect(address) as client:
        for repo, contents in files.items():
            client.pfs.create_repo(repo)
            client.pfs.put_files(f"{repo}@master", contents)
            client.pfs.wait_commit(f"{repo}@master")
    shell.run_cell(f"%pach connect {address}")
    shell.run_cell("%config PachMagic.progress = False")
    shell.run_cell("%%pach create pipeline\n" + spec)
    shell.run_cell(f"%pach wait commit {output}@master")


@pytest.mark.workers  # on the reference pachd: its own workers run the jobs
def test_the_preview_says_what_the_next_job_does(copy: TestingShell) -> None:
    ip = copy
    first = ip.value("%pach preview datums --pipeline copy")
    assert _statuses(first) == {"/a.png": "skip", "/b.png": "skip"}
    assert first.counts == {"skip": 2, "new": 0, "changed": 0}
    assert first.summary.startswith("copy: 2 skip, 0 new, 0 changed (of 2 datums; base job ")
    assert set(first["reason"]) == {f"processed by job {first.summary.split('base job ')[1][:8]} with the same inputs"}

    before = ip.value("%pach list commit photos@master").iloc[0]["commit"]
    ip.run_cell("%pach start commit photos@master")  # one commit, so one job
    ip.run_cell("%%pach put file photos@master:/a.png\nA2")
    ip.run_cell("%%pach put file photos@master:/c.png\nC")
    # Staged in the open commit: no job starts before this preview (and none races it).
    staged = ip.value("%pach list commit photos@master").iloc[0]["commit"]
    assert staged != before
    assert _statuses(ip.value(f"%pach preview datums --pipeline copy --input-commit photos@{staged}")) == {
        "/a.png": "changed", "/b.png": "skip", "/c.png": "new"}
    ip.run_cell("%pach finish commit photos@master")
    preview = ip.value("%pach preview datums --pipeline copy")
    assert _statuses(preview) == {"/a.png": "changed", "/b.png": "skip", "/c.png": "new"}
    reasons = dict(zip(preview["path"], preview["reason"]))
    assert reasons["/a.png"].startswith("photos:/a.png changed since job ")
    assert reasons["/c.png"].startswith("not in job ")
    job = _next_job(ip)
    assert (job["skipped"], job["processed"]) == (preview.counts["skip"], preview.counts["new"] + preview.counts["changed"])

    # A given input commit: the old content of /a.png differs from what the last job saw.
    older = ip.value(f"%pach preview datums --pipeline copy --input-commit photos@{before}")
    assert _statuses(older) == {"/a.png": "changed", "/b.png": "skip"}


@pytest.mark.workers  # on the reference pachd: its own workers run the jobs
def test_a_failed_job_is_no_base_and_a_reprocess_runs_everything_again(copy: TestingShell) -> None:
    ip = copy
    base = ip.value("%pach list job -p copy").iloc[0]["id"]
    ip.run_cell("%%pach put file photos@master:/bad\nx")
    ip.run_cell("%pach wait commit copy@master")
    assert ip.value("%pach list job -p copy").iloc[0]["state"] == "failure"
    # The failed job is no base: the last successful one is, and /bad is not in it.
    after_failure = ip.value("%pach preview datums --pipeline copy")
    assert _statuses(after_failure) == {"/a.png": "skip", "/b.png": "skip", "/bad": "new"}
    assert after_failure.summary.endswith(f"base job {base})")

    ip.run_cell("%pach delete file photos@master:/bad")
    job = _next_job(ip)
    assert (job["skipped"], job["processed"]) == (2, 0)

    ip.run_cell("%pach stop pipeline copy")
    ip.run_cell("%%pach update pipeline --reprocess\n" + SPEC)  # a new salt
    preview = ip.value("%pach preview datums --pipeline copy")
    assert _statuses(preview) == {"/a.png": "changed", "/b.png": "changed"}
    assert set(preview["reason"]) == {f"the pipeline was updated with reprocess since job {job['id'][:8]}"}
    ip.run_cell("%pach start pipeline copy")
    job = _next_job(ip)  # the new version's first job
    assert (job["skipped"], job["processed"]) == (0, 2)


@pytest.mark.workers  # on the reference pachd: its own workers run the jobs
def test_bad_input_is_one_line(copy: TestingShell) -> None:
    ip = copy
    assert ip.fail("%pach preview datums --input photos:/* --input-commit photos@master").lines == [
        "UsageError: %pach preview datums: --input-commit goes with --pipeline"]
    assert ip.fail("%pach preview datums --pipeline copy --input-commit photos@master").lines == [
        "UsageError: %pach preview datums: --input-commit 'photos@master' names a branch; give REPO@COMMIT"]
    commit = ip.value("%pach list commit photos@master").iloc[0]["commit"]
    assert ip.fail(f"%pach preview datums --pipeline copy --input-commit other@{commit}").lines == [
        f"UsageError: %pach preview datums: --input-commit other@{commit}: the pipeline has no input from that repo"]
    assert ip.fail("%pach preview datums --pipeline nope").lines[0].startswith("PachError: ")


def test_on_the_reference_pachd_a_pipeline_that_never_ran_is_all_new(shell: TestingShell, real_pachd: Any) -> None:
    with connect(real_pachd.address) as client:
        client.pfs.create_repo("photos")
        client.pfs.put_files("photos@master", {"/a.png": b"A", "/b.png": b"B"})
        client.pfs.wait_commit("photos@master")
    shell.run_cell(f"%pach connect {real_pachd.address}")
    shell.run_cell("%%pach create pipeline\n" + SPEC)
    preview = shell.value("%pach preview datums --pipeline copy")
    assert _statuses(preview) == {"/a.png": "new", "/b.png": "new"}
    assert preview.summary == "copy: 0 skip, 2 new, 0 changed (of 2 datums; no earlier successful job)"
    # The same datum IDs as pachd's own dry run (ListDatum on the input spec).
    with connect(real_pachd.address) as client:
        assert set(preview["datum_id"]) == {d.id for d in client.pps.list_datum(input={"pfs": {"repo": "photos", "glob": "/*"}})}


JOIN = """
pipeline: {name: joined}
transform:
  image: busybox
  cmd: [sh, -c, "cat /pfs/left/* /pfs/right/* > /pfs/out/$(ls /pfs/left)"]
input:
  join:
  - pfs: {repo: left, glob: "/(*).txt", join_on: "$1"}
  - pfs: {repo: right, glob: "/(*).csv", join_on: "$1"}
"""


@pytest.fixture(params=["embedded", "reference"])
def workers_address(request: pytest.FixtureRequest) -> str:
    """A server whose pipelines run: ours, or a genuine pachd 2.12.2 with its own workers."""
    fixture = "pach_server" if request.param == "embedded" else "real_pachd_workers"
    return str(request.getfixturevalue(fixture).address)


def test_a_join_is_previewed_datum_by_datum_and_the_job_agrees(shell: TestingShell, workers_address: str) -> None:
    """Join datums pair files of two repos: changing either side's file changes that datum only."""
    address = workers_address
    _pipeline_over(shell, address, {"left": {"/a.txt": b"a", "/b.txt": b"b"},
                                    "right": {"/a.csv": b"1", "/b.csv": b"2", "/c.csv": b"3"}}, JOIN, "joined")
    first = shell.value("%pach preview datums --pipeline joined")
    assert first.counts == {"skip": 2, "new": 0, "changed": 0}, first.summary
    with connect(address) as client:
        old_right = client.pfs.inspect_commit("right@master").id
        staged = client.pfs.start_commit("right@master")
        client.pfs.put_files(staged, {"/a.csv": b"one"})
        client.pfs.finish_commit(staged)
        client.pfs.wait_commit("joined@master")
        staged = client.pfs.start_commit("left@master")
        client.pfs.put_files(staged, {"/c.txt": b"c"})
        preview = shell.value(f"%pach preview datums --pipeline joined --input-commit left@{staged.id}")
        # (ListDatum, the dry run join inputs were planned by, reads branch heads only.)
        assert preview.counts == {"skip": 2, "new": 1, "changed": 0}, preview.summary
        assert _statuses(preview) == {"/a.txt": "skip", "/a.csv": "skip", "/b.txt": "skip", "/b.csv": "skip",
                                      "/c.txt": "new", "/c.csv": "new"}
        client.pfs.finish_commit(staged)
        job = client.pps.inspect_job(f"joined@{staged.id}", wait=True)
        assert (job.state, job.data_skipped, job.data_processed) == ("success", 2, 1)
        # The job before: right's a.csv changed, so the a datum ran again and b was skipped.
        previous = [j for j in client.pps.list_job(pipeline="joined") if j.id != staged.id][0]
        assert (previous.data_skipped, previous.data_processed) == (1, 1)
    # An older input commit, not a branch head: its a.csv differs from what the last job read.
    older = shell.value(f"%pach preview datums --pipeline joined --input-commit right@{old_right}")
    assert older.counts == {"skip": 2, "new": 0, "changed": 1}, older.summary
    assert _statuses(older)["/a.csv"] == "changed"


GROUP = """
pipeline: {name: grouped}
transform:
  image: busybox
  cmd: [sh, -c, "cat /pfs/g/* > /pfs/out/$(ls /pfs/g | head -n 1)"]
input:
  group:
  - pfs: {repo: g, glob: "/(*)-*.txt", group_by: "$1"}
"""


def test_a_group_over_a_staged_commit_is_previewed_and_the_job_agrees(shell: TestingShell, workers_address: str) -> None:
    """A group datum's ID is its files': a file added to a group makes that group a new datum."""
    address = workers_address
    _pipeline_over(shell, address, {"g": {"/a-1.txt": b"a1", "/a-2.txt": b"a2", "/b-1.txt": b"b1"}}, GROUP, "grouped")
    assert shell.value("%pach preview datums --pipeline grouped").counts == {"skip": 2, "new": 0, "changed": 0}
    with connect(address) as client:
        staged = client.pfs.start_commit("g@master")
        client.pfs.put_files(staged, {"/b-2.txt": b"b2"})
        preview = shell.value(f"%pach preview datums --pipeline grouped --input-commit g@{staged.id}")
        assert preview.counts == {"skip": 1, "new": 1, "changed": 0}, preview.summary
        assert _statuses(preview) == {"/a-1.txt": "skip", "/a-2.txt": "skip", "/b-1.txt": "new", "/b-2.txt": "new"}
        client.pfs.finish_commit(staged)
        job = client.pps.inspect_job(f"grouped@{staged.id}", wait=True)
    assert (job.state, job.data_skipped, job.data_processed) == ("success", 1, 1)
