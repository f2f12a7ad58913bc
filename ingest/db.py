"""Engine construction: one pooled engine per process, tuned per backend."""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ingest.errors import ConfigError

SQLITE_CONNECTIONS = 2
DURABLE_SESSION = {"application_name": "ingest", "synchronous_commit": "on"}
"""A 2xx promises the row is on disk: with `synchronous_commit = off` (a server default some
set for speed) a PostgreSQL crash loses commits already acknowledged — webhooks the vendor will
never resend. The session asks for it whatever the server's default. (`fsync = off` cannot be
overridden by a session: never run a production server with it.)"""


def async_url(raw: str) -> URL:
    """`postgresql://` and `postgres://` mean asyncpg; `sqlite://` means aiosqlite."""
    try:
        url = make_url(raw)
    except Exception:  # noqa: BLE001 - SQLAlchemy raises several types; the URL may hold a password
        raise ConfigError("DATABASE_URL is not a valid SQLAlchemy URL") from None
    driver = url.drivername
    if driver in {"postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"}:
        return url.set(drivername="postgresql+asyncpg")
    if driver == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if driver in {"postgresql+asyncpg", "sqlite+aiosqlite"}:
        return url
    raise ConfigError(f"DATABASE_URL scheme {driver!r} is not supported (use postgresql or sqlite)")


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create_engine(
    raw_url: str, *, pool_size: int = 10, timeout_seconds: float = 5.0
) -> AsyncEngine:
    url = async_url(raw_url)
    if is_sqlite(url):
        # SQLite has one writer at a time. Many pooled connections only fight over its lock and
        # back off unfairly (p99 in seconds under load); two connections queue requests fairly in
        # the pool instead, at the same throughput (bench/README.md).
        arguments, options = url.get_dialect()().create_connect_args(url)
        engine = create_async_engine(
            url,
            async_creator=lambda: _open_sqlite(*arguments, **{**options, "timeout": 30}),
            pool_size=min(pool_size, SQLITE_CONNECTIONS),
            max_overflow=0,
            pool_timeout=30,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeout_seconds,
        pool_pre_ping=False,
        pool_recycle=1800,
        # asyncpg's connect timeout and a statement timeout keep a dead database from holding
        # requests until the vendor gives up: we answer 503 quickly and the vendor retries.
        connect_args={
            "timeout": timeout_seconds,
            "command_timeout": max(timeout_seconds * 2, 10.0),
            "server_settings": DURABLE_SESSION,
        },
    )


async def _open_sqlite(*arguments: Any, **options: Any) -> aiosqlite.Connection:
    """Open as SQLAlchemy would, but let a failure reach us only once aiosqlite's worker
    thread is done with it.

    After a failed connect aiosqlite queues its worker's stop and returns at once; the worker
    then reports to the event loop, and if the loop has closed meanwhile (a CLI command that
    exits on the error) the thread dies printing a traceback to stderr. Waiting for the thread
    while the loop still runs closes that window.
    """
    connection = aiosqlite.connect(*arguments, **options)
    # `_thread` is the only handle aiosqlite 0.22 gives on its worker (SQLAlchemy uses it too);
    # as in SQLAlchemy's own connect, a worker left behind must never hold the process open.
    connection._thread.daemon = True
    try:
        return await connection
    except BaseException:
        await asyncio.to_thread(connection._thread.join, 5.0)
        raise


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the relay read while requests write; synchronous=FULL keeps acked rows."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
