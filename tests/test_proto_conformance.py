"""Our generated protos must match pachyderm-sdk 2.12.2, i.e. Pachyderm 2.12, on the wire.

Every message, enum and rpc in ``pachmagic._proto`` is compared with its
pachyderm-sdk (betterproto) counterpart: field numbers, names (as betterproto
derives them), types, repeated-ness, oneofs, proto3-optional, enum values,
method paths, streaming kinds and request/response types. The reverse is
checked too: every SDK class and stub method of our packages must exist here.

The comparison functions work on plain descriptor protos, so the self-tests at
the bottom can feed them deliberately wrong descriptors and show that they fail.
pachyderm-sdk is a test-only dependency; nothing in pachmagic imports it.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import inspect
import pkgutil
import typing
import warnings
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import betterproto
import betterproto.lib.google.protobuf as betterproto_wkt
import pytest
from betterproto.casing import safe_snake_case, snake_case
from google.protobuf import descriptor_pb2, descriptor_pool

import pachmagic._proto

FDP = descriptor_pb2.FieldDescriptorProto

# Our proto package -> pachyderm-sdk module.
SDK_MODULES = {
    "pfs_v2": "pachyderm_sdk.api.pfs",
    "pps_v2": "pachyderm_sdk.api.pps",
    "versionpb_v2": "pachyderm_sdk.api.version",
    "admin_v2": "pachyderm_sdk.api.admin",
    "auth_v2": "pachyderm_sdk.api.auth",
    "identity_v2": "pachyderm_sdk.api.identity",
    "license_v2": "pachyderm_sdk.api.license",
    "transaction_v2": "pachyderm_sdk.api.transaction",
    "enterprise_v2": "pachyderm_sdk.api.enterprise",
    "taskapi": "pachyderm_sdk.api.taskapi",
}

# Descriptor scalar types -> betterproto's proto_type strings.
SCALARS = {
    FDP.TYPE_DOUBLE: betterproto.TYPE_DOUBLE,
    FDP.TYPE_FLOAT: betterproto.TYPE_FLOAT,
    FDP.TYPE_INT64: betterproto.TYPE_INT64,
    FDP.TYPE_UINT64: betterproto.TYPE_UINT64,
    FDP.TYPE_INT32: betterproto.TYPE_INT32,
    FDP.TYPE_FIXED64: betterproto.TYPE_FIXED64,
    FDP.TYPE_FIXED32: betterproto.TYPE_FIXED32,
    FDP.TYPE_BOOL: betterproto.TYPE_BOOL,
    FDP.TYPE_STRING: betterproto.TYPE_STRING,
    FDP.TYPE_MESSAGE: betterproto.TYPE_MESSAGE,
    FDP.TYPE_BYTES: betterproto.TYPE_BYTES,
    FDP.TYPE_UINT32: betterproto.TYPE_UINT32,
    FDP.TYPE_ENUM: betterproto.TYPE_ENUM,
    FDP.TYPE_SFIXED32: betterproto.TYPE_SFIXED32,
    FDP.TYPE_SFIXED64: betterproto.TYPE_SFIXED64,
    FDP.TYPE_SINT32: betterproto.TYPE_SINT32,
    FDP.TYPE_SINT64: betterproto.TYPE_SINT64,
}

# Well-known types betterproto replaces with Python types or "wraps" metadata.
WKT_PYTHON = {".google.protobuf.Timestamp": datetime.datetime, ".google.protobuf.Duration": datetime.timedelta}
WRAPPERS = {
    ".google.protobuf.DoubleValue": betterproto.TYPE_DOUBLE,
    ".google.protobuf.FloatValue": betterproto.TYPE_FLOAT,
    ".google.protobuf.Int64Value": betterproto.TYPE_INT64,
    ".google.protobuf.UInt64Value": betterproto.TYPE_UINT64,
    ".google.protobuf.Int32Value": betterproto.TYPE_INT32,
    ".google.protobuf.UInt32Value": betterproto.TYPE_UINT32,
    ".google.protobuf.BoolValue": betterproto.TYPE_BOOL,
    ".google.protobuf.StringValue": betterproto.TYPE_STRING,
    ".google.protobuf.BytesValue": betterproto.TYPE_BYTES,
}


def norm(name: str) -> str:
    """Name key shared by proto names and betterproto's flattened PascalCase ones."""
    return name.replace(".", "").replace("_", "").lower()


