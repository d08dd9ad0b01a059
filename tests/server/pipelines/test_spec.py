"""Pipeline specs: protojson/YAML parsing, field names, defaults and validation messages."""

from __future__ import annotations

import json

import pytest

from pachmagic.errors import InvalidArgument
from pachmagic.pachyderm.inputs import sorted_input
from pachmagic.pachyderm.spec import parse_pipeline_spec, spec_to_dict
from pachmagic.server.pipelines.spec import input_branches, validate_and_default

BASE = {"pipeline": {"name": "p"}, "transform": {"image": "i", "cmd": ["true"]}, "input": {"pfs": {"repo": "r", "glob": "/*"}}}


def parse(doc: dict | str) -> object:
    return validate_and_default(parse_pipeline_spec(doc if isinstance(doc, str) else json.dumps(doc), need_name=False))


def test_snake_and_camel_case_are_the_same_spec() -> None:
    snake = dict(BASE, parallelism_spec={"constant": 2}, datum_tries=5, reprocess_spec="every_job",
                 datum_timeout="30s", transform={"image": "i", "cmd": ["true"], "working_dir": "/tmp",
                                                 "accept_return_code": [3], "err_cmd": ["true"]})
    camel = dict(BASE, parallelismSpec={"constant": 2}, datumTries=5, reprocessSpec="every_job",
                 datumTimeout="30s", transform={"image": "i", "cmd": ["true"], "workingDir": "/tmp",
                                                "acceptReturnCode": [3], "errCmd": ["true"]})
    assert parse(snake) == parse(camel)


