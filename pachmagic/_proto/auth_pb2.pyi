import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Permission(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERMISSION_UNKNOWN: _ClassVar[Permission]
    CLUSTER_MODIFY_BINDINGS: _ClassVar[Permission]
    CLUSTER_GET_BINDINGS: _ClassVar[Permission]
    CLUSTER_GET_PACHD_LOGS: _ClassVar[Permission]
    CLUSTER_GET_LOKI_LOGS: _ClassVar[Permission]
    CLUSTER_AUTH_ACTIVATE: _ClassVar[Permission]
    CLUSTER_AUTH_DEACTIVATE: _ClassVar[Permission]
    CLUSTER_AUTH_GET_CONFIG: _ClassVar[Permission]
    CLUSTER_AUTH_SET_CONFIG: _ClassVar[Permission]
    CLUSTER_AUTH_GET_ROBOT_TOKEN: _ClassVar[Permission]
    CLUSTER_AUTH_MODIFY_GROUP_MEMBERS: _ClassVar[Permission]
    CLUSTER_AUTH_GET_GROUPS: _ClassVar[Permission]
    CLUSTER_AUTH_GET_GROUP_USERS: _ClassVar[Permission]
    CLUSTER_AUTH_EXTRACT_TOKENS: _ClassVar[Permission]
    CLUSTER_AUTH_RESTORE_TOKEN: _ClassVar[Permission]
    CLUSTER_AUTH_GET_PERMISSIONS_FOR_PRINCIPAL: _ClassVar[Permission]
    CLUSTER_AUTH_DELETE_EXPIRED_TOKENS: _ClassVar[Permission]
    CLUSTER_AUTH_REVOKE_USER_TOKENS: _ClassVar[Permission]
    CLUSTER_AUTH_ROTATE_ROOT_TOKEN: _ClassVar[Permission]
    CLUSTER_ENTERPRISE_ACTIVATE: _ClassVar[Permission]
    CLUSTER_ENTERPRISE_HEARTBEAT: _ClassVar[Permission]
    CLUSTER_ENTERPRISE_GET_CODE: _ClassVar[Permission]
    CLUSTER_ENTERPRISE_DEACTIVATE: _ClassVar[Permission]
    CLUSTER_ENTERPRISE_PAUSE: _ClassVar[Permission]
    CLUSTER_IDENTITY_SET_CONFIG: _ClassVar[Permission]
    CLUSTER_IDENTITY_GET_CONFIG: _ClassVar[Permission]
    CLUSTER_IDENTITY_CREATE_IDP: _ClassVar[Permission]
    CLUSTER_IDENTITY_UPDATE_IDP: _ClassVar[Permission]
    CLUSTER_IDENTITY_LIST_IDPS: _ClassVar[Permission]
    CLUSTER_IDENTITY_GET_IDP: _ClassVar[Permission]
    CLUSTER_IDENTITY_DELETE_IDP: _ClassVar[Permission]
    CLUSTER_IDENTITY_CREATE_OIDC_CLIENT: _ClassVar[Permission]
    CLUSTER_IDENTITY_UPDATE_OIDC_CLIENT: _ClassVar[Permission]
    CLUSTER_IDENTITY_LIST_OIDC_CLIENTS: _ClassVar[Permission]
    CLUSTER_IDENTITY_GET_OIDC_CLIENT: _ClassVar[Permission]
    CLUSTER_IDENTITY_DELETE_OIDC_CLIENT: _ClassVar[Permission]
    CLUSTER_DEBUG_DUMP: _ClassVar[Permission]
    CLUSTER_LICENSE_ACTIVATE: _ClassVar[Permission]
    CLUSTER_LICENSE_GET_CODE: _ClassVar[Permission]
    CLUSTER_LICENSE_ADD_CLUSTER: _ClassVar[Permission]
    CLUSTER_LICENSE_UPDATE_CLUSTER: _ClassVar[Permission]
    CLUSTER_LICENSE_DELETE_CLUSTER: _ClassVar[Permission]
    CLUSTER_LICENSE_LIST_CLUSTERS: _ClassVar[Permission]
    CLUSTER_CREATE_SECRET: _ClassVar[Permission]
    CLUSTER_LIST_SECRETS: _ClassVar[Permission]
    SECRET_DELETE: _ClassVar[Permission]
    SECRET_INSPECT: _ClassVar[Permission]
    CLUSTER_EDIT_CLUSTER_METADATA: _ClassVar[Permission]
    CLUSTER_DELETE_ALL: _ClassVar[Permission]
    CLUSTER_SNAPSHOTTER: _ClassVar[Permission]
    CLUSTER_RESTART_PACHYDERM: _ClassVar[Permission]
    REPO_READ: _ClassVar[Permission]
    REPO_WRITE: _ClassVar[Permission]
    REPO_MODIFY_BINDINGS: _ClassVar[Permission]
    REPO_DELETE: _ClassVar[Permission]
    REPO_INSPECT_COMMIT: _ClassVar[Permission]
    REPO_LIST_COMMIT: _ClassVar[Permission]
    REPO_DELETE_COMMIT: _ClassVar[Permission]
    REPO_CREATE_BRANCH: _ClassVar[Permission]
    REPO_LIST_BRANCH: _ClassVar[Permission]
    REPO_DELETE_BRANCH: _ClassVar[Permission]
    REPO_INSPECT_FILE: _ClassVar[Permission]
    REPO_LIST_FILE: _ClassVar[Permission]
    REPO_ADD_PIPELINE_READER: _ClassVar[Permission]
    REPO_REMOVE_PIPELINE_READER: _ClassVar[Permission]
    REPO_ADD_PIPELINE_WRITER: _ClassVar[Permission]
    PIPELINE_LIST_JOB: _ClassVar[Permission]
    CLUSTER_SET_DEFAULTS: _ClassVar[Permission]
    PROJECT_SET_DEFAULTS: _ClassVar[Permission]
    PROJECT_CREATE: _ClassVar[Permission]
    PROJECT_DELETE: _ClassVar[Permission]
    PROJECT_LIST_REPO: _ClassVar[Permission]
    PROJECT_CREATE_REPO: _ClassVar[Permission]
    PROJECT_MODIFY_BINDINGS: _ClassVar[Permission]
    JOB_SKIP_CTX: _ClassVar[Permission]

class ResourceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOURCE_TYPE_UNKNOWN: _ClassVar[ResourceType]
    CLUSTER: _ClassVar[ResourceType]
    REPO: _ClassVar[ResourceType]
    SPEC_REPO: _ClassVar[ResourceType]
    PROJECT: _ClassVar[ResourceType]
    JOB: _ClassVar[ResourceType]
PERMISSION_UNKNOWN: Permission
CLUSTER_MODIFY_BINDINGS: Permission
CLUSTER_GET_BINDINGS: Permission
CLUSTER_GET_PACHD_LOGS: Permission
CLUSTER_GET_LOKI_LOGS: Permission
CLUSTER_AUTH_ACTIVATE: Permission
CLUSTER_AUTH_DEACTIVATE: Permission
CLUSTER_AUTH_GET_CONFIG: Permission
CLUSTER_AUTH_SET_CONFIG: Permission
CLUSTER_AUTH_GET_ROBOT_TOKEN: Permission
CLUSTER_AUTH_MODIFY_GROUP_MEMBERS: Permission
CLUSTER_AUTH_GET_GROUPS: Permission
CLUSTER_AUTH_GET_GROUP_USERS: Permission
CLUSTER_AUTH_EXTRACT_TOKENS: Permission
CLUSTER_AUTH_RESTORE_TOKEN: Permission
CLUSTER_AUTH_GET_PERMISSIONS_FOR_PRINCIPAL: Permission
CLUSTER_AUTH_DELETE_EXPIRED_TOKENS: Permission
CLUSTER_AUTH_REVOKE_USER_TOKENS: Permission
CLUSTER_AUTH_ROTATE_ROOT_TOKEN: Permission
CLUSTER_ENTERPRISE_ACTIVATE: Permission
CLUSTER_ENTERPRISE_HEARTBEAT: Permission
CLUSTER_ENTERPRISE_GET_CODE: Permission
CLUSTER_ENTERPRISE_DEACTIVATE: Permission
CLUSTER_ENTERPRISE_PAUSE: Permission
CLUSTER_IDENTITY_SET_CONFIG: Permission
CLUSTER_IDENTITY_GET_CONFIG: Permission
CLUSTER_IDENTITY_CREATE_IDP: Permission
CLUSTER_IDENTITY_UPDATE_IDP: Permission
CLUSTER_IDENTITY_LIST_IDPS: Permission
CLUSTER_IDENTITY_GET_IDP: Permission
CLUSTER_IDENTITY_DELETE_IDP: Permission
CLUSTER_IDENTITY_CREATE_OIDC_CLIENT: Permission
CLUSTER_IDENTITY_UPDATE_OIDC_CLIENT: Permission
CLUSTER_IDENTITY_LIST_OIDC_CLIENTS: Permission
CLUSTER_IDENTITY_GET_OIDC_CLIENT: Permission
CLUSTER_IDENTITY_DELETE_OIDC_CLIENT: Permission
CLUSTER_DEBUG_DUMP: Permission
CLUSTER_LICENSE_ACTIVATE: Permission
CLUSTER_LICENSE_GET_CODE: Permission
CLUSTER_LICENSE_ADD_CLUSTER: Permission
CLUSTER_LICENSE_UPDATE_CLUSTER: Permission
CLUSTER_LICENSE_DELETE_CLUSTER: Permission
CLUSTER_LICENSE_LIST_CLUSTERS: Permission
CLUSTER_CREATE_SECRET: Permission
CLUSTER_LIST_SECRETS: Permission
SECRET_DELETE: Permission
SECRET_INSPECT: Permission
CLUSTER_EDIT_CLUSTER_METADATA: Permission
CLUSTER_DELETE_ALL: Permission
CLUSTER_SNAPSHOTTER: Permission
CLUSTER_RESTART_PACHYDERM: Permission
REPO_READ: Permission
REPO_WRITE: Permission
REPO_MODIFY_BINDINGS: Permission
REPO_DELETE: Permission
REPO_INSPECT_COMMIT: Permission
REPO_LIST_COMMIT: Permission
REPO_DELETE_COMMIT: Permission
REPO_CREATE_BRANCH: Permission
REPO_LIST_BRANCH: Permission
REPO_DELETE_BRANCH: Permission
REPO_INSPECT_FILE: Permission
REPO_LIST_FILE: Permission
REPO_ADD_PIPELINE_READER: Permission
REPO_REMOVE_PIPELINE_READER: Permission
REPO_ADD_PIPELINE_WRITER: Permission
PIPELINE_LIST_JOB: Permission
CLUSTER_SET_DEFAULTS: Permission
PROJECT_SET_DEFAULTS: Permission
PROJECT_CREATE: Permission
PROJECT_DELETE: Permission
PROJECT_LIST_REPO: Permission
PROJECT_CREATE_REPO: Permission
PROJECT_MODIFY_BINDINGS: Permission
JOB_SKIP_CTX: Permission
RESOURCE_TYPE_UNKNOWN: ResourceType
CLUSTER: ResourceType
REPO: ResourceType
SPEC_REPO: ResourceType
PROJECT: ResourceType
JOB: ResourceType

class ActivateRequest(_message.Message):
    __slots__ = ("root_token",)
    ROOT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    root_token: str
    def __init__(self, root_token: _Optional[str] = ...) -> None: ...

class ActivateResponse(_message.Message):
    __slots__ = ("pach_token",)
    PACH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pach_token: str
    def __init__(self, pach_token: _Optional[str] = ...) -> None: ...

class DeactivateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeactivateResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateRootTokenRequest(_message.Message):
    __slots__ = ("root_token",)
    ROOT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    root_token: str
    def __init__(self, root_token: _Optional[str] = ...) -> None: ...

class RotateRootTokenResponse(_message.Message):
    __slots__ = ("root_token",)
    ROOT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    root_token: str
    def __init__(self, root_token: _Optional[str] = ...) -> None: ...

class OIDCConfig(_message.Message):
    __slots__ = ("issuer", "client_id", "client_secret", "redirect_uri", "scopes", "require_email_verified", "localhost_issuer", "user_accessible_issuer_host")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_EMAIL_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    LOCALHOST_ISSUER_FIELD_NUMBER: _ClassVar[int]
    USER_ACCESSIBLE_ISSUER_HOST_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    require_email_verified: bool
    localhost_issuer: bool
    user_accessible_issuer_host: str
    def __init__(self, issuer: _Optional[str] = ..., client_id: _Optional[str] = ..., client_secret: _Optional[str] = ..., redirect_uri: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., require_email_verified: _Optional[bool] = ..., localhost_issuer: _Optional[bool] = ..., user_accessible_issuer_host: _Optional[str] = ...) -> None: ...

class GetConfigurationRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetConfigurationResponse(_message.Message):
    __slots__ = ("configuration",)
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    configuration: OIDCConfig
    def __init__(self, configuration: _Optional[_Union[OIDCConfig, _Mapping]] = ...) -> None: ...

class SetConfigurationRequest(_message.Message):
    __slots__ = ("configuration",)
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    configuration: OIDCConfig
    def __init__(self, configuration: _Optional[_Union[OIDCConfig, _Mapping]] = ...) -> None: ...

class SetConfigurationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TokenInfo(_message.Message):
    __slots__ = ("subject", "expiration", "hashed_token")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    HASHED_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subject: str
    expiration: _timestamp_pb2.Timestamp
    hashed_token: str
    def __init__(self, subject: _Optional[str] = ..., expiration: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hashed_token: _Optional[str] = ...) -> None: ...

class AuthenticateRequest(_message.Message):
    __slots__ = ("oidc_state", "id_token")
    OIDC_STATE_FIELD_NUMBER: _ClassVar[int]
    ID_TOKEN_FIELD_NUMBER: _ClassVar[int]
    oidc_state: str
    id_token: str
    def __init__(self, oidc_state: _Optional[str] = ..., id_token: _Optional[str] = ...) -> None: ...

class AuthenticateResponse(_message.Message):
    __slots__ = ("pach_token",)
    PACH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pach_token: str
    def __init__(self, pach_token: _Optional[str] = ...) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ("username", "expiration")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    username: str
    expiration: _timestamp_pb2.Timestamp
    def __init__(self, username: _Optional[str] = ..., expiration: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetRolesForPermissionRequest(_message.Message):
    __slots__ = ("permission",)
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    permission: Permission
    def __init__(self, permission: _Optional[_Union[Permission, str]] = ...) -> None: ...

class GetRolesForPermissionResponse(_message.Message):
    __slots__ = ("roles",)
    ROLES_FIELD_NUMBER: _ClassVar[int]
    roles: _containers.RepeatedCompositeFieldContainer[Role]
    def __init__(self, roles: _Optional[_Iterable[_Union[Role, _Mapping]]] = ...) -> None: ...

class Roles(_message.Message):
    __slots__ = ("roles",)
    class RolesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    ROLES_FIELD_NUMBER: _ClassVar[int]
    roles: _containers.ScalarMap[str, bool]
    def __init__(self, roles: _Optional[_Mapping[str, bool]] = ...) -> None: ...

class RoleBinding(_message.Message):
    __slots__ = ("entries",)
    class EntriesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Roles
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Roles, _Mapping]] = ...) -> None: ...
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.MessageMap[str, Roles]
    def __init__(self, entries: _Optional[_Mapping[str, Roles]] = ...) -> None: ...