# --------------------------------------------------------------------------- our side


def our_modules() -> list[ModuleType]:
    names = sorted(m.name for m in pkgutil.iter_modules(pachmagic._proto.__path__) if m.name.endswith("_pb2"))
    return [importlib.import_module(f"pachmagic._proto.{name}") for name in names]


# pachmagic's own extension packages: not Pachyderm's, so not compared with the SDK.
EXTENSION_PACKAGES = {"pachmagic_ext"}


def file_protos() -> list[descriptor_pb2.FileDescriptorProto]:
    protos = []
    for module in our_modules():
        fdp = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(fdp)
        if fdp.package not in EXTENSION_PACKAGES:
            protos.append(fdp)
    return protos


def walk(
    fdp: descriptor_pb2.FileDescriptorProto,
) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto | descriptor_pb2.EnumDescriptorProto]]:
    """Yield (full name, descriptor proto) for every message and enum, nested included."""

    def messages(prefix: str, items: Any) -> Iterator[Any]:
        for dp in items:
            full = f"{prefix}.{dp.name}"
            yield full, dp
            for edp in dp.enum_type:
                yield f"{full}.{edp.name}", edp
            yield from messages(full, dp.nested_type)

    for edp in fdp.enum_type:
        yield f"{fdp.package}.{edp.name}", edp
    yield from messages(fdp.package, fdp.message_type)


FILES = file_protos()
OUR_TYPES = {name: proto for fdp in FILES for name, proto in walk(fdp)}
OUR_MESSAGES = {
    n: p for n, p in OUR_TYPES.items() if isinstance(p, descriptor_pb2.DescriptorProto) and not p.options.map_entry
}
OUR_ENUMS = {n: p for n, p in OUR_TYPES.items() if isinstance(p, descriptor_pb2.EnumDescriptorProto)}
OUR_METHODS = {
    f"/{fdp.package}.{sdp.name}/{mdp.name}": mdp for fdp in FILES for sdp in fdp.service for mdp in sdp.method
}
PACKAGES = sorted({fdp.package for fdp in FILES})


# --------------------------------------------------------------------------- SDK side


def sdk_classes(package: str) -> dict[str, type]:
    """norm(name) -> betterproto class, for the classes defined in the package's SDK module."""
    module = importlib.import_module(SDK_MODULES[package])
    found: dict[str, type] = {}
    for obj in vars(module).values():
        if (
            inspect.isclass(obj)
            and obj.__module__ == module.__name__
            and issubclass(obj, (betterproto.Message, betterproto.Enum))
        ):
            key = norm(obj.__name__)
            assert key not in found, f"ambiguous SDK names {found[key].__name__} / {obj.__name__}"
            found[key] = obj
    return found


SDK_CLASSES = {package: sdk_classes(package) for package in SDK_MODULES}


def sdk_class_for(full_name: str) -> type | None:
    """The betterproto class for one of our full names (pfs_v2.AddFile.URLSource -> AddFileUrlSource)."""
    package, _, relative = full_name.lstrip(".").partition(".")
    return SDK_CLASSES.get(package, {}).get(norm(relative))


def resolve_type(type_name: str) -> Any:
    """What betterproto uses for a message/enum type name of ours."""
    if type_name in WKT_PYTHON:
        return WKT_PYTHON[type_name]
    if type_name.startswith(".google.protobuf."):
        return getattr(betterproto_wkt, type_name.rsplit(".", 1)[1])
    return sdk_class_for(type_name)


class RecordingChannel:
    """A fake grpc.Channel that records what an SDK stub registers and sends."""

    KINDS = {
        "unary_unary": (False, False),
        "unary_stream": (False, True),
        "stream_unary": (True, False),
        "stream_stream": (True, True),
    }

    def __init__(self) -> None:
        self.methods: dict[str, tuple[tuple[bool, bool], Any]] = {}
        self.requests: dict[str, Any] = {}

    def __getattr__(self, kind: str) -> Callable[..., Any]:
        if kind not in self.KINDS:
            raise AttributeError(kind)

        def register(path: str, request_serializer: Any = None, response_deserializer: Any = None) -> Any:
            streaming = self.KINDS[kind]
            self.methods[path] = (streaming, response_deserializer)

            def call(request: Any, *args: Any, **kwargs: Any) -> Any:
                self.requests[path] = request
                return iter(()) if streaming[1] else None

            return call

        return register


