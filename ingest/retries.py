"""Automatic retries of events whose handler failed transiently.

A handler that raises `TransientHandlerError` (or times out reaching a host) leaves its event
`retrying` with `next_attempt_at`; the retrier normalizes it again when due, with exponential
backoff, and after the last attempt marks it `failed` with the error — from there `ingest replay`
takes over. Replays and the retrier write through the same compare-and-set on `attempts`, so they
never both apply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ingest import metrics
from ingest.handlers.base import VendorHandler
from ingest.identity import unexpected_when_stored
from ingest.logs import get_logger
from ingest.processing import Outcome, normalize
from ingest.relay.backoff import Backoff
from ingest.relay.supervisor import sleep_or_stop
from ingest.sources import SourceConfig, SourcesConfig
from ingest.store import Store, StoredEvent

log = get_logger("ingest.retries")

BATCH = 50


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=5.0, maximum=600.0))

    def next_attempt(self, attempts: int, now: datetime | None = None) -> datetime:
        """When to try again after `attempts` normalizations have failed."""
        return (now or datetime.now(UTC)) + timedelta(seconds=self.backoff.delay(attempts))

    def settle(self, outcome: Outcome, attempts: int) -> tuple[Outcome, datetime | None]:
        """The outcome to store after attempt number `attempts`, and when to retry it."""
        if outcome.status != "retrying":
            return outcome, None
        if attempts >= self.max_attempts:
            return (
                replace(
                    outcome,
                    status="failed",
                    error=f"gave up after {attempts} attempts: {outcome.error}",
                ),
                None,
            )
        return outcome, self.next_attempt(attempts)


class Retrier:
    def __init__(
        self,
        store: Store,
        config: SourcesConfig,
        handlers: Mapping[str, VendorHandler],
        *,
        policy: RetryPolicy,
        max_record_bytes: int | None,
        poll_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.config = config
        self.handlers = handlers
        self.policy = policy
        self.max_record_bytes = max_record_bytes
        self.poll_seconds = poll_seconds

    async def run_once(self) -> int:
        """Retry every due event once; how many were attempted."""
        due = await self.store.due_retries(BATCH)
        for event in due:
            await self._retry(event)
        return len(due)

    async def _retry(self, event: StoredEvent) -> None:
        handler = self.handlers.get(event.vendor)
        if handler is None:
            return
        source = self.config.sources.get(event.source) or SourceConfig(event.source, event.vendor)
        outcome = normalize(
            handler,
            event.as_delivery(),
            self.config,
            max_record_bytes=self.max_record_bytes,
            unexpected=unexpected_when_stored(handler, source, event.headers, event.body),
        )
        outcome, retry_at = self.policy.settle(outcome, event.attempts + 1)
        if not await self.store.apply_replay(event, outcome, retry_at=retry_at):
            return  # a replay got there first
        metrics.EVENT_RETRIES.labels(result=outcome.status).inc()
        if outcome.status == "failed":
            log.warning("event.retries_exhausted", event_id=event.id, error=outcome.error)
        elif outcome.status == "processed":
            log.info("event.retry_succeeded", event_id=event.id, attempts=event.attempts + 1)

    async def run(self, stop: asyncio.Event) -> None:
        """The loop body for `supervise`: database errors end it and the supervisor restarts it."""
        while not stop.is_set():
            attempted = await self.run_once()
            if attempted < BATCH and await sleep_or_stop(self.poll_seconds, stop):
                return
