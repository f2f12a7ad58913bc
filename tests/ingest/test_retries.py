"""Transient handler failures: stored and acked as `retrying`, normalized again automatically
with backoff, `failed` after the last attempt; replay takes over from there."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.errors import TransientHandlerError
from ingest.handlers import HANDLERS
from ingest.handlers.base import Delivery, Emitted, Verdict
from ingest.handlers.stripe import StripeHandler
from ingest.outbox import OutboxStore
from ingest.processing import normalize
from ingest.relay import Backoff
from ingest.retries import Retrier, RetryPolicy
from ingest.simulation import simulator
from ingest.store import NewDelivery, Store
from tests.ingest.relay.kit import CONFIG

FAST = RetryPolicy(max_attempts=3, backoff=Backoff(initial=0.01, maximum=0.02))


def flaky(failures: int) -> Callable[[StripeHandler, Delivery], list[Emitted]]:
    """Stripe's mapping, failing transiently the first `failures` times."""
    real = StripeHandler.normalize
    calls = 0

    def normalize(handler: StripeHandler, delivery: Delivery) -> list[Emitted]:
        nonlocal calls
        calls += 1
        if calls <= failures:
            raise TransientHandlerError("the exchange-rate host timed out")
        return real(handler, delivery)

    return normalize


async def store_one(store: Store) -> int:
    body = simulator(StripeHandler()).sample("payment_intent.succeeded")
    event = json.loads(body)
    delivery = NewDelivery(
        "stripe", "stripe", event["id"], event["type"], body, {}, datetime.now(UTC), Verdict(0)
    )
    outcome, retry_at = FAST.settle(
        normalize(StripeHandler(), delivery.as_delivery(), CONFIG), attempts=1
    )
    return (await store.record(delivery, outcome, retry_at=retry_at)).id


async def test_a_transient_failure_is_retried_until_it_works(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(StripeHandler, "normalize", flaky(failures=2))
    store = Store(sqlite_engine)
    event_id = await store_one(store)
    stored = await store.get_event(event_id)
    assert stored is not None
    assert stored.status == "retrying"
    assert stored.next_attempt_at is not None
    assert "timed out" in (stored.last_error or "")
    assert await OutboxStore(sqlite_engine).count_pending() == 0

    retrier = Retrier(store, CONFIG, HANDLERS, policy=FAST, max_record_bytes=None)
    for _ in range(20):
        await asyncio.sleep(0.03)
        await retrier.run_once()
    stored = await store.get_event(event_id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.next_attempt_at) == ("processed", 3, None)
    assert await OutboxStore(sqlite_engine).count_pending() == 1


async def test_it_becomes_failed_after_the_last_attempt(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(StripeHandler, "normalize", flaky(failures=100))
    store = Store(sqlite_engine)
    event_id = await store_one(store)
    retrier = Retrier(store, CONFIG, HANDLERS, policy=FAST, max_record_bytes=None)
    for _ in range(20):
        await asyncio.sleep(0.03)
        await retrier.run_once()
    stored = await store.get_event(event_id)
    assert stored is not None
    assert (stored.status, stored.attempts) == ("failed", 3)
    assert (stored.last_error or "").startswith("gave up after 3 attempts: TransientHandlerError")


async def test_a_bug_is_failed_at_once(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(handler: StripeHandler, delivery: Delivery) -> list[Emitted]:
        raise KeyError("amount")

    monkeypatch.setattr(StripeHandler, "normalize", broken)
    stored = await Store(sqlite_engine).get_event(await store_one(Store(sqlite_engine)))
    assert stored is not None
    assert (stored.status, stored.next_attempt_at) == ("failed", None)
