"""LISTEN/NOTIFY: relays wake the moment another process commits outbox records.

A trigger (migration 0003) notifies `ingest_outbox` once per inserting statement, inside the
request's own commit, so the request path pays no extra round trip. In the relay's process a
commit also wakes it directly; the notification is for relays elsewhere (`ingest relay`, other
`serve` workers). Without it they would find new records only at their next idle poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
from sqlalchemy.engine import make_url

from ingest.logs import get_logger

log = get_logger("ingest.relay")

CHANNEL = "ingest_outbox"
CONNECT_TIMEOUT_SECONDS = 5.0
KEEPALIVE_SECONDS = 30.0


def asyncpg_dsn(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen(database_url: str, on_notify: Callable[[], None], stop: asyncio.Event) -> None:
    """Hold one LISTEN connection until `stop`; raises when it breaks (the supervisor
    reconnects with backoff, and idle polling covers the gap)."""
    connection = await asyncpg.connect(
        asyncpg_dsn(database_url),
        timeout=CONNECT_TIMEOUT_SECONDS,
        server_settings={"application_name": "ingest-relay-listen"},
    )
    lost = asyncio.Event()
    try:
        await connection.add_listener(CHANNEL, lambda *_args: on_notify())
        connection.add_termination_listener(lambda *_args: lost.set())
        on_notify()  # whatever was committed while we were not listening
        while not stop.is_set():
            stopping = asyncio.ensure_future(stop.wait())
            broken = asyncio.ensure_future(lost.wait())
            try:
                await asyncio.wait(
                    {stopping, broken},
                    timeout=KEEPALIVE_SECONDS,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                stopping.cancel()
                broken.cancel()
            if stop.is_set():
                break
            if lost.is_set():
                raise ConnectionError("the LISTEN connection to PostgreSQL was lost")
            # A silent network partition never closes the socket: ask, so it cannot go unseen.
            await connection.execute("SELECT 1", timeout=CONNECT_TIMEOUT_SECONDS)
    finally:
        if not connection.is_closed():
            connection.terminate()
