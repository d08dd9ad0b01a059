"""The jq subset of ListPipeline/ListJob filters (pachd runs gojq on the .proto-named JSON)."""

from __future__ import annotations

import pytest

from pachmagic.errors import Unimplemented, Unknown
from pachmagic.server.servicers._jq import compile_filter

INFO = {"pipeline": {"name": "edges", "project": {"name": "default"}}, "version": "2", "state": "PIPELINE_RUNNING",
        "stopped": False}


@pytest.mark.parametrize(
    "text, kept",
    [
        ('.pipeline.name == "edges"', True),
        ('.pipeline.name != "edges"', False),
        ('.state == "PIPELINE_RUNNING" and .version > 1', True),  # "2" > 1: strings order after numbers
        ('.pipeline.name == "x" or .stopped == false', True),
        ('(.pipeline.name == "x") | not', True),
        (".details", False),  # missing: null
        (".pipeline", True),
        ("true", True),
    ],
)
def test_filters_keep_what_gojq_keeps(text: str, kept: bool) -> None:
    assert compile_filter(text)(INFO) is kept


def test_parse_errors_in_gojq_words_and_unsupported_jq_said_plainly() -> None:
    with pytest.raises(Unknown, match='^error creating message filter function: error parsing jq filter: unexpected token "valid"$'):
        compile_filter("not valid jq (((")
    with pytest.raises(Unknown, match="unexpected EOF$"):
        compile_filter(".a ==")
    with pytest.raises(Unimplemented, match="select"):
        compile_filter("select(.a)")
