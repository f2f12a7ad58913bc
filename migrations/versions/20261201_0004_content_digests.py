"""Content digests for opt-in deduplication of unsigned delivery ids.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ingest.tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "content_digests",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("inbox_id", big_id, nullable=True),
        sa.Column("seen_at", ingest.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inbox_events.id"],
            name=op.f("fk_content_digests_inbox_id_inbox_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source", "digest", name=op.f("pk_content_digests")),
    )
    op.create_index(op.f("ix_content_digests_seen_at"), "content_digests", ["seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_content_digests_seen_at"), table_name="content_digests")
    op.drop_table("content_digests")
