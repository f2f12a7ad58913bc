"""The request path, framework-free: verify → identify → normalize → one transaction.

Nothing is acknowledged unless `Store.record` committed; a redelivery finds its twin and adds
nothing. The HTTP layer only translates outcomes and errors into responses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from handlers.base import RejectedRequestError, VendorHandler
from ingest.processing import normalize
from ingest.sources import SourcesConfig
from ingest.store import NewDelivery, Recorded, Store

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-webhook-secret"}
)
REDACTED = "[redacted]"


class UnknownSourceError(RejectedRequestError):
    code = "unknown_source"
    status = 404


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as stored in the inbox: credentials blanked, signatures kept for re-verification."""
    return {
        name: REDACTED
        if name in SENSITIVE_HEADERS or "secret" in name or "token" in name
        else value
        for name, value in headers.items()
    }


class Ingestor:
    def __init__(
        self,
        config: SourcesConfig,
        store: Store,
        handlers: Mapping[str, VendorHandler],
        *,
        clock: Callable[[], float] = time.time,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.handlers = handlers
        self.clock = clock
        self.on_commit = on_commit

    def knows(self, source_name: str) -> bool:
        return source_name in self.config.sources

    async def ingest(self, source_name: str, body: bytes, headers: Mapping[str, str]) -> Recorded:
        """`headers` must have lower-case names. Raises RejectedRequestError for bad requests and
        lets database errors through (the caller answers 503 so the vendor retries)."""
        source = self.config.sources.get(source_name)
        if source is None:
            raise UnknownSourceError(f"no source named {source_name!r} is configured")
        handler = self.handlers[source.vendor]
        now = self.clock()
        verdict = handler.verify(body, headers, source, now)
        identity = handler.identify(body, headers)
        delivery = NewDelivery(
            source=source.name,
            vendor=source.vendor,
            event_id=identity.event_id,
            event_type=identity.event_type,
            body=body,
            headers=redact_headers(headers),
            received_at=datetime.fromtimestamp(now, tz=UTC),
            verdict=verdict,
        )
        outcome = normalize(handler, delivery.as_delivery(), self.config)
        recorded = await self.store.record(delivery, outcome)
        if not recorded.duplicate and outcome.records and self.on_commit is not None:
            self.on_commit()
        return recorded