class Resource(_message.Message):
    __slots__ = ("type", "name")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    type: ResourceType
    name: str
    def __init__(self, type: _Optional[_Union[ResourceType, str]] = ..., name: _Optional[str] = ...) -> None: ...

class Users(_message.Message):
    __slots__ = ("usernames",)
    class UsernamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    USERNAMES_FIELD_NUMBER: _ClassVar[int]
    usernames: _containers.ScalarMap[str, bool]
    def __init__(self, usernames: _Optional[_Mapping[str, bool]] = ...) -> None: ...

class Groups(_message.Message):
    __slots__ = ("groups",)
    class GroupsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.ScalarMap[str, bool]
    def __init__(self, groups: _Optional[_Mapping[str, bool]] = ...) -> None: ...

class Role(_message.Message):
    __slots__ = ("name", "permissions", "can_be_bound_to", "returned_for")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    CAN_BE_BOUND_TO_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    permissions: _containers.RepeatedScalarFieldContainer[Permission]
    can_be_bound_to: _containers.RepeatedScalarFieldContainer[ResourceType]
    returned_for: _containers.RepeatedScalarFieldContainer[ResourceType]
    def __init__(self, name: _Optional[str] = ..., permissions: _Optional[_Iterable[_Union[Permission, str]]] = ..., can_be_bound_to: _Optional[_Iterable[_Union[ResourceType, str]]] = ..., returned_for: _Optional[_Iterable[_Union[ResourceType, str]]] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("resource", "permissions")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    permissions: _containers.RepeatedScalarFieldContainer[Permission]
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., permissions: _Optional[_Iterable[_Union[Permission, str]]] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ("authorized", "satisfied", "missing", "principal")
    AUTHORIZED_FIELD_NUMBER: _ClassVar[int]
    SATISFIED_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    authorized: bool
    satisfied: _containers.RepeatedScalarFieldContainer[Permission]
    missing: _containers.RepeatedScalarFieldContainer[Permission]
    principal: str
    def __init__(self, authorized: _Optional[bool] = ..., satisfied: _Optional[_Iterable[_Union[Permission, str]]] = ..., missing: _Optional[_Iterable[_Union[Permission, str]]] = ..., principal: _Optional[str] = ...) -> None: ...

class GetPermissionsRequest(_message.Message):
    __slots__ = ("resource",)
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ...) -> None: ...

