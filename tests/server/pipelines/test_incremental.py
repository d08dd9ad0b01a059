"""Jobs over changing inputs: the skip rule, vanished datums, reprocessing, and the output merge."""

from __future__ import annotations

import pytest

from pachmagic.errors import NotFound, Unknown
from pachmagic.server.pipelines.states import DatumState, JobState
from pachmagic.server.storage import CommitRef, RepoKey
from tests.server.pipelines.harness import Harness, pfs, spec


# Copies each datum's files and logs their names, so tests see which datums really ran.
COPY = 'cp -r /pfs/in/. /pfs/out/ && for f in $(cd /pfs/in && find . -type f); do echo "ran $f"; done'


def test_unchanged_datums_are_skipped_and_their_outputs_carried(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "1", "/b": "2"})
    pps.pipeline(spec("copy", COPY, pfs("in")))
    first = pps.job("copy")
    assert (first.state, first.processed, first.skipped, first.total) == (JobState.SUCCESS, 2, 0, 2)
    second_id = pps.put("in", {"/c": "3"})
    second = pps.job("copy", second_id)
    assert (second.processed, second.skipped, second.total) == (1, 2, 3)
    assert pps.files("copy") == {"/a": b"1", "/b": b"2", "/c": b"3"}
    assert pps.user_logs("copy", second_id) == ["ran ./c"]
    states = {d.datum_id: d.state for d in pps.engine.datums("default", "copy", second_id)}
    assert sorted(states.values()) == [DatumState.SUCCESS, DatumState.SKIPPED, DatumState.SKIPPED]
    # A changed file is a changed hash: reprocessed, its old output replaced.
    third_id = pps.put("in", {"/a": "one"})
    third = pps.job("copy", third_id)
    assert (third.processed, third.skipped) == (1, 2)
    assert pps.files("copy") == {"/a": b"one", "/b": b"2", "/c": b"3"}


def test_outputs_of_vanished_datums_are_removed(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "1", "/b": "2", "/dir/x": "3"})
    pps.pipeline(spec("copy", COPY, pfs("in")))
    pps.job("copy")
    assert set(pps.files("copy")) == {"/a", "/b", "/dir/x"}
    job_id = pps.put("in", delete=("/b", "/dir/"))
    job = pps.job("copy", job_id)
    assert (job.processed, job.skipped, job.total) == (0, 1, 1)
    assert pps.files("copy") == {"/a": b"1"}
    # The meta commit forgets the vanished datums too.
    assert len([p for p in pps.files("copy", repo_type="meta") if p.endswith("/meta") and p.startswith("/meta/")]) == 1


def test_every_job_reprocesses_everything(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "1", "/b": "2"})
    pps.pipeline(spec("copy", COPY, pfs("in"), reprocess_spec="every_job"))
    pps.job("copy")
    job = pps.job("copy", pps.put("in", {"/c": "3"}))
    assert (job.processed, job.skipped) == (3, 0)
    assert pps.files("copy") == {"/a": b"1", "/b": b"2", "/c": b"3"}


def test_update_keeps_results_unless_reprocess(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "1", "/b": "2"})
    pps.pipeline(spec("copy", COPY, pfs("in")))
    first = pps.job("copy")
    salt = pps.engine.inspect_pipeline("default", "copy").salt
    # A new version: same salt, so every datum is skipped and the outputs stay.
    record = pps.pipeline(spec("copy", COPY + "; echo v2", pfs("in")), update=True)
    assert record.version == 2 and record.salt == salt
    second = pps.wait(lambda: (j := pps.job("copy")).id != first.id and j)
    assert (second.processed, second.skipped, second.version) == (0, 2, 2)
    assert pps.files("copy") == {"/a": b"1", "/b": b"2"}
    # --reprocess: a new salt, everything runs again.
    record = pps.pipeline(spec("copy", COPY + "; echo v3", pfs("in")), update=True, reprocess=True)
    assert record.salt != salt
    third = pps.wait(lambda: (j := pps.job("copy")).id != second.id and j)
    assert (third.processed, third.skipped) == (2, 0)
    assert pps.user_logs("copy", third.id).count("v3") == 2


