"""The inbox on the fast tier (the embedded SQLite store): one transaction per delivery, a twin
recognised by (source, vendor event id) or, opted in, by content; listing and purging."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.handlers import HANDLERS
from ingest.handlers.base import Verdict
from ingest.outbox import OutboxStore
from ingest.processing import normalize
from ingest.simulation import SIMULATORS
from ingest.sources import SourcesConfig
from ingest.store import EventFilter, NewDelivery, Store

CONFIG = SourcesConfig(sources={}, routes=())


def stripe_delivery(*, event_id: str | None = None, body: bytes | None = None) -> NewDelivery:
    body = body or SIMULATORS["stripe"].sample("payment_intent.succeeded")
    event = json.loads(body)
    return NewDelivery(
        "stripe",
        "stripe",
        event_id or event["id"],
        event["type"],
        body,
        {},
        datetime.now(UTC),
        Verdict(secret_index=1, signed_at=1_700_000_000),
    )


async def record(
    store: Store, delivery: NewDelivery, content_window: timedelta | None = None
) -> tuple[int, bool]:
    outcome = normalize(HANDLERS["stripe"], delivery.as_delivery(), CONFIG)
    recorded = await store.record(delivery, outcome, content_window=content_window)
    return recorded.id, recorded.duplicate


async def test_an_event_and_its_outbox_records_are_stored_together_and_a_twin_is_found(
    sqlite_engine: AsyncEngine,
) -> None:
    store, outbox = Store(sqlite_engine), OutboxStore(sqlite_engine)
    delivery = stripe_delivery()
    first_id, first_duplicate = await record(store, delivery)
    twin_id, twin_duplicate = await record(store, delivery)
    assert (first_duplicate, twin_duplicate, twin_id) == (False, True, first_id)
    assert await outbox.count_pending() == 1, "the twin adds no CloudEvent"
    stored = await store.get_event(first_id)
    assert stored is not None
    assert (stored.status, stored.secret_index, stored.signed_at) == ("processed", 1, 1_700_000_000)
    assert stored.body == delivery.body


async def test_content_dedup_finds_a_replayed_body_under_a_new_delivery_id(
    sqlite_engine: AsyncEngine,
) -> None:
    store = Store(sqlite_engine)
    window = timedelta(hours=1)
    original = stripe_delivery()
    first_id, _ = await record(store, original, content_window=window)
    replayed = stripe_delivery(event_id="evt_replayed_capture", body=original.body)
    replay_id, duplicate = await record(store, replayed, content_window=window)
    assert (duplicate, replay_id) == (True, first_id)
    _, without_window = await record(
        store, stripe_delivery(event_id="evt_other", body=original.body)
    )
    assert without_window is False, "without the opt-in, the vendor's id decides"


async def test_events_are_listed_newest_first_and_purged_in_batches(
    sqlite_engine: AsyncEngine,
) -> None:
    store = Store(sqlite_engine)
    ids = [(await record(store, stripe_delivery()))[0] for _ in range(3)]
    listed = await store.list_events(EventFilter(), limit=10)
    assert [event.id for event in listed] == sorted(ids, reverse=True)
    assert await store.count_events(EventFilter(source="stripe")) == 3
    assert await store.count_events(EventFilter(source="github")) == 0
    # Nothing is purgeable while its CloudEvent still waits for the sink.
    future = datetime.now(UTC) + timedelta(days=1)
    assert await store.count_purgeable(future) == 0
    await OutboxStore(sqlite_engine).mark_published(
        [record.id for record in await OutboxStore(sqlite_engine).pending(limit=10)]
    )
    assert await store.purge(future, batch=2) == 2
    assert await store.purge(future, batch=2) == 1
    assert await store.purge(future, batch=2) == 0
