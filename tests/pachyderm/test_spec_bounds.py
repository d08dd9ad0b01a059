"""Specs that explode are refused before they are built: INVALID_ARGUMENT, bounded memory.

A few hundred bytes of YAML aliases can stand for millions of values, and JSON
nested 100,000 deep used to end in RecursionError (INTERNAL). The bounds
(``MAX_SPEC_BYTES``, ``MAX_DEPTH``, ``MAX_VALUES``) are checked on the text and on
the composed YAML graph, where aliases are still shared.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import grpc
import pytest

from pachmagic._proto import pps_pb2, pps_pb2_grpc
from pachmagic.errors import InvalidArgument
from pachmagic.pachyderm.spec import MAX_DEPTH, MAX_SPEC_BYTES, parse_pipeline_spec
from pachmagic.server import LocalServer


def alias_bomb(levels: int = 7, width: int = 9) -> str:
    """The issue's spec: each level's list names the previous level ``width`` times."""
    lines = ["a0: &a0 [" + ", ".join(['"x"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def block_nesting(depth: int) -> str:
    return "pipeline:\n" + "".join(" " * (2 * i) + "- \n" for i in range(1, depth))


EXPLODING = {
    "alias bomb": (alias_bomb(), "expands to more than"),
    "self alias": ("a: &a [*a]\n", "refers to itself"),
    "deep JSON arrays": ("[" * 100_000, "nests more than"),
    "deep JSON objects": ('{"a":' * 100_000, "nests more than"),
    "deep valid JSON": ('{"a": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}", "nests more than"),
    "deep YAML flow": ("a: " + "[" * 5000 + "]" * 5000, "nests more than"),
    "deep YAML blocks": (block_nesting(600), "nests more than"),
    "huge": ("# " + "x" * MAX_SPEC_BYTES, "bytes; at most"),
}


@pytest.mark.parametrize("name", sorted(EXPLODING))
def test_exploding_specs_are_invalid_arguments(name: str) -> None:
    text, message = EXPLODING[name]
    tracemalloc.start()
    try:
        with pytest.raises(InvalidArgument, match=message):
            parse_pipeline_spec(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"{name}: {peak} bytes at the peak"  # the bomb alone would need 150+ MB


def test_ordinary_specs_within_the_bounds_still_parse() -> None:
    spec = ("pipeline:\n  name: p\ntransform:\n  image: busybox\n  cmd: [sh]\n  stdin: &s [a, b]\n"
            "input:\n  cross:\n  - pfs: {repo: a, glob: /*}\n  - pfs: {repo: b, glob: /*}\n")
    assert parse_pipeline_spec(spec).transform.stdin == ["a", "b"]
    nested = '{"pipeline": {"name": "q"}, "input": ' + '{"cross": [' * 20 + '{"pfs": {"repo": "r", "glob": "/"}}' + "]}" * 20 + "}"
    assert parse_pipeline_spec(nested).pipeline.name == "q"


def test_the_server_refuses_them_too(server: LocalServer) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub: Any = pps_pb2_grpc.APIStub(channel)
        for text in (alias_bomb(), "[" * 100_000):
            with pytest.raises(grpc.RpcError) as err:
                stub.CreatePipelineV2(pps_pb2.CreatePipelineV2Request(create_pipeline_request_json=text), timeout=60)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
