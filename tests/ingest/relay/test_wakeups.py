"""ingest/relay/wakeups.py: LISTEN/NOTIFY against the real PostgreSQL, so a relay in another
process publishes the moment a commit adds outbox records instead of at its next idle poll.

Covered: the listener wakes the relay once on connecting (for what was committed while it was not
listening) and again for every commit that adds outbox records or releases a parked one
(migration 0003's trigger, not a test-made NOTIFY); stopping ends it at once, not after the 30 s
keepalive, and leaves no connection behind; a LISTEN connection the server kills, and a server
that is not there, are raised (the supervisor reconnects with backoff) rather than leaving a
listener that never wakes anything. The URL conversion for asyncpg, and the absent server (a
closed local port), need no PostgreSQL and stay in the `--fast` tier."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.outbox import OutboxStore
from ingest.relay.wakeups import asyncpg_dsn, listen
from ingest.store import Store
from tests import support
from tests.ingest.relay.kit import add_records, wait_for

APPLICATION = "ingest-relay-listen"


class Wakeups:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def listeners(database_url: str) -> list[int]:
    """Backend pids of this database's LISTEN connections, as the server sees them."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = $1",
            APPLICATION,
        )
    finally:
        await connection.close()
    return [int(row["pid"]) for row in rows]


@pytest.mark.parametrize(
    ("url", "dsn"),
    [
        (
            "postgresql+asyncpg://app:s3cret@db.internal:5433/ingest",
            "postgresql://app:s3cret@db.internal:5433/ingest",
        ),
        (
            "postgresql://app:s3cret@db.internal/ingest",
            "postgresql://app:s3cret@db.internal/ingest",
        ),
        (
            "postgresql+psycopg://app@db/ingest?sslmode=require",
            "postgresql://app@db/ingest?sslmode=require",
        ),
    ],
)
def test_the_database_url_becomes_a_plain_dsn_with_its_password(url: str, dsn: str) -> None:
    assert asyncpg_dsn(url) == dsn


async def test_a_commit_adding_outbox_records_wakes_the_listener(
    postgres_url: str, postgres_engine: AsyncEngine
) -> None:
    woken, stop = Wakeups(), asyncio.Event()
    task = asyncio.create_task(listen(postgres_url, woken, stop))
    try:
        await wait_for(lambda: woken.count == 1)  # the catch-up call on connecting
        await asyncio.sleep(0.2)
        assert woken.count == 1  # nothing committed yet: no more calls
        await add_records(Store(postgres_engine), [("t", b"{}"), ("t", b"{}")])
        await wait_for(lambda: woken.count == 2, timeout=5)
        await add_records(Store(postgres_engine), [("t", b"{}")])
        await wait_for(lambda: woken.count == 3, timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_stopping_ends_the_listener_at_once_and_closes_its_connection(
    postgres_url: str,
) -> None:
    woken, stop = Wakeups(), asyncio.Event()
    task = asyncio.create_task(listen(postgres_url, woken, stop))
    await wait_for(lambda: woken.count == 1)
    assert len(await listeners(postgres_url)) == 1
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 2  # the keepalive wait is 30 s
    await wait_for_no_listener(postgres_url)


async def wait_for_no_listener(database_url: str) -> None:
    async with asyncio.timeout(5):
        while await listeners(database_url):
            await asyncio.sleep(0.05)


async def test_a_listen_connection_the_server_kills_is_raised_not_left_deaf(
    postgres_url: str,
) -> None:
    woken, stop = Wakeups(), asyncio.Event()
    task = asyncio.create_task(listen(postgres_url, woken, stop))
    await wait_for(lambda: woken.count == 1)
    [pid] = await listeners(postgres_url)
    admin = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid) is True
    finally:
        await admin.close()
    with pytest.raises(ConnectionError, match="LISTEN connection"):
        await asyncio.wait_for(task, 5)
    stop.set()


async def test_a_parked_record_released_for_retry_wakes_the_listener(
    postgres_url: str, postgres_engine: AsyncEngine
) -> None:
    """`ingest outbox retry` runs in another process: un-parking must wake the relays too."""
    await add_records(Store(postgres_engine), [("t", b"{}")])
    outbox = OutboxStore(postgres_engine)
    [record] = await outbox.list_records()
    await outbox.park({record.id: "record_too_large: test"})
    woken, stop = Wakeups(), asyncio.Event()
    task = asyncio.create_task(listen(postgres_url, woken, stop))
    try:
        await wait_for(lambda: woken.count == 1)
        assert await outbox.retry([record.id]) == 1
        await wait_for(lambda: woken.count == 2, timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_a_database_that_is_not_there_is_raised_and_nothing_is_woken() -> None:
    port = support.free_port()  # nothing listens there
    url = f"postgresql+asyncpg://ingest:unused@127.0.0.1:{port}/ingest"
    woken = Wakeups()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(listen(url, woken, asyncio.Event()), 10)
    assert woken.count == 0
