"""Shared by the relay tests: an embedded store with Stripe deliveries in it, and a relay on it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from typing_extensions import override

from ingest.handlers import HANDLERS
from ingest.handlers.base import Verdict
from ingest.handlers.stripe import StripeHandler
from ingest.outbox import OutboxStore, PendingRecord
from ingest.processing import OutboxRecord, Outcome, normalize
from ingest.relay import Backoff, Relay, RelayConfig
from ingest.relay.coordination import Coordination
from ingest.simulation import simulator
from ingest.sinks import FileSink
from ingest.sinks.base import PublishResult, Sink
from ingest.sources import SourcesConfig, parse_sources
from ingest.store import NewDelivery, Store

CONFIG = parse_sources(
    {"sources": {"stripe": {"vendor": "stripe", "secrets": ["whsec_x"]}}}, frozenset(HANDLERS)
)
FAST = Backoff(initial=0.05, maximum=0.2)


def relay_on(engine: AsyncEngine, sink: Sink, **config: Any) -> Relay:
    defaults: dict[str, Any] = {
        "backoff": FAST,
        "idle_poll_seconds": 0.2,
        "lease_ttl": timedelta(seconds=3),
    }
    return Relay(
        OutboxStore(engine), Coordination(engine), sink, RelayConfig(**{**defaults, **config})
    )


async def record_stripe(
    store: Store, count: int, config: SourcesConfig = CONFIG, **kwargs: Any
) -> list[str]:
    """Stores `count` verified Stripe deliveries; returns their payment ids in order."""
    payments = []
    for _ in range(count):
        body = simulator(StripeHandler()).sample("payment_intent.succeeded")
        event = json.loads(body)
        delivery = NewDelivery(
            "stripe", "stripe", event["id"], event["type"], body, {}, datetime.now(UTC), Verdict(0)
        )
        outcome = normalize(StripeHandler(), delivery.as_delivery(), config, **kwargs)
        await store.record(delivery, outcome)
        payments.append(event["data"]["object"]["id"])
    return payments


async def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def add_records(store: Store, items: list[tuple[str, bytes]], key: str = "k") -> None:
    """One inbox event owing one record per (topic, value), in order."""
    event_id = f"evt_{uuid.uuid4().hex}"
    delivery = NewDelivery(
        "stripe", "stripe", event_id, "test", b"{}", {}, datetime.now(UTC), Verdict(0)
    )
    records = tuple(
        OutboxRecord(
            seq=seq,
            cloudevent_id=str(uuid.uuid4()),
            type="test.event",
            topic=topic,
            key=key,
            value=value,
        )
        for seq, (topic, value) in enumerate(items)
    )
    await store.record(delivery, Outcome(status="processed", records=records))


class ScriptedSink(FileSink):
    """A file sink whose publishing a test scripts (a bug that raises, the way Kafka refuses a
    record): `script` decides each batch's result; every batch's ids are kept in `calls`."""

    def __init__(
        self,
        path: Path,
        script: Callable[[ScriptedSink, Sequence[PendingRecord]], Awaitable[PublishResult]],
    ) -> None:
        super().__init__(path)
        self.script = script
        self.calls: list[list[int]] = []

    @override
    def publisher(self, shard: int) -> ScriptedPublisher:
        return ScriptedPublisher(self)


class ScriptedPublisher:
    exactly_once = False

    def __init__(self, sink: ScriptedSink) -> None:
        self.sink = sink

    async def open(self) -> list[int]:
        return []

    async def publish(
        self, records: Sequence[PendingRecord], carried: Sequence[int]
    ) -> PublishResult:
        self.sink.calls.append([r.id for r in records])
        return await self.sink.script(self.sink, records)

    async def close(self) -> None:
        return None
