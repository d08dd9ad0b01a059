import datetime

from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import wrappers_pb2 as _wrappers_pb2
from pachmagic._proto import pfs_pb2 as _pfs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FileInfoBatch(_message.Message):
    __slots__ = ("commit", "committed", "path", "file_type", "size_bytes", "hash", "datum")
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FILE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    DATUM_FIELD_NUMBER: _ClassVar[int]
    commit: _pfs_pb2.Commit
    committed: _timestamp_pb2.Timestamp
    path: _containers.RepeatedScalarFieldContainer[str]
    file_type: _containers.RepeatedScalarFieldContainer[_pfs_pb2.FileType]
    size_bytes: _containers.RepeatedScalarFieldContainer[int]
    hash: _containers.RepeatedScalarFieldContainer[bytes]
    datum: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, commit: _Optional[_Union[_pfs_pb2.Commit, _Mapping]] = ..., committed: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., path: _Optional[_Iterable[str]] = ..., file_type: _Optional[_Iterable[_Union[_pfs_pb2.FileType, str]]] = ..., size_bytes: _Optional[_Iterable[int]] = ..., hash: _Optional[_Iterable[bytes]] = ..., datum: _Optional[_Iterable[str]] = ...) -> None: ...

class FileData(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModifyFileBatch(_message.Message):
    __slots__ = ("ops", "data_follows")
    OPS_FIELD_NUMBER: _ClassVar[int]
    DATA_FOLLOWS_FIELD_NUMBER: _ClassVar[int]
    ops: _containers.RepeatedCompositeFieldContainer[_pfs_pb2.ModifyFileRequest]
    data_follows: int
    def __init__(self, ops: _Optional[_Iterable[_Union[_pfs_pb2.ModifyFileRequest, _Mapping]]] = ..., data_follows: _Optional[int] = ...) -> None: ...
