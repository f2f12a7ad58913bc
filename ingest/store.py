"""Every query the service runs, behind one class: the inbox, the outbox and the relay lease.

The request path costs one short transaction (`record`). Deduplication is the UNIQUE constraint
with `INSERT … ON CONFLICT DO NOTHING RETURNING`, never check-then-insert, so concurrent deliveries
of one event cannot both win. Outbox rows are written in the same transaction as the inbox status
they belong to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from handlers.base import Delivery, Verdict
from ingest.processing import Outcome
from ingest.tables import InboxEvent, InboxItem, Lease, OutboxEvent

# Declarative models type __table__ as a FromClause; these are plain Tables.
inbox = cast(Table, InboxEvent.__table__)
outbox = cast(Table, OutboxEvent.__table__)
leases = cast(Table, Lease.__table__)
items = cast(Table, InboxItem.__table__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewDelivery:
    source: str
    vendor: str
    event_id: str
    event_type: str
    body: bytes
    headers: dict[str, str]
    received_at: datetime
    verdict: Verdict

    def as_delivery(self) -> Delivery:
        return Delivery(
            source=self.source,
            vendor=self.vendor,
            event_id=self.event_id,
            event_type=self.event_type,
            body=self.body,
            received_at=self.received_at,
            headers=self.headers,
        )


@dataclass(frozen=True)
class Recorded:
    id: int
    duplicate: bool


@dataclass(frozen=True)
class StoredEvent:
    id: int
    source: str
    vendor: str
    vendor_event_id: str
    vendor_event_type: str
    received_at: datetime
    status: str
    attempts: int
    last_error: str | None
    processed_at: datetime | None
    secret_index: int | None
    signed_at: int | None
    headers: dict[str, str]
    body: bytes

    def as_delivery(self) -> Delivery:
        return Delivery(
            source=self.source,
            vendor=self.vendor,
            event_id=self.vendor_event_id,
            event_type=self.vendor_event_type,
            body=self.body,
            received_at=self.received_at,
            headers=self.headers,
        )


@dataclass(frozen=True)
class StoredCloudEvent:
    id: int
    generation: int
    seq: int
    cloudevent_id: str
    type: str
    topic: str
    key: str
    value: bytes
    created_at: datetime
    published_at: datetime | None


@dataclass(frozen=True)
class PendingRecord:
    id: int
    topic: str
    key: str
    value: bytes


@dataclass(frozen=True)
class EventFilter:
    ids: Sequence[int] = ()
    source: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.ids:
            query = query.where(inbox.c.id.in_(list(self.ids)))
        if self.source:
            query = query.where(inbox.c.source == self.source)
        if self.status:
            query = query.where(inbox.c.status == self.status)
        if self.since:
            query = query.where(inbox.c.received_at >= self.since)
        if self.until:
            query = query.where(inbox.c.received_at < self.until)
        return query


_SUMMARY_COLUMNS = [c for c in inbox.c if c.name not in {"headers", "body"}]


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._dialect = sqlite if engine.dialect.name == "sqlite" else postgresql

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    # -- request path ---------------------------------------------------------------------------

    async def record(self, delivery: NewDelivery, outcome: Outcome) -> Recorded:
        """Store a verified delivery and what it produced, in one transaction; or find its twin."""
        now = utcnow()
        insert_inbox = (
            self._dialect.insert(inbox)
            .values(
                source=delivery.source,
                vendor=delivery.vendor,
                vendor_event_id=delivery.event_id,
                vendor_event_type=delivery.event_type,
                received_at=delivery.received_at,
                headers=delivery.headers,
                body=delivery.body,
                status=outcome.status,
                attempts=1,
                last_error=outcome.error,
                processed_at=now,
                secret_index=delivery.verdict.secret_index,
                signed_at=delivery.verdict.signed_at,
            )
            .on_conflict_do_nothing(index_elements=["source", "vendor_event_id"])
            .returning(inbox.c.id)
        )
        async with self.engine.begin() as conn:
            new_id = (await conn.execute(insert_inbox)).scalar_one_or_none()
            if new_id is None:
                existing = await conn.execute(
                    select(inbox.c.id).where(
                        inbox.c.source == delivery.source,
                        inbox.c.vendor_event_id == delivery.event_id,
                    )
                )
                return Recorded(id=existing.scalar_one(), duplicate=True)
            fresh = await self._claim_items(conn, delivery.source, new_id, outcome, now)
            await self._write_outbox(conn, new_id, 1, fresh, now)
        return Recorded(id=new_id, duplicate=False)

    async def _claim_items(
        self, conn: AsyncConnection, source: str, inbox_id: int, outcome: Outcome, now: datetime
    ) -> Outcome:
        """Drop batch items this source delivered before, in another batch (UNIQUE key claims)."""
        item_ids = [r.item_id for r in outcome.records if r.item_id is not None]
        if not item_ids:
            return outcome
        claim = (
            self._dialect.insert(items)
            .values(
                [
                    {"source": source, "item_id": item_id, "inbox_id": inbox_id, "created_at": now}
                    for item_id in dict.fromkeys(item_ids)
                ]
            )
            .on_conflict_do_nothing(index_elements=["source", "item_id"])
            .returning(items.c.item_id)
        )
        claimed = set((await conn.execute(claim)).scalars().all())
        return replace(
            outcome,
            records=tuple(r for r in outcome.records if r.item_id is None or r.item_id in claimed),
        )

    @staticmethod
    async def _write_outbox(
        conn: AsyncConnection, inbox_id: int, generation: int, outcome: Outcome, now: datetime
    ) -> None:
        if not outcome.records:
            return
        await conn.execute(
            outbox.insert(),
            [
                {
                    "inbox_id": inbox_id,
                    "generation": generation,
                    "seq": record.seq,
                    "cloudevent_id": record.cloudevent_id,
                    "type": record.type,
                    "topic": record.topic,
                    "key": record.key,
                    "value": record.value,
                    "created_at": now,
                    "published_at": None,
                }
                for record in outcome.records
            ],
        )

    # -- replay -----------------------------------------------------------------------------------

    async def apply_replay(self, event: StoredEvent, outcome: Outcome) -> bool:
        """Record a re-normalization as a new generation; False if another replay got there first.

        The compare-and-set on `attempts` is what keeps two concurrent replays from both writing.
        """
        now = utcnow()
        async with self.engine.begin() as conn:
            generation = (
                await conn.execute(
                    update(inbox)
                    .where(inbox.c.id == event.id, inbox.c.attempts == event.attempts)
                    .values(
                        attempts=inbox.c.attempts + 1,
                        status=outcome.status,
                        last_error=outcome.error,
                        processed_at=now,
                    )
                    .returning(inbox.c.attempts)
                )
            ).scalar_one_or_none()
            if generation is None:
                return False
            await self._write_outbox(conn, event.id, generation, outcome, now)
        return True

    # -- inspection -------------------------------------------------------------------------------

    async def list_events(
        self, selection: EventFilter, *, limit: int | None = None, newest_first: bool = True
    ) -> list[StoredEvent]:
        order = inbox.c.id.desc() if newest_first else inbox.c.id.asc()
        query = selection.apply(select(inbox)).order_by(order)
        if limit is not None:
            query = query.limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [StoredEvent(**row) for row in rows]

    async def count_events(self, selection: EventFilter) -> int:
        query = selection.apply(select(func.count()).select_from(inbox))
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def get_event(self, event_id: int) -> StoredEvent | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(inbox).where(inbox.c.id == event_id))).mappings().first()
            )
        return StoredEvent(**row) if row else None

    async def cloudevents_of(self, event_id: int) -> list[StoredCloudEvent]:
        query = (
            select(outbox)
            .where(outbox.c.inbox_id == event_id)
            .order_by(outbox.c.generation, outbox.c.seq)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            StoredCloudEvent(**{k: v for k, v in row.items() if k != "inbox_id"}) for row in rows
        ]

    # -- relay ------------------------------------------------------------------------------------

    async def pending(self, limit: int) -> list[PendingRecord]:
        query = (
            select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [PendingRecord(id=r.id, topic=r.topic, key=r.key, value=r.value) for r in rows]

    async def count_pending(self) -> int:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def mark_published(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox).where(outbox.c.id.in_(list(ids))).values(published_at=utcnow())
            )

    async def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the named lease; True when `holder` has it until now + ttl."""
        now = utcnow()
        statement = self._dialect.insert(leases).values(
            name=name, holder=holder, expires_at=now + ttl
        )
        statement = statement.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
            where=(leases.c.holder == holder) | (leases.c.expires_at < now),
        ).returning(leases.c.holder)
        async with self.engine.begin() as conn:
            return (await conn.execute(statement)).scalar_one_or_none() == holder

    async def release_lease(self, name: str, holder: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                leases.delete().where(leases.c.name == name, leases.c.holder == holder)
            )
