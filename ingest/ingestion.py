"""The request path, framework-free: allowlist → certificates → verify → identify → normalize →
one transaction → the vendor's reply.

Nothing is acknowledged unless `Store.record` committed; a redelivery finds its twin and adds
nothing. The HTTP layer only translates outcomes and errors into responses.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from handlers.base import (
    ForbiddenSourceAddressError,
    Identity,
    InboundRequest,
    RejectedRequestError,
    Reply,
    VendorHandler,
)
from ingest import metrics
from ingest.documents import DocumentResolver
from ingest.logs import get_logger
from ingest.processing import Outcome, normalize
from ingest.retries import RetryPolicy
from ingest.sources import SourceConfig, SourcesConfig
from ingest.store import NewDelivery, Recorded, Store

log = get_logger("ingest.ingestion")

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-webhook-secret"}
)
REDACTED = "[redacted]"

Confirmer = Callable[[str, VendorHandler, SourceConfig], Awaitable[None]]


class UnknownSourceError(RejectedRequestError):
    code = "unknown_source"
    status = 404


def redact_headers(
    headers: Mapping[str, str], source: SourceConfig | None = None
) -> dict[str, str]:
    """Headers as stored in the inbox: credentials blanked, signatures kept for re-verification.

    Besides the usual credential headers, a source's own credential header (the `header` option
    of token schemes) and any header carrying one of its configured values are blanked."""
    names = set(SENSITIVE_HEADERS)
    values: tuple[str, ...] = ()
    if source is not None:
        options = source.options
        custom = (
            options.get("header")
            if isinstance(options, Mapping)
            else getattr(options, "header", None)
        )
        if isinstance(custom, str):
            names.add(custom.lower())
        values = tuple(v for v in (*source.secrets, *source.sensitive_values) if len(v) >= 4)
    return {
        name: REDACTED
        if name in names
        or "secret" in name
        or "token" in name
        or any(secret in value for secret in values)
        else value
        for name, value in headers.items()
    }


@dataclass(frozen=True)
class Ingested:
    recorded: Recorded | None
    """None for requests that store nothing (a GET verification challenge)."""
    reply: Reply | None = None
    identity: Identity | None = None


class Ingestor:
    def __init__(
        self,
        config: SourcesConfig,
        store: Store,
        handlers: Mapping[str, VendorHandler],
        documents: DocumentResolver,
        *,
        clock: Callable[[], float] = time.time,
        on_commit: Callable[[], None] | None = None,
        confirm: Confirmer | None = None,
        max_record_bytes: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.handlers = handlers
        self.documents = documents
        self.clock = clock
        self.on_commit = on_commit
        self.confirm = confirm
        self.max_record_bytes = max_record_bytes
        self.retry_policy = retry_policy or RetryPolicy()

    def knows(self, source_name: str) -> bool:
        return source_name in self.config.sources

    async def ingest(self, source_name: str, request: InboundRequest) -> Ingested:
        """Raises RejectedRequestError for bad requests and lets database and outbound errors
        through (the caller answers 503 so the vendor retries)."""
        source = self.config.sources.get(source_name)
        if source is None:
            raise UnknownSourceError(f"no source named {source_name!r} is configured")
        if not source.allows(request.client_ip):
            raise ForbiddenSourceAddressError("this address may not post to this source")
        handler = self.handlers[source.vendor]
        now = self.clock()
        if request.method == "GET":
            return Ingested(recorded=None, reply=handler.handle_get(request, source, now))
        documents = await self.documents.resolve(handler, request, source)
        verdict = handler.verify(request, source, now, documents)
        metrics.VERIFICATION_MATCHES.labels(
            source=source.name, secret_index=str(verdict.secret_index)
        ).inc()
        identity = handler.identify(request, source)
        delivery = NewDelivery(
            source=source.name,
            vendor=source.vendor,
            event_id=identity.event_id,
            event_type=identity.event_type,
            body=request.body,
            headers=redact_headers(request.headers, source),
            received_at=datetime.fromtimestamp(now, tz=UTC),
            verdict=verdict,
        )
        outcome = (
            Outcome(status="processed")
            if identity.handshake
            else normalize(
                handler,
                delivery.as_delivery(),
                self.config,
                max_record_bytes=self.max_record_bytes,
            )
        )
        outcome, retry_at = self.retry_policy.settle(outcome, attempts=1)
        recorded = await self.store.record(delivery, outcome, retry_at=retry_at)
        if not recorded.duplicate and outcome.records and self.on_commit is not None:
            self.on_commit()
        if identity.confirm_url and not recorded.duplicate and self.confirm is not None:
            await self.confirm(identity.confirm_url, handler, source)
        return Ingested(
            recorded=recorded, reply=handler.reply(request, identity, source), identity=identity
        )
