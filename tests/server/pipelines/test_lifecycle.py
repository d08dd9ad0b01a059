"""A pipeline's life: creation (repos, spec commits, first job), versions, states, deletion, cron."""

from __future__ import annotations

import json

import pytest

from pachmagic.errors import AlreadyExists, FailedPrecondition, NotFound, Unknown
from pachmagic.server.storage import BranchKey, RepoKey
from pachmagic.server.pipelines.states import JobState, PipelineState
from tests.server.pipelines.harness import Harness, pfs, spec


def repos(pps: Harness) -> set[str]:
    return {f"{r.key.name}{'' if r.key.type == 'user' else '.' + r.key.type}" for r in pps.storage.list_repos()}


def test_create_makes_repos_spec_commit_provenance_and_a_first_job(pps: Harness) -> None:
    pps.repo("in")
    record = pps.pipeline(spec("copy", "cp /pfs/in/* /pfs/out/", pfs("in")))
    assert record.state == PipelineState.STARTING and record.version == 1
    # The first job exists as soon as the pipeline does (its spec commit's commit set).
    jobs = pps.engine.list_jobs(project="default", pipeline="copy")
    assert [j.id for j in jobs] == [record.spec_commit]
    assert repos(pps) >= {"in", "copy", "copy.spec", "copy.meta"}
    out = pps.storage.inspect_branch(BranchKey(RepoKey("default", "copy"), "master"))
    assert sorted(str(b) for b in out.direct_provenance) == ["default/copy.spec@master", "default/in@master"]
    assert pps.storage.inspect_repo(RepoKey("default", "copy")).description == "Output repo for pipeline default/copy."
    pps.pipeline_state("copy", PipelineState.RUNNING)
    first = pps.job("copy")
    assert (first.state, first.total) == (JobState.SUCCESS, 0)  # an empty input: zero datums, success
    with pytest.raises(AlreadyExists, match='pipeline "default/copy" already exists'):
        pps.pipeline(spec("copy", "true", pfs("in")))


def test_create_refuses_missing_inputs_and_taken_names(pps: Harness) -> None:
    with pytest.raises(NotFound, match="repo default/missing not found"):
        pps.pipeline(spec("p", "true", pfs("missing")))
    pps.repo("taken")
    pps.repo("in")
    # pachd's text and code (UNKNOWN)
    with pytest.raises(Unknown, match='pipeline "taken" cannot be created because a repo with the same name'):
        pps.pipeline(spec("taken", "true", pfs("in")))
    assert pps.engine.list_pipelines() == []


def test_input_branch_other_than_master_is_created(pps: Harness) -> None:
    pps.repo("in")
    pps.pipeline(spec("dev", "cp /pfs/in/* /pfs/out/", pfs("in", branch="dev")))
    assert pps.storage.inspect_branch(BranchKey(RepoKey("default", "in"), "dev")).head is not None
    job = pps.job("dev", pps.put("in", {"/x": "1"}, branch="dev"))
    assert job.state == JobState.SUCCESS and pps.files("dev") == {"/x": b"1"}


def test_versions_and_history(pps: Harness) -> None:
    pps.repo("in")
    pps.pipeline(spec("p", "true", pfs("in"), description="one"))
    pps.pipeline(spec("p", "true", pfs("in"), description="two"), update=True)
    pps.pipeline(spec("p", "true", pfs("in"), description="three"), update=True)
    history = pps.engine.pipeline_history("default", "p")
    assert [(r.version, r.spec.description) for r in history] == [(3, "three"), (2, "two"), (1, "one")]
    assert pps.engine.inspect_pipeline("default", "p", 1).spec.description == "one"
    # Each version has its own spec commit on p.spec@master.
    spec_commits = pps.storage.list_commits(RepoKey("default", "p", "spec"))
    assert [c.key.id for c in spec_commits] == [r.spec_commit for r in history]
    assert json.loads(history[0].user_spec)["description"] == "three"
    assert history[0].created == history[2].created and history[0].updated >= history[2].updated


def test_jobs_of_one_set_are_listed_by_key_newest_set_first(pps: Harness) -> None:
    # As pachd (its rows of one job set share a creation time; ties go by "<project>/<pipeline>@<id>"):
    # "a" (upstream) before "b" (downstream) in each set, either way round.
    pps.repo("in")
    pps.put("in", {"/x": "1"})
    pps.pipeline(spec("a", "cp /pfs/in/* /pfs/out/", pfs("in")))
    pps.pipeline(spec("b", "cp /pfs/a/* /pfs/out/", pfs("a")))
    pps.idle()
    pps.pipeline(spec("a", "cp /pfs/in/* /pfs/out/", pfs("in"), description="two"), update=True)
    update = pps.wait(lambda: (j := pps.engine.list_jobs(pipeline="b")) and j[0].version == 1 and len(j) == 2 and j[0],
                      message="the update's job set")
    pps.idle()
    listed = [(j.pipeline, j.id) for j in pps.engine.find_jobs(history=-1)]
    assert listed[:2] == [("a", update.id), ("b", update.id)]
    oldest_first = [(j.pipeline, j.id) for j in pps.engine.find_jobs(history=-1, reverse=True)]
    assert oldest_first[-2:] == [("a", update.id), ("b", update.id)]
    assert sorted(oldest_first) == sorted(listed)


