"""One root exception type for the service, so callers can catch ours and not everyone's."""


class IngestError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(IngestError):
    """The configuration cannot be used; the message names the culprit (never its value)."""


class DatabaseNotMigratedError(IngestError):
    """The database schema is not at the Alembic head this release expects."""


class TransientHandlerError(IngestError):
    """A handler could not finish for a reason that passes (a host timing out, a lookup that
    failed): the event is stored as `retrying` and normalized again automatically, with backoff,
    up to INGEST_RETRY_MAX_ATTEMPTS times."""
