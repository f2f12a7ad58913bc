"""Batch items already seen per source.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ingest.tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox_items",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("inbox_id", big_id, nullable=False),
        sa.Column("created_at", ingest.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inbox_events.id"],
            name=op.f("fk_inbox_items_inbox_id_inbox_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source", "item_id", name=op.f("pk_inbox_items")),
    )
    op.create_index(op.f("ix_inbox_items_inbox_id"), "inbox_items", ["inbox_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_items_inbox_id"), table_name="inbox_items")
    op.drop_table("inbox_items")
