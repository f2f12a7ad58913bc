"""The database schema: the inbox (what vendors sent us), the outbox (what we owe Kafka), leases,
the relay's published state, and replay runs.

Alembic migrations under `migrations/` create exactly this; a test fails if the two drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from typing_extensions import override

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

STATUSES = ("received", "processed", "retrying", "failed")
"""`retrying`: normalization failed for a reason that passes (a host timing out); the retrier runs
it again at `next_attempt_at`, and after the last attempt it becomes `failed`."""


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @override
    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    @override
    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, str]: JSON}


class InboxEvent(Base):
    """One row per (source, vendor event id): the UNIQUE constraint is the dedup, not a lookup."""

    __tablename__ = "inbox_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    vendor: Mapped[str] = mapped_column(String(64))
    vendor_event_id: Mapped[str] = mapped_column(String(255))
    vendor_event_type: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime]
    headers: Mapped[dict[str, str]]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
    secret_index: Mapped[int | None] = mapped_column(Integer)
    signed_at: Mapped[int | None] = mapped_column(BigInteger)
    next_attempt_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("source", "vendor_event_id"),
        CheckConstraint(f"status IN {STATUSES!r}".replace(",)", ")"), name="status"),
        Index(None, "status", "received_at"),
        Index(None, "received_at"),
        Index(
            "ix_inbox_events_retrying",
            "next_attempt_at",
            postgresql_where=text("status = 'retrying'"),
            sqlite_where=text("status = 'retrying'"),
        ),
    )


class OutboxEvent(Base):
    """A CloudEvent owed to Kafka. `generation` is the inbox row's attempt that wrote it, so a
    replay adds a new generation and two concurrent writers of one generation collide on the key.

    `key_hash` picks the relay shard (`key_hash % shards`), so one key's records always go through
    one shard, in id order. A record Kafka refuses for good is `parked_at` with its `last_error`
    and skipped until an operator retries it (`ingest outbox retry`)."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    inbox_id: Mapped[int] = mapped_column(BigId, ForeignKey("inbox_events.id", ondelete="CASCADE"))
    generation: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    cloudevent_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(Text)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    key_hash: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    parked_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __table_args__ = (
        UniqueConstraint("inbox_id", "generation", "seq"),
        Index(
            "ix_outbox_events_pending",
            "id",
            postgresql_where=text("published_at IS NULL AND parked_at IS NULL"),
            sqlite_where=text("published_at IS NULL AND parked_at IS NULL"),
        ),
        Index(
            "ix_outbox_events_parked",
            "id",
            postgresql_where=text("parked_at IS NOT NULL AND published_at IS NULL"),
            sqlite_where=text("parked_at IS NOT NULL AND published_at IS NULL"),
        ),
    )


class Lease(Base):
    """Who runs the relay: one holder at a time keeps per-key order when several processes serve."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class RelayShard(Base):
    """What each relay shard is doing, written by the relay that holds it: `/readyz`, `/metrics`
    and `ingest outbox list` read it from any process, so a relay in another process (or a dead
    one whose row has stopped moving) is visible everywhere."""

    __tablename__ = "relay_shards"

    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
    """Heartbeat: renewed with the lease, so a stale row means its relay is gone."""
    progress_at: Mapped[datetime | None]
    """Last time this shard published something (or found nothing to publish)."""


class RelayInstance(Base):
    """One row: this database's random identity. Kafka transactional ids and progress-marker keys
    include it, so deployments (or test databases) sharing a Kafka cluster never fence each other
    or read each other's markers. Created by the first relay, not by the migration, so databases
    copied from one migrated template still get ids of their own."""

    __tablename__ = "relay_instance"

    singleton: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    instance_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class ReplayRun(Base):
    """One `ingest replay`: its selection and how far it got, so an interrupted run resumes
    after the last event it finished instead of replaying from the start."""

    __tablename__ = "replay_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The filters as given (ids, source, status, since, until, to_topic)."""
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    cursor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    """Inbox id of the last event this run finished; it continues above it."""
    done: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    total: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    finished_at: Mapped[datetime | None]


class InboxItem(Base):
    """Items of batch deliveries already seen from a source: a re-batched redelivery (SendGrid,
    Okta…) publishes only the items that are new. The UNIQUE key is the dedup, as for the inbox."""

    __tablename__ = "inbox_items"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    inbox_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("inbox_events.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]


class ContentDigest(Base):
    """Bodies already received from a source that opted into content deduplication
    (`dedupe_content_seconds`): the digest claims the body for the window, whatever delivery id
    an unsigned header gives it. Claimed with INSERT … ON CONFLICT DO UPDATE … WHERE expired, so
    two concurrent copies cannot both win."""

    __tablename__ = "content_digests"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    inbox_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("inbox_events.id", ondelete="CASCADE")
    )
    seen_at: Mapped[datetime] = mapped_column(index=True)
