"""structlog set-up: JSON lines in production, readable lines in a terminal, secrets never printed.

Event names are dotted (`webhook.accepted`), context travels in contextvars, and the standard
library's loggers (uvicorn, aiokafka, alembic) go through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from ingest.settings import LogFormat

REDACTED = "[redacted]"
SENSITIVE_KEY = re.compile(r"secret|token|password|passwd|authorization|cookie|api[_-]?key", re.I)

# Third-party loggers that would log once per failed connection attempt during an outage; the
# relay reports outages itself, once per state change.
QUIET_LOGGERS = {
    "aiokafka": logging.CRITICAL,
    "kafka": logging.CRITICAL,
    "alembic": logging.WARNING,  # per-command "Context impl" chatter
}


class SecretRedactor:
    """Blanks sensitive keys and scrubs known secret values from any string that is logged."""

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()

    def register(self, values: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is scrubbed whole.
        known = {v for v in (*self._values, *values) if len(v) >= 4}
        self._values = tuple(sorted(known, key=len, reverse=True))

    def scrub(self, value: str) -> str:
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def _clean(self, key: str, value: Any) -> Any:
        if SENSITIVE_KEY.search(key) and value is not None:
            return REDACTED
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, MutableMapping):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(key, v) for v in value]
        return value

    def __call__(self, _logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        return {key: self._clean(key, value) for key, value in event_dict.items()}


redactor = SecretRedactor()


def configure(log_format: LogFormat = LogFormat.AUTO, level: str = "info") -> None:
    use_json = log_format is LogFormat.JSON or (
        log_format is LogFormat.AUTO and not sys.stderr.isatty()
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redactor,
    ]
    renderer: Processor
    if use_json:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        # The level check first: a line the level drops costs one comparison, not the chain.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, quiet_level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)
    # uvicorn installs its own handlers unless told otherwise; ours already cover its loggers.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
