"""The request path, framework-free: allowlist → certificates → verify → identify → normalize →
one transaction → the vendor's reply.

Nothing is acknowledged unless `Store.record` committed; a redelivery finds its twin and adds
nothing. The HTTP layer only translates outcomes and errors into responses.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ingest import metrics
from ingest.dberrors import DATABASE_ERRORS, is_outage, sqlstate
from ingest.documents import DocumentResolver
from ingest.handlers.base import (
    ForbiddenSourceAddressError,
    Identity,
    InboundRequest,
    RejectedRequestError,
    Reply,
    VendorHandler,
    Verification,
)
from ingest.identity import identify
from ingest.logs import get_logger
from ingest.processing import Outcome, normalize
from ingest.redaction import redact_headers, secret_variants
from ingest.retries import RetryPolicy
from ingest.sources import SourceConfig, SourcesConfig
from ingest.store import NewDelivery, Recorded, Store

log = get_logger("ingest.ingestion")

Confirmer = Callable[[str, VendorHandler, SourceConfig], Awaitable[None]]


def credential_headers(
    config: SourcesConfig, handlers: Mapping[str, VendorHandler]
) -> frozenset[str]:
    """Header names that carry a credential for some source (the `header` option of token
    schemes), blanked for every source: a sender may put one source's credential anywhere."""
    return frozenset(
        name.lower()
        for source in config.sources.values()
        for name in handlers[source.vendor].credential_headers(source)
    )


class Recorder(Protocol):
    """Where verified deliveries are stored: `Store` one per transaction, or the group
    committer (`ingest.group_commit`) many per transaction."""

    async def record(
        self,
        delivery: NewDelivery,
        outcome: Outcome,
        *,
        retry_at: datetime | None = None,
        content_window: timedelta | None = None,
    ) -> Recorded: ...


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
        recorder: Recorder | None = None,
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
        self.recorder: Recorder = recorder or store
        # Every source's secrets, looked for in every source's stored headers.
        self.secret_variants = secret_variants(config.secret_values())
        self.credential_headers = credential_headers(config, handlers)

    def knows(self, source_name: str) -> bool:
        return source_name in self.config.sources

    async def ingest(self, source_name: str, request: InboundRequest) -> Ingested:
        """For a source the caller checked with `knows`. Raises RejectedRequestError for bad
        requests and lets database and outbound errors through (the caller answers 503 so the
        vendor retries)."""
        source = self.config.sources[source_name]  # the endpoint answered 404 unless `knows`
        if not source.allows(request.client_ip):
            raise ForbiddenSourceAddressError("this address may not post to this source")
        handler = self.handlers[source.vendor]
        now = self.clock()
        if request.method == "GET":
            return Ingested(recorded=None, reply=handler.handle_get(request, source))
        documents = await self.documents.resolve(handler, request, source)
        verdict = handler.verify(Verification(request, source, now, documents))
        metrics.VERIFICATION_MATCHES.labels(
            source=source.name, secret_index=str(verdict.secret_index)
        ).inc()
        identified = identify(handler, request, source)
        identity = identified.identity
        if identified.unexpected is not None:
            log.info(
                "webhook.unexpected_shape",
                reason=identified.unexpected,
                fallback_id=identity.event_id,
                hint="published as the passthrough <vendor>.unknown",
            )
        delivery = NewDelivery(
            source=source.name,
            vendor=source.vendor,
            event_id=identity.event_id,
            event_type=identity.event_type,
            body=request.body,
            # Every source's secrets and credential headers, prepared once at start-up (they
            # include this source's): nothing about redaction is worked out per request.
            headers=redact_headers(
                request.headers, secrets=self.secret_variants, names=self.credential_headers
            ),
            received_at=datetime.fromtimestamp(now, tz=UTC),
            verdict=verdict,
            parsed=request.parsed,  # one delivery's stages share one parse of its body
        )
        outcome = (
            Outcome(status="processed")
            if identity.handshake
            else normalize(
                handler,
                delivery.as_delivery(),
                self.config,
                max_record_bytes=self.max_record_bytes,
                unexpected=identified.unexpected is not None,
            )
        )
        outcome, retry_at = self.retry_policy.settle(outcome, attempts=1)
        window = (
            timedelta(seconds=source.dedupe_content_seconds)
            if source.dedupe_content_seconds
            else None
        )
        recorded = await self._record(delivery, outcome, retry_at, window)
        if not recorded.duplicate and outcome.records and self.on_commit is not None:
            self.on_commit()
        if identity.confirm_url and not recorded.duplicate and self.confirm is not None:
            await self.confirm(identity.confirm_url, handler, source)
        reply = (
            None
            if identified.unexpected is not None
            else self._reply(handler, request, identity, source)
        )
        return Ingested(recorded=recorded, reply=reply, identity=identity)

    async def _record(
        self,
        delivery: NewDelivery,
        outcome: Outcome,
        retry_at: datetime | None,
        window: timedelta | None,
    ) -> Recorded:
        """Store it; if the database refuses what the normalization produced (not an outage),
        store the raw delivery as `failed` instead, so it is still acknowledged and replayable."""
        try:
            return await self.recorder.record(
                delivery, outcome, retry_at=retry_at, content_window=window
            )
        except DATABASE_ERRORS as exc:
            if is_outage(exc):
                raise
            error = (
                f"the database refused the normalized form ({type(exc).__name__}, "
                f"SQLSTATE {sqlstate(exc)})"
            )
        log.warning("webhook.stored_raw", error=error, hint="ingest replay once fixed")
        raw = replace(
            delivery, headers={k: v.replace("\x00", "") for k, v in delivery.headers.items()}
        )
        return await self.recorder.record(
            raw, Outcome(status="failed", error=error), content_window=window
        )

    @staticmethod
    def _reply(
        handler: VendorHandler, request: InboundRequest, identity: Identity, source: SourceConfig
    ) -> Reply | None:
        """The vendor's own answer, if it wants one; the delivery is stored already, so a handler
        that cannot build it falls back to our default acknowledgement rather than an error."""
        try:
            return handler.reply(request, identity)
        except (RejectedRequestError, ValueError, KeyError, TypeError) as exc:
            log.warning("webhook.reply_failed", error=type(exc).__name__)
            return None
