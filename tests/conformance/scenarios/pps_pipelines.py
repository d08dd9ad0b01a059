"""Pipelines: create (every request form, defaults, refusals), inspect, list, update, stop, start, delete."""

from __future__ import annotations

import json

from pachyderm_sdk.api import pfs as spfs
from pachyderm_sdk.api import pps as spps

from ..build import branch, commit, pfs, pipeline, pps, repo
from ..harness import Run
from . import scenario
from ._pps import create_v2, input_repo, spec, wait_pipeline

RUNNING = pps.PIPELINE_RUNNING
PAUSED = pps.PIPELINE_PAUSED

YAML = """pipeline:
  name: yamlpipe
transform:
  image: alpine:3.19
  cmd: [sh]
  stdin: ["cp -r /pfs/in/* /pfs/out/"]
input:
  pfs:
    repo: in
    glob: /*
"""


@scenario("pipelines: create v2 and the effective spec")
def create_effective(r: Run) -> None:
    input_repo(r)
    create_v2(r, spec("dry"), dry_run=True)
    r.pps.ListPipeline(pps.ListPipelineRequest())
    create_v2(r, spec("p"))
    wait_pipeline(r, "p", RUNNING)
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("p")))
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("p"), details=True))
    create_v2(r, spec("p"))
    create_v2(r, spec("full", parallelism_spec={"constant": 2}, datum_tries=5, description="all of it",
                      resource_requests={"cpu": 0.5, "memory": "100Mi"}, output_branch="out",
                      salt="fixed", autoscaling=True))
    wait_pipeline(r, "full", RUNNING)
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("full"), details=True))
    create_v2(r, {"pipeline": {"name": "camel"}, "transform": {"cmd": ["sh"], "image": "alpine"},
                  "input": {"pfs": {"repo": "in", "glob": "/"}}, "datumTries": 2, "parallelismSpec": {"constant": 1}})
    wait_pipeline(r, "camel", RUNNING)
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("camel"), details=True))
    r.pfs.ListRepo(pfs.ListRepoRequest(), unordered=True)
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("p")))
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("p", type="spec")))
    r.pfs.InspectRepo(pfs.InspectRepoRequest(repo=repo("p", type="meta")))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("p", type="spec")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("p")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=pfs.Branch(repo=repo("p", type="meta"), name="master")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=pfs.Branch(repo=repo("p", type="spec"), name="master")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("in")))


@scenario("pipelines: yaml, json and the v1 request")
def forms(r: Run) -> None:
    input_repo(r)
    create_v2(r, YAML)
    create_v2(r, json.dumps(spec("jsontext"), indent=2))
    r.pps.CreatePipeline(pps.CreatePipelineRequest(
        pipeline=pipeline("v1"), transform=pps.Transform(image="alpine", cmd=["sh"]),
        input=pps.Input(pfs=pps.PFSInput(repo="in", glob="/*"))))
    r.pps.CreatePipeline(pps.CreatePipelineRequest(
        pipeline=pipeline("v1b", project=""), transform=pps.Transform(image="alpine", cmd=["sh"]),
        input=pps.Input(pfs=pps.PFSInput(repo="in", glob="/")), datum_tries=3))
    r.sdk.pps.create_pipeline(pipeline=spps.Pipeline(name="viasdk"), transform=spps.Transform(image="alpine", cmd=["sh"]),
                              input=spps.Input(pfs=spps.PfsInput(repo="in", glob="/")))
    r.sdk.pps.create_pipeline_v2(create_pipeline_request_json=json.dumps(spec("sdkv2")))
    for name in ("v1", "v1b", "viasdk", "sdkv2", "jsontext"):
        wait_pipeline(r, name, RUNNING)
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("v1"), details=True))
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("viasdk"), details=True))
    r.pps.ListPipeline(pps.ListPipelineRequest())
    r.sdk.pps.list_pipeline()
    r.sdk.pps.inspect_pipeline(pipeline=spps.Pipeline(name="sdkv2"))
    r.sdk.pps.pipeline_exists(spps.Pipeline(name="sdkv2"))
    r.sdk.pps.pipeline_exists(spps.Pipeline(name="nope"))