def test_changing_the_glob_on_update_replaces_outputs(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "1", "/b": "2"})
    pps.pipeline(spec("copy", COPY, pfs("in", "/a")))
    pps.job("copy")
    assert pps.files("copy") == {"/a": b"1"}
    pps.pipeline(spec("copy", COPY, pfs("in", "/b")), update=True)
    pps.wait(lambda: pps.files("copy") == {"/b": b"2"} and pps.job("copy").version == 2, message="new glob's output")


def test_duplicate_paths_from_two_datums_fail_the_job(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "1", "/b": "2"})
    pps.pipeline(spec("same", "echo $PACH_DATUM_ID > /pfs/out/result", pfs("in")))
    job = pps.job("same")
    assert job.state == JobState.FAILURE
    ids = sorted(d.datum_id for d in pps.engine.datums("default", "same", job.id))
    assert job.reason == (
        f"duplicate path output by different datums (/result from {ids[0]} and /result from {ids[1]})"
    )
    out = pps.commit("same", job.id)
    assert out.error == job.reason and out.finished is not None
    # As pachd: reading the output commit where a scan meets the clash fails with the job's
    # reason (UNKNOWN); the meta commit and reads of other paths are answered.
    reader = pps.storage.reader(CommitRef(RepoKey("default", "same"), id=job.id))
    for read in (lambda: list(reader.children("/")), lambda: list(reader.walk("/")), lambda: reader.inspect("/"),
                 lambda: reader.inspect("/result"), lambda: reader.inspect("/res"), lambda: list(reader.glob("/*")),
                 lambda: list(reader.glob("/r*")), lambda: reader.get_entry("/result"),
                 lambda: list(reader.children("/result"))):
        with pytest.raises(Unknown) as refused:
            read()
        assert refused.value.details == job.reason
    with pytest.raises(NotFound):
        reader.inspect("/other")
    assert list(reader.glob("/x*")) == []
    assert pps.files("same", job.id, repo_type="meta")
    # Embedding the datum ID in names, as Pachyderm's docs advise, works.
    pps.pipeline(spec("unique", "echo x > /pfs/out/result-$PACH_DATUM_ID", pfs("in")))
    assert pps.job("unique").state == JobState.SUCCESS


def test_duplicate_with_a_skipped_datums_output_fails_too(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "1"})
    pps.pipeline(spec("same", "cat /pfs/in/* > /pfs/out/result", pfs("in")))
    assert pps.job("same").state == JobState.SUCCESS
    job = pps.job("same", pps.put("in", {"/b": "2"}))
    assert job.state == JobState.FAILURE and job.reason.startswith("duplicate path output by different datums (/result from")
    # The next good input change builds on the last successful job, not the failed one.
    job = pps.job("same", pps.put("in", delete=("/b",)))
    assert job.state == JobState.SUCCESS and pps.files("same") == {"/result": b"1"}


def test_file_directory_collision_between_datums(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/a": "1", "/b": "2"})
    script = 'if [ -e /pfs/in/a ]; then echo f > /pfs/out/x; else mkdir /pfs/out/x; echo g > /pfs/out/x/y; fi'
    pps.pipeline(spec("clash", script, pfs("in")))
    job = pps.job("clash")
    assert job.state == JobState.FAILURE and job.reason == "file / directory path collision (/x/y)"
    reader = pps.storage.reader(CommitRef(RepoKey("default", "clash"), id=job.id))
    with pytest.raises(Unknown, match=r"^file / directory path collision \(/x/y\)$"):
        list(reader.walk("/"))


def test_downstream_of_a_failed_job_is_unrunnable(pps: Harness) -> None:
    pps.repo("in")
    pps.pipeline(spec("up", "test ! -e /pfs/in/bad && cp /pfs/in/* /pfs/out/", pfs("in"), datum_tries=1))
    pps.pipeline(spec("down", "cp -r /pfs/up/. /pfs/out/", pfs("up", "/")))
    pps.idle()
    job_id = pps.put("in", {"/bad": "x"})
    up, down = pps.job("up", job_id), pps.job("down", job_id)
    assert up.state == JobState.FAILURE and up.reason.startswith("datum ") and up.reason.endswith(" failed")
    assert down.state == JobState.UNRUNNABLE
    assert down.reason == "unrunnable because the following upstream pipelines failed: up"
    assert pps.commit("down", job_id).error == down.reason
    # Fixing the input fixes both.
    fixed = pps.put("in", {"/good": "y"}, delete=("/bad",))
    assert pps.job("down", fixed).state == JobState.SUCCESS
    assert pps.files("down") == {"/good": b"y"}
