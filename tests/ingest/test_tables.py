"""`ingest.tables`: what the schema itself guarantees, on the embedded SQLite the fast tier uses.

The inbox's dedup is its UNIQUE key, not a lookup before an insert; statuses are constrained;
times are timezone-aware UTC in and out on both backends (SQLite stores naive text, and a naive
time compared with an aware one raises far from where it was written). That the migrations build
exactly these models, on PostgreSQL too, is `tests/migrations/`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.tables import InboxEvent

WHEN = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)


def _row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source": "shop",
        "vendor": "stripe",
        "vendor_event_id": "evt_1",
        "vendor_event_type": "charge.succeeded",
        "received_at": WHEN,
        "headers": {},
        "body": b"{}",
        "status": "processed",
        "attempts": 1,
    }
    return {**row, **overrides}


async def test_a_second_row_for_one_source_and_vendor_event_id_is_refused(
    sqlite_engine: AsyncEngine,
) -> None:
    async with sqlite_engine.begin() as connection:
        await connection.execute(insert(InboxEvent), _row())
        await connection.execute(insert(InboxEvent), _row(source="other-shop"))
    with pytest.raises(IntegrityError):
        async with sqlite_engine.begin() as connection:
            await connection.execute(insert(InboxEvent), _row(vendor_event_type="charge.updated"))


async def test_a_status_outside_the_lifecycle_is_refused(sqlite_engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError, match="status"):
        async with sqlite_engine.begin() as connection:
            await connection.execute(insert(InboxEvent), _row(status="done"))


async def test_times_come_back_aware_utc_whatever_zone_they_went_in(
    sqlite_engine: AsyncEngine,
) -> None:
    tokyo = WHEN.astimezone(timezone(timedelta(hours=9)))
    async with sqlite_engine.begin() as connection:
        await connection.execute(insert(InboxEvent), _row(received_at=tokyo))
        stored = (await connection.execute(select(InboxEvent.received_at))).scalar_one()
    assert stored == WHEN
    assert stored.tzinfo is UTC


async def test_a_naive_time_is_refused_where_it_is_written(sqlite_engine: AsyncEngine) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with sqlite_engine.begin() as connection:
            await connection.execute(
                insert(InboxEvent), _row(received_at=WHEN.replace(tzinfo=None))
            )
