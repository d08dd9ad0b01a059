"""Pipeline defaults merged into a spec the way pachd 2.12 merges them.

pachd builds a pipeline's *effective spec* from four JSON documents, each a
JSON merge patch (RFC 7386) on the one before: its built-in defaults, the
cluster defaults, the project's defaults, and the user's spec (wrapped as
``{"createPipelineRequest": ...}``). Field names are first made canonical
(protobuf JSON names, ``datum_tries`` -> ``datumTries``), values are kept as
written. The result is stored as ``effective_spec_json`` and parsed into the
request the pipeline runs with. The cluster defaults a fresh pachd reports
(resource requests for the user and sidecar containers) are ours too.

Parsing errors are the caller's to word; this module raises ``ValueError``
with the reason. No gRPC.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format

from .._proto import pps_pb2
from .specjson import problem

__all__ = [
    "DEFAULT_USER_IMAGE",
    "CLUSTER_DEFAULTS_JSON",
    "canonical",
    "merge_patch",
    "effective_spec",
    "InvalidEffectiveSpec",
]

DEFAULT_USER_IMAGE = "ubuntu:20.04"  # pachd's DefaultUserImage
_BUILT_IN: dict[str, Any] = {
    "createPipelineRequest": {
        "transform": {"image": DEFAULT_USER_IMAGE},
        "outputBranch": "master",
        "datumTries": "3",
        "reprocessSpec": "until_success",
    }
}
# What a freshly installed pachd answers to GetClusterDefaults.
_REQUESTS = {"cpu": 1, "memory": "256Mi", "disk": "1Gi"}
CLUSTER_DEFAULTS_JSON = json.dumps(
    {"createPipelineRequest": {"resourceRequests": _REQUESTS, "sidecarResourceRequests": _REQUESTS}},
    separators=(",", ":"),
)
_WELL_KNOWN = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.Any",
               "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}


def canonical(value: Any, descriptor: Any) -> Any:  # a message Descriptor
    """``value`` (a JSON object for ``descriptor``) with JSON field names and enum names.

    Unknown keys are kept as they are (the parse that follows refuses them).
    """
    if not isinstance(value, dict) or descriptor.full_name in _WELL_KNOWN:
        return value
    fields: dict[str, Any] = {}
    for field in descriptor.fields:
        fields[field.name] = fields[field.json_name] = field
    out: dict[str, Any] = {}
    for key, item in value.items():
        found = fields.get(key)
        if found is None:
            out[key] = item
            continue
        out[found.json_name] = _canonical_field(item, found)
    return out


def _canonical_field(item: Any, field: Any) -> Any:  # a FieldDescriptor
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return item
    if isinstance(item, list):  # a repeated field
        return [_canonical_field(i, field) for i in item]
    if field.message_type is not None:
        return canonical(item, field.message_type)
    if field.enum_type is not None and isinstance(item, int) and not isinstance(item, bool):
        enum = field.enum_type.values_by_number.get(item)
        return enum.name if enum is not None else item
    return item


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class InvalidEffectiveSpec(ValueError):
    """The merged spec parses but breaks one of pachd's static rules (the text is pachd's)."""


def effective_spec(
    user_json: str, cluster_json: str = CLUSTER_DEFAULTS_JSON, project_json: str = "{}"
) -> tuple[str, pps_pb2.CreatePipelineRequest]:
    """The effective spec of a user's JSON spec: its JSON text and the parsed request.

    Raises ``ValueError`` when the user's text is not a JSON object or does not
    parse as a CreatePipelineRequest (the reason names the problem), and its
    subclass ``InvalidEffectiveSpec`` when the merged spec breaks a static rule.
    """
    descriptor = pps_pb2.CreatePipelineRequest.DESCRIPTOR
    found = problem(user_json, descriptor)
    if found is not None:
        raise ValueError(found)
    user = json.loads(user_json)
    wrapped = merge_patch(
        merge_patch(merge_patch(_BUILT_IN, json.loads(cluster_json or "{}")), json.loads(project_json or "{}")),
        {"createPipelineRequest": canonical(user, descriptor)},
    )
    effective = wrapped.get("createPipelineRequest") or {}
    request = pps_pb2.CreatePipelineRequest()
    try:
        json_format.ParseDict(effective, request)
    except json_format.ParseError as err:
        raise ValueError(str(err)) from None
    text = json.dumps(effective, sort_keys=True, separators=(",", ":"))
    if request.reprocess_spec not in ("", "until_success", "every_job"):
        raise InvalidEffectiveSpec(
            f'invalid effective spec {text}: invalid pipeline spec: ReprocessSpec must be one of "until_success" '
            'or "every_job"'
        )
    return text, request
