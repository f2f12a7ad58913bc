"""`ingest serve` is killed with SIGKILL in the middle of a burst: every delivery it acknowledged
is in the inbox, and the vendors' retries after the restart complete the set exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from ingest.tables import InboxEvent
from tests import support
from tests.handlers.kit import sign_headers

EVENTS = 300


async def deliver_all(
    url: str, bodies: list[bytes], *, kill_after: int | None = None, pid: int | None = None
) -> dict[str, str]:
    """Vendor event id → our answer ("accepted"/"duplicate"), for every delivery that got one."""
    stripe = StripeHandler()
    answers: dict[str, str] = {}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            headers = sign_headers(stripe, body, support.STRIPE_SECRET, time.time())
            try:
                response = await client.post("/webhooks/stripe", content=body, headers=headers)
            except httpx.HTTPError:
                continue  # the vendor saw no answer and will retry
            if response.status_code == 200:
                answers[json.loads(body)["id"]] = response.json()["status"]
            if kill_after is not None and pid is not None and len(answers) == kill_after:
                os.kill(pid, signal.SIGKILL)

    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(16)))
    return answers


async def stored_ids(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(InboxEvent.vendor_event_id))
        return [row[0] for row in rows]


async def test_sigkill_mid_burst_loses_nothing_that_was_acknowledged(
    postgres_url: str,
    postgres_engine: AsyncEngine,
    sources: tuple[Path, support.Topics],
    tmp_path: Path,
) -> None:
    path, _ = sources
    env = {
        "DATABASE_URL": postgres_url,
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "INGEST_SOURCES_FILE": str(path),
        "INGEST_SINK_FILE": str(tmp_path / "events.jsonl"),
        **support.SECRET_ENV,
    }
    stripe = StripeHandler()
    bodies = [simulator(stripe).sample("payment_intent.succeeded") for _ in range(EVENTS)]
    with support.running_server(env, tmp_path) as server:
        acknowledged = await deliver_all(
            server.url, bodies, kill_after=EVENTS // 3, pid=server.process.pid
        )
        assert server.process.wait(timeout=10) == -signal.SIGKILL
    assert EVENTS // 3 <= len(acknowledged) < EVENTS, "the kill landed mid-burst"
    stored = await stored_ids(postgres_engine)
    assert set(acknowledged) <= set(stored), "an acknowledged delivery is missing"

    with support.running_server(env, tmp_path) as server:  # vendors retry everything unanswered
        retried = await deliver_all(server.url, bodies)
    assert len(retried) == EVENTS
    assert all(retried[event_id] == "duplicate" for event_id in acknowledged)
    after = await stored_ids(postgres_engine)
    assert sorted(after) == sorted(json.loads(body)["id"] for body in bodies)
    async with postgres_engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(InboxEvent))).scalar() == EVENTS
