"""`ingest outbox list|retry` and the publish state in `ingest events list`, on the embedded
SQLite store as `make run` uses it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ingest import migrate
from ingest.db import create_engine
from ingest.outbox import OutboxStore
from ingest.store import Store
from tests import support
from tests.ingest.relay.kit import add_records


async def seed(database: Path) -> list[int]:
    """Three records: one published, one parked, one pending."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        await migrate.upgrade(engine)
        await add_records(Store(engine), [("orders", b'{"n":1}'), ("orders", b'{"n":2}')])
        await add_records(Store(engine), [("orders", b'{"n":3}')])
        outbox = OutboxStore(engine)
        one, two, three = await outbox.pending(limit=10)
        await outbox.mark_published([one.id])
        await outbox.park({two.id: "record_too_large: the record is 2000000 bytes"})
        return [one.id, two.id, three.id]
    finally:
        await engine.dispose()


def test_list_shows_status_and_error_and_retry_releases(tmp_path: Path) -> None:
    database = tmp_path / "ingest.db"
    published, parked, pending = asyncio.run(seed(database))
    env = {"DATABASE_URL": f"sqlite:///{database}"}

    listed = support.run_cli(env, tmp_path, "outbox", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert {i: rows[i]["status"] for i in rows} == {
        published: "published",
        parked: "parked",
        pending: "pending",
    }
    assert rows[parked]["error"].startswith("record_too_large")

    table = support.run_cli(env, tmp_path, "outbox", "list", "--parked")
    assert table.returncode == 0
    assert "parked" in table.stdout
    assert "record_too_large" in table.stdout
    assert len(table.stdout.splitlines()) == 2  # header and the one parked record

    assert support.run_cli(env, tmp_path, "outbox", "retry").returncode == 2  # IDS or --all
    not_parked = support.run_cli(env, tmp_path, "outbox", "retry", str(pending))
    assert not_parked.returncode == 1
    released = support.run_cli(env, tmp_path, "outbox", "retry", str(parked))
    assert released.returncode == 0
    assert "released 1 parked record" in released.stdout
    again = support.run_cli(env, tmp_path, "outbox", "list", "--parked", "--json")
    assert again.stdout == ""

    events = support.run_cli(env, tmp_path, "events", "list", "--json")
    states = [json.loads(line)["publish_state"] for line in events.stdout.splitlines()]
    assert states == ["pending", "partial"]  # newest first: 3 pending; 1 published + 2 pending
    human = support.run_cli(env, tmp_path, "events", "list")
    assert "test.event" in human.stdout
    assert "1/2" in human.stdout
