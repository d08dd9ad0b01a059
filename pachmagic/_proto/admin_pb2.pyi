from pachmagic._proto import pfs_pb2 as _pfs_pb2
from pachmagic._proto import version_pb2 as _version_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClusterInfo(_message.Message):
    __slots__ = ("id", "deployment_id", "warnings_ok", "warnings", "proxy_host", "proxy_tls", "paused", "web_resources", "metadata", "pending_restart", "restart_info")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_OK_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    PROXY_HOST_FIELD_NUMBER: _ClassVar[int]
    PROXY_TLS_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    WEB_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PENDING_RESTART_FIELD_NUMBER: _ClassVar[int]
    RESTART_INFO_FIELD_NUMBER: _ClassVar[int]
    id: str
    deployment_id: str
    warnings_ok: bool
    warnings: _containers.RepeatedScalarFieldContainer[str]
    proxy_host: str
    proxy_tls: bool
    paused: bool
    web_resources: WebResource
    metadata: _containers.ScalarMap[str, str]
    pending_restart: bool
    restart_info: str
    def __init__(self, id: _Optional[str] = ..., deployment_id: _Optional[str] = ..., warnings_ok: _Optional[bool] = ..., warnings: _Optional[_Iterable[str]] = ..., proxy_host: _Optional[str] = ..., proxy_tls: _Optional[bool] = ..., paused: _Optional[bool] = ..., web_resources: _Optional[_Union[WebResource, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., pending_restart: _Optional[bool] = ..., restart_info: _Optional[str] = ...) -> None: ...

class InspectClusterRequest(_message.Message):
    __slots__ = ("client_version", "current_project")
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PROJECT_FIELD_NUMBER: _ClassVar[int]
    client_version: _version_pb2.Version
    current_project: _pfs_pb2.Project
    def __init__(self, client_version: _Optional[_Union[_version_pb2.Version, _Mapping]] = ..., current_project: _Optional[_Union[_pfs_pb2.Project, _Mapping]] = ...) -> None: ...

class WebResource(_message.Message):
    __slots__ = ("archive_download_base_url", "create_pipeline_request_json_schema_url")
    ARCHIVE_DOWNLOAD_BASE_URL_FIELD_NUMBER: _ClassVar[int]
    CREATE_PIPELINE_REQUEST_JSON_SCHEMA_URL_FIELD_NUMBER: _ClassVar[int]
    archive_download_base_url: str
    create_pipeline_request_json_schema_url: str
    def __init__(self, archive_download_base_url: _Optional[str] = ..., create_pipeline_request_json_schema_url: _Optional[str] = ...) -> None: ...

class RestartPachydermRequest(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class RestartPachydermResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