@scenario("pipelines: refused specs")
def refused(r: Run) -> None:
    input_repo(r)
    base = spec("bad")
    bad = [
        {**base, "pipeline": {"name": "a.b"}},
        {**base, "pipeline": {"name": "x" * 60}},
        {**base, "pipeline": {"name": ""}},
        {k: v for k, v in base.items() if k != "pipeline"},
        {**base, "bogus": 1},
        {**base, "transform": {"image": "alpine", "cmd": ["sh"], "bogus": True}},
        {**base, "input": {"pfs": {"repo": "nope", "glob": "/*"}}},
        {**base, "input": {"pfs": {"repo": "in", "glob": ""}}},
        {**base, "input": {"pfs": {"repo": "in", "glob": "/*", "branch": "nope"}}},
        {**base, "input": {"cross": [{"pfs": {"repo": "in", "glob": "/*"}}, {"pfs": {"repo": "in", "glob": "/*"}}]}},
        {**base, "input": {"pfs": {"repo": "in", "glob": "/*"}, "cross": [{"pfs": {"repo": "in", "glob": "/"}}]}},
        {**base, "input": {}},
        {k: v for k, v in base.items() if k != "input"},
        {k: v for k, v in base.items() if k != "transform"},
        {**base, "transform": {"cmd": ["sh"]}},
        {**base, "parallelism_spec": {"constant": -1}},
        {**base, "datum_tries": -2},
        {**base, "input": {"pfs": {"repo": "in", "glob": "/*", "name": "a.b"}}},
        {**base, "output_branch": "bad.branch"},
        {**base, "resource_requests": {"memory": "lots"}},
        {**base, "pipeline": {"name": "in"}},
    ]
    for i, body in enumerate(bad):
        if body.get("pipeline", {}).get("name") == "bad":  # each under its own name: pachd accepts some
            body = {**body, "pipeline": {"name": f"bad{i}"}}
        create_v2(r, body)
    create_v2(r, "{not json")
    create_v2(r, "")
    create_v2(r, "[]")
    r.pps.CreatePipeline(pps.CreatePipelineRequest())
    r.pps.CreatePipeline(pps.CreatePipelineRequest(pipeline=pipeline("notransform")))
    for info in r.quiet.pps.ListPipeline(pps.ListPipelineRequest()):
        if info.pipeline.name != "notransform":  # it never leaves STARTING on the reference (no cmd)
            wait_pipeline(r, info.pipeline.name, RUNNING)
    r.pps.ListPipeline(pps.ListPipelineRequest())
    r.pfs.ListRepo(pfs.ListRepoRequest(), unordered=True)
    # Last, as pachd takes it and ours does not (nothing after it depends on it):
    create_v2(r, {**base, "pipeline": {"name": "badglob"}, "input": {"pfs": {"repo": "in", "glob": "/[a"}}})


@scenario("pipelines: inspect, list, history")
def history(r: Run) -> None:
    input_repo(r)
    create_v2(r, spec("first"), quiet=True)
    create_v2(r, spec("second"), quiet=True)
    wait_pipeline(r, "first", RUNNING)
    wait_pipeline(r, "second", RUNNING)
    create_v2(r, spec("first", description="v2"), update=True)
    # Each version settles before the next replaces it: pachd records a version replaced
    # mid-restart as RESTARTING 'could not get RC.' (its history then depends on timing).
    wait_pipeline(r, "first", RUNNING)
    create_v2(r, spec("first", description="v3", glob="/"), update=True, reprocess=True)
    wait_pipeline(r, "first", RUNNING)
    ip = r.pps.InspectPipeline
    ip(pps.InspectPipelineRequest(pipeline=pipeline("first")))
    ip(pps.InspectPipelineRequest(pipeline=pipeline("first^")))
    ip(pps.InspectPipelineRequest(pipeline=pipeline("first^^")))
    ip(pps.InspectPipelineRequest(pipeline=pipeline("first^^^")))
    ip(pps.InspectPipelineRequest(pipeline=pipeline("first~1")))
    ip(pps.InspectPipelineRequest(pipeline=pipeline("nope")))
    ip(pps.InspectPipelineRequest(pipeline=pipeline("first", project="nope")))
    ip(pps.InspectPipelineRequest())
    lp = r.pps.ListPipeline
    lp(pps.ListPipelineRequest())
    lp(pps.ListPipelineRequest(history=1))
    lp(pps.ListPipelineRequest(history=-1))
    lp(pps.ListPipelineRequest(pipeline=pipeline("first"), history=-1))
    lp(pps.ListPipelineRequest(pipeline=pipeline("first"), history=5))
    lp(pps.ListPipelineRequest(pipeline=pipeline("nope")))
    lp(pps.ListPipelineRequest(projects=[pfs.Project(name="default")]))
    lp(pps.ListPipelineRequest(projects=[pfs.Project(name="nope")]))
    lp(pps.ListPipelineRequest(details=True))
    lp(pps.ListPipelineRequest(jqFilter=".pipeline.name == \"second\""))
    lp(pps.ListPipelineRequest(jqFilter="not valid jq ((("))
    r.pfs.ListCommit(pfs.ListCommitRequest(repo=repo("first", type="spec")))
    r.sdk.pps.inspect_pipeline(pipeline=spps.Pipeline(name="first"), history=-1)
    r.sdk.pps.list_pipeline(history=-1)


