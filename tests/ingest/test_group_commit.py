"""Group commit on the real PostgreSQL: many requests per transaction, exact dedup inside a
batch, and one row the database refuses failing only its own request."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.dberrors import is_outage
from ingest.group_commit import GroupCommitter
from ingest.handlers import HANDLERS
from ingest.handlers.base import Verdict
from ingest.handlers.stripe import StripeHandler
from ingest.outbox import OutboxStore
from ingest.processing import Outcome, normalize
from ingest.simulation import simulator
from ingest.sources import parse_sources
from ingest.store import NewDelivery, Recorded, Store

CONFIG = parse_sources(
    {"sources": {"stripe": {"vendor": "stripe", "secrets": ["whsec_x"]}}}, frozenset(HANDLERS)
)


@pytest.fixture
async def committer(
    postgres_url: str, postgres_engine: AsyncEngine
) -> AsyncIterator[GroupCommitter]:
    committer = GroupCommitter(postgres_url, Store(postgres_engine), writers=1)
    await committer.start()
    yield committer
    await committer.close()


def stripe_delivery(
    event_id: str | None = None, event_type: str | None = None
) -> tuple[NewDelivery, Outcome]:
    body = simulator(StripeHandler()).sample("payment_intent.succeeded")
    event = json.loads(body)
    delivery = NewDelivery(
        "stripe",
        "stripe",
        event_id or event["id"],
        event_type or event["type"],
        body,
        {"stripe-signature": "t=1,v1=x"},
        datetime.now(UTC),
        Verdict(0),
    )
    return delivery, normalize(StripeHandler(), delivery.as_delivery(), CONFIG)


async def test_concurrent_requests_share_transactions(
    committer: GroupCommitter, postgres_engine: AsyncEngine
) -> None:
    pairs = [stripe_delivery() for _ in range(200)]
    recorded = await asyncio.gather(*(committer.record(d, o) for d, o in pairs))
    assert all(not r.duplicate for r in recorded)
    assert len({r.id for r in recorded}) == 200
    assert committer.rows == 200
    assert committer.batches < 100, f"{committer.batches} transactions for 200 requests"
    assert await OutboxStore(postgres_engine).count_pending() == 200


async def test_copies_in_one_batch_are_one_row(
    committer: GroupCommitter, postgres_engine: AsyncEngine
) -> None:
    delivery, outcome = stripe_delivery()
    others = [stripe_delivery() for _ in range(20)]
    results: list[Recorded] = await asyncio.gather(
        *(committer.record(delivery, outcome) for _ in range(5)),
        *(committer.record(d, o) for d, o in others),
    )
    copies = results[:5]
    assert len({r.id for r in copies}) == 1
    assert sorted(r.duplicate for r in copies) == [False, True, True, True, True]
    assert await OutboxStore(postgres_engine).count_pending() == 21


async def test_a_row_the_database_refuses_fails_alone(
    committer: GroupCommitter, postgres_engine: AsyncEngine
) -> None:
    """A type no identity check cleaned (as if a handler bug let it through): PostgreSQL cannot
    store the NUL. The batch it was in is written again request by request."""
    good = [stripe_delivery() for _ in range(30)]
    bad, bad_outcome = stripe_delivery(event_id=f"evt_{uuid.uuid4().hex}", event_type="x\u0000y")
    tasks = [asyncio.ensure_future(committer.record(d, o)) for d, o in good[:15]]
    poisoned = asyncio.ensure_future(committer.record(bad, bad_outcome))
    tasks += [asyncio.ensure_future(committer.record(d, o)) for d, o in good[15:]]
    recorded = await asyncio.gather(*tasks)
    with pytest.raises(asyncpg.PostgresError) as refused:
        await poisoned
    assert not is_outage(refused.value)
    assert len({r.id for r in recorded}) == 30
    assert await OutboxStore(postgres_engine).count_pending() == 30