class GetPermissionsForPrincipalRequest(_message.Message):
    __slots__ = ("resource", "principal")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    principal: str
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., principal: _Optional[str] = ...) -> None: ...

class GetPermissionsResponse(_message.Message):
    __slots__ = ("permissions", "roles")
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    permissions: _containers.RepeatedScalarFieldContainer[Permission]
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, permissions: _Optional[_Iterable[_Union[Permission, str]]] = ..., roles: _Optional[_Iterable[str]] = ...) -> None: ...

class ModifyRoleBindingRequest(_message.Message):
    __slots__ = ("resource", "principal", "roles")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    principal: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., principal: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ...) -> None: ...

class ModifyRoleBindingResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRoleBindingRequest(_message.Message):
    __slots__ = ("resource",)
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ...) -> None: ...

class GetRoleBindingResponse(_message.Message):
    __slots__ = ("binding",)
    BINDING_FIELD_NUMBER: _ClassVar[int]
    binding: RoleBinding
    def __init__(self, binding: _Optional[_Union[RoleBinding, _Mapping]] = ...) -> None: ...

class SessionInfo(_message.Message):
    __slots__ = ("nonce", "email", "conversion_err")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_ERR_FIELD_NUMBER: _ClassVar[int]
    nonce: str
    email: str
    conversion_err: bool
    def __init__(self, nonce: _Optional[str] = ..., email: _Optional[str] = ..., conversion_err: _Optional[bool] = ...) -> None: ...

class GetOIDCLoginRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetOIDCLoginResponse(_message.Message):
    __slots__ = ("login_url", "state")
    LOGIN_URL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    login_url: str
    state: str
    def __init__(self, login_url: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class GetRobotTokenRequest(_message.Message):
    __slots__ = ("robot", "ttl")
    ROBOT_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    robot: str
    ttl: int
    def __init__(self, robot: _Optional[str] = ..., ttl: _Optional[int] = ...) -> None: ...

class GetRobotTokenResponse(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class RevokeAuthTokenRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class RevokeAuthTokenResponse(_message.Message):
    __slots__ = ("number",)
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    number: int
    def __init__(self, number: _Optional[int] = ...) -> None: ...

class SetGroupsForUserRequest(_message.Message):
    __slots__ = ("username", "groups")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    username: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, username: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ...) -> None: ...

class SetGroupsForUserResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModifyMembersRequest(_message.Message):
    __slots__ = ("group", "add", "remove")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    ADD_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    group: str
    add: _containers.RepeatedScalarFieldContainer[str]
    remove: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, group: _Optional[str] = ..., add: _Optional[_Iterable[str]] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...

class ModifyMembersResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetGroupsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetGroupsForPrincipalRequest(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: str
    def __init__(self, principal: _Optional[str] = ...) -> None: ...

class GetGroupsResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, groups: _Optional[_Iterable[str]] = ...) -> None: ...

class GetUsersRequest(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: str
    def __init__(self, group: _Optional[str] = ...) -> None: ...

class GetUsersResponse(_message.Message):
    __slots__ = ("usernames",)
    USERNAMES_FIELD_NUMBER: _ClassVar[int]
    usernames: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, usernames: _Optional[_Iterable[str]] = ...) -> None: ...

class ExtractAuthTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExtractAuthTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[TokenInfo]
    def __init__(self, tokens: _Optional[_Iterable[_Union[TokenInfo, _Mapping]]] = ...) -> None: ...

class RestoreAuthTokenRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: TokenInfo
    def __init__(self, token: _Optional[_Union[TokenInfo, _Mapping]] = ...) -> None: ...

class RestoreAuthTokenResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RevokeAuthTokensForUserRequest(_message.Message):
    __slots__ = ("username",)
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    username: str
    def __init__(self, username: _Optional[str] = ...) -> None: ...

class RevokeAuthTokensForUserResponse(_message.Message):
    __slots__ = ("number",)
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    number: int
    def __init__(self, number: _Optional[int] = ...) -> None: ...

class DeleteExpiredAuthTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteExpiredAuthTokensResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
