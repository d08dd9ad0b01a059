"""One exception hierarchy for pachmagic, keyed by gRPC status code.

The same classes serve both sides of the wire: the embedded server's storage and
pipeline layers raise them (and one table in ``server/servicers`` turns them into
gRPC statuses), and the client turns every ``grpc.RpcError`` back into them in one
place (``client/_errors.py``). Code is named by the status code's *name* so that
this module imports nothing, not even grpc.

Callers match on the class (``except NotFound``) or on ``.code``; never on the
message text, which follows Pachyderm's wording and may change with it.
"""

from __future__ import annotations

__all__ = [
    "PachError",
    "Cancelled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
    "ConnectionFailed",
    "error_class_for_code",
]


class PachError(Exception):
    """Base of every error pachmagic raises for a failed Pachyderm operation.

    Attributes
    ----------
    code:
        The gRPC status code name, e.g. ``"NOT_FOUND"``.
    details:
        The human-readable message (Pachyderm's wording where one exists).
    """

    code: str = "UNKNOWN"

    def __init__(self, details: str = "") -> None:
        super().__init__(details)
        self.details = details

    def __str__(self) -> str:
        return self.details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.details!r})"


class Cancelled(PachError):
    code = "CANCELLED"


class Unknown(PachError):
    code = "UNKNOWN"


class InvalidArgument(PachError):
    code = "INVALID_ARGUMENT"


class DeadlineExceeded(PachError):
    code = "DEADLINE_EXCEEDED"


class NotFound(PachError):
    code = "NOT_FOUND"


class AlreadyExists(PachError):
    code = "ALREADY_EXISTS"


class PermissionDenied(PachError):
    code = "PERMISSION_DENIED"


class ResourceExhausted(PachError):
    code = "RESOURCE_EXHAUSTED"


class FailedPrecondition(PachError):
    code = "FAILED_PRECONDITION"


class Aborted(PachError):
    code = "ABORTED"


class OutOfRange(PachError):
    code = "OUT_OF_RANGE"


class Unimplemented(PachError):
    code = "UNIMPLEMENTED"


class Internal(PachError):
    code = "INTERNAL"


class Unavailable(PachError):
    code = "UNAVAILABLE"


class DataLoss(PachError):
    code = "DATA_LOSS"


class Unauthenticated(PachError):
    code = "UNAUTHENTICATED"


class ConnectionFailed(Unavailable):
    """No server answered at the address the client tried.

    The message says which address was tried and how it was chosen
    (argument, ``PACHD_ADDRESS``, pachctl config context, or the default).
    """


_BY_CODE: dict[str, type[PachError]] = {
    cls.code: cls
    for cls in (
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
}


def error_class_for_code(code_name: str) -> type[PachError]:
    """Return the exception class for a gRPC status code name (``"NOT_FOUND"``)."""
    return _BY_CODE.get(code_name, PachError)