@scenario("pipelines: stop, start, delete")
def stop_start_delete(r: Run) -> None:
    input_repo(r)
    for name in ("a", "b"):
        create_v2(r, spec(name), quiet=True)
    create_v2(r, spec("down", input_repo="a"), quiet=True)
    for name in ("a", "b", "down"):
        wait_pipeline(r, name, RUNNING)
    r.pps.StopPipeline(pps.StopPipelineRequest(pipeline=pipeline("a")))
    wait_pipeline(r, "a", PAUSED)
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("a")))
    r.pfs.InspectBranch(pfs.InspectBranchRequest(branch=branch("a")))
    r.pps.StopPipeline(pps.StopPipelineRequest(pipeline=pipeline("a")))
    r.pps.StopPipeline(pps.StopPipelineRequest(pipeline=pipeline("nope")))
    r.pps.StartPipeline(pps.StartPipelineRequest(pipeline=pipeline("nope")))
    r.pps.StartPipeline(pps.StartPipelineRequest(pipeline=pipeline("a")))
    wait_pipeline(r, "a", RUNNING)
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("a")))
    r.pps.StartPipeline(pps.StartPipelineRequest(pipeline=pipeline("a")))
    r.pfs.DeleteRepo(pfs.DeleteRepoRequest(repo=repo("a")))
    r.pfs.DeleteRepo(pfs.DeleteRepoRequest(repo=repo("a"), force=True))
    r.pfs.DeleteRepo(pfs.DeleteRepoRequest(repo=repo("in")))
    r.pps.DeletePipeline(pps.DeletePipelineRequest(pipeline=pipeline("a")))
    r.pps.DeletePipeline(pps.DeletePipelineRequest(pipeline=pipeline("nope")))
    r.pps.DeletePipeline(pps.DeletePipelineRequest(pipeline=pipeline("nope"), must_exist=True))
    r.pps.DeletePipeline(pps.DeletePipelineRequest(pipeline=pipeline("b"), keep_repo=True))
    r.pfs.ListRepo(pfs.ListRepoRequest(), unordered=True)
    create_v2(r, spec("b"))
    r.pps.DeletePipeline(pps.DeletePipelineRequest(pipeline=pipeline("down"), force=True))
    r.pps.DeletePipeline(pps.DeletePipelineRequest(pipeline=pipeline("a")))
    r.pps.ListPipeline(pps.ListPipelineRequest())
    r.pfs.ListRepo(pfs.ListRepoRequest(), unordered=True)
    r.sdk.pps.stop_pipeline(pipeline=spps.Pipeline(name="nope"))
    r.sdk.pps.delete_pipeline(pipeline=spps.Pipeline(name="nope"))
    r.pps.DeletePipelines(pps.DeletePipelinesRequest())
    r.pps.DeletePipelines(pps.DeletePipelinesRequest(all=True))
    r.pps.ListPipeline(pps.ListPipelineRequest())


@scenario("pipelines: cluster and project defaults")
def defaults(r: Run) -> None:
    r.pps.GetClusterDefaults(pps.GetClusterDefaultsRequest())
    r.pps.SetClusterDefaults(pps.SetClusterDefaultsRequest(
        cluster_defaults_json='{"create_pipeline_request": {"datum_tries": 4}}', dry_run=True))
    r.pps.SetClusterDefaults(pps.SetClusterDefaultsRequest(cluster_defaults_json="{not json", dry_run=True))
    r.pps.GetProjectDefaults(pps.GetProjectDefaultsRequest(project=pfs.Project(name="default")))
    r.pps.GetProjectDefaults(pps.GetProjectDefaultsRequest(project=pfs.Project(name="nope")))
    r.pfs.InspectProjectV2(pfs.InspectProjectV2Request(project=pfs.Project(name="default")))
    r.pps.GetClusterDefaults(pps.GetClusterDefaultsRequest())


@scenario("pipelines in another project")
def other_project(r: Run) -> None:
    r.quiet.pfs.CreateProject(pfs.CreateProjectRequest(project=pfs.Project(name="lab")))
    r.quiet.pfs.CreateRepo(pfs.CreateRepoRequest(repo=repo("in", "lab")))
    body = spec("p")
    body["pipeline"]["project"] = {"name": "lab"}
    body["input"]["pfs"]["project"] = "lab"
    create_v2(r, body)
    wait_pipeline(r, "p", RUNNING, project="lab")
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("p", "lab")))
    r.pps.InspectPipeline(pps.InspectPipelineRequest(pipeline=pipeline("p")))
    r.pps.ListPipeline(pps.ListPipelineRequest(projects=[pfs.Project(name="lab")]))
    r.pfs.ListRepo(pfs.ListRepoRequest(projects=[pfs.Project(name="lab")]), unordered=True)
    r.pfs.DeleteProject(pfs.DeleteProjectRequest(project=pfs.Project(name="lab")))
    r.pps.DeletePipelines(pps.DeletePipelinesRequest(projects=[pfs.Project(name="lab")]))
    r.pfs.ListRepo(pfs.ListRepoRequest(), unordered=True)
    r.sdk.pfs.list_repo(projects=[spfs.Project(name="lab")])
    r.pfs.InspectCommit(pfs.InspectCommitRequest(commit=commit("in", "master", project="lab")))
