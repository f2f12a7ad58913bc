"""The outbox as the relay and operators see it: records owed to the sink, published, or parked.

Reads run outside any transaction (autocommit): a relay reading its next batch holds no lock and
no snapshot open while Kafka acknowledges the previous one. Marking and parking are one short
statement each, so they commit in one round trip.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, ColumnElement, Table, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.clock import utcnow
from ingest.tables import InboxEvent, OutboxEvent

outbox = cast(Table, OutboxEvent.__table__)
inbox = cast(Table, InboxEvent.__table__)

MAX_ERROR_LENGTH = 1000


@dataclass(frozen=True)
class PendingRecord:
    id: int
    topic: str
    key: str
    value: bytes
    created_at: datetime | None = None


@dataclass(frozen=True)
class OutboxRecord:
    """One record as `ingest outbox list` shows it."""

    id: int
    inbox_id: int
    cloudevent_id: str
    type: str
    topic: str
    key: str
    size: int
    created_at: datetime
    published_at: datetime | None
    parked_at: datetime | None
    failures: int
    last_error: str | None

    @property
    def status(self) -> str:
        if self.published_at is not None:
            return "published"
        return "parked" if self.parked_at is not None else "pending"


@dataclass(frozen=True)
class ShardBacklog:
    pending: int = 0
    oldest_pending_at: datetime | None = None


@dataclass(frozen=True)
class OutboxTotals:
    pending: int
    parked: int
    oldest_pending_at: datetime | None
    by_shard: dict[int, ShardBacklog]


class OutboxStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def pending(
        self,
        *,
        shard: int = 0,
        shards: int = 1,
        limit: int,
        exclude: Collection[int] = (),
        held_topics: Collection[str] = (),
    ) -> list[PendingRecord]:
        """The shard's oldest unpublished, unparked records, in id order.

        `exclude` are records already committed to the sink whose marking is still under way
        (pipelining); they are filtered here rather than in SQL so the query stays the same
        index scan whatever their number. The set is copied before the query runs: a marking
        that finishes while we read must not let its records through as pending again."""
        skip = frozenset(exclude)
        query = (
            select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.created_at)
            .where(outbox.c.published_at.is_(None), outbox.c.parked_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit + len(skip))
        )
        if shards > 1:
            query = query.where(outbox.c.key_hash % shards == shard)
        if held_topics:
            query = query.where(outbox.c.topic.not_in(list(held_topics)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            PendingRecord(id=r.id, topic=r.topic, key=r.key, value=r.value, created_at=r.created_at)
            for r in rows
            if r.id not in skip
        ][:limit]

    async def mark_published(self, ids: Sequence[int]) -> int:
        """Idempotent: marking twice (a recovered marker, a zombie relay) changes nothing."""
        if not ids:
            return 0
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(self._among(ids), outbox.c.published_at.is_(None))
                .values(published_at=utcnow(), parked_at=None)
            )
        return int(result.rowcount or 0)

    def _among(self, ids: Sequence[int]) -> ColumnElement[bool]:
        """`id = ANY(:ids)` with one array parameter on PostgreSQL: an `IN` of 500 bound values
        costs SQLAlchemy (and the server's planner) per value, on every batch the relay marks."""
        if self.engine.dialect.name == "postgresql":
            return outbox.c.id == any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger)))
        return outbox.c.id.in_(list(ids))

    async def park(self, errors: Mapping[int, str]) -> None:
        """Set records aside with the sink's reason; the others keep flowing."""
        if not errors:
            return
        now = utcnow()
        async with self.engine.begin() as conn:
            for record_id, error in errors.items():
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id == record_id, outbox.c.published_at.is_(None))
                    .values(
                        parked_at=now,
                        last_error=error[:MAX_ERROR_LENGTH],
                        failures=outbox.c.failures + 1,
                    )
                )

    async def retry(self, ids: Sequence[int] = (), *, every: bool = False) -> int:
        """Release parked records to the relay again; returns how many were released."""
        if not ids and not every:
            return 0
        statement = (
            update(outbox)
            .where(outbox.c.parked_at.is_not(None), outbox.c.published_at.is_(None))
            .values(parked_at=None)
        )
        if not every:
            statement = statement.where(outbox.c.id.in_(list(ids)))
        async with self.engine.begin() as conn:
            result = await conn.execute(statement)
        return int(result.rowcount or 0)

    async def list_records(
        self,
        *,
        parked_only: bool = False,
        unpublished_only: bool = False,
        ids: Sequence[int] = (),
        limit: int = 50,
    ) -> list[OutboxRecord]:
        query = select(
            outbox.c.id,
            outbox.c.inbox_id,
            outbox.c.cloudevent_id,
            outbox.c.type,
            outbox.c.topic,
            outbox.c.key,
            func.length(outbox.c.value).label("size"),
            outbox.c.created_at,
            outbox.c.published_at,
            outbox.c.parked_at,
            outbox.c.failures,
            outbox.c.last_error,
        ).order_by(outbox.c.id.desc())
        if parked_only:
            query = query.where(outbox.c.parked_at.is_not(None), outbox.c.published_at.is_(None))
        elif unpublished_only:
            query = query.where(outbox.c.published_at.is_(None))
        if ids:
            query = query.where(outbox.c.id.in_(list(ids)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).mappings().all()
        return [OutboxRecord(**row) for row in rows]

    async def totals(self, shards: int = 1) -> OutboxTotals:
        """Pending records per shard (with the oldest one's age) and parked records."""
        shard = (outbox.c.key_hash % shards).label("shard")
        pending = (
            select(shard, func.count().label("n"), func.min(outbox.c.created_at).label("oldest"))
            .where(outbox.c.published_at.is_(None), outbox.c.parked_at.is_(None))
            .group_by(shard)
        )
        parked = (
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.parked_at.is_not(None), outbox.c.published_at.is_(None))
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(pending)).all()
            parked_count = int((await conn.execute(parked)).scalar_one())
        by_shard = {
            int(row.shard): ShardBacklog(pending=int(row.n), oldest_pending_at=row.oldest)
            for row in rows
        }
        oldest = [b.oldest_pending_at for b in by_shard.values() if b.oldest_pending_at]
        return OutboxTotals(
            pending=sum(b.pending for b in by_shard.values()),
            parked=parked_count,
            oldest_pending_at=min(oldest) if oldest else None,
            by_shard=by_shard,
        )

    async def count_pending(self) -> int:
        return (await self.totals()).pending

    async def unresolved_events(self) -> dict[str, int]:
        """Inbox events still needing attention, by status (`retrying`, `failed`)."""
        query = (
            select(inbox.c.status, func.count())
            .where(inbox.c.status.in_(["retrying", "failed"]))
            .group_by(inbox.c.status)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        counts = {"retrying": 0, "failed": 0}
        counts.update({status: int(count) for status, count in rows})
        return counts