def test_yaml_specs() -> None:
    text = "pipeline: {name: p}\ntransform:\n  image: i\n  cmd: [true]\ninput:\n  pfs: {repo: r, glob: /*}\n"
    spec = parse(text.replace("[true]", "['true']"))
    assert spec.pipeline.name == "p" and spec.input.pfs.glob == "/*"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (dict(BASE, imagee="x"), 'unknown field "imagee"'),
        (dict(BASE, transform={"image": "i", "cmd": ["true"], "cmdd": []}), 'unknown field "cmdd" in pipeline spec (transform)'),
        (dict(BASE, input={"pfs": {"repo": "r", "glob": "/", "globb": "/"}}), 'unknown field "globb"'),
    ],
)
def test_unknown_fields_are_rejected_by_name(doc: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(doc)


def test_defaults() -> None:
    spec = parse(dict(BASE, pipeline={"name": "p", "project": {"name": "proj"}}))
    assert spec.datum_tries == 3 and spec.parallelism_spec.constant == 1
    assert spec.output_branch == "master" and spec.reprocess_spec == "until_success"
    pfs = spec.input.pfs
    # An input's project defaults to the pipeline's, its name to the repo, its branch to master.
    assert (pfs.project, pfs.name, pfs.branch, pfs.repo_type) == ("proj", "r", "master", "user")
    assert not spec.update and not spec.reprocess and not spec.dry_run


def test_kubernetes_only_fields_are_accepted_and_kept() -> None:
    extra = {
        "resource_requests": {"cpu": 1.5, "memory": "2Gi", "gpu": {"type": "nvidia.com/gpu", "number": 1}},
        "resource_limits": {"memory": "4G"},
        "sidecar_resource_limits": {"cpu": 0.5},
        "scheduling_spec": {"node_selector": {"disk": "ssd"}, "priority_class_name": "high"},
        "pod_patch": '[{"op": "add"}]',
        "pod_spec": "{}",
        "tolerations": [{"key": "k", "operator": "EXISTS", "effect": "NO_SCHEDULE"}],
        "metadata": {"labels": {"team": "x"}, "annotations": {"a": "b"}},
        "autoscaling": True,
        "datum_set_spec": {"number": 4},
        "transform": {"image": "i", "cmd": ["true"], "image_pull_secrets": ["reg"], "user": "root",
                      "secrets": [{"name": "s", "env_var": "V", "key": "k"}], "memory_volume": True},
        "egress": {"URL": "s3://bucket/dir"},
    }
    spec = parse(dict(BASE, **extra))
    shown = spec_to_dict(spec)
    assert shown["resource_requests"]["gpu"]["number"] == "1"
    assert shown["scheduling_spec"]["node_selector"] == {"disk": "ssd"}
    assert shown["tolerations"][0]["key"] == "k" and shown["autoscaling"] is True
    assert shown["transform"]["image_pull_secrets"] == ["reg"] and shown["egress"]["URL"] == "s3://bucket/dir"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pipeline": {"name": "a.b"}}, "invalid pipeline name"),
        ({"pipeline": {"name": "x" * 52}}, "1 characters longer than the 51 max"),
        ({"transform": {"cmd": ["true"]}}, "pipeline transform must contain an image"),
        ({"transform": {"image": "i"}}, "no command specified"),
        ({"input": {}}, "no input set"),
        ({"input": {"pfs": {"repo": "r"}}}, "input must specify a glob"),
        ({"input": {"pfs": {"glob": "/"}}}, "input must specify a repo"),
        ({"input": {"pfs": {"repo": "r", "glob": "/", "commit": "abc"}}}, "input cannot come from a commit"),
        ({"input": {"pfs": {"repo": "r", "glob": "/"}, "cron": {"name": "c", "spec": "@every 1s"}}}, "multiple input types set"),
        ({"input": {"cross": [{"pfs": {"repo": "r", "glob": "/"}}, {"pfs": {"repo": "r", "glob": "/*"}}]}},
         'name "r" was used more than once'),
        ({"input": {"pfs": {"repo": "out", "glob": "/"}}}, 'input cannot be named "out"'),
        ({"input": {"pfs": {"repo": "p", "glob": "/"}}}, "cannot take its own output repo as input"),
        ({"input": {"cron": {"spec": "@every 1s"}}}, "input must specify a name"),
        ({"input": {"cron": {"name": "tick", "spec": "@sometimes"}}}, "error parsing cron-spec"),
        ({"input": {"join": [{"cron": {"name": "c", "spec": "@every 1s"}}]}}, "join inputs may only contain pfs inputs"),
        ({"input": {"pfs": {"repo": "r", "glob": "/", "join_on": "$1"}}}, "join_on is only meaningful inside a join"),
        ({"input": {"pfs": {"repo": "r", "glob": "/", "outer_join": True}}}, "outer_join is only meaningful"),
        ({"input": {"pfs": {"repo": "r", "glob": "/", "group_by": "$1"}}}, "group_by is only meaningful"),
        ({"reprocess_spec": "sometimes"}, 'ReprocessSpec must be one of "until_success" or "every_job"'),
        ({"job_timeout": "0s"}, "job_timeout must be positive"),
        ({"spout": {}}, "not supported by the pachmagic embedded server"),
        ({"transform": {"image": "i", "cmd": ["true"], "datum_batching": True}}, "datum_batching is not supported"),
    ],
)
def test_validation_messages(change: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        parse(dict(BASE, **change))


def test_union_children_may_reuse_names() -> None:
    spec = parse(dict(BASE, input={"union": [{"pfs": {"repo": "r", "glob": "/a*"}}, {"pfs": {"repo": "r", "glob": "/b*"}}]}))
    assert [c.pfs.name for c in spec.input.union] == ["r", "r"]


def test_cron_defaults() -> None:
    spec = parse(dict(BASE, pipeline={"name": "ticker"}, input={"cron": {"name": "tick", "spec": "@every 5s"}}))
    assert spec.input.cron.repo == "ticker_tick" and spec.input.cron.HasField("start")
    assert [(b.repo, b.branch) for b in input_branches(spec.input)] == [("ticker_tick", "master")]


def test_inputs_are_sorted_by_given_names_before_defaults() -> None:
    """As pachd's setInputDefaults: SortInput (stable, by the names given) runs before names default."""
    spec = parse(dict(BASE, input={"cross": [{"pfs": {"repo": "b", "glob": "/"}}, {"pfs": {"repo": "a", "glob": "/"}}]}))
    assert [c.pfs.name for c in spec.input.cross] == ["b", "a"]  # unnamed: the spec's order stays
    named = parse(dict(BASE, input={"cross": [{"pfs": {"repo": "a", "glob": "/", "name": "z"}},
                                              {"pfs": {"repo": "b", "glob": "/", "name": "y"}}]}))
    assert [c.pfs.name for c in named.input.cross] == ["y", "z"]
    mixed = parse(dict(BASE, input={"union": [{"pfs": {"repo": "a", "glob": "/", "name": "m"}},
                                              {"cron": {"name": "c", "spec": "@every 5s"}},
                                              {"pfs": {"repo": "b", "glob": "/"}}]}))
    # Cron inputs and unnamed PFS inputs sort as "" (pachd's InputName has no cron case).
    kinds = ["cron" if c.HasField("cron") else c.pfs.name for c in mixed.input.union]
    assert kinds == ["cron", "b", "m"]
    assert [c.pfs.name for c in sorted_input(named.input).cross] == ["y", "z"]
