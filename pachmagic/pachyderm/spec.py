"""The pipeline spec codec: pachctl's JSON/YAML text to ``CreatePipelineRequest`` and back.

Like pachctl (``ppsutil`` decoder, protojson): JSON or YAML; several YAML
documents, a JSON array or concatenated JSON objects give several pipelines;
field names may be snake_case proto names or lowerCamelCase JSON names; Go
durations (``1m30s``) are accepted where protojson wants seconds; unknown fields
are an error that names the field and where it is (``unknown field "imagee" in
pipeline spec (transform)``); syntax errors say the line and column. All errors
are ``InvalidArgument``, and so is a spec beyond the bounds checked before it is
built in memory: ``MAX_SPEC_BYTES`` of text, ``MAX_DEPTH`` levels, ``MAX_VALUES``
values with YAML aliases expanded. ``spec_to_json`` writes what pachd writes:
compact lowerCamelCase protojson.

The client parses with it before sending (``client.pps``, the magics) and the
server parses ``CreatePipelineV2``'s text with it, so both read a spec alike.
Parsing only: validation and pachd's defaults are the server's
(``server/pipelines/spec.py``).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any, Iterable

import yaml
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from pachmagic._proto import pps_pb2
from pachmagic.errors import InvalidArgument

__all__ = ["Spec", "parse_pipeline_specs", "parse_pipeline_spec", "spec_to_json", "spec_to_dict"]

# The message a spec parses to, for code that handles specs without importing _proto.
Spec = pps_pb2.CreatePipelineRequest


# Bounds on a spec's text, before any of it is built in memory. A real spec is a few
# KB, a few levels deep, with a few hundred values; these leave a wide margin.
MAX_SPEC_BYTES = 4 << 20
MAX_DEPTH = 64
MAX_VALUES = 100_000


def _load_documents(text: str) -> list[Any]:
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_SPEC_BYTES:
        raise InvalidArgument(f"pipeline spec is {size} bytes; at most {MAX_SPEC_BYTES} are accepted")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            docs = _load_json_stream(text)
        except RecursionError:  # the C decoder's own guard, at ~1,000 levels
            raise InvalidArgument(f"pipeline spec nests more than {MAX_DEPTH} levels deep") from None
        for doc in docs:
            _check_shape(doc)
        return docs
    if _yaml_text_depth(text) > 2 * MAX_DEPTH:  # PyYAML is slow on deep nesting: refuse before it
        raise InvalidArgument(f"pipeline spec nests more than {MAX_DEPTH} levels deep")
    try:
        # Composing builds the node graph with aliases shared, not copied: measured
        # before anything is expanded (an alias bomb of 259 bytes expands to 9**7 values).
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            if node is not None:
                _check_nodes(node)
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except RecursionError:  # PyYAML recurses per level: deep nesting ends here, not in a crash
        raise InvalidArgument(f"pipeline spec nests more than {MAX_DEPTH} levels deep") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise InvalidArgument(f"invalid YAML in pipeline spec{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"invalid YAML in pipeline spec: {exc}") from None


def _load_json_stream(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return docs
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(
                f"invalid JSON in pipeline spec at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        docs.extend(value if isinstance(value, list) else [value])


def _yaml_text_depth(text: str) -> int:
    """A cheap over-estimate of a YAML text's nesting: indentation levels and flow brackets.

    Linear in the text; quoted strings and comments are skipped. Scalars that look
    nested (a deeply indented script in a block scalar) can only make it larger,
    so it is compared with a margin; the composed graph is then measured exactly.
    """
    deepest = flow = 0
    indents: list[int] = []
    quote = ""
    for line in text.splitlines():
        body = line.lstrip(" ")
        if not quote:
            if not body or body.startswith("#"):
                continue
            indent = len(line) - len(body)
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
            rest = body
            while rest.startswith(("- ", "? ")):  # "- - - x": one level per marker
                indents.append(indents[-1] + 2)
                rest = rest[2:].lstrip(" ")
        escaped = False
        for i, ch in enumerate(line):
            if quote:
                if escaped:
                    escaped = False
                elif ch == "\\" and quote == '"':
                    escaped = True
                elif ch == quote:
                    quote = ""
            elif ch in "\"'" and (i == 0 or line[i - 1] in " \t[{,:"):
                quote = ch
            elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
                break
            elif ch in "[{":
                flow += 1
                deepest = max(deepest, flow + len(indents))
            elif ch in "]}":
                flow = max(0, flow - 1)
        deepest = max(deepest, flow + len(indents))
    return deepest


def _check_nodes(root: yaml.Node) -> None:
    """Depth and expanded size of a composed YAML document, counting every alias use."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if done:
            open_.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if depth[key] > MAX_DEPTH:
                raise InvalidArgument(f"pipeline spec nests more than {MAX_DEPTH} levels deep")
            if size[key] > MAX_VALUES:
                raise InvalidArgument(
                    f"pipeline spec expands to more than {MAX_VALUES} values (YAML aliases repeat what they name)")
            continue
        if key in size:
            continue
        if key in open_:
            raise InvalidArgument("pipeline spec refers to itself (a YAML alias inside its own anchor)")
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def _check_shape(doc: Any) -> None:
    """Depth and size of a decoded JSON document (no aliases: a tree)."""
    count = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, level = stack.pop()
        count += 1
        if level > MAX_DEPTH:
            raise InvalidArgument(f"pipeline spec nests more than {MAX_DEPTH} levels deep")
        if count > MAX_VALUES:
            raise InvalidArgument(f"pipeline spec has more than {MAX_VALUES} values")
        if isinstance(value, dict):
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, level + 1) for v in value)