@dataclasses.dataclass(frozen=True)
class SdkMethod:
    path: str
    client_streaming: bool
    server_streaming: bool
    request: type
    response: type


def sdk_methods(package: str) -> dict[str, SdkMethod]:
    """Every rpc of the package's SDK ``ApiStub``, with the types it really sends and parses."""
    module = importlib.import_module(SDK_MODULES[package])
    stub_class = getattr(module, "ApiStub", None)
    if stub_class is None:
        return {}
    channel = RecordingChannel()
    stub = stub_class(channel)
    found = {}
    for path, ((client_streaming, server_streaming), deserializer) in channel.methods.items():
        method = getattr(stub, safe_snake_case(path.rsplit("/", 1)[1]))
        if client_streaming:
            # request_iterator: Union[AsyncIterable[X], Iterable[X]]
            first = next(iter(inspect.signature(method).parameters))
            hint = typing.get_type_hints(method, vars(module))[first]
            request = typing.get_args(typing.get_args(hint)[-1])[0]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. deprecated-field warnings
                result = method()
                if inspect.isgenerator(result):
                    list(result)
            request = type(channel.requests[path])
        found[path] = SdkMethod(path, client_streaming, server_streaming, request, deserializer.__self__)
    return found


SDK_METHODS = {path: m for package in SDK_MODULES for path, m in sdk_methods(package).items()}


# --------------------------------------------------------------------------- comparison


def compare_message(
    full_name: str,
    dp: descriptor_pb2.DescriptorProto,
    sdk_cls: type,
    types: dict[str, Any],
    resolve: Callable[[str], Any] = resolve_type,
) -> list[str]:
    """Describe every difference between our message and the betterproto class (empty = same).

    ``types`` maps our full names (no leading dot) to descriptor protos; it is
    used to look up map-entry messages.
    """
    problems = []
    meta = betterproto.ProtoClassMetadata(sdk_cls)
    sdk_fields = {}
    for field in dataclasses.fields(sdk_cls):
        fm = field.metadata["betterproto"]
        sdk_fields[fm.number] = (field.name, fm)

    ours = {fp.number: fp for fp in dp.field}
    for number in sorted(ours.keys() - sdk_fields.keys()):
        problems.append(f"{full_name} field #{number} {ours[number].name!r}: not in the SDK")
    for number in sorted(sdk_fields.keys() - ours.keys()):
        problems.append(f"{full_name} field #{number} {sdk_fields[number][0]!r}: missing here")

    for number in sorted(ours.keys() & sdk_fields.keys()):
        fp = ours[number]
        attr, fm = sdk_fields[number]
        where = f"{full_name} field #{number} {fp.name!r}"

        def differ(what: str, mine: Any, theirs: Any) -> None:
            if mine != theirs:
                problems.append(f"{where}: {what} {mine!r} here, {theirs!r} in the SDK")

        differ("betterproto name", safe_snake_case(fp.name), attr)

        entry = None
        if fp.type == FDP.TYPE_MESSAGE and fp.label == FDP.LABEL_REPEATED:
            candidate = types.get(fp.type_name.lstrip("."))
            if isinstance(candidate, descriptor_pb2.DescriptorProto) and candidate.options.map_entry:
                entry = candidate

        if entry is not None:
            key, value = sorted(entry.field, key=lambda f: f.number)
            differ("kind", "map", fm.proto_type)
            differ("map types", (SCALARS[key.type], SCALARS[value.type]), tuple(fm.map_types or ()))
            if value.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
                differ("map value type", resolve(value.type_name), meta.cls_by_field.get(f"{attr}.value"))
            repeated = False
        elif fp.type == FDP.TYPE_MESSAGE and fp.type_name in WRAPPERS:
            differ("kind", "message", fm.proto_type)
            differ("wrapped type", WRAPPERS[fp.type_name], fm.wraps)
            repeated = fp.label == FDP.LABEL_REPEATED
        else:
            differ("kind", SCALARS[fp.type], fm.proto_type)
            if fp.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
                expected = resolve(fp.type_name)
                if expected is None:
                    problems.append(f"{where}: type {fp.type_name} has no SDK counterpart")
                else:
                    differ("type", expected, meta.cls_by_field.get(attr))
            differ("wraps", None, fm.wraps)
            repeated = fp.label == FDP.LABEL_REPEATED

        differ("repeated", repeated, meta.default_gen[attr] is list)
        in_oneof = fp.HasField("oneof_index") and not fp.proto3_optional
        differ("oneof", dp.oneof_decl[fp.oneof_index].name if in_oneof else None, fm.group)
        differ("proto3 optional", fp.proto3_optional, bool(fm.optional))
    return problems


