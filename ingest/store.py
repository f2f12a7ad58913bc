"""The inbox's queries: recording verified deliveries, replays, retries and inspection.

The relay's queries (pending records, marking, parking) are in `ingest.outbox`, its leases in
`ingest.relay.coordination`.

The request path costs one short transaction (`record`). Deduplication is the UNIQUE constraint
with `INSERT … ON CONFLICT DO NOTHING RETURNING`, never check-then-insert, so concurrent deliveries
of one event cannot both win. Outbox rows are written in the same transaction as the inbox status
they belong to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ingest.clock import utcnow
from ingest.handlers.base import Delivery, ParsedBody, Verdict
from ingest.processing import Outcome
from ingest.sharding import key_hash
from ingest.tables import ContentDigest, InboxEvent, InboxItem, OutboxEvent, ReplayRun

# Declarative models type __table__ as a FromClause; these are plain Tables.
inbox = cast(Table, InboxEvent.__table__)
outbox = cast(Table, OutboxEvent.__table__)
items = cast(Table, InboxItem.__table__)
runs = cast(Table, ReplayRun.__table__)
digests = cast(Table, ContentDigest.__table__)


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
    parsed: ParsedBody = field(default_factory=ParsedBody, compare=False, repr=False)
    """The request's parsed body, handed on so normalization does not parse it again."""

    def as_delivery(self) -> Delivery:
        return Delivery(
            source=self.source,
            vendor=self.vendor,
            event_id=self.event_id,
            event_type=self.event_type,
            body=self.body,
            received_at=self.received_at,
            headers=self.headers,
            parsed=self.parsed,
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
    next_attempt_at: datetime | None = None

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
    key_hash: int = 0
    parked_at: datetime | None = None
    last_error: str | None = None
    failures: int = 0

    @property
    def publish_state(self) -> str:
        if self.published_at is not None:
            return "published"
        return "parked" if self.parked_at is not None else "pending"


@dataclass(frozen=True)
class PublishSummary:
    """What an inbox event's latest generation became: its CloudEvent types and where they are."""

    types: tuple[str, ...] = ()
    published: int = 0
    pending: int = 0
    parked: int = 0

    @property
    def state(self) -> str:
        """`published`, `pending`, `parked`, `partial` (some published), or `none`."""
        total = self.published + self.pending + self.parked
        if total == 0:
            return "none"
        if self.parked:
            return "parked"
        if self.published == total:
            return "published"
        return "partial" if self.published else "pending"


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

    def describe(self) -> dict[str, Any]:
        """JSON-ready, for a replay run's record; `from_description` reads it back."""
        return {
            "ids": sorted(self.ids),
            "source": self.source,
            "status": self.status,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }

    @classmethod
    def from_description(cls, document: dict[str, Any]) -> EventFilter:
        def moment(raw: Any) -> datetime | None:
            return datetime.fromisoformat(raw) if isinstance(raw, str) else None

        return cls(
            ids=tuple(int(i) for i in document.get("ids") or ()),
            source=document.get("source"),
            status=document.get("status"),
            since=moment(document.get("since")),
            until=moment(document.get("until")),
        )


@dataclass(frozen=True)
class ReplayRunRow:
    id: int
    selection: dict[str, Any]
    fingerprint: str
    created_at: datetime
    cursor: int
    done: int
    total: int
    finished_at: datetime | None

    @property
    def to_topic(self) -> str | None:
        topic = self.selection.get("to_topic")
        return topic if isinstance(topic, str) else None


_SUMMARY_COLUMNS = [c for c in inbox.c if c.name not in {"headers", "body"}]


class _TwinFoundError(Exception):
    def __init__(self, inbox_id: int) -> None:
        super().__init__(inbox_id)
        self.inbox_id = inbox_id


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._dialect = sqlite if engine.dialect.name == "sqlite" else postgresql

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    # -- request path ---------------------------------------------------------------------------

    async def record(
        self,
        delivery: NewDelivery,
        outcome: Outcome,
        *,
        retry_at: datetime | None = None,
        content_window: timedelta | None = None,
    ) -> Recorded:
        """Store a verified delivery and what it produced, in one transaction; or find its twin.

        `retry_at` is when the retrier should normalize a `retrying` outcome again. With
        `content_window`, a body already received within the window is a twin too, whatever its
        delivery id (for vendors whose id header is not signed)."""
        try:
            return await self._record(delivery, outcome, retry_at, content_window)
        except _TwinFoundError as twin:  # raised inside the transaction, so it rolled back
            return Recorded(id=twin.inbox_id, duplicate=True)

    async def _record(
        self,
        delivery: NewDelivery,
        outcome: Outcome,
        retry_at: datetime | None,
        content_window: timedelta | None,
    ) -> Recorded:
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
                next_attempt_at=retry_at if outcome.status == "retrying" else None,
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
            if content_window is not None:
                await self._claim_content(conn, delivery, new_id, now, content_window)
            fresh = await self._claim_items(conn, delivery.source, new_id, outcome, now)
            await self._write_outbox(conn, new_id, 1, fresh, now)
        return Recorded(id=new_id, duplicate=False)

    async def _claim_content(
        self,
        conn: AsyncConnection,
        delivery: NewDelivery,
        inbox_id: int,
        now: datetime,
        window: timedelta,
    ) -> None:
        """Claim the body's digest for this inbox row, unless another row holds it within the
        window: then raise `_TwinFoundError`, rolling the new row back. The upsert's WHERE makes
        the claim atomic: a concurrent copy waits on the row lock and then finds it claimed."""
        digest = hashlib.sha256(delivery.body).hexdigest()
        claim = self._dialect.insert(digests).values(
            source=delivery.source, digest=digest, inbox_id=inbox_id, seen_at=now
        )
        claim = claim.on_conflict_do_update(
            index_elements=["source", "digest"],
            set_={"inbox_id": claim.excluded.inbox_id, "seen_at": claim.excluded.seen_at},
            where=digests.c.seen_at < now - window,
        ).returning(digests.c.digest)
        if (await conn.execute(claim)).scalar_one_or_none() is not None:
            return
        owner = (
            await conn.execute(
                select(digests.c.inbox_id).where(
                    digests.c.source == delivery.source, digests.c.digest == digest
                )
            )
        ).scalar_one_or_none()
        if owner is not None:
            raise _TwinFoundError(owner)

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
                    "key_hash": key_hash(record.key),
                }
                for record in outcome.records
            ],
        )

    # -- replay -----------------------------------------------------------------------------------

    async def apply_replay(
        self,
        event: StoredEvent,
        outcome: Outcome,
        *,
        retry_at: datetime | None = None,
        topic: str | None = None,
        run_id: int | None = None,
    ) -> bool:
        """Record a re-normalization as a new generation; False if another replay got there first.

        The compare-and-set on `attempts` is what keeps two concurrent replays (or a replay and
        the retrier) from both writing. `topic` sends this generation's records to another topic
        (a shadow topic) instead of the routed ones. `run_id` moves that replay run's cursor to
        this event in the same transaction, so a resumed run never repeats it.
        """
        if topic is not None:
            outcome = replace(
                outcome, records=tuple(replace(record, topic=topic) for record in outcome.records)
            )
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
                        next_attempt_at=retry_at if outcome.status == "retrying" else None,
                    )
                    .returning(inbox.c.attempts)
                )
            ).scalar_one_or_none()
            if generation is None:
                return False
            await self._write_outbox(conn, event.id, generation, outcome, now)
            if run_id is not None:
                await self._advance_run(conn, run_id, event.id)
        return True

    # -- replay runs ------------------------------------------------------------------------

    @staticmethod
    async def _advance_run(conn: AsyncConnection, run_id: int, event_id: int) -> None:
        await conn.execute(
            update(runs).where(runs.c.id == run_id).values(cursor=event_id, done=runs.c.done + 1)
        )

    async def advance_replay_run(self, run_id: int | None, event_id: int) -> None:
        """Move the cursor past an event the run skipped (nothing else to write for it)."""
        if run_id is None:
            return
        async with self.engine.begin() as conn:
            await self._advance_run(conn, run_id, event_id)

    async def unfinished_replay_run(self, fingerprint: str) -> ReplayRunRow | None:
        query = (
            select(runs)
            .where(runs.c.fingerprint == fingerprint, runs.c.finished_at.is_(None))
            .order_by(runs.c.id.desc())
            .limit(1)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return ReplayRunRow(**row) if row else None

    async def start_replay_run(
        self, selection: dict[str, Any], fingerprint: str, total: int
    ) -> ReplayRunRow:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(runs)
                .where(runs.c.fingerprint == fingerprint, runs.c.finished_at.is_(None))
                .values(finished_at=utcnow())  # an unfinished run the user chose to restart
            )
            run_id = (
                await conn.execute(
                    runs.insert()
                    .values(
                        selection=selection,
                        fingerprint=fingerprint,
                        created_at=utcnow(),
                        cursor=0,
                        done=0,
                        total=total,
                    )
                    .returning(runs.c.id)
                )
            ).scalar_one()
            row = (await conn.execute(select(runs).where(runs.c.id == run_id))).mappings().one()
        return ReplayRunRow(**row)

    async def finish_replay_run(self, run_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(runs).where(runs.c.id == run_id).values(finished_at=utcnow()))

    async def due_retries(self, limit: int) -> list[StoredEvent]:
        """`retrying` events whose next attempt is due, soonest first."""
        query = (
            select(inbox)
            .where(inbox.c.status == "retrying", inbox.c.next_attempt_at <= utcnow())
            .order_by(inbox.c.next_attempt_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [StoredEvent(**row) for row in rows]

    # -- retention ---------------------------------------------------------------------------

    def _purgeable(self, older_than: datetime, status: str | None) -> Select[Any]:
        """Inbox rows received before `older_than` with nothing left to publish: no outbox
        record of theirs is pending or parked (and not `retrying`: the retrier still owns it)."""
        owed = (
            select(outbox.c.id)
            .where(outbox.c.inbox_id == inbox.c.id, outbox.c.published_at.is_(None))
            .exists()
        )
        query = select(inbox.c.id).where(inbox.c.received_at < older_than, ~owed)
        if status is not None:
            return query.where(inbox.c.status == status)
        return query.where(inbox.c.status != "retrying")

    async def count_purgeable(self, older_than: datetime, status: str | None = None) -> int:
        query = select(func.count()).select_from(self._purgeable(older_than, status).subquery())
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def purge(
        self, older_than: datetime, status: str | None = None, *, batch: int = 1000
    ) -> int:
        """Delete one bounded batch (their outbox records, items and digests cascade); how many.

        Small batches keep each transaction, its locks and its WAL short on a busy inbox: call
        again until it returns 0."""
        chosen = self._purgeable(older_than, status).order_by(inbox.c.id).limit(batch)
        async with self.engine.begin() as conn:
            ids = list((await conn.execute(chosen)).scalars())
            if not ids:
                return 0
            await conn.execute(inbox.delete().where(inbox.c.id.in_(ids)))
        return len(ids)

    # -- inspection -------------------------------------------------------------------------------

    async def list_events(
        self,
        selection: EventFilter,
        *,
        limit: int | None = None,
        newest_first: bool = True,
        after_id: int | None = None,
    ) -> list[StoredEvent]:
        order = inbox.c.id.desc() if newest_first else inbox.c.id.asc()
        query = selection.apply(select(inbox)).order_by(order)
        if after_id is not None:
            query = query.where(inbox.c.id > after_id)
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

    async def publish_summaries(self, event_ids: Sequence[int]) -> dict[int, PublishSummary]:
        """Per inbox event, its latest generation's CloudEvents: types and publish states."""
        if not event_ids:
            return {}
        latest = (
            select(outbox.c.inbox_id, func.max(outbox.c.generation).label("generation"))
            .where(outbox.c.inbox_id.in_(list(event_ids)))
            .group_by(outbox.c.inbox_id)
            .subquery()
        )
        query = (
            select(outbox.c.inbox_id, outbox.c.type, outbox.c.published_at, outbox.c.parked_at)
            .join(
                latest,
                (outbox.c.inbox_id == latest.c.inbox_id)
                & (outbox.c.generation == latest.c.generation),
            )
            .order_by(outbox.c.inbox_id, outbox.c.seq)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        found: dict[int, dict[str, Any]] = {}
        for inbox_id, event_type, published_at, parked_at in rows:
            entry = found.setdefault(
                inbox_id, {"types": [], "published": 0, "pending": 0, "parked": 0}
            )
            if event_type not in entry["types"]:
                entry["types"].append(event_type)
            key = "published" if published_at else "parked" if parked_at else "pending"
            entry[key] += 1
        return {
            inbox_id: PublishSummary(
                types=tuple(entry["types"]),
                published=entry["published"],
                pending=entry["pending"],
                parked=entry["parked"],
            )
            for inbox_id, entry in found.items()
        }

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
