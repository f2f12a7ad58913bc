"""Schema management: `ingest migrate`, the head check before serving, SQLite's self-migration."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest import migrations
from ingest.errors import DatabaseNotMigratedError


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def _run(engine: AsyncEngine, action: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _run(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _run(engine, "downgrade", revision)


async def ensure_at_head(engine: AsyncEngine, *, migrate_if_behind: bool) -> None:
    """Serve only a schema this code understands; the embedded SQLite default migrates itself."""
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return
    if migrate_if_behind:
        await upgrade(engine)
        return
    raise DatabaseNotMigratedError(
        f"the database schema is at {current or 'nothing'}, this release needs {head}: "
        "run `ingest migrate` first"
    )
