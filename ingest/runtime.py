"""Wiring shared by the server and the CLI: settings → sources → engine → store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from ingest import migrate
from ingest.db import async_url, create_engine, is_sqlite
from ingest.handlers import VENDORS, check_sources
from ingest.logs import redactor
from ingest.outbox import OutboxStore
from ingest.relay.coordination import Coordination
from ingest.settings import Settings
from ingest.sources import SourcesConfig, load_sources
from ingest.store import Store


def load_config(settings: Settings) -> SourcesConfig:
    """Read and check the sources file; every secret is registered for log redaction at once."""
    config = load_sources(settings.sources_file, VENDORS)
    redactor.register([*config.secret_values(), *settings.secret_values()])
    return check_sources(config)


@dataclass
class Database:
    engine: AsyncEngine
    store: Store
    outbox: OutboxStore
    coordination: Coordination

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @classmethod
    async def open(cls, settings: Settings, *, check_schema: bool = True) -> Database:
        """Pooled engine; the schema must be at head (the embedded SQLite migrates itself)."""
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            timeout_seconds=settings.db_timeout_seconds,
        )
        if check_schema:
            try:
                await migrate.ensure_at_head(
                    engine, migrate_if_behind=is_sqlite(async_url(settings.database_url))
                )
            except BaseException:
                await engine.dispose()
                raise
        return cls(
            engine=engine,
            store=Store(engine),
            outbox=OutboxStore(engine),
            coordination=Coordination(engine),
        )

    async def close(self) -> None:
        await self.engine.dispose()
