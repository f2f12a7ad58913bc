"""`ingest.migrate`: the service serves only a schema this release understands.

A server started on an old schema would write rows the code's queries do not expect, so
`serve` (and the relay) refuse it with a message naming the fix; only the embedded SQLite default
(`make run`) migrates itself. The migrations' own content is checked in `tests/migrations/`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import migrate
from ingest.db import create_engine
from ingest.errors import DatabaseNotMigratedError
from tests import support


def test_alembic_finds_the_migrations_installed_with_the_package() -> None:
    """`ingest migrate` must work from an installed wheel, with no alembic.ini beside it."""
    location = Path(migrate.alembic_config().get_main_option("script_location") or "")
    assert (location / "env.py").is_file()
    assert migrate.head_revision() is not None


async def test_an_unmigrated_postgres_is_refused_with_the_command_that_fixes_it(
    postgres_server_url: str,
) -> None:
    engine = create_engine(await support.create_database(postgres_server_url))
    try:
        with pytest.raises(DatabaseNotMigratedError, match="run `ingest migrate` first") as refused:
            await migrate.ensure_at_head(engine, migrate_if_behind=False)
        assert "at nothing" in str(refused.value)
        assert (
            await migrate.current_revision(engine) is None
        )  # refused, not migrated behind our back
    finally:
        await engine.dispose()


async def test_a_schema_behind_head_is_refused_and_named(postgres_server_url: str) -> None:
    engine = create_engine(await support.create_database(postgres_server_url))
    try:
        await migrate.upgrade(engine)
        head = migrate.head_revision()
        await migrate.downgrade(engine, "-1")
        behind = await migrate.current_revision(engine)
        assert behind != head
        with pytest.raises(DatabaseNotMigratedError, match=f"this release needs {head}"):
            await migrate.ensure_at_head(engine, migrate_if_behind=False)
        await migrate.upgrade(engine)
        await migrate.ensure_at_head(engine, migrate_if_behind=False)  # at head: no error
    finally:
        await engine.dispose()


async def test_the_embedded_sqlite_default_migrates_itself(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    try:
        assert await migrate.current_revision(engine) is None
        await migrate.ensure_at_head(engine, migrate_if_behind=True)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        await migrate.ensure_at_head(engine, migrate_if_behind=True)  # and again: nothing to do
    finally:
        await engine.dispose()
