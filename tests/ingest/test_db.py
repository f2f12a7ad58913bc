"""`ingest.db`: which URLs mean which driver, and the session settings that make a 2xx durable.

The durability settings are the point of the module: an acknowledged webhook the vendor will
never resend must be on disk when we answer. The PostgreSQL test sets the database's own default
to `synchronous_commit = off` first, so it fails if the engine stopped asking for `on`.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from ingest.db import async_url, create_engine, is_sqlite
from ingest.errors import ConfigError
from tests import support


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("postgresql://u:p@db/ingest", "postgresql+asyncpg"),
        ("postgres://u:p@db/ingest", "postgresql+asyncpg"),
        ("postgresql+psycopg2://u:p@db/ingest", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u:p@db/ingest", "postgresql+asyncpg"),
        ("sqlite:///var/lib/ingest.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///ingest.db", "sqlite+aiosqlite"),
    ],
)
def test_each_accepted_scheme_means_its_async_driver(raw: str, driver: str) -> None:
    url = async_url(raw)
    assert url.drivername == driver
    assert is_sqlite(url) == driver.startswith("sqlite")


def test_an_unsupported_scheme_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="'mysql' is not supported") as refused:
        async_url("mysql://ingest:hunter2@db/ingest")
    assert "hunter2" not in str(refused.value)


def test_an_unparseable_url_never_echoes_what_may_be_a_password() -> None:
    with pytest.raises(ConfigError, match="not a valid SQLAlchemy URL") as refused:
        async_url("hunter2-not-a-url")
    assert "hunter2" not in str(refused.value)


async def test_sqlite_writes_through_a_wal_journal_with_full_sync(tmp_path: Path) -> None:
    """WAL lets the relay read while requests write; FULL syncs each commit before the 2xx."""
    engine = create_engine(f"sqlite:///{tmp_path / 'ingest.db'}", pool_size=10)
    try:
        async with engine.connect() as connection:
            journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
            synchronous = (await connection.execute(text("PRAGMA synchronous"))).scalar()
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
        assert (journal, synchronous, foreign_keys) == ("wal", 2, 1)  # 2: FULL
        # One writer at a time: more pooled connections would only fight over its lock.
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.size() == 2
    finally:
        await engine.dispose()


async def test_postgres_sessions_commit_synchronously_whatever_the_servers_default(
    postgres_server_url: str,
) -> None:
    url = await support.create_database(postgres_server_url)
    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password,
        database=parsed.database,
    )  # fmt: skip
    try:
        await admin.execute(f'ALTER DATABASE "{parsed.database}" SET synchronous_commit = off')
        plain = await asyncpg.connect(
            host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password,
            database=parsed.database,
        )  # fmt: skip
        try:
            assert await plain.fetchval("SHOW synchronous_commit") == "off"
        finally:
            await plain.close()
    finally:
        await admin.close()

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            setting = (await connection.execute(text("SHOW synchronous_commit"))).scalar()
            name = (await connection.execute(text("SHOW application_name"))).scalar()
        assert (setting, name) == ("on", "ingest")
    finally:
        await engine.dispose()


def aiosqlite_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]


def test_a_sqlite_file_that_cannot_be_opened_leaves_no_worker_behind(tmp_path: Path) -> None:
    """aiosqlite stops its worker thread after a failed connect without waiting for it; the
    thread then reports to an event loop that may be closed by then, and the process prints
    its traceback (`ingest events list` on a bad path, CI run of 2026-12-02). The failure must
    reach us only once the worker is done, whatever the timing."""
    url = f"sqlite:///{tmp_path / 'no-such-directory' / 'ingest.db'}"
    before = set(aiosqlite_workers())

    async def connect_once() -> None:
        engine = create_engine(url)
        try:
            with pytest.raises(OperationalError):
                async with engine.connect():
                    pass
            assert set(aiosqlite_workers()) == before
        finally:
            await engine.dispose()

    for _ in range(20):
        asyncio.run(connect_once())
