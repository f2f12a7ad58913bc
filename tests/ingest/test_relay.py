"""The relay on the embedded SQLite store and the file sink: order, real write failures, lease."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers import HANDLERS
from handlers.base import Verdict
from handlers.stripe import StripeHandler
from ingest import migrate
from ingest.db import create_engine
from ingest.processing import normalize
from ingest.relay import Backoff, Relay, RelayState
from ingest.sinks import FileSink
from ingest.sources import parse_sources
from ingest.store import NewDelivery, Store

CONFIG = parse_sources(
    {"sources": {"stripe": {"vendor": "stripe", "secrets": ["whsec_x"]}}}, frozenset(HANDLERS)
)
FAST = Backoff(initial=0.05, maximum=0.2)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    engine = create_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    await migrate.upgrade(engine)
    yield Store(engine)
    await engine.dispose()


async def record_stripe(store: Store, count: int) -> list[str]:
    """Stores `count` verified Stripe deliveries; returns their payment ids in order."""
    payments = []
    for _ in range(count):
        body = StripeHandler().sample("payment_intent.succeeded")
        event = json.loads(body)
        delivery = NewDelivery(
            "stripe", "stripe", event["id"], event["type"], body, {}, datetime.now(UTC), Verdict(0)
        )
        await store.record(delivery, normalize(StripeHandler(), delivery.as_delivery(), CONFIG))
        payments.append(event["data"]["object"]["id"])
    return payments


async def wait_for(condition: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_publishes_in_outbox_order_and_marks_published(store: Store, tmp_path: Path) -> None:
    sink_path = tmp_path / "events.jsonl"
    payments = await record_stripe(store, 25)
    relay = Relay(store, FileSink(sink_path), batch_size=10, backoff=FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await wait_for(lambda: len(lines(sink_path)) == 25)
    assert [line["subject"] for line in lines(sink_path)] == payments
    # Woken by a commit, not by the next poll: a new event appears promptly.
    [late] = await record_stripe(store, 1)
    relay.wake()
    await wait_for(lambda: len(lines(sink_path)) == 26, timeout=2)
    assert lines(sink_path)[-1]["subject"] == late
    stop.set()
    await task
    assert await store.count_pending() == 0


async def test_a_sink_that_cannot_write_keeps_records_until_it_can(
    store: Store, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the sink needs a directory")
    sink_path = blocker / "events.jsonl"
    relay = Relay(store, FileSink(sink_path), backoff=FAST)
    await record_stripe(store, 5)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await wait_for(lambda: relay.state is RelayState.SINK_DOWN)
    await asyncio.sleep(0.5)  # several retries while it stays broken
    assert await store.count_pending() == 5
    blocker.unlink()  # the operator fixes the disk
    await wait_for(lambda: len(lines(sink_path)) == 5)
    await wait_for(lambda: relay.state is RelayState.HEALTHY)
    stop.set()
    await task
    assert await store.count_pending() == 0


async def test_one_relay_holds_the_lease_and_another_takes_over(
    store: Store, tmp_path: Path
) -> None:
    sink_path = tmp_path / "events.jsonl"
    ttl = timedelta(seconds=1)
    first = Relay(store, FileSink(sink_path), lease_ttl=ttl, backoff=FAST)
    second = Relay(store, FileSink(sink_path), lease_ttl=ttl, backoff=FAST)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    first_task = asyncio.create_task(first.run(stop_first))
    await wait_for(lambda: first.state is RelayState.HEALTHY)
    second_task = asyncio.create_task(second.run(stop_second))
    await wait_for(lambda: second.state is RelayState.STANDBY)
    await record_stripe(store, 3)
    await wait_for(lambda: len(lines(sink_path)) == 3)
    assert (first.published, second.published) == (3, 0)

    stop_first.set()
    await first_task  # releases the lease on the way out
    await record_stripe(store, 2)
    await wait_for(lambda: len(lines(sink_path)) == 5)
    assert second.published == 2
    stop_second.set()
    await second_task


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    backoff = Backoff(initial=0.5, maximum=10)
    assert 0.25 <= backoff.delay(1) <= 0.5
    assert 2 <= backoff.delay(4) <= 4
    assert all(5 <= backoff.delay(50) <= 10 for _ in range(100))
    assert len({backoff.delay(3) for _ in range(20)}) > 1
