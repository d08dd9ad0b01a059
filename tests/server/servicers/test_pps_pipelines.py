"""PPS pipelines over real gRPC, with our client and with pachyderm-sdk: specs, versions, states."""

from __future__ import annotations

import json
from typing import Any, Iterator

import grpc
import pytest
from pachyderm_sdk.api import pfs, pps

from pachmagic import errors
from pachmagic.client import Client, connect

SPEC = {
    "pipeline": {"name": "copy"},
    "description": "copies",
    "transform": {"image": "busybox", "cmd": ["sh", "-c", "cp -r /pfs/in/. /pfs/out/"]},
    "input": {"pfs": {"repo": "in", "glob": "/*"}},
}


@pytest.fixture
def client(server: Any) -> Iterator[Client]:
    with connect(server.address) as c:
        c.pfs.create_repo("in")
        yield c


def wait_running(sdk: Any, name: str) -> pps.PipelineInfo:
    for _ in range(400):
        info = sdk.pps.inspect_pipeline(pipeline=pps.Pipeline(name=name))
        if info.state != pps.PipelineState.PIPELINE_STARTING:
            return info
        job = next(iter(sdk.pps.list_job(pipeline=pps.Pipeline(name=name))))
        sdk.pps.inspect_job(job=job.job, wait=True)
    raise AssertionError("pipeline never left STARTING")


def test_create_pipeline_v2_returns_the_effective_spec(client: Client, sdk: Any) -> None:
    camel = {"pipeline": {"name": "copy"}, "transform": {"image": "busybox", "cmd": ["true"], "workingDir": "/"},
             "input": {"pfs": {"repo": "in", "glob": "/*"}}, "parallelismSpec": {"constant": 2},
             "resourceRequests": {"memory": "1Gi", "cpu": 0.5}, "podPatch": "[]"}
    response = sdk.pps.create_pipeline_v2(create_pipeline_request_json=json.dumps(camel))
    effective = json.loads(response.effective_create_pipeline_request_json)
    assert effective["pipeline"] == {"name": "copy", "project": {"name": "default"}}
    # As pachd: compact lowerCamelCase protojson.
    assert effective["datumTries"] == "3" and effective["reprocessSpec"] == "until_success"
    # As pachd: the input as the user wrote it (its defaults are filled in when the pipeline is created)
    assert effective["input"]["pfs"] == {"repo": "in", "glob": "/*"}
    assert effective["transform"]["workingDir"] == "/" and effective["parallelismSpec"] == {"constant": "2"}
    # merged into the cluster defaults' requests, as by pachd
    assert effective["resourceRequests"] == {"memory": "1Gi", "cpu": 0.5, "disk": "1Gi"} and effective["podPatch"] == "[]"
    assert "\n" not in response.effective_create_pipeline_request_json
    assert "salt" not in effective  # pachd salts the pipeline after answering
    info = sdk.pps.inspect_pipeline(pipeline=pps.Pipeline(name="copy"), details=True)
    assert info.details.resource_requests.memory == "1Gi" and info.details.pod_patch == "[]"
    assert json.loads(info.user_spec_json)["parallelismSpec"] == {"constant": 2}


def test_dry_run_creates_nothing(sdk: Any, client: Client) -> None:
    response = sdk.pps.create_pipeline_v2(create_pipeline_request_json=json.dumps(SPEC), dry_run=True)
    assert json.loads(response.effective_create_pipeline_request_json)["pipeline"]["name"] == "copy"
    assert client.pps.list_pipeline() == [] and "copy" not in [r.name for r in client.pfs.list_repo()]


