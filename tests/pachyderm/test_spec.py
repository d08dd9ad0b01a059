"""The pipeline spec codec (client and server alike): both case styles, unknown fields named,
syntax errors located, multi-doc, Go durations, and pachd's compact lowerCamelCase output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pachmagic._proto import pps_pb2
from pachmagic.errors import InvalidArgument
from pachmagic.pachyderm.spec import parse_pipeline_spec, parse_pipeline_specs, spec_to_dict, spec_to_json

TUTORIAL = Path(__file__).resolve().parents[2] / "pachmagic" / "tutorial"

SNAKE = {
    "pipeline": {"name": "contour"},
    "description": "edges",
    "transform": {"image": "img:1", "cmd": ["python3", "/contour.py"], "working_dir": "/w"},
    "input": {"pfs": {"repo": "photos", "glob": "/*", "empty_files": True}},
    "parallelism_spec": {"constant": 2},
    "datum_tries": 4,
    "output_branch": "out",
}
CAMEL = {
    "pipeline": {"name": "contour"},
    "description": "edges",
    "transform": {"image": "img:1", "cmd": ["python3", "/contour.py"], "workingDir": "/w"},
    "input": {"pfs": {"repo": "photos", "glob": "/*", "emptyFiles": True}},
    "parallelismSpec": {"constant": 2},
    "datumTries": 4,
    "outputBranch": "out",
}


def test_snake_and_camel_case_give_the_same_request() -> None:
    snake = parse_pipeline_spec(json.dumps(SNAKE))
    camel = parse_pipeline_spec(json.dumps(CAMEL))
    assert snake == camel
    assert snake.transform.working_dir == "/w" and snake.input.pfs.empty_files
    assert snake.parallelism_spec.constant == 2 and snake.datum_tries == 4


def test_yaml_equals_json() -> None:
    yaml_text = """
pipeline:
  name: contour
description: edges
transform:
  image: img:1
  cmd: [python3, /contour.py]
  workingDir: /w
input:
  pfs: {repo: photos, glob: "/*", empty_files: true}
parallelism_spec: {constant: 2}
datumTries: 4
output_branch: out
"""
    assert parse_pipeline_spec(yaml_text) == parse_pipeline_spec(SNAKE)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"pipeline": {"name": "p"}, "transform": {"imagee": "x"}}, 'unknown field "imagee" in pipeline spec (transform)'),
        ({"pipeline": {"name": "p"}, "bogus": 1}, 'unknown field "bogus" in pipeline spec'),
        ({"pipeline": {"name": "p", "nmae": "x"}}, 'unknown field "nmae" in pipeline spec (pipeline)'),
        (
            {"pipeline": {"name": "p"}, "input": {"cross": [{"pfs": {"repo": "a"}}, {"pfs": {"rep": "b"}}]}},
            'unknown field "rep" in pipeline spec (input.cross[1].pfs)',
        ),
        # the book's sentiment.yaml mistake: image at the top level
        ({"pipeline": {"name": "p"}, "image": "x"}, 'unknown field "image" in pipeline spec'),
    ],
)
def test_unknown_fields_are_named(spec: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_pipeline_specs(spec)
    assert str(info.value) == message
    assert info.value.code == "INVALID_ARGUMENT"


def test_unknown_field_in_second_document_says_which() -> None:
    text = "pipeline: {name: a}\n---\npipeline: {name: b}\ntransform: {cmdd: [x]}\n"
    with pytest.raises(InvalidArgument, match=r'"cmdd" in pipeline spec \(transform\) \(document 2 of 2\)'):
        parse_pipeline_specs(text)


def test_yaml_syntax_error_has_line_and_column() -> None:
    text = "pipeline:\n  name: a\ntransform:\n  cmd: [python3\n  image: x\n"
    with pytest.raises(InvalidArgument, match=r"invalid YAML in pipeline spec at line \d+, column \d+"):
        parse_pipeline_specs(text)
    with pytest.raises(InvalidArgument, match=r"at line 3, column 2"):
        parse_pipeline_specs("pipeline:\n  name: a\n transform: [\n")


def test_json_syntax_error_has_line_and_column() -> None:
    text = '{\n  "pipeline": {"name": "a"},\n  "transform": {"image" "x"}\n}'
    with pytest.raises(InvalidArgument, match=r"invalid JSON in pipeline spec at line 3, column 25"):
        parse_pipeline_specs(text)


def test_wrong_value_type_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="parallelismSpec|parallelism_spec"):
        parse_pipeline_specs({"pipeline": {"name": "a"}, "parallelismSpec": {"constant": "many"}})


def test_multiple_documents_and_lists() -> None:
    yaml_docs = "pipeline: {name: a}\n---\npipeline: {name: b}\n---\n"
    assert [r.pipeline.name for r in parse_pipeline_specs(yaml_docs)] == ["a", "b"]
    json_list = json.dumps([{"pipeline": {"name": "a"}}, {"pipeline": {"name": "b"}}])
    assert [r.pipeline.name for r in parse_pipeline_specs(json_list)] == ["a", "b"]
    stream = '{"pipeline": {"name": "a"}}\n{"pipeline": {"name": "b"}}'
    assert [r.pipeline.name for r in parse_pipeline_specs(stream)] == ["a", "b"]
    assert [r.pipeline.name for r in parse_pipeline_specs([{"pipeline": {"name": "c"}}])] == ["c"]
    with pytest.raises(InvalidArgument, match="expected one pipeline spec, found 2"):
        parse_pipeline_spec(yaml_docs)


def test_missing_name_and_empty_spec() -> None:
    with pytest.raises(InvalidArgument, match="no pipeline.name"):
        parse_pipeline_specs({"transform": {"image": "x"}})
    with pytest.raises(InvalidArgument, match="empty pipeline spec"):
        parse_pipeline_specs("   \n")
    with pytest.raises(InvalidArgument, match="must be a mapping"):
        parse_pipeline_specs("- a\n- b\n")
    # The server leaves the name to its validation (pachd's message).
    assert parse_pipeline_spec('{"transform": {"image": "x"}}', need_name=False).transform.image == "x"


def test_go_durations_are_accepted() -> None:
    request = parse_pipeline_spec({"pipeline": {"name": "a"}, "datum_timeout": "1m30s", "jobTimeout": "250ms"})
    assert request.datum_timeout.seconds == 90
    assert request.job_timeout.ToTimedelta().total_seconds() == 0.25
    assert parse_pipeline_spec({"pipeline": {"name": "a"}, "datum_timeout": "5s"}).datum_timeout.seconds == 5


def test_request_passes_through_and_serialises() -> None:
    request = pps_pb2.CreatePipelineRequest(pipeline=pps_pb2.Pipeline(name="x"))
    assert parse_pipeline_specs(request) == [request]
    parsed = parse_pipeline_spec(SNAKE)
    assert parse_pipeline_spec(spec_to_json(parsed)) == parsed
    assert spec_to_dict(parsed)["transform"]["working_dir"] == "/w"
    # What pachd answers as the effective spec: one line, lowerCamelCase.
    text = spec_to_json(parsed)
    assert "\n" not in text and "workingDir" in json.loads(text)["transform"]


@pytest.mark.parametrize("name", ["contour.json", "contour.yaml", "histogram.json", "histogram.yaml"])
def test_tutorial_specs_parse(name: str) -> None:
    path = TUTORIAL / name
    if not path.exists():
        pytest.skip(f"{name} not in the tutorial")
    request = parse_pipeline_spec(path.read_text())
    assert request.pipeline.name == name.split(".")[0]
    assert request.transform.cmd