def compare_enum(
    full_name: str, edp: descriptor_pb2.EnumDescriptorProto, sdk_enum: type[betterproto.Enum]
) -> list[str]:
    """Same value numbers and names; betterproto may strip the enum-name prefix from value names."""
    problems = []
    ours = {v.number: v.name for v in edp.value}
    theirs = {member.value: member.name for member in sdk_enum}
    prefix = snake_case(edp.name).upper() + "_"
    for number in sorted(ours.keys() | theirs.keys()):
        mine, other = ours.get(number), theirs.get(number)
        if mine is None or other is None:
            problems.append(f"{full_name} value {number}: {mine!r} here, {other!r} in the SDK")
        elif other not in (mine, mine.removeprefix(prefix)):
            problems.append(f"{full_name} value {number}: name {mine!r} here, {other!r} in the SDK")
    return problems


def compare_method(
    path: str,
    mdp: descriptor_pb2.MethodDescriptorProto,
    sdk: SdkMethod | None,
    resolve: Callable[[str], Any] = resolve_type,
) -> list[str]:
    if sdk is None:
        return [f"{path}: no such method in the SDK"]
    problems = []
    for what, mine, theirs in [
        ("path", path, sdk.path),
        ("client streaming", mdp.client_streaming, sdk.client_streaming),
        ("server streaming", mdp.server_streaming, sdk.server_streaming),
        ("request type", resolve(mdp.input_type), sdk.request),
        ("response type", resolve(mdp.output_type), sdk.response),
    ]:
        if mine != theirs:
            problems.append(f"{path}: {what} {mine!r} here, {theirs!r} in the SDK")
    return problems


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("full_name", sorted(OUR_MESSAGES))
def test_message_matches_sdk(full_name: str) -> None:
    sdk_cls = sdk_class_for(full_name)
    assert sdk_cls is not None, f"{full_name} has no pachyderm-sdk counterpart"
    assert issubclass(sdk_cls, betterproto.Message)
    problems = compare_message(full_name, OUR_MESSAGES[full_name], sdk_cls, OUR_TYPES)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("full_name", sorted(OUR_ENUMS))
def test_enum_matches_sdk(full_name: str) -> None:
    sdk_enum = sdk_class_for(full_name)
    assert sdk_enum is not None, f"{full_name} has no pachyderm-sdk counterpart"
    assert issubclass(sdk_enum, betterproto.Enum)
    problems = compare_enum(full_name, OUR_ENUMS[full_name], sdk_enum)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", sorted(OUR_METHODS))