def test_unknown_fields_and_bad_specs(client: Client, sdk: Any) -> None:
    with pytest.raises(errors.InvalidArgument, match='unknown field "imagee"'):
        client.pps.create_pipeline({"pipeline": {"name": "bad"}, "transform": {"imagee": "x"}})
    with pytest.raises(grpc.RpcError) as err:
        sdk.pps.create_pipeline_v2(create_pipeline_request_json=json.dumps(dict(SPEC, input={"pfs": {"repo": "in"}})))
    # pachd's code for its spec checks: UNKNOWN
    assert err.value.code() == grpc.StatusCode.UNKNOWN and err.value.details() == "input must specify a glob"
    with pytest.raises(errors.NotFound, match="repo default/nope not found"):
        client.pps.create_pipeline(dict(SPEC, input={"pfs": {"repo": "nope", "glob": "/"}}))


def test_yaml_through_our_client(client: Client) -> None:
    text = ("pipeline:\n  name: copy\ntransform:\n  image: busybox\n  cmd: [sh, -c, 'cp -r /pfs/in/. /pfs/out/']\n"
            "input:\n  pfs:\n    repo: in\n    glob: /*\n")
    client.pfs.put_file("in@master", "/a", b"A")
    client.pps.create_pipeline(text)
    assert client.pps.wait_job(client.pps.list_job(pipeline="copy")[0].job).state == "success"
    assert client.pfs.get_file("copy@master:/a") == b"A"


