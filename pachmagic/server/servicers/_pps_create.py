"""CreatePipeline and CreatePipelineV2 as pachd 2.12 takes them.

Both end in the same path: the user's spec as JSON text (for the v1 request,
its protobuf JSON), merged with pachd's built-in, cluster and project defaults
(``pachyderm.spec_defaults``) into the *effective spec*; a dry run stops there. The
V2 answer is the effective request in protobuf JSON. pachd parses only JSON:
YAML (which pachctl converts on the client side) is refused, as is anything
its JSON parser refuses, with code INVALID_ARGUMENT.

What it must not do: validate a spec beyond what pachd does before creating
(the engine validates the rest, with pachd's texts).
"""

from __future__ import annotations

import re

from google.protobuf import json_format

from ..._proto import pps_pb2
from ...errors import InvalidArgument, Unknown
from ...pachyderm.spec import MAX_DEPTH, MAX_SPEC_BYTES
from ...pachyderm.spec_defaults import InvalidEffectiveSpec, effective_spec
from ..storage.model import DEFAULT_PROJECT

__all__ = ["v1_user_json", "effective", "response_json", "check_ancestry_name"]

_QUOTED = 4096  # characters of a refused spec quoted back in the error


def v1_user_json(request: pps_pb2.CreatePipelineRequest) -> str:
    """pachd turns a v1 request into its protobuf JSON (compact, JSON field names)."""
    bare = pps_pb2.CreatePipelineRequest()
    bare.CopyFrom(request)
    bare.update = bare.reprocess = bare.dry_run = False  # request flags, not spec
    return json_format.MessageToJson(bare, indent=None)


def effective(user_json: str, cluster_json: str, project_json: str = "{}") -> tuple[str, pps_pb2.CreatePipelineRequest]:
    """The effective spec (JSON text, request) of a user's JSON spec, or pachd's refusal."""
    size = len(user_json.encode("utf-8", errors="replace"))
    if size > MAX_SPEC_BYTES:  # the spec bounds of pachyderm.spec, before any of it is parsed
        raise InvalidArgument(f"pipeline spec is {size} bytes; at most {MAX_SPEC_BYTES} are accepted")
    try:
        text, spec = effective_spec(user_json, cluster_json, project_json)
    except RecursionError:  # the JSON decoder's own guard: never an INTERNAL error
        raise InvalidArgument(f"pipeline spec nests more than {MAX_DEPTH} levels deep") from None
    except InvalidEffectiveSpec as err:
        raise InvalidArgument(f"could not make effective spec: {err}") from None
    except ValueError as err:
        # pachd quotes the whole spec; a long one is cut (a gRPC error must fit in its trailers)
        quoted = user_json if len(user_json) <= _QUOTED else user_json[:_QUOTED] + "..."
        raise InvalidArgument(
            f"could not make effective spec: could not parse {quoted} as Create Pipeline Request message: "
            f"proto:\xa0{err}"
        ) from None
    if not spec.HasField("pipeline"):
        raise Unknown("request.Pipeline cannot be nil")
    spec.pipeline.project.name = spec.pipeline.project.name or DEFAULT_PROJECT
    return text, spec


def response_json(spec: pps_pb2.CreatePipelineRequest) -> str:
    """CreatePipelineV2's answer: the effective request in protobuf JSON."""
    return json_format.MessageToJson(spec, indent=None)


def check_ancestry_name(name: str) -> None:
    """pachd reads a pipeline name with ancestry syntax before validating it (its errors first)."""
    index = next((i for i, ch in enumerate(name) if ch in "^~."), -1)
    if index < 0:
        return
    sep, rest = name[index], name[index + 1 :]
    if re.fullmatch(r"[+-]?\d+", rest):
        return
    for ch in rest:
        if ch != sep:
            raise Unknown(f'invalid ancestry syntax "{name}", cannot mix {sep} and {ch} characters')
