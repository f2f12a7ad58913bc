"""Alembic on a real, empty PostgreSQL (and SQLite); the models and migrations must not drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest import migrate
from ingest.db import create_engine
from ingest.tables import Base
from tests import support


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _check(engine: AsyncEngine) -> None:
    assert await migrate.current_revision(engine) is None
    await migrate.upgrade(engine)
    assert await migrate.current_revision(engine) == migrate.head_revision()
    async with engine.connect() as conn:
        assert {
            "inbox_events",
            "outbox_events",
            "leases",
            "alembic_version",
        } <= await conn.run_sync(_tables)
        assert await conn.run_sync(_drift) == []
    await migrate.downgrade(engine, "base")
    async with engine.connect() as conn:
        assert await conn.run_sync(_tables) == {"alembic_version"}
    await migrate.upgrade(engine)


async def test_upgrade_on_empty_postgres_matches_the_models(postgres_server_url: str) -> None:
    url = await support.create_database(postgres_server_url)
    engine = create_engine(url)
    try:
        await _check(engine)
    finally:
        await engine.dispose()


async def test_upgrade_on_empty_sqlite_matches_the_models(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    try:
        await _check(engine)
    finally:
        await engine.dispose()


def test_the_migration_chain_has_one_head() -> None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    assert len(ScriptDirectory.from_config(migrate.alembic_config()).get_heads()) == 1
