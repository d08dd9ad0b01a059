from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[State]
    RUNNING: _ClassVar[State]
    SUCCESS: _ClassVar[State]
    FAILURE: _ClassVar[State]
    CLAIMED: _ClassVar[State]
UNKNOWN: State
RUNNING: State
SUCCESS: State
FAILURE: State
CLAIMED: State

class Group(_message.Message):
    __slots__ = ("namespace", "group")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    group: str
    def __init__(self, namespace: _Optional[str] = ..., group: _Optional[str] = ...) -> None: ...

class TaskInfo(_message.Message):
    __slots__ = ("id", "group", "state", "reason", "input_type", "input_data")
    ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INPUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    INPUT_DATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    group: Group
    state: State
    reason: str
    input_type: str
    input_data: str
    def __init__(self, id: _Optional[str] = ..., group: _Optional[_Union[Group, _Mapping]] = ..., state: _Optional[_Union[State, str]] = ..., reason: _Optional[str] = ..., input_type: _Optional[str] = ..., input_data: _Optional[str] = ...) -> None: ...

class ListTaskRequest(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: Group
    def __init__(self, group: _Optional[_Union[Group, _Mapping]] = ...) -> None: ...