def test_versions_history_and_ancestry(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(SPEC)
    client.pps.create_pipeline(dict(SPEC, description="second"), update=True)
    client.pps.create_pipeline(dict(SPEC, description="third"), update=True)
    assert client.pps.inspect_pipeline("copy").version == 3
    previous = sdk.pps.inspect_pipeline(pipeline=pps.Pipeline(name="copy^"), details=True)
    assert previous.version == 2 and previous.details.description == "second"
    assert sdk.pps.inspect_pipeline(pipeline=pps.Pipeline(name="copy^2")).version == 1
    with pytest.raises(grpc.RpcError) as err:
        sdk.pps.inspect_pipeline(pipeline=pps.Pipeline(name="copy^5"))
    assert (err.value.code(), err.value.details()) == (  # pachd's code and words
        grpc.StatusCode.UNKNOWN, 'pipeline "default/copy" has only 3 versions, not enough to find ancestor 5')
    assert [p.version for p in sdk.pps.list_pipeline(pipeline=pps.Pipeline(name="copy"), history=-1)] == [3, 2, 1]
    assert [p.version for p in sdk.pps.list_pipeline(history=1)] == [3, 2]
    assert [p.version for p in sdk.pps.list_pipeline()] == [3]


def test_states_stop_start(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(SPEC)
    assert wait_running(sdk, "copy").state == pps.PipelineState.PIPELINE_RUNNING
    info = client.pps.inspect_pipeline("copy")
    assert info.state == "running" and info.last_job_state == "success"
    client.pps.stop_pipeline("copy")
    stopped = sdk.pps.inspect_pipeline(pipeline=pps.Pipeline(name="copy"))
    assert stopped.stopped and stopped.state == pps.PipelineState.PIPELINE_PAUSED
    client.pfs.put_file("in@master", "/late", b"L")
    client.pps.start_pipeline("copy")
    # Started: a job over the current inputs catches up.
    newest = client.pps.list_job(pipeline="copy")[0]
    assert client.pps.wait_job(newest.job).state == "success"
    assert client.pfs.get_file("copy@master:/late") == b"L"
    assert wait_running(sdk, "copy").state == pps.PipelineState.PIPELINE_RUNNING


def test_failure_state_when_the_command_is_missing(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(dict(SPEC, transform={"image": "x", "cmd": ["pachmagic-no-such-cmd"]}))
    info = wait_running(sdk, "copy")
    assert info.state == pps.PipelineState.PIPELINE_FAILURE
    assert info.reason.startswith('transform command "pachmagic-no-such-cmd" was not found')
    job = client.pps.list_job(pipeline="copy")[0]
    assert job.state == "failure" and job.reason.startswith("pipeline failed:")


def test_delete_variants(client: Client, sdk: Any) -> None:
    client.pfs.put_file("in@master", "/a", b"A")
    client.pps.create_pipeline(SPEC)
    client.pps.create_pipeline(dict(SPEC, pipeline={"name": "next"}, input={"pfs": {"repo": "copy", "glob": "/"}}))
    client.pps.wait_job(client.pps.list_job(pipeline="next")[0].job)
    # pachd's refusals, code UNKNOWN
    with pytest.raises(errors.Unknown, match="cannot be deleted because it's in the direct provenance of"):
        client.pps.delete_pipeline("copy")
    with pytest.raises(errors.Unknown, match="delete the pipeline instead"):
        client.pfs.delete_repo("copy", force=True)
    client.pps.delete_pipeline("next", keep_repo=True)
    assert "next" in [r.name for r in client.pfs.list_repo()]
    # Deleting an unknown pipeline is a no-op unless must_exist.
    sdk.pps.delete_pipeline(pipeline=pps.Pipeline(name="ghost"))
    with pytest.raises(grpc.RpcError) as err:
        sdk.pps.delete_pipeline(pipeline=pps.Pipeline(name="ghost"), must_exist=True)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    client.pps.create_pipeline(dict(SPEC, pipeline={"name": "third"}))
    deleted = sdk.pps.delete_pipelines(all=True)
    assert sorted(p.name for p in deleted.pipelines) == ["copy", "third"]
    assert client.pps.list_pipeline() == []
    assert sorted(r.name for r in client.pfs.list_repo()) == ["in", "next"]


def test_rerun_pipeline(client: Client, sdk: Any) -> None:
    client.pfs.put_file("in@master", "/a", b"A")
    client.pps.create_pipeline(SPEC)
    client.pps.wait_job(client.pps.list_job(pipeline="copy")[0].job)
    sdk.pps.rerun_pipeline(pipeline=pps.Pipeline(name="copy"), reprocess=True)
    job = client.pps.list_job(pipeline="copy")[0]
    assert job.pipeline_version == 2
    done = client.pps.wait_job(job.job)
    assert (done.state, done.data_processed, done.data_skipped) == ("success", 1, 0)


def test_pagination_of_list_pipeline(client: Client, sdk: Any) -> None:
    for name in ("a", "b", "c"):
        client.pps.create_pipeline(dict(SPEC, pipeline={"name": name}))
    page = list(sdk.pps.list_pipeline(page=pps.PipelinePage(page_size=2, page_index=0)))
    rest = list(sdk.pps.list_pipeline(page=pps.PipelinePage(page_size=2, page_index=1)))
    assert [p.pipeline.name for p in page] == ["c", "b"] and [p.pipeline.name for p in rest] == ["a"]


def test_projects(client: Client, sdk: Any) -> None:
    sdk.pfs.create_project(project=pfs.Project(name="lab"))
    sdk.pfs.create_repo(repo=pfs.Repo(name="in", project=pfs.Project(name="lab")))
    sdk.pfs.put_file_from_bytes(commit=pfs.Commit.from_uri("lab/in@master"), path="/x", data=b"X")
    spec = dict(SPEC, pipeline={"name": "copy", "project": {"name": "lab"}})
    sdk.pps.create_pipeline_v2(create_pipeline_request_json=json.dumps(spec))
    job = next(iter(sdk.pps.list_job(pipeline=pps.Pipeline(name="copy", project=pfs.Project(name="lab")))))
    assert sdk.pps.inspect_job(job=job.job, wait=True).state == pps.JobState.JOB_SUCCESS
    assert [p.pipeline.project.name for p in sdk.pps.list_pipeline(projects=[pfs.Project(name="lab")])] == ["lab"]
    assert list(sdk.pps.list_pipeline(projects=[pfs.Project(name="default")])) == []


def test_autoscaling_pipelines_idle_in_standby(client: Client, sdk: Any) -> None:
    client.pps.create_pipeline(dict(SPEC, autoscaling=True))
    client.pps.wait_job(client.pps.list_job(pipeline="copy")[0].job)
    assert wait_running(sdk, "copy").state == pps.PipelineState.PIPELINE_STANDBY
    assert client.pps.inspect_pipeline("copy").state == "standby"
