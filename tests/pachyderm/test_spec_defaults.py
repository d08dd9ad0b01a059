"""Pipeline spec defaults and JSON parse errors, as pachd 2.12 makes and words them."""

from __future__ import annotations

import json

import pytest

from pachmagic._proto import pps_pb2
from pachmagic.pachyderm.spec_defaults import CLUSTER_DEFAULTS_JSON, canonical, effective_spec, merge_patch
from pachmagic.pachyderm.specjson import problem

SPEC = {"pipeline": {"name": "p"}, "transform": {"cmd": ["sh"]}, "input": {"pfs": {"repo": "in", "glob": "/*"}}}


def test_merge_patch_is_rfc_7386() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": 9, "c": None}, "e": 4}) == {"a": {"b": 9}, "d": 3, "e": 4}
    assert merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}
    assert merge_patch(1, {"a": 1}) == {"a": 1}


def test_canonical_names_keep_values() -> None:
    doc = {"datum_tries": 5, "parallelism_spec": {"constant": "2"}, "input": {"pfs": {"repo_type": "user"}}, "x": 1}
    assert canonical(doc, pps_pb2.CreatePipelineRequest.DESCRIPTOR) == {
        "datumTries": 5, "parallelismSpec": {"constant": "2"}, "input": {"pfs": {"repoType": "user"}}, "x": 1}


def test_effective_spec_merges_built_in_cluster_and_user() -> None:
    text, request = effective_spec(json.dumps(SPEC))
    merged = json.loads(text)
    # pachd's built-in defaults, the cluster's resource requests, the user's own fields as written
    assert merged["transform"] == {"image": "ubuntu:20.04", "cmd": ["sh"]}
    assert (merged["outputBranch"], merged["datumTries"], merged["reprocessSpec"]) == ("master", "3", "until_success")
    assert merged["resourceRequests"] == merged["sidecarResourceRequests"] == {"cpu": 1, "memory": "256Mi", "disk": "1Gi"}
    assert "parallelismSpec" not in merged and "salt" not in merged
    assert request.datum_tries == 3 and request.resource_requests.memory == "256Mi"
    text, request = effective_spec(json.dumps({**SPEC, "datum_tries": 5}), cluster_json="{}")
    assert json.loads(text)["datumTries"] == 5 and "resourceRequests" not in json.loads(text)
    assert CLUSTER_DEFAULTS_JSON.startswith('{"createPipelineRequest"')


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{not json", "syntax error (line 1:2): invalid value not"),
        ("", "syntax error (line 1:1): unexpected token "),
        ("[]", "syntax error (line 1:1): unexpected token ["),
        ("pipeline:\n  name: yaml\n", "syntax error (line 1:1): invalid value pipeline"),
        ('{"pipeline": {"name": "p"}, "bogus": 1}', '(line 1:29): unknown field "bogus"'),
        ('{\n "transform": {"cmd": ["sh"], "bogus": true}}', '(line 2:31): unknown field "bogus"'),
        ('{"parallelism_spec": {"constant": -1}}', "(line 1:35): invalid value for uint64 type: -1"),
        ('{"datum_tries": "x"}', '(line 1:17): invalid value for int64 type: "x"'),
        ('{"s3_out": 1}', "(line 1:12): invalid value for bool type: 1"),
    ],
)
def test_parse_problems_in_protojson_words(text: str, expected: str) -> None:
    assert problem(text, pps_pb2.CreatePipelineRequest.DESCRIPTOR) == expected
    with pytest.raises(ValueError, match="^" + expected.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[") + "$"):
        effective_spec(text)


def test_a_good_spec_has_no_problem() -> None:
    text = json.dumps({**SPEC, "transform": {"cmd": ["a"], "env": {"K": "v"}}, "datumTries": "4",
                       "resource_requests": {"cpu": 0.5}, "input": {"cross": [{"pfs": {"repo": "a", "glob": "/"}}]}})
    assert problem(text, pps_pb2.CreatePipelineRequest.DESCRIPTOR) is None


def test_a_bad_reprocess_spec_is_refused_with_the_effective_spec() -> None:
    from pachmagic.pachyderm.spec_defaults import InvalidEffectiveSpec

    with pytest.raises(InvalidEffectiveSpec, match=r'^invalid effective spec \{.*"reprocessSpec":"sometimes".*\}: invalid '
                       r'pipeline spec: ReprocessSpec must be one of "until_success" or "every_job"$'):
        effective_spec(json.dumps(dict(SPEC, reprocessSpec="sometimes")))
