"""One root exception type for the service and its vendor handlers, so callers can catch ours
and not everyone's. Each carries the machine-readable `code` and the HTTP `status` it answers
with when it reaches a response; most never do (configuration errors stop the process)."""

from __future__ import annotations

from typing import ClassVar


class IngestError(Exception):
    """Base class of every error this package raises on purpose."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500


class ConfigError(IngestError):
    """The configuration cannot be used; the message names the culprit (never its value)."""

    code = "config_error"


class DatabaseNotMigratedError(IngestError):
    """The database schema is not at the Alembic head this release expects."""


class TransientHandlerError(IngestError):
    """A handler could not finish for a reason that passes (a host timing out, a lookup that
    failed): the event is stored as `retrying` and normalized again automatically, with backoff,
    up to INGEST_RETRY_MAX_ATTEMPTS times."""


# -- refusals: a request we answer with a 4xx ------------------------------------------------


class RejectedRequestError(IngestError):
    """A request we refuse; `code` is the machine-readable reason returned to the sender."""

    code: ClassVar[str] = "malformed_request"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedRequestError(RejectedRequestError):
    code = "malformed_request"
    status = 400


class WireError(MalformedRequestError):
    """The vendor sent the request wrong on the wire (a header its scheme always carries is
    missing). Unlike a body of unexpected shape, this is refused even after verification."""


class VerificationError(RejectedRequestError):
    code = "invalid_signature"
    status = 401


class MissingSignatureError(VerificationError):
    code = "missing_signature"


class InvalidSignatureError(VerificationError):
    code = "invalid_signature"


class TimestampOutOfToleranceError(VerificationError):
    code = "timestamp_out_of_tolerance"


class MissingCredentialsError(VerificationError):
    """Schemes without a signature (Basic auth, a token header) and nothing was presented."""

    code = "missing_credentials"


class InvalidCredentialsError(VerificationError):
    code = "invalid_credentials"


class ForbiddenSourceAddressError(RejectedRequestError):
    code = "ip_not_allowed"
    status = 403


class MethodNotAllowedError(RejectedRequestError):
    code = "method_not_allowed"
    status = 405