def test_method_matches_sdk(path: str) -> None:
    problems = compare_method(path, OUR_METHODS[path], SDK_METHODS.get(path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", sorted(SDK_MODULES))
def test_package_is_complete(package: str) -> None:
    """Every SDK message, enum and rpc of our packages is defined here, and nothing else."""
    assert package in PACKAGES, f"no generated module defines package {package}"
    ours = {norm(name.partition(".")[2]) for name in [*OUR_MESSAGES, *OUR_ENUMS] if name.startswith(package + ".")}
    missing = sorted(cls.__name__ for key, cls in SDK_CLASSES[package].items() if key not in ours)
    assert not missing, f"{package}: SDK types not defined here: {missing}"
    sdk_paths = {p for p in SDK_METHODS if p.startswith(f"/{package}.")}
    our_paths = {p for p in OUR_METHODS if p.startswith(f"/{package}.")}
    assert sorted(sdk_paths - our_paths) == [], f"{package}: SDK rpcs not defined here"
    assert sorted(our_paths - sdk_paths) == [], f"{package}: rpcs not in the SDK"


def test_only_known_packages() -> None:
    assert set(PACKAGES) <= set(SDK_MODULES)


# Field names betterproto cannot tell apart from their snake_case forms but that
# matter for protojson (pipeline specs): they must keep Pachyderm's spelling.
CAMEL_CASE_FIELDS = [
    ("pfs_v2.AddFile.URLSource", 1, "URL"),
    ("pfs_v2.GetFileRequest", 2, "URL"),
    ("pfs_v2.ListFileRequest", 3, "paginationMarker"),
    ("pfs_v2.WalkFileRequest", 2, "paginationMarker"),
    ("pps_v2.Egress", 1, "URL"),
    ("pps_v2.ListJobSetRequest", 3, "paginationMarker"),
    ("pps_v2.ListJobSetRequest", 6, "jqFilter"),
    ("pps_v2.ListJobRequest", 6, "jqFilter"),
    ("pps_v2.ListJobRequest", 8, "paginationMarker"),
    ("pps_v2.ListDatumRequest", 4, "paginationMarker"),
    ("pps_v2.ListPipelineRequest", 4, "jqFilter"),
    ("identity_v2.IDPConnector", 4, "configVersion"),
    ("identity_v2.IDPConnector", 5, "jsonConfig"),
]


@pytest.mark.parametrize(("full_name", "number", "name"), CAMEL_CASE_FIELDS)
def test_pachyderm_spelling_is_kept(full_name: str, number: int, name: str) -> None:
    field = descriptor_pool.Default().FindMessageTypeByName(full_name).fields_by_number[number]
    assert (field.name, field.json_name) == (name, name)


def _default_json_name(name: str) -> str:
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def test_json_names_are_protoc_defaults() -> None:
    pool = descriptor_pool.Default()
    custom = [
        f"{full}.{f.name}: {f.json_name}"
        for full in OUR_MESSAGES
        for f in pool.FindMessageTypeByName(full).fields
        if f.json_name != _default_json_name(f.name)
    ]
    assert custom == []


# --------------------------------------------------------------------------- self-tests


def _repo() -> descriptor_pb2.DescriptorProto:
    dp = descriptor_pb2.DescriptorProto()
    dp.CopyFrom(OUR_MESSAGES["pfs_v2.Repo"])
    return dp


def _field(dp: descriptor_pb2.DescriptorProto, name: str) -> descriptor_pb2.FieldDescriptorProto:
    return next(f for f in dp.field if f.name == name)


def _rename(dp: descriptor_pb2.DescriptorProto) -> None:
    _field(dp, "type").name = "kind"


def _renumber(dp: descriptor_pb2.DescriptorProto) -> None:
    _field(dp, "type").number = 7


def _retype(dp: descriptor_pb2.DescriptorProto) -> None:
    _field(dp, "type").type = FDP.TYPE_BYTES


def _repeat(dp: descriptor_pb2.DescriptorProto) -> None:
    _field(dp, "name").label = FDP.LABEL_REPEATED


def _other_message(dp: descriptor_pb2.DescriptorProto) -> None:
    _field(dp, "project").type_name = ".pfs_v2.Branch"


def _oneof(dp: descriptor_pb2.DescriptorProto) -> None:
    dp.oneof_decl.add(name="choice")
    _field(dp, "name").oneof_index = 0


def _optional(dp: descriptor_pb2.DescriptorProto) -> None:
    dp.oneof_decl.add(name="_name")
    _field(dp, "name").oneof_index = 0
    _field(dp, "name").proto3_optional = True


def _extra(dp: descriptor_pb2.DescriptorProto) -> None:
    dp.field.add(name="extra", number=9, type=FDP.TYPE_STRING, label=FDP.LABEL_OPTIONAL)


def _missing(dp: descriptor_pb2.DescriptorProto) -> None:
    keep = [f for f in dp.field if f.name != "project"]
    del dp.field[:]
    dp.field.extend(keep)


def _wrapped(dp: descriptor_pb2.DescriptorProto) -> None:
    field = _field(dp, "name")
    field.type, field.type_name = FDP.TYPE_MESSAGE, ".google.protobuf.StringValue"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_rename, "'kind': betterproto name 'kind' here, 'type'"),
        (_renumber, "#7 'type': not in the SDK"),
        (_retype, "'type': kind 'bytes' here, 'string'"),
        (_repeat, "'name': repeated True here, False"),
        (_other_message, "'project': type"),
        (_oneof, "'name': oneof 'choice' here, None"),
        (_optional, "'name': proto3 optional True here, False"),
        (_extra, "#9 'extra': not in the SDK"),
        (_missing, "#3 'project': missing here"),
        (_wrapped, "'name': kind 'message' here, 'string'"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:] or None,
)
def test_compare_message_detects(mutate: Callable[[descriptor_pb2.DescriptorProto], None], expected: str) -> None:
    sdk_cls = sdk_class_for("pfs_v2.Repo")
    assert sdk_cls is not None
    assert compare_message("pfs_v2.Repo", _repo(), sdk_cls, OUR_TYPES) == []
    dp = _repo()
    mutate(dp)
    problems = compare_message("pfs_v2.Repo", dp, sdk_cls, OUR_TYPES)
    assert any(expected in p for p in problems), problems


