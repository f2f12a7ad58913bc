"""Delivery: shards, parked records, transient retries, relay state, replay runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ingest.tables
from ingest.sharding import key_hash

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_STATUSES = "status IN ('received', 'processed', 'failed')"
NEW_STATUSES = "status IN ('received', 'processed', 'retrying', 'failed')"
PENDING = "published_at IS NULL AND parked_at IS NULL"
PARKED = "parked_at IS NOT NULL AND published_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("inbox_events") as batch:
        batch.add_column(sa.Column("next_attempt_at", ingest.tables.UtcDateTime(), nullable=True))
        batch.drop_constraint(op.f("ck_inbox_events_status"), type_="check")
        batch.create_check_constraint(op.f("ck_inbox_events_status"), sa.text(NEW_STATUSES))
    op.create_index(
        "ix_inbox_events_retrying",
        "inbox_events",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'retrying'"),
        sqlite_where=sa.text("status = 'retrying'"),
    )

    op.drop_index("ix_outbox_events_pending", table_name="outbox_events")
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(
            sa.Column("key_hash", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("parked_at", ingest.tables.UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    # Only records still owed need their shard; published ones keep 0.
    outbox = sa.table("outbox_events", sa.column("id"), sa.column("key"), sa.column("key_hash"))
    connection = op.get_bind()
    pending = connection.execute(
        sa.text("SELECT id, key FROM outbox_events WHERE published_at IS NULL")
    ).all()
    for row_id, key in pending:
        connection.execute(
            outbox.update().where(outbox.c.id == row_id).values(key_hash=key_hash(key))
        )
    op.create_index(
        "ix_outbox_events_pending",
        "outbox_events",
        ["id"],
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )
    op.create_index(
        "ix_outbox_events_parked",
        "outbox_events",
        ["id"],
        postgresql_where=sa.text(PARKED),
        sqlite_where=sa.text(PARKED),
    )

    op.create_table(
        "relay_shards",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", ingest.tables.UtcDateTime(), nullable=False),
        sa.Column("progress_at", ingest.tables.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_relay_shards")),
    )
    op.create_table(
        "relay_instance",
        sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", ingest.tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_relay_instance")),
    )
    op.create_table(
        "replay_runs",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", ingest.tables.UtcDateTime(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("done", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("finished_at", ingest.tables.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_runs")),
    )
    op.create_index(op.f("ix_replay_runs_fingerprint"), "replay_runs", ["fingerprint"])

    if connection.dialect.name == "postgresql":
        # Wakes idle relays the moment a commit adds records (LISTEN ingest_outbox), with no
        # extra round trip on the request path: one notification per statement, folded into
        # the commit, and PostgreSQL collapses duplicates within a transaction.
        op.execute(
            """
            CREATE FUNCTION ingest_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('ingest_outbox', '');
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER outbox_events_notify AFTER INSERT OR UPDATE OF parked_at "
            "ON outbox_events FOR EACH STATEMENT EXECUTE FUNCTION ingest_outbox_notify()"
        )


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS outbox_events_notify ON outbox_events")
        op.execute("DROP FUNCTION IF EXISTS ingest_outbox_notify()")
    op.drop_index(op.f("ix_replay_runs_fingerprint"), table_name="replay_runs")
    op.drop_table("replay_runs")
    op.drop_table("relay_instance")
    op.drop_table("relay_shards")
    op.drop_index("ix_outbox_events_parked", table_name="outbox_events")
    op.drop_index("ix_outbox_events_pending", table_name="outbox_events")
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_column("failures")
        batch.drop_column("last_error")
        batch.drop_column("parked_at")
        batch.drop_column("key_hash")
    op.create_index(
        "ix_outbox_events_pending",
        "outbox_events",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.drop_index("ix_inbox_events_retrying", table_name="inbox_events")
    connection.execute(
        sa.text("UPDATE inbox_events SET status = 'failed' WHERE status = 'retrying'")
    )
    with op.batch_alter_table("inbox_events") as batch:
        batch.drop_constraint(op.f("ck_inbox_events_status"), type_="check")
        batch.create_check_constraint(op.f("ck_inbox_events_status"), sa.text(OLD_STATUSES))
        batch.drop_column("next_attempt_at")
