"""Pipelines, jobs, datums, logs, Python-cell pipelines, datum previews and ``run datum``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pachmagic.client import DatumInfo, JobInfo, PipelineInfo
from pachmagic.magics._testing import TestingShell
from pachmagic.magics.display import Text
from pachmagic.magics.logs import Logs
from pachmagic.magics.rundatum import DatumRun
from tests.dual_server import settles

SIZES = """\
import os
for name in sorted(os.listdir("/pfs/photos")):
    size = os.path.getsize(os.path.join("/pfs/photos", name))
    print("sizing", name, size)
    with open(f"/pfs/out/{name}.size", "w") as f:
        f.write(str(size))
"""

SPEC = {
    "pipeline": {"name": "count"},
    "description": "count bytes",
    "transform": {"image": "busybox", "cmd": ["sh", "-c", "wc -c /pfs/photos/* > /pfs/out/count.txt"]},
    "input": {"pfs": {"repo": "photos", "glob": "/"}},
}


@pytest.fixture
def photos(ip: TestingShell) -> TestingShell:
    ip.run_cell("%pach create repo photos")
    ip.run_cell("%%pach put file photos@master:/a.txt\nA")
    ip.run_cell("%%pach put file photos@master:/b.txt\nBB")
    return ip


@pytest.mark.workers
def test_pipeline_lifecycle(photos: TestingShell, workdir: Path) -> None:
    ip = photos
    (workdir / "count.json").write_text(json.dumps(SPEC))
    dry = ip.value("%pach create pipeline -f count.json --dry-run")
    assert isinstance(dry, Text) and dry.specs[0]["pipeline"]["name"] == "count"
    assert len(ip.value("%pach list pipeline")) == 0  # a dry run creates nothing
    jobs = ip.value("%pach create pipeline -f count.json --wait")
    assert list(jobs["state"]) == ["success"]
    info = ip.value("%pach inspect pipeline count")
    assert isinstance(info, PipelineInfo) and info.description == "count bytes"
    assert info.spec["transform"]["image"] == "busybox"
    assert "<table>" in info._repr_html_()
    listed = ip.value("%pach list pipeline count")
    assert list(listed["input"]) == ["photos:/"] and listed["version"].dtype == "int64"
    specs = ip.value("%pach list pipeline --spec")
    assert specs.specs[0]["pipeline"]["name"] == "count"
    updated = dict(SPEC, description="v2")
    ip.run_cell("%%pach update pipeline --reprocess\n" + json.dumps(updated))
    assert ip.value("%pach inspect pipeline count").version == 2
    ip.run_cell("%pach stop pipeline count")
    assert settles(lambda: ip.value("%pach inspect pipeline count").state == "paused")
    assert list(ip.value("%pach list pipeline --state paused")["name"]) == ["count"]
    ip.run_cell("%pach start pipeline count")
    assert ip.value("%pach inspect pipeline count").stopped is False
    assert str(ip.value("%pach delete pipeline --all")) == "deleted 1 pipeline"


@pytest.mark.workers
def test_jobs_and_datums(photos: TestingShell) -> None:
    ip = photos
    ip.run_cell("%%pach pipeline sizes --input photos:/*\n" + SIZES)
    jobs = ip.value("%pach list job -p sizes")
    job_id = jobs["id"][0]
    job = ip.value(f"%pach wait job sizes@{job_id}")
    assert isinstance(job, JobInfo) and job.state == "success" and job.data_total == 2
    waited = ip.value(f"%pach wait job {job_id}")
    assert list(waited["pipeline"]) == ["sizes"]
    assert isinstance(ip.value(f"%pach inspect job sizes@{job_id}"), JobInfo)
    assert list(ip.value(f"%pach list job {job_id}")["pipeline"]) == ["sizes"]
    sets = ip.value("%pach list job --sets")
    assert list(sets.columns) == ["id", "subjobs", "progress", "created", "modified"]
    assert len(ip.value("%pach list job --state failure")) == 0
    datums = ip.value(f"%pach list datum sizes@{job_id}")
    assert list(datums.columns) == ["id", "files", "state", "time"]
    assert set(datums["state"]) == {"success"}
    assert str(datums["time"].dtype) == "timedelta64[ns]"
    one = ip.value(f"%pach inspect datum sizes@{job_id} {datums['id'][0]}")
    assert isinstance(one, DatumInfo) and one.id == datums["id"][0]
    assert ip.value("%pach get file sizes@master:/b.txt.size").data == b"3"


@pytest.mark.workers
def test_python_cell_pipeline_reruns_update_it(photos: TestingShell) -> None:
    ip = photos
    dry = ip.value("%%pach pipeline sizes --input photos:/* --dry-run\n" + SIZES)
    spec = dry.specs[0]
    assert spec["transform"]["cmd"] == ["python3"]
    assert spec["transform"]["stdin"] == SIZES.splitlines()
    assert spec["transform"]["image"] == "python:3.11-slim"
    ip.run_cell("%config PachMagic.default_image = 'python:3.12'")
    jobs = ip.value("%%pach pipeline sizes --input photos:/* --wait --env MODE=x\n" + SIZES)
    assert list(jobs["state"]) == ["success"]
    assert ip.value("%pach inspect pipeline sizes").spec["transform"]["image"] == "python:3.12"
    ip.run_cell("%%pach pipeline sizes --input photos:/*\n" + SIZES.replace("sizing", "measuring"))
    assert ip.value("%pach inspect pipeline sizes").version == 2
    missing = ip.fail("%%pach pipeline sizes --input nope:/*\npass")
    assert missing.lines == ["PachError: repo default/nope not found (NOT_FOUND) — existing repos: photos, sizes"]
    assert ip.fail("%pach pipeline x --input photos:/*").lines[0].startswith(
        "UsageError: %pach pipeline needs a cell body")


@pytest.mark.workers
def test_logs(photos: TestingShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip = photos
    jobs = ip.value("%%pach pipeline sizes --input photos:/* --wait\n" + SIZES)
    job_id = jobs["id"][0]
    logs = ip.value("%pach logs -p sizes")
    assert isinstance(logs, Logs)
    assert sorted(repr(logs).splitlines()) == ["sizing a.txt 2", "sizing b.txt 3"]
    frame = logs.to_frame()
    assert list(frame.columns) == ["ts", "pipeline", "job", "datum", "worker", "user", "message"]
    master = ip.value("%pach logs -p sizes --master").to_frame()  # the texts are each server's own
    assert len(master) > 0 and not master["user"].any()
    assert len(ip.value(f"%pach logs -j sizes@{job_id} --tail 1")) == 1
    raw = ip.value(f"%pach logs -j sizes@{job_id} --raw")
    assert all(json.loads(line)["job"] == job_id for line in repr(raw).splitlines())
    datum = ip.value(f"%pach list datum sizes@{job_id}")["id"][0]
    assert len(ip.value(f"%pach logs -j sizes@{job_id} --datum {datum}")) == 1
    capsys.readouterr()
    assert ip.run_cell(f"%pach logs -j sizes@{job_id} -f").result is None
    followed = capsys.readouterr().out
    assert sorted(followed.split("\n")[:2]) == ["sizing a.txt 2", "sizing b.txt 3"]
    assert ip.fail("%pach logs").lines[0] == "UsageError: %pach logs: give -p PIPELINE or -j PIPELINE@JOB"
    assert ip.fail("%pach logs -p sizes --since forever").lines[0].startswith(
        "UsageError: %pach logs: argument --since: invalid duration 'forever'")


@pytest.mark.workers
def test_preview_datums(photos: TestingShell) -> None:
    ip = photos
    ip.run_cell("%pach create repo models")
    ip.run_cell("%%pach put file models@master:/m1\nm")
    single = ip.value("%pach preview datums --input photos:/*")
    assert list(single.columns) == ["datum", "datum_id", "input", "project", "repo", "branch", "path", "type",
                                    "size"]
    assert sorted(single["path"]) == ["/a.txt", "/b.txt"] and single["datum"].dtype == "int64"
    crossed = ip.value("%pach preview datums --input photos:/* --input models:/*")
    assert crossed["datum"].nunique() == 2 and len(crossed) == 4
    unioned = ip.value("%pach preview datums --input photos:/* --input models:/* --union")
    assert unioned["datum"].nunique() == 3
    whole = ip.value("%%pach preview datums\npfs: {repo: photos, glob: /}")
    assert list(whole["path"]) == ["/"]
    named = ip.value('%%pach preview datums\n{"input": {"pfs": {"name": "p", "repo": "photos", "glob": "/a*"}}}')
    assert list(named["input"]) == ["p"] and list(named["path"]) == ["/a.txt"]
    # The IDs are Pachyderm's: the same ones the job's datums get.
    jobs = ip.value("%%pach pipeline sizes --input photos:/* --wait\n" + SIZES)
    actual = set(ip.value(f"%pach list datum sizes@{jobs['id'][0]}")["id"])
    assert set(ip.value("%pach preview datums --pipeline sizes")["datum_id"]) == actual
    assert set(single["datum_id"]) == actual
    empty = ip.value("%pach preview datums --input models@nobranch:/*")
    assert len(empty) == 0
    assert ip.fail("%pach preview datums").lines[0].startswith("UsageError: %pach preview datums: give exactly one")
    bad = ip.fail("%%pach preview datums\npfs: {repo: photos, glob: /, globb: x}")
    assert 'unknown field "globb"' in bad.lines[0]


def test_run_datum_locally(photos: TestingShell, tmp_path: Path) -> None:
    ip = photos
    ip.run_cell("%%pach pipeline sizes --input photos:/*\n" + SIZES)
    run = ip.value(f"%pach run datum sizes --files /b.txt -o {tmp_path / 'scratch'}")
    assert isinstance(run, DatumRun) and run.ok
    assert run.stdout == "sizing b.txt 3\n"
    assert list(run.outputs["path"]) == ["/b.txt.size"]
    assert (run.out / "b.txt.size").read_text() == "3"
    assert "/pfs/out were mapped to" in repr(run) and "<pre>" in run._repr_html_()
    datums = ip.value("%pach preview datums --pipeline sizes")
    by_id = ip.value(f"%pach run datum sizes --datum {datums['datum_id'][0][:10]}")
    assert by_id.datum_id == datums["datum_id"][0]
    failure = ip.fail("%pach run datum sizes")
    assert failure.lines[0].startswith("UsageError: %pach run datum: sizes has 2 datums")


@pytest.mark.workers
def test_auto_wait_after_put(photos: TestingShell) -> None:
    ip = photos
    ip.run_cell("%%pach pipeline sizes --input photos:/* --wait\n" + SIZES)
    ip.run_cell("%config PachMagic.auto_wait = True")
    message = ip.value("%%pach put file photos@master:/c.txt\nCCC")
    assert str(message).endswith("; jobs: sizes success")
    assert isinstance(message.jobs, pd.DataFrame)
    assert ip.value("%pach get file sizes@master:/c.txt.size").data == b"4"
    assert "jobs" not in str(ip.value("%%pach put file photos@master:/d.txt --no-wait\nD"))


def test_stop_job_and_restart_datum(photos: TestingShell) -> None:
    ip = photos
    ip.run_cell("%%pach create pipeline\npipeline: {name: slow}\ntransform: {image: x, cmd: [sleep, '60']}\n"
                "input: {pfs: {repo: photos, glob: /}}")
    job_id = ip.value("%pach list job -p slow")["id"][0]
    from pachmagic.magics import PachMagic

    magic = next(c for c in ip.configurables if isinstance(c, PachMagic))
    if not hasattr(magic.session.client().pps, "stop_job"):
        assert ip.fail(f"%pach stop job slow@{job_id}").lines[0].endswith("(UNIMPLEMENTED)")
        ip.run_cell("%pach delete pipeline slow")
        return
    assert str(ip.value(f"%pach stop job slow@{job_id} --reason enough")) == f"stopped job slow@{job_id}"
    job = ip.value(f"%pach wait job slow@{job_id}")
    assert job.state == "killed"
    # The killed job never ran a datum: nothing matches, in one line.
    restart = ip.fail(f"%pach restart datum slow@{job_id} /a.txt")
    # (The status code differs: NOT_FOUND here, UNKNOWN from pachd; the allow-list of tests/conformance decides.)
    assert len(restart.lines) == 1 and "/a.txt" in restart.lines[0]


def test_more_pfs_flags(photos: TestingShell, workdir: Path) -> None:
    ip = photos
    first = ip.value("%pach list commit photos")["commit"].iloc[-1]
    diff = ip.value(f"%pach diff file photos@master photos@{first}")
    # (pachd also lists the changed directories, "/" here; the embedded server does not yet.)
    assert [name for name in diff["name"] if not name.endswith("/")] == ["/b.txt"]
    assert set(ip.value("%pach list commit photos --origin user")["origin"]) == {"USER"}
    ip.run_cell("%pach create repo out")
    ip.run_cell("%pach create branch out@master -p photos@master")
    assert ip.value("%pach inspect branch out@master").direct_provenance == ("default/photos@master",)
    (workdir / "spec.yaml").write_text("pipeline: {name: z}\ninput: {pfs: {repo: photos, glob: /*}}\n")
    assert len(ip.value("%pach list datum -f spec.yaml")) == 2
    ip.run_cell("%%pach create pipeline\npipeline: {name: keep}\ntransform: {image: x, cmd: ['true']}\n"
                "input: {pfs: {repo: photos, glob: /}}")
    ip.run_cell("%pach delete pipeline keep --keep-repo")
    assert "keep" in set(ip.value("%pach list repo")["name"])


@pytest.mark.workers
def test_preview_join_datums_are_planned_by_the_server(ip: TestingShell) -> None:
    for repo, files in (("left", {"1.txt": "a", "2.txt": "b"}), ("right", {"1.csv": "c", "3.csv": "d"})):
        ip.run_cell(f"%pach create repo {repo}")
        for name, body in files.items():
            ip.run_cell(f"%%pach put file {repo}@master:/{name}\n{body}")
    spec = ('join:\n- pfs: {repo: left, glob: "/(*).txt", join_on: "$1"}\n'
            '- pfs: {repo: right, glob: "/(*).csv", join_on: "$1"}')
    frame = ip.value("%%pach preview datums\n" + spec)
    assert list(frame["datum"]) == [0, 0]
    assert list(zip(frame["input"], frame["path"], frame["size"])) == [("left", "/1.txt", 2), ("right", "/1.csv", 2)]
    # The same datum ID a real job of a pipeline with this input gets.
    ip.run_cell("%%pach create pipeline --wait\npipeline: {name: pairs}\ntransform: {image: x, cmd: ['true']}\n"
                "input:\n  " + spec.replace("\n", "\n  "))
    job_id = ip.value("%pach list job -p pairs")["id"][0]
    assert set(ip.value(f"%pach list datum pairs@{job_id}")["id"]) == set(frame["datum_id"])


@pytest.mark.workers
def test_preview_directory_datums_have_the_jobs_ids(ip: TestingShell) -> None:
    # Directory datums are identified by GlobFile's path ("/d1/"), as the server plans them.
    ip.run_cell("%pach create repo trees")
    ip.run_cell("%%pach put file trees@master:/d1/x\nx")
    ip.run_cell("%%pach put file trees@master:/d2/y\ny")
    frame = ip.value("%pach preview datums --input trees:/*")
    assert sorted(frame["path"]) == ["/d1", "/d2"] and list(frame["type"]) == ["dir", "dir"]
    ip.run_cell("%%pach create pipeline --wait\npipeline: {name: dirs}\ntransform: {image: x, cmd: ['true']}\n"
                "input: {pfs: {repo: trees, glob: /*}}")
    job_id = ip.value("%pach list job -p dirs")["id"][0]
    assert set(ip.value(f"%pach list datum dirs@{job_id}")["id"]) == set(frame["datum_id"])