def test_delete_pipeline(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/x": "1"})
    pps.pipeline(spec("up", "cp /pfs/in/* /pfs/out/", pfs("in")))
    pps.pipeline(spec("down", "cp /pfs/up/* /pfs/out/", pfs("up")))
    pps.idle()
    # pachd's refusals, its texts and code (UNKNOWN)
    with pytest.raises(Unknown, match=r'branch "default/up@master" cannot be deleted because it\'s in the direct '
                                      r"provenance of \[default/down.meta@master default/down@master\]"):
        pps.engine.delete_pipeline("default", "up")
    with pytest.raises(Unknown, match="cannot delete a repo associated with a pipeline"):
        pps.engine.guard_repo_delete(RepoKey("default", "up"))
    assert pps.engine.delete_pipeline("default", "down")
    assert "down" not in repos(pps) and "down.meta" not in repos(pps) and "down.spec" not in repos(pps)
    assert pps.engine.list_jobs(project="default", pipeline="down") == []
    # keep_repo: the output stays as a plain repo with its data.
    assert pps.engine.delete_pipeline("default", "up", keep_repo=True)
    assert "up" in repos(pps) and "up.spec" not in repos(pps)
    assert pps.files("up") == {"/x": b"1"}
    assert pps.storage.inspect_branch(BranchKey(RepoKey("default", "up"), "master")).direct_provenance == []
    assert not pps.engine.delete_pipeline("default", "up")
    with pytest.raises(NotFound, match='pipeline "default/up" not found'):
        pps.engine.delete_pipeline("default", "up", must_exist=True)


def test_delete_with_force_and_delete_all(pps: Harness) -> None:
    pps.repo("in")
    pps.pipeline(spec("a", "true", pfs("in")))
    pps.pipeline(spec("b", "true", pfs("a")))
    pps.pipeline(spec("c", "true", pfs("b")))
    assert pps.engine.delete_pipeline("default", "a", force=True)
    assert "a" not in repos(pps)
    pps.engine.delete_all()
    assert pps.engine.list_pipelines() == [] and repos(pps) == {"in"}


def test_a_deleted_name_can_be_reused(pps: Harness) -> None:
    pps.repo("in")
    pps.put("in", {"/x": "1"})
    pps.pipeline(spec("p", "cp /pfs/in/* /pfs/out/", pfs("in")))
    pps.job("p")
    pps.engine.delete_pipeline("default", "p")
    pps.pipeline(spec("p", "cp /pfs/in/* /pfs/out/; echo again", pfs("in")))
    job = pps.job("p")
    assert job.version == 1 and job.processed == 1 and pps.files("p") == {"/x": b"1"}


def test_cron_pipeline_ticks(pps: Harness) -> None:
    pps.pipeline(spec("ticker", "ls /pfs/tick > /pfs/out/$(ls /pfs/tick)", {"cron": {"name": "tick", "spec": "@every 1s"}}))
    assert "ticker_tick" in repos(pps)
    # Each tick is a commit in the cron repo, and a job with one new datum.
    pps.wait(lambda: len([j for j in pps.engine.list_jobs(project="default", pipeline="ticker") if j.processed]) >= 2,
             message="two ticks")
    ticks = pps.files("ticker_tick")
    assert len(ticks) >= 2 and all(p.endswith("Z") and len(p) == len("/2024-01-01T00:00:00Z") for p in ticks)
    pps.engine.delete_pipeline("default", "ticker")
    assert "ticker_tick" not in repos(pps)


def test_cron_overwrite_and_run_cron(pps: Harness) -> None:
    pps.pipeline(spec("daily", "cp /pfs/tick/* /pfs/out/", {"cron": {"name": "tick", "spec": "@daily", "overwrite": True}}))
    pps.pipeline_state("daily", PipelineState.RUNNING)
    pps.engine.run_cron("default", "daily")
    first = pps.wait(lambda: pps.files("daily"), message="first tick's output")
    pps.engine.run_cron("default", "daily")
    second = pps.wait(lambda: (f := pps.files("daily")) != first and f, message="second tick's output")
    assert len(first) == len(second) == 1  # overwrite: the tick file replaces the last one
    assert len(pps.files("daily_tick")) == 1
    with pytest.raises(FailedPrecondition, match="has no cron inputs"):
        pps.repo("in")
        pps.pipeline(spec("plain", "true", pfs("in")))
        pps.engine.run_cron("default", "plain")
