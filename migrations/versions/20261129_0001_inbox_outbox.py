"""Inbox, outbox and leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ingest.tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox_events",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("vendor_event_id", sa.String(length=255), nullable=False),
        sa.Column("vendor_event_type", sa.String(length=255), nullable=False),
        sa.Column("received_at", ingest.tables.UtcDateTime(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", ingest.tables.UtcDateTime(), nullable=True),
        sa.Column("secret_index", sa.Integer(), nullable=True),
        sa.Column("signed_at", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('received', 'processed', 'failed')", name=op.f("ck_inbox_events_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_events")),
        sa.UniqueConstraint(
            "source", "vendor_event_id", name=op.f("uq_inbox_events_source_vendor_event_id")
        ),
    )
    op.create_index(
        op.f("ix_inbox_events_status_received_at"), "inbox_events", ["status", "received_at"]
    )
    op.create_index(op.f("ix_inbox_events_received_at"), "inbox_events", ["received_at"])
    op.create_table(
        "outbox_events",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("inbox_id", big_id, nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("cloudevent_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", ingest.tables.UtcDateTime(), nullable=False),
        sa.Column("published_at", ingest.tables.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inbox_events.id"],
            name=op.f("fk_outbox_events_inbox_id_inbox_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint(
            "inbox_id", "generation", "seq", name=op.f("uq_outbox_events_inbox_id_generation_seq")
        ),
    )
    op.create_index(
        "ix_outbox_events_pending",
        "outbox_events",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", ingest.tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_outbox_events_pending", table_name="outbox_events")
    op.drop_table("outbox_events")
    op.drop_index(op.f("ix_inbox_events_received_at"), table_name="inbox_events")
    op.drop_index(op.f("ix_inbox_events_status_received_at"), table_name="inbox_events")
    op.drop_table("inbox_events")