def _plain(value: Any) -> Any:
    """YAML may produce dates; protojson wants strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return value


def _fields_by_name(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    by_name: dict[str, FieldDescriptor] = {}
    for f in descriptor.fields:
        by_name[f.name] = f
        by_name[f.json_name] = f
    return by_name


def _where(path: str) -> str:
    return f" ({path})" if path else ""


_GO_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]*)?(?:ns|us|µs|ms|s|m|h))+$")
_GO_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration(value: Any) -> Any:
    """Accept Go durations (``1m30s``, ``100ms``) where protojson wants ``90s``."""
    if isinstance(value, str) and _GO_DURATION.match(value) and not re.fullmatch(r"[0-9.]+s", value):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _GO_PART.findall(value))
        return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
    return value


def _normalize(value: Any, descriptor: Any, path: str) -> Any:  # a message Descriptor
    """Check field names (protojson rejects unknown ones too) and normalise durations.

    Raises ``InvalidArgument`` naming the first unknown field and where it is.
    """
    if descriptor.full_name == "google.protobuf.Duration":
        return _duration(value)
    if descriptor.full_name.startswith("google.protobuf.") or not isinstance(value, dict):
        return value  # json_format reports type errors
    known = _fields_by_name(descriptor)
    result: dict[str, Any] = {}
    for key, item in value.items():
        field = known.get(key)
        if field is None:
            raise InvalidArgument(f'unknown field "{key}" in pipeline spec{_where(path)}')
        result[key] = item
        if field.message_type is None or item is None:
            continue
        child = f"{path}.{field.name}" if path else field.name
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None and isinstance(item, dict):
                result[key] = {
                    k: _normalize(v, value_field.message_type, f"{child}[{k}]") for k, v in item.items()
                }
        elif field.is_repeated and isinstance(item, list):
            result[key] = [
                _normalize(element, field.message_type, f"{child}[{i}]") for i, element in enumerate(item)
            ]
        else:
            result[key] = _normalize(item, field.message_type, child)
    return result


def _to_request(doc: Any, index: int, total: int, need_name: bool) -> pps_pb2.CreatePipelineRequest:
    which = f" (document {index + 1} of {total})" if total > 1 else ""
    if not isinstance(doc, dict):
        raise InvalidArgument(f"pipeline spec{which} must be a mapping, not {type(doc).__name__}")
    doc = _plain(doc)
    try:
        doc = _normalize(doc, pps_pb2.CreatePipelineRequest.DESCRIPTOR, "")
    except InvalidArgument as exc:
        raise InvalidArgument(exc.details + which) from None
    request = pps_pb2.CreatePipelineRequest()
    try:
        json_format.ParseDict(doc, request)
    except json_format.ParseError as exc:
        message = str(exc).split("\n")[0]
        raise InvalidArgument(f"invalid pipeline spec{which}: {message}") from None
    if need_name and not request.pipeline.name:
        raise InvalidArgument(f"pipeline spec{which} has no pipeline.name")
    return request


def parse_pipeline_specs(
    spec: str | bytes | dict[str, Any] | Iterable[dict[str, Any]] | pps_pb2.CreatePipelineRequest,
    *,
    need_name: bool = True,
) -> list[pps_pb2.CreatePipelineRequest]:
    """Parse one or more pipeline specs.

    Parameters
    ----------
    spec:
        JSON or YAML text (several documents allowed), a dict, a list of dicts
        or a ``CreatePipelineRequest``.
    need_name:
        Refuse a spec without ``pipeline.name`` (the server leaves that to its
        validation, which says it in pachd's words).

    Returns
    -------
    list[CreatePipelineRequest]
        One request per pipeline, in order.

    Raises
    ------
    InvalidArgument
        For syntax errors (with line/column), unknown fields (named), wrong
        value types, or a spec without ``pipeline.name``.
    """
    if isinstance(spec, pps_pb2.CreatePipelineRequest):
        return [spec]
    if isinstance(spec, bytes):
        spec = spec.decode("utf-8")
    if isinstance(spec, str):
        docs = _load_documents(spec)
    elif isinstance(spec, dict):
        docs = [spec]
    else:
        docs = list(spec)
    if not docs:
        raise InvalidArgument("empty pipeline spec")
    return [_to_request(doc, i, len(docs), need_name) for i, doc in enumerate(docs)]


def parse_pipeline_spec(
    spec: str | bytes | dict[str, Any] | pps_pb2.CreatePipelineRequest,
    *,
    need_name: bool = True,
) -> pps_pb2.CreatePipelineRequest:
    """Parse exactly one pipeline spec (see ``parse_pipeline_specs``)."""
    requests = parse_pipeline_specs(spec, need_name=need_name)
    if len(requests) != 1:
        raise InvalidArgument(f"expected one pipeline spec, found {len(requests)}")
    return requests[0]


def spec_to_json(request: pps_pb2.CreatePipelineRequest) -> str:
    """A request as compact lowerCamelCase protojson.

    What pachctl sends to ``CreatePipelineV2`` and what pachd answers as the
    effective spec (``effective_create_pipeline_request_json``, ``effective_spec_json``).
    """
    text: str = json_format.MessageToJson(request, indent=None)
    return text


def spec_to_dict(request: pps_pb2.CreatePipelineRequest) -> dict[str, Any]:
    """A request as a dict with proto (snake_case) field names."""
    value: dict[str, Any] = json_format.MessageToDict(request, preserving_proto_field_name=True)
    return value