def test_compare_message_detects_wrong_map_value() -> None:
    name = "pfs_v2.RepoInfo"
    sdk_cls = sdk_class_for(name)
    assert sdk_cls is not None
    types = dict(OUR_TYPES)
    entry = descriptor_pb2.DescriptorProto()
    entry.CopyFrom(types["pfs_v2.RepoInfo.MetadataEntry"])
    entry.field[1].type = FDP.TYPE_INT64
    types["pfs_v2.RepoInfo.MetadataEntry"] = entry
    problems = compare_message(name, OUR_MESSAGES[name], sdk_cls, types)
    assert any("'metadata': map types ('string', 'int64') here" in p for p in problems), problems


def test_compare_enum_detects_wrong_values() -> None:
    edp = descriptor_pb2.EnumDescriptorProto()
    edp.CopyFrom(OUR_ENUMS["pfs_v2.FileType"])
    sdk_enum = sdk_class_for("pfs_v2.FileType")
    assert sdk_enum is not None and issubclass(sdk_enum, betterproto.Enum)
    assert compare_enum("pfs_v2.FileType", edp, sdk_enum) == []
    edp.value[1].name = "REGULAR"
    edp.value[2].number = 7
    problems = compare_enum("pfs_v2.FileType", edp, sdk_enum)
    assert problems == [
        "pfs_v2.FileType value 1: name 'REGULAR' here, 'FILE' in the SDK",
        "pfs_v2.FileType value 2: None here, 'DIR' in the SDK",
        "pfs_v2.FileType value 7: 'DIR' here, None in the SDK",
    ]


def test_compare_enum_accepts_stripped_prefix() -> None:
    edp = descriptor_pb2.EnumDescriptorProto(name="Color")
    edp.value.add(name="COLOR_RED", number=0)

    class Color(betterproto.Enum):
        RED = 0

    assert compare_enum("x.Color", edp, Color) == []


def test_compare_method_detects_wrong_streaming_and_types() -> None:
    path = "/pfs_v2.API/ModifyFile"
    mdp = descriptor_pb2.MethodDescriptorProto()
    mdp.CopyFrom(OUR_METHODS[path])
    assert compare_method(path, mdp, SDK_METHODS[path]) == []
    mdp.client_streaming = False
    mdp.server_streaming = True
    mdp.output_type = ".pfs_v2.FileInfo"
    problems = compare_method(path, mdp, SDK_METHODS[path])
    assert [p.split(":")[1].split(" here")[0].strip() for p in problems] == [
        "client streaming False",
        "server streaming True",
        f"response type {sdk_class_for('pfs_v2.FileInfo')!r}",
    ]
    assert compare_method("/pfs_v2.API/Nope", mdp, None) == ["/pfs_v2.API/Nope: no such method in the SDK"]
