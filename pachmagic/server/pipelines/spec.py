"""Pipeline specs: parsing (protojson), validation and defaults, as pachd does them.

Specs arrive as ``CreatePipelineRequest`` messages (``CreatePipeline``) or as
JSON text (``CreatePipelineV2``). Parsing accepts both snake_case and
lowerCamelCase names and rejects unknown fields by name. Validation produces
pachd's messages where there is one. No gRPC here.
"""

from __future__ import annotations

import re
from typing import Iterator

from google.protobuf import json_format

from ..._proto import pps_pb2
from ...errors import InvalidArgument
from ..storage.model import DEFAULT_PROJECT, validate_name

__all__ = [
    "parse_json_spec",
    "spec_to_json",
    "validate_and_default",
    "pfs_inputs",
    "input_string",
    "PIPELINE_NAME_MAX",
]

PIPELINE_NAME_MAX = 51
DEFAULT_DATUM_TRIES = 3
_UNKNOWN_FIELD = re.compile(r'has no field named "([^"]+)" at "([^"]*)"')


def parse_json_spec(text: str) -> pps_pb2.CreatePipelineRequest:
    """Parse a pipeline spec in protojson form; errors name the bad field."""
    request = pps_pb2.CreatePipelineRequest()
    try:
        json_format.Parse(text, request, ignore_unknown_fields=False)
    except json_format.ParseError as err:
        message = str(err)
        match = _UNKNOWN_FIELD.search(message)
        if match:
            where = match.group(2).split(".", 1)[1] if "." in match.group(2) else ""
            at = f" (in {where})" if where else ""
            raise InvalidArgument(f'unknown field "{match.group(1)}" in pipeline spec{at}') from None
        raise InvalidArgument(f"invalid pipeline spec: {message}") from None
    return request


def spec_to_json(request: pps_pb2.CreatePipelineRequest) -> str:
    """The spec as protojson, with proto field names, for storage and display."""
    return json_format.MessageToJson(request, preserving_proto_field_name=True, indent=2, sort_keys=False)


def pfs_inputs(node: pps_pb2.Input) -> Iterator[pps_pb2.PFSInput]:
    """Every PFS input in an input tree, depth first."""
    if node.HasField("pfs"):
        yield node.pfs
    for child in (*node.cross, *node.union, *node.join, *node.group):
        yield from pfs_inputs(child)


def _check_input(node: pps_pb2.Input, names: set[str]) -> None:
    kinds = [k for k in ("pfs", "cron") if node.HasField(k)]
    kinds += [k for k in ("cross", "union", "join", "group") if len(getattr(node, k))]
    if not kinds:
        raise InvalidArgument("no input set")
    if len(kinds) > 1:
        raise InvalidArgument(f"multiple input types set ({', '.join(kinds)})")
    if node.HasField("cron"):
        raise InvalidArgument("cron inputs are not supported by the pachmagic embedded server yet")
    if node.HasField("pfs"):
        pfs = node.pfs
        if not pfs.repo:
            raise InvalidArgument("input must specify a repo")
        if pfs.commit:
            raise InvalidArgument("input cannot come from a commit; use a branch with head pointing to the commit")
        if not pfs.glob and not pfs.s3:
            raise InvalidArgument("input must specify a glob")
        pfs.project = pfs.project or DEFAULT_PROJECT
        pfs.name = pfs.name or pfs.repo
        pfs.branch = pfs.branch or "master"
        pfs.repo_type = pfs.repo_type or "user"
        if pfs.name == "out":
            raise InvalidArgument('input cannot be named "out": /pfs/out is the output directory; set a different name')
        validate_name(pfs.name)
        names.add(pfs.name)
        return
    for child in (*node.cross, *node.union, *node.join, *node.group):
        _check_input(child, names)


def validate_and_default(request: pps_pb2.CreatePipelineRequest) -> pps_pb2.CreatePipelineRequest:
    """Check a spec and fill in pachd's defaults; return a normalised copy."""
    spec = pps_pb2.CreatePipelineRequest()
    spec.CopyFrom(request)
    name = spec.pipeline.name
    if not name:
        raise InvalidArgument("invalid pipeline spec: the pipeline needs a name (pipeline.name)")
    try:
        validate_name(name)
    except InvalidArgument as err:
        raise InvalidArgument(f"invalid pipeline name: {err.details}") from None
    if not name[0].isalnum():
        raise InvalidArgument(f"invalid pipeline name: {name!r} must start with a letter or digit")
    if len(name) > PIPELINE_NAME_MAX:
        raise InvalidArgument(
            f"pipeline name {name!r} is {len(name) - PIPELINE_NAME_MAX} characters longer than the {PIPELINE_NAME_MAX} max"
        )
    spec.pipeline.project.name = spec.pipeline.project.name or DEFAULT_PROJECT
    if spec.HasField("spout") or spec.HasField("service"):
        raise InvalidArgument("spout and service pipelines are not supported by the pachmagic embedded server")
    if not spec.HasField("transform") or not spec.transform.image:
        raise InvalidArgument("pipeline transform must contain an image")
    if not spec.transform.cmd:
        raise InvalidArgument("invalid pipeline transform, no command specified")
    if not spec.HasField("input"):
        raise InvalidArgument("no input set")
    _check_input(spec.input, set())
    if spec.reprocess_spec not in ("", "until_success", "every_job"):
        raise InvalidArgument('ReprocessSpec must be one of "until_success" or "every_job"')
    spec.reprocess_spec = spec.reprocess_spec or "until_success"
    spec.output_branch = spec.output_branch or "master"
    validate_name(spec.output_branch)
    if spec.datum_tries <= 0:
        spec.datum_tries = DEFAULT_DATUM_TRIES
    if spec.parallelism_spec.constant == 0:
        spec.parallelism_spec.constant = 1
    # Request flags are not part of the stored spec.
    spec.update = False
    spec.reprocess = False
    spec.dry_run = False
    return spec


def input_string(node: pps_pb2.Input) -> str:
    """pachctl's one-line form of an input tree (``default/photos:/``, ``(a ⨯ b)``)."""
    if node.HasField("pfs"):
        return f"{node.pfs.project or DEFAULT_PROJECT}/{node.pfs.repo}:{node.pfs.glob}"
    if node.HasField("cron"):
        return f"{node.cron.name}:{node.cron.spec}"
    for field, sep in (("cross", " ⨯ "), ("union", " ∪ "), ("join", " ⋈ ")):
        children = getattr(node, field)
        if len(children):
            return "(" + sep.join(input_string(c) for c in children) + ")"
    if len(node.group):
        return "(Group: " + ", ".join(input_string(c) for c in node.group) + ")"
    return ""
